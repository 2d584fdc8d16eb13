package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/workflows"
)

const unit = 300 * time.Millisecond

func TestFailsTwiceThenDeliveredWithLinearWaits(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, failTimes(2))
	sub := app.Subscribe(key, rcv.URL, map[string]any{"event_types": []string{"promoter.*"}})

	out := app.Publish(key, map[string]any{"event_type": "promoter.created", "action": "created",
		"entity_type": "promoter", "entity_id": "p-1", "data": map[string]any{"email": "a@example.com"}})
	if len(out.Deliveries) != 1 || out.Deliveries[0].SubscriptionID != sub.ID || out.Deliveries[0].Status != "pending" {
		t.Fatalf("ingest answer: %+v", out)
	}
	d := app.WaitStatus(key, out.Deliveries[0].ID.String(), "delivered", 30*time.Second)

	if d.Attempts != 3 || len(d.AttemptLog) != 3 {
		t.Fatalf("attempts = %d, attempt rows = %d, want 3 and 3", d.Attempts, len(d.AttemptLog))
	}
	for i, a := range d.AttemptLog {
		if a.Number != i+1 || a.Trigger != "automatic" {
			t.Errorf("attempt %d: number %d trigger %q", i+1, a.Number, a.Trigger)
		}
	}
	if *d.AttemptLog[0].ResponseCode != 500 || *d.AttemptLog[2].ResponseCode != 200 || *d.ResponseCode != 200 {
		t.Errorf("response codes: %v %v, record %v", *d.AttemptLog[0].ResponseCode, *d.AttemptLog[2].ResponseCode, *d.ResponseCode)
	}
	if d.DeliveredAt == nil || d.NextAttemptAt != nil || d.LastError != "" {
		t.Errorf("delivered record: delivered_at=%v next_attempt_at=%v last_error=%q", d.DeliveredAt, d.NextAttemptAt, d.LastError)
	}
	reqs := rcv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("receiver saw %d requests, want 3", len(reqs))
	}
	// Retry n waits n units; allow scheduling slack above, never less than the wait.
	for i, want := range []time.Duration{unit, 2 * unit} {
		gap := reqs[i+1].At.Sub(reqs[i].At)
		t.Logf("wait before retry %d: %v (want about %v)", i+1, gap, want)
		if gap < want || gap > want+2*time.Second {
			t.Errorf("wait before retry %d = %v, want about %v", i+1, gap, want)
		}
	}
}

func TestAlwaysFailingEndsFailedAfterMaxRetries(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(500))
	app.Subscribe(key, rcv.URL, map[string]any{"max_retries": 2})
	out := app.Publish(key, map[string]any{"event_type": "lead.created"})

	d := app.WaitStatus(key, out.Deliveries[0].ID.String(), "failed", 30*time.Second)
	if d.Attempts != 3 || len(d.AttemptLog) != 3 || len(rcv.Requests()) != 3 {
		t.Fatalf("attempts %d, rows %d, requests %d; want 3", d.Attempts, len(d.AttemptLog), len(rcv.Requests()))
	}
	if !strings.Contains(d.LastError, "500") || d.NextAttemptAt != nil || d.DeliveredAt != nil {
		t.Errorf("failed record: last_error=%q next=%v delivered=%v", d.LastError, d.NextAttemptAt, d.DeliveredAt)
	}
	// The Temporal UI lists a subscription's failed deliveries: their workflows close as
	// failed, so the status column and one query say so.
	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: app.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	query := fmt.Sprintf("HookflowSubscriptionID = '%s' AND ExecutionStatus = 'Failed'", d.SubscriptionID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: app.Namespace(), Query: query})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == d.WorkflowID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %q found %d workflows", query, len(resp.Executions))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTimeoutAndRefusedConnectionAreFailedAttempts(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")

	release := make(chan struct{})
	slow := newReceiver(t, always(200))
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + l.Addr().String() + "/hook"
	l.Close()

	slowSub := app.Subscribe(key, slow.URL, map[string]any{"timeout": 1, "max_retries": 0, "event_types": []string{"slow.event"}})
	deadSub := app.Subscribe(key, closedURL, map[string]any{"max_retries": 0, "event_types": []string{"dead.event"}})
	slowOut := app.Publish(key, map[string]any{"event_type": "slow.event"})
	deadOut := app.Publish(key, map[string]any{"event_type": "dead.event"})

	d := app.WaitStatus(key, slowOut.Deliveries[0].ID.String(), "failed", 30*time.Second)
	if slowOut.Deliveries[0].SubscriptionID != slowSub.ID || !strings.Contains(d.LastError, "timed out") || d.ResponseCode != nil {
		t.Errorf("timeout: last_error=%q code=%v", d.LastError, d.ResponseCode)
	}
	if dur := d.AttemptLog[0].DurationMS; dur < 900 || dur > 5000 {
		t.Errorf("timed-out attempt took %d ms, want about the 1 s timeout", dur)
	}
	d = app.WaitStatus(key, deadOut.Deliveries[0].ID.String(), "failed", 30*time.Second)
	if deadOut.Deliveries[0].SubscriptionID != deadSub.ID || d.LastError != "connection refused" || len(d.AttemptLog) != 1 {
		t.Errorf("refused: last_error=%q attempts=%d", d.LastError, len(d.AttemptLog))
	}
}

