package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

type Campaign struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SecretKey string `json:"secret_key"`
	Webhooks  []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		URL  string `json:"url"`
	} `json:"webhooks"`
}

type Fulfilment struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	HasIssues bool       `json:"has_issues"`
	DatePaid  *time.Time `json:"date_paid"`
}

func (a *App) campaign(key string, hooks ...map[string]string) Campaign {
	a.t.Helper()
	var c Campaign
	a.MustDo(http.StatusCreated, "POST", "/v1/campaigns", key, map[string]any{"name": "Spring referrals"}).JSON(a.t, &c)
	if len(c.Webhooks) != 0 || c.SecretKey == "" {
		a.t.Fatalf("new campaign: %+v", c)
	}
	var updated Campaign
	a.MustDo(http.StatusOK, "PUT", "/v1/campaigns/"+c.ID+"/webhooks", key, map[string]any{"webhooks": hooks}).JSON(a.t, &updated)
	if len(updated.Webhooks) != len(hooks) {
		a.t.Fatalf("campaign webhooks: %+v", updated)
	}
	c.Webhooks = updated.Webhooks
	return c
}

func (a *App) fulfilment(key, campaignID string) Fulfilment {
	a.t.Helper()
	var f Fulfilment
	a.MustDo(http.StatusCreated, "POST", "/v1/fulfilments", key, map[string]any{
		"campaign_id": campaignID, "reward_id": "rw-1", "amount": 2, "unit": "free_months",
		"promoter": map[string]any{"id": 77, "cust_id": "cus_9", "email": "p@example.com",
			"balances": map[string]any{"free_months": 2}, "profile": map[string]any{"first_name": "Pat"}},
	}).JSON(a.t, &f)
	if f.Status != "pending" || f.HasIssues || f.DatePaid != nil {
		a.t.Fatalf("new fulfilment: %+v", f)
	}
	return f
}