func TestSignedPayloadAndFanOutWithFilters(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := map[string]*Receiver{}
	subs := map[string]Subscription{}
	for name, fields := range map[string]map[string]any{
		"all-promoter":  {"event_types": []string{"promoter.*"}, "headers": map[string]string{"X-Tenant": "acme"}},
		"created-c1":    {"event_types": []string{"promoter.created"}, "campaign_ids": []string{"c1"}},
		"leads":         {"event_types": []string{"lead.*"}},
		"inactive":      {"event_types": []string{"*"}, "active": false},
		"everything-c2": {"event_types": []string{"*"}, "campaign_ids": []string{"c2"}},
	} {
		rcv[name] = newReceiver(t, always(200))
		subs[name] = app.Subscribe(key, rcv[name].URL, fields)
	}
	changes := map[string]any{"email": []string{"old@example.com", "new@example.com"}}
	first := app.Publish(key, map[string]any{"event_type": "promoter.updated", "action": "updated",
		"entity_type": "promoter", "entity_id": "p-9", "campaign_id": "c1",
		"data": map[string]any{"id": "p-9", "email": "new@example.com"}, "changes": changes})
	second := app.Publish(key, map[string]any{"event_type": "promoter.created", "campaign_id": "c1"})
	third := app.Publish(key, map[string]any{"event_type": "promoter.created", "campaign_id": "c2"})

	got := func(out Ingested) map[string]bool {
		m := map[string]bool{}
		for _, d := range out.Deliveries {
			for name, s := range subs {
				if s.ID == d.SubscriptionID {
					m[name] = true
				}
			}
		}
		return m
	}
	for i, tc := range []struct {
		out  Ingested
		want []string
	}{
		{first, []string{"all-promoter"}},
		{second, []string{"all-promoter", "created-c1"}},
		{third, []string{"all-promoter", "everything-c2"}},
	} {
		m := got(tc.out)
		if len(m) != len(tc.want) || len(tc.out.Deliveries) != len(tc.want) {
			t.Errorf("event %d fanned out to %v, want %v", i+1, m, tc.want)
		}
		for _, w := range tc.want {
			if !m[w] {
				t.Errorf("event %d did not reach %s (reached %v)", i+1, w, m)
			}
		}
		for _, d := range tc.out.Deliveries {
			app.WaitStatus(key, d.ID.String(), "delivered", 30*time.Second)
		}
	}
	// A delivery delivered at its first attempt costs Temporal what a minimal workflow
	// does: started, one workflow task, one step's marker, completed; no search-attribute
	// upsert.
	hist := app.History(app.Delivery(key, first.Deliveries[0].ID.String()).WorkflowID)
	var types []string
	for _, ev := range hist.Events {
		types = append(types, ev.EventType.String())
	}
	want := "[WorkflowExecutionStarted WorkflowTaskScheduled WorkflowTaskStarted WorkflowTaskCompleted MarkerRecorded WorkflowExecutionCompleted]"
	if fmt.Sprint(types) != want {
		t.Errorf("a first-attempt delivery's history is %v, want %s", types, want)
	}
	if n := len(rcv["inactive"].Requests()) + len(rcv["leads"].Requests()); n != 0 {
		t.Errorf("inactive and non-matching subscriptions received %d requests", n)
	}

	// What the endpoint received: the exact stored payload, signed per Standard Webhooks.
	reqs := rcv["all-promoter"].Requests()
	var firstReq *Received
	for i := range reqs {
		if strings.Contains(string(reqs[i].Body), first.EventID) {
			firstReq = &reqs[i]
		}
	}
	if firstReq == nil {
		t.Fatalf("the first event never reached its endpoint")
	}
	wh, err := standardwebhooks.NewWebhook(subs["all-promoter"].SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(firstReq.Body, firstReq.Header); err != nil {
		t.Errorf("Standard Webhooks verification failed: %v (headers %v)", err, firstReq.Header)
	}
	other, _ := standardwebhooks.NewWebhook(subs["leads"].SecretKey)
	if other.Verify(firstReq.Body, firstReq.Header) == nil {
		t.Errorf("another subscription's secret verified the signature")
	}
	if firstReq.Header.Get("Webhook-Id") != first.EventID || firstReq.Header.Get("X-Tenant") != "acme" ||
		firstReq.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers: %v", firstReq.Header)
	}
	var payload map[string]any
	if err := json.Unmarshal(firstReq.Body, &payload); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]any{"event_id": first.EventID, "event_type": "promoter.updated", "action": "updated",
		"entity_type": "promoter", "entity_id": "p-9"} {
		if payload[field] != want {
			t.Errorf("payload %s = %v, want %v", field, payload[field], want)
		}
	}
	if ts, _ := payload["timestamp"].(string); ts == "" {
		t.Errorf("payload timestamp missing")
	} else if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("payload timestamp %q is not ISO 8601: %v", ts, err)
	}
	if fmt.Sprint(payload["changes"]) != "map[email:[old@example.com new@example.com]]" {
		t.Errorf("payload changes = %v", payload["changes"])
	}
	d := app.Delivery(key, first.Deliveries[0].ID.String())
	if string(d.Payload) != string(firstReq.Body) {
		t.Errorf("the record's payload differs from what was sent:\n%s\n%s", d.Payload, firstReq.Body)
	}

	// The process logged every attempt with its ids, and never a key or a secret.
	logs := app.logs.Tail(1 << 30)
	if !strings.Contains(logs, first.Deliveries[0].ID.String()) || !strings.Contains(logs, subs["all-promoter"].ID) {
		t.Errorf("attempt logs lack the delivery or subscription id")
	}
	for name, sub := range subs {
		if strings.Contains(logs, sub.SecretKey) || strings.Contains(logs, sub.SecretKey[len("whsec_"):]) {
			t.Errorf("the log contains the secret of %s", name)
		}
	}
	if strings.Contains(logs, key) || strings.Contains(logs, adminKey) {
		t.Errorf("the log contains an API key")
	}
}

func TestIdempotentIngest(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(200))
	app.Subscribe(key, rcv.URL, nil)
	event := map[string]any{"event_type": "reward.created", "data": map[string]any{"amount": 10}}
	first := app.Publish(key, event, "Idempotency-Key", "order-42")
	again := app.Publish(key, event, "Idempotency-Key", "order-42")
	if first.EventID != again.EventID || len(again.Deliveries) != 1 || first.Deliveries[0].ID.String() != again.Deliveries[0].ID.String() {
		t.Fatalf("the same key gave another answer:\n%+v\n%+v", first, again)
	}
	event["data"] = map[string]any{"amount": 11}
	conflict := app.Do("POST", "/v1/events", key, event, "Idempotency-Key", "order-42")
	if conflict.Status != http.StatusConflict {
		t.Errorf("same key, other body: %d %s, want 409", conflict.Status, conflict.Body)
	}
	otherKey := app.Publish(key, event, "Idempotency-Key", "order-43")
	if otherKey.EventID == first.EventID {
		t.Errorf("another key reused the event")
	}
	// Another account may use the same key independently.
	key2 := app.NewAccount("globex")
	theirs := app.Publish(key2, event, "Idempotency-Key", "order-42")
	if theirs.EventID == first.EventID {
		t.Errorf("idempotency keys leak across accounts")
	}
	var events int
	if err := app.DB.Get(&events, `SELECT count(*) FROM events`); err != nil || events != 3 {
		t.Errorf("events stored = %d (%v), want 3", events, err)
	}
	app.WaitStatus(key, first.Deliveries[0].ID.String(), "delivered", 30*time.Second)
	time.Sleep(3 * unit)
	if n := len(rcv.Requests()); n != 2 {
		t.Errorf("receiver saw %d requests, want 2 (one per distinct event)", n)
	}
}