func (a *App) waitFulfilment(key, id string, within time.Duration, cond func(Fulfilment) bool) Fulfilment {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var f Fulfilment
		a.MustDo(http.StatusOK, "GET", "/v1/fulfilments/"+id, key, nil).JSON(a.t, &f)
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("fulfilment %s: %+v after %s\n%s", id, f, within, a.logs.Tail(3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitRequests(t *testing.T, r *Receiver, n int, within time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		reqs := r.Requests()
		if len(reqs) >= n {
			return reqs
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver saw %d requests within %s, want %d", len(reqs), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFulfilmentPendingUntilEndpointAnswers200(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusAccepted
		}
		return http.StatusOK
	})
	camp := app.campaign(key, map[string]string{"kind": "fulfilment", "url": rcv.URL})
	f := app.fulfilment(key, camp.ID)

	first := waitRequests(t, rcv, 1, 30*time.Second)[0]
	// The legacy payload, signed with the campaign's secret.
	wh, _ := standardwebhooks.NewWebhook(camp.SecretKey)
	if err := wh.Verify(first.Body, first.Header); err != nil {
		t.Errorf("legacy signature: %v", err)
	}
	var payload struct {
		Event struct {
			ID, Type  string
			CreatedAt string `json:"created_at"`
		} `json:"event"`
		Data struct {
			ID       string         `json:"id"`
			Status   string         `json:"status"`
			DatePaid *string        `json:"date_paid"`
			Amount   float64        `json:"amount"`
			Unit     string         `json:"unit"`
			Campaign map[string]any `json:"campaign"`
			Promoter map[string]any `json:"promoter"`
		} `json:"data"`
	}
	if err := json.Unmarshal(first.Body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Event.Type != "fulfilment_pending" || payload.Event.ID == "" || payload.Event.CreatedAt == "" ||
		payload.Data.ID != f.ID || payload.Data.Status != "pending" || payload.Data.DatePaid != nil ||
		payload.Data.Amount != 2 || payload.Data.Unit != "free_months" || payload.Data.Campaign["id"] != camp.ID ||
		payload.Data.Promoter["email"] != "p@example.com" || payload.Data.Promoter["cust_id"] != "cus_9" {
		t.Errorf("legacy fulfilment payload: %s", first.Body)
	}

	// 202: delivered, but the fulfilment stays pending and nothing is scheduled.
	time.Sleep(time.Second)
	if n := len(rcv.Requests()); n != 1 {
		t.Fatalf("a 202 led to %d requests, want 1", n)
	}
	got := app.waitFulfilment(key, f.ID, 5*time.Second, func(f Fulfilment) bool { return true })
	if got.Status != "pending" || got.HasIssues {
		t.Fatalf("after 202: %+v", got)
	}

	// The next check fires it again; 200 completes it.
	app.MustDo(http.StatusAccepted, "POST", "/v1/fulfilment-checks", key, nil)
	second := waitRequests(t, rcv, 2, 30*time.Second)[1]
	var again struct {
		Event struct{ ID string } `json:"event"`
		Data  struct{ ID string } `json:"data"`
	}
	_ = json.Unmarshal(second.Body, &again)
	if again.Data.ID != f.ID || again.Event.ID == payload.Event.ID {
		t.Errorf("the check's firing: fulfilment %q event %q (first event %q)", again.Data.ID, again.Event.ID, payload.Event.ID)
	}
	done := app.waitFulfilment(key, f.ID, 30*time.Second, func(f Fulfilment) bool { return f.Status == "completed" })
	if done.DatePaid == nil || done.HasIssues {
		t.Errorf("completed fulfilment: %+v", done)
	}
	// A completed fulfilment is not fired again.
	app.MustDo(http.StatusAccepted, "POST", "/v1/fulfilment-checks", key, nil)
	time.Sleep(time.Second)
	if n := len(rcv.Requests()); n != 2 {
		t.Errorf("%d requests after completion, want 2", n)
	}
	var page struct {
		Data []Fulfilment `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/fulfilments?status=completed", key, nil).JSON(t, &page)
	if len(page.Data) != 1 || page.Data[0].ID != f.ID {
		t.Errorf("completed listing: %+v", page.Data)
	}
}

func TestFulfilmentAlwaysFailingGetsIssues(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(500))
	camp := app.campaign(key, map[string]string{"kind": "fulfilment", "url": rcv.URL})
	// A subscription to fulfilment_pending follows the same protocol.
	sub := app.Subscribe(key, rcv.URL, map[string]any{"event_types": []string{"fulfilment_pending"}})
	f := app.fulfilment(key, camp.ID)
	got := app.waitFulfilment(key, f.ID, 60*time.Second, func(f Fulfilment) bool { return f.HasIssues })
	if got.Status != "pending" {
		t.Errorf("fulfilment with issues: %+v", got)
	}
	var page struct {
		Data []Delivery `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/deliveries?event_type=fulfilment_pending", key, nil).JSON(t, &page)
	if len(page.Data) != 2 {
		t.Fatalf("%d fulfilment deliveries, want 2 (campaign URL and subscription)", len(page.Data))
	}
	for _, d := range page.Data {
		d = app.WaitStatus(key, d.ID.String(), "failed", 30*time.Second)
		if d.Attempts != 8 {
			t.Errorf("delivery %s (subscription %q): %d attempts, want 1 + 7", d.ID.String(), d.SubscriptionID, d.Attempts)
		}
	}
	_ = sub
	var issues struct {
		Data []Fulfilment `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/fulfilments?has_issues=true", key, nil).JSON(t, &issues)
	if len(issues.Data) != 1 {
		t.Errorf("has_issues listing: %d", len(issues.Data))
	}
	// A check leaves fulfilments with issues alone; a manual retry that gets 200 clears it.
	app.MustDo(http.StatusAccepted, "POST", "/v1/fulfilment-checks", key, nil)
	time.Sleep(time.Second)
	if n := len(rcv.Requests()); n != 16 {
		t.Errorf("%d requests, want 16", n)
	}
	rcv.SetScript(always(200))
	app.MustDo(http.StatusAccepted, "POST", "/v1/deliveries/"+page.Data[0].ID.String()+"/retry", key, nil)
	done := app.waitFulfilment(key, f.ID, 30*time.Second, func(f Fulfilment) bool { return f.Status == "completed" })
	if done.HasIssues || done.DatePaid == nil {
		t.Errorf("after a manual 200: %+v", done)
	}
}

func TestLegacyStandardEventIsAttemptedOnce(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	failing := newReceiver(t, always(500))
	camp := app.campaign(key, map[string]string{"kind": "default", "url": failing.URL})
	out := app.Publish(key, map[string]any{"event_type": "lead_signup", "campaign_id": camp.ID,
		"data": map[string]any{"lead": map[string]any{"email": "l@example.com"}}})
	if len(out.Deliveries) != 1 {
		t.Fatalf("lead_signup fanned out to %d, want the default URL", len(out.Deliveries))
	}
	d := app.WaitStatus(key, out.Deliveries[0].ID.String(), "failed", 30*time.Second)
	time.Sleep(3 * unit)
	if d.Attempts != 1 || len(failing.Requests()) != 1 {
		t.Errorf("standard legacy event: %d attempts, %d requests; want 1", d.Attempts, len(failing.Requests()))
	}
	req := failing.Requests()[0]
	wh, _ := standardwebhooks.NewWebhook(camp.SecretKey)
	if err := wh.Verify(req.Body, req.Header); err != nil {
		t.Errorf("legacy signature: %v", err)
	}
	var payload map[string]map[string]any
	_ = json.Unmarshal(req.Body, &payload)
	if payload["event"]["type"] != "lead_signup" || payload["event"]["id"] != out.EventID || payload["data"]["lead"] == nil || len(payload) != 2 {
		t.Errorf("legacy payload: %s", req.Body)
	}
	// fulfilment_pending never reaches a default URL; other events never reach campaign URLs.
	none := app.Publish(key, map[string]any{"event_type": "promoter.created", "campaign_id": camp.ID})
	if len(none.Deliveries) != 0 {
		t.Errorf("a non-legacy event reached the campaign's URLs")
	}
	failing.SetScript(always(200))
	app.MustDo(http.StatusAccepted, "POST", "/v1/deliveries/"+d.ID.String()+"/retry", key, nil)
	app.WaitStatus(key, d.ID.String(), "delivered", 30*time.Second)

	// At most 3 URLs, known kinds only.
	four := []map[string]string{}
	for i := 0; i < 4; i++ {
		four = append(four, map[string]string{"kind": "default", "url": failing.URL})
	}
	for name, body := range map[string]any{
		"four URLs":    map[string]any{"webhooks": four},
		"unknown kind": map[string]any{"webhooks": []map[string]string{{"kind": "refunds", "url": failing.URL}}},
		"bad URL":      map[string]any{"webhooks": []map[string]string{{"kind": "default", "url": "ftp://x"}}},
	} {
		if r := app.Do("PUT", "/v1/campaigns/"+camp.ID+"/webhooks", key, body); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", name, r.Status, r.Body)
		}
	}
}

func TestScheduledFulfilmentCheck(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_FULFILMENT_CHECK_INTERVAL=1s"}})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, func(n int) int {
		if n < 3 {
			return http.StatusAccepted
		}
		return http.StatusOK
	})
	camp := app.campaign(key, map[string]string{"kind": "fulfilment", "url": rcv.URL})
	f := app.fulfilment(key, camp.ID)
	// No manual check: the Temporal Schedule fires it again until a 200 completes it.
	app.waitFulfilment(key, f.ID, 60*time.Second, func(f Fulfilment) bool { return f.Status == "completed" })
	if n := len(rcv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3 (202, 202, 200)", n)
	}
}