func TestManualRetryOfFailedDelivery(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(503))
	app.Subscribe(key, rcv.URL, map[string]any{"max_retries": 1})
	out := app.Publish(key, map[string]any{"event_type": "promoter.created"})
	id := out.Deliveries[0].ID.String()
	d := app.WaitStatus(key, id, "failed", 30*time.Second)
	if d.Attempts != 2 {
		t.Fatalf("attempts before the manual retry = %d, want 2", d.Attempts)
	}

	rcv.SetScript(always(200))
	app.MustDo(http.StatusAccepted, "POST", "/v1/deliveries/"+id+"/retry", key, nil)
	d = app.WaitStatus(key, id, "delivered", 30*time.Second)
	if d.Attempts != 3 || len(d.AttemptLog) != 3 || d.AttemptLog[2].Trigger != "manual" {
		t.Fatalf("after the manual retry: attempts %d, rows %d, last trigger %q", d.Attempts, len(d.AttemptLog), d.AttemptLog[len(d.AttemptLog)-1].Trigger)
	}
	if headers := rcv.Requests(); headers[0].Header.Get("Webhook-Id") != headers[2].Header.Get("Webhook-Id") {
		t.Errorf("webhook-id changed between attempts")
	}
	r := app.Do("POST", "/v1/deliveries/"+id+"/retry", key, nil)
	if r.Status != http.StatusConflict {
		t.Errorf("retry of a delivered delivery: %d %s, want 409", r.Status, r.Body)
	}
	if r := app.Do("POST", "/v1/deliveries/00000000-0000-0000-0000-000000000000/retry", key, nil); r.Status != http.StatusNotFound {
		t.Errorf("retry of an unknown delivery: %d, want 404", r.Status)
	}
	replay(t, app, key, id)
}

func TestManualRetryCutsBackoffShort(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_RETRY_UNIT=1h"}})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, failTimes(1))
	app.Subscribe(key, rcv.URL, nil)
	id := app.Publish(key, map[string]any{"event_type": "promoter.created"}).Deliveries[0].ID.String()
	d := app.WaitStatus(key, id, "retrying", 30*time.Second)
	if d.NextAttemptAt == nil || time.Until(*d.NextAttemptAt) < 50*time.Minute {
		t.Fatalf("next_attempt_at = %v, want about an hour from now", d.NextAttemptAt)
	}
	app.MustDo(http.StatusAccepted, "POST", "/v1/deliveries/"+id+"/retry", key, nil)
	d = app.WaitStatus(key, id, "delivered", 30*time.Second)
	if d.Attempts != 2 || d.AttemptLog[1].Trigger != "manual" {
		t.Errorf("attempts %d, trigger %q", d.Attempts, d.AttemptLog[1].Trigger)
	}
}

func TestTestDeliveryAndListing(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(204))
	sub := app.Subscribe(key, rcv.URL, map[string]any{"event_types": []string{"promoter.*"}})
	var test Delivery
	app.MustDo(http.StatusAccepted, "POST", "/v1/subscriptions/"+sub.ID+"/test", key, nil).JSON(t, &test)
	if !test.Test || test.SubscriptionID != sub.ID {
		t.Fatalf("test delivery record: %+v", test)
	}
	test = app.WaitStatus(key, test.ID, "delivered", 30*time.Second)
	req := rcv.Requests()[0]
	wh, _ := standardwebhooks.NewWebhook(sub.SecretKey)
	if err := wh.Verify(req.Body, req.Header); err != nil {
		t.Errorf("test delivery signature: %v", err)
	}
	var payload struct {
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(req.Body, &payload)
	if payload.Data["test"] != true || len(payload.Data) != 1 {
		t.Errorf("test payload data = %v, want {test: true}", payload.Data)
	}

	// Listing: newest first, filters, cursor pages.
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, app.Publish(key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)}).Deliveries[0].ID.String())
	}
	type page struct {
		Data       []Delivery `json:"data"`
		NextCursor *string    `json:"next_cursor"`
	}
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		var p page
		app.MustDo(http.StatusOK, "GET", "/v1/deliveries?event_type=promoter.created&limit=2"+cursor, key, nil).JSON(t, &p)
		for _, d := range p.Data {
			seen = append(seen, d.ID.String())
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d deliveries, want 5", len(seen))
	}
	for i := range seen {
		if seen[i] != ids[4-i] {
			t.Fatalf("listing order %v, want newest first %v", seen, ids)
		}
	}
	var p page
	app.MustDo(http.StatusOK, "GET", "/v1/deliveries?subscription_id="+sub.ID+"&status=delivered&event_type=webhook.test", key, nil).JSON(t, &p)
	if len(p.Data) != 1 || p.Data[0].ID != test.ID {
		t.Errorf("filtered listing = %d rows", len(p.Data))
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=x", "status=lost", "cursor=zzz"} {
		if r := app.Do("GET", "/v1/deliveries?"+bad, key, nil); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("GET /v1/deliveries?%s: %d, want 422", bad, r.Status)
		}
	}
	var event map[string]any
	d := app.Delivery(key, ids[0])
	app.MustDo(http.StatusOK, "GET", "/v1/events/"+d.EventID, key, nil).JSON(t, &event)
	if event["id"] != d.EventID || event["event_type"] != "promoter.created" {
		t.Errorf("event: %v", event)
	}
}

func TestEventsAcceptedWhileTemporalIsDown(t *testing.T) {
	t.Parallel()
	addr, err := startOwnTemporal(t)
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, AppOptions{TemporalAddress: addr.addr, Namespace: "default"})
	key := app.NewAccount("acme")
	rcv := newReceiver(t, always(200))
	app.Subscribe(key, rcv.URL, nil)
	// Prove the pipeline works, then take Temporal away.
	warm := app.Publish(key, map[string]any{"event_type": "promoter.created"})
	app.WaitStatus(key, warm.Deliveries[0].ID.String(), "delivered", 30*time.Second)
	addr.stop()

	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, app.Publish(key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)}).Deliveries[0].ID.String())
	}
	if r := app.Do("GET", "/readyz", "", nil); r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "Temporal") {
		t.Errorf("/readyz with Temporal down: %d %s, want 503 naming Temporal", r.Status, r.Body)
	}
	time.Sleep(time.Second)
	if n := len(rcv.Requests()); n != 1 {
		t.Fatalf("%d requests while Temporal was down, want only the warm-up", n)
	}
	addr.start(t)
	for _, id := range ids {
		app.WaitStatus(key, id, "delivered", 60*time.Second)
	}
	if n := len(rcv.Requests()); n != 21 {
		t.Errorf("receiver saw %d requests, want 21", n)
	}
}

// replay fetches a finished delivery's workflow history and replays it against the
// current workflow code: a change that breaks determinism fails here.
func replay(t *testing.T, app *App, key, deliveryID string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: app.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	iter := c.GetWorkflowHistory(context.Background(), app.Delivery(key, deliveryID).WorkflowID, "", false, 0)
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	var events int
	hist, err := historyFrom(iter, &events)
	if err != nil {
		t.Fatal(err)
	}
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of %d history events failed: %v", events, err)
	}
	t.Logf("replayed %d history events", events)
}
