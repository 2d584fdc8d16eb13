package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/workflows"
)

// heldCount is how many of a subscription's deliveries the API shows held by a pause.
func heldCount(app *App, key, subID string) int {
	var page struct {
		Data []Delivery `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/deliveries?limit=100&subscription_id="+subID, key, nil).JSON(app.t, &page)
	n := 0
	for _, d := range page.Data {
		if d.WaitingReason != nil && *d.WaitingReason == "paused" && (d.Status == "pending" || d.Status == "retrying") {
			n++
		}
	}
	return n
}

// eventIDs are the webhook-ids a receiver got, in arrival order.
func eventIDs(r *Receiver) []string {
	var ids []string
	for _, req := range r.Requests() {
		ids = append(ids, req.Header.Get("webhook-id"))
	}
	return ids
}

// A paused subscription holds what comes in (visibly, spending no attempt) and sends it
// all, oldest first, when it is resumed; pausing and resuming twice is harmless.
func TestPauseHoldsAndResumeReleasesOldestFirst(t *testing.T) {
	t.Parallel()
	// One request at a time to the endpoint: the release order is then the arrival order
	// (with a larger cap, the oldest few go out side by side).
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_ENDPOINT_CONCURRENCY=1"}})
	key := app.NewAccount("pause")
	recv := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, recv.URL, nil)
	var paused struct {
		Paused       bool       `json:"paused"`
		PausedAt     *time.Time `json:"paused_at"`
		PausedReason string     `json:"paused_reason"`
	}
	app.MustDo(http.StatusOK, "POST", "/v1/subscriptions/"+sub.ID+"/pause", key, map[string]any{"reason": "endpoint maintenance"}).JSON(t, &paused)
	if !paused.Paused || paused.PausedAt == nil || paused.PausedReason != "endpoint maintenance" {
		t.Fatalf("pause answered %+v", paused)
	}
	app.MustDo(http.StatusOK, "POST", "/v1/subscriptions/"+sub.ID+"/pause", key, nil)

	var want []string
	var ids []json.Number
	for i := range 20 {
		out := app.Publish(key, map[string]any{"event_type": "referral.created", "entity_id": i})
		want, ids = append(want, out.EventID), append(ids, out.Deliveries[0].ID)
	}
	waitFor(t, 30*time.Second, "20 held deliveries", func() bool { return heldCount(app, key, sub.ID) == 20 })
	for _, id := range ids[:3] {
		if d := app.Delivery(key, id); d.Status != "pending" || d.Attempts != 0 {
			t.Errorf("held delivery %s is %s after %d attempts", id, d.Status, d.Attempts)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(recv.Requests()); n != 0 {
		t.Fatalf("the endpoint got %d requests while paused", n)
	}

	var resumed struct {
		Paused bool `json:"paused"`
	}
	app.MustDo(http.StatusOK, "POST", "/v1/subscriptions/"+sub.ID+"/resume", key, nil).JSON(t, &resumed)
	if resumed.Paused {
		t.Fatal("still paused after resume")
	}
	app.MustDo(http.StatusOK, "POST", "/v1/subscriptions/"+sub.ID+"/resume", key, nil)
	for _, id := range ids {
		if d := app.WaitStatus(key, id, "delivered", 30*time.Second); d.Attempts != 1 {
			t.Errorf("delivery %s took %d attempts", id, d.Attempts)
		}
	}
	if got := eventIDs(recv); !slices.Equal(got, want) {
		t.Errorf("arrival order\n got %v\nwant %v", got, want)
	}
}

// A 410 pauses the subscription instead of dropping its events, and a subscription to
// hookflow.subscription.paused is told, signed; one to "*" is not.
func TestGonePausesAndTellsTheSubscribersWhoAsked(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("gone")
	gone := newReceiver(t, always(http.StatusGone))
	ops := newReceiver(t, always(http.StatusOK))
	all := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, gone.URL, map[string]any{"event_types": []string{"order.*"}})
	opsSub := app.Subscribe(key, ops.URL, map[string]any{"event_types": []string{"hookflow.subscription.paused"}})
	app.Subscribe(key, all.URL, map[string]any{"event_types": []string{"*"}})

	first := app.Publish(key, map[string]any{"event_type": "order.placed", "entity_type": "order", "entity_id": 1})
	var gd json.Number
	for _, d := range first.Deliveries {
		if d.SubscriptionID == sub.ID {
			gd = d.ID
		}
	}
	app.WaitDelivery(key, gd, 30*time.Second, func(d Delivery) bool { return d.Attempts == 1 })
	waitFor(t, 30*time.Second, "the paused event at its subscriber", func() bool { return len(ops.Requests()) == 1 })

	var got struct {
		Paused       bool   `json:"paused"`
		PausedReason string `json:"paused_reason"`
		Active       bool   `json:"active"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID, key, nil).JSON(t, &got)
	if !got.Paused || !got.Active || !strings.Contains(got.PausedReason, "410") {
		t.Errorf("after a 410 the subscription is %+v, want paused (and still active)", got)
	}
	req := ops.Requests()[0]
	wh, err := standardwebhooks.NewWebhook(opsSub.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(req.Body, req.Header); err != nil {
		t.Errorf("the operational event does not verify: %v", err)
	}
	var payload struct {
		EventType  string         `json:"event_type"`
		EntityType string         `json:"entity_type"`
		EntityID   string         `json:"entity_id"`
		Data       map[string]any `json:"data"`
	}
	if err := json.Unmarshal(req.Body, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.EventType != "hookflow.subscription.paused" || payload.EntityType != "subscription" || payload.EntityID != sub.ID ||
		payload.Data["subscription_id"] != sub.ID || payload.Data["url"] != gone.URL || !strings.Contains(fmt.Sprint(payload.Data["reason"]), "410") {
		t.Errorf("paused event %s", req.Body)
	}

	// Nothing is lost: the next event is held, the delivery that met the 410 keeps its
	// retries, and "*" got the order only.
	second := app.Publish(key, map[string]any{"event_type": "order.placed", "entity_id": 2})
	waitFor(t, 30*time.Second, "the held deliveries", func() bool { return heldCount(app, key, sub.ID) == 2 })
	if d := app.Delivery(key, gd); d.Status != "retrying" {
		t.Errorf("the delivery that met the 410 is %s, want retrying (held)", d.Status)
	}
	waitFor(t, 30*time.Second, "both orders at *", func() bool { return len(all.Requests()) == 2 })
	time.Sleep(300 * time.Millisecond)
	for _, r := range all.Requests() {
		if strings.Contains(string(r.Body), "hookflow.") {
			t.Errorf(`"*" received an operational event: %s`, r.Body)
		}
	}
	_ = second

	// API clients cannot post hookflow's own types.
	app.MustDo(http.StatusUnprocessableEntity, "POST", "/v1/events", key, map[string]any{"event_type": "hookflow.subscription.paused"})
}

// A recovery retries exactly the failed deliveries created in its window, once each, and
// shows its progress until it is completed.
func TestRecoveryRetriesExactlyTheWindow(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("recover")
	recv := newReceiver(t, always(http.StatusInternalServerError))
	sub := app.Subscribe(key, recv.URL, map[string]any{"max_retries": 0})
	publish := func(n int) []json.Number {
		var ids []json.Number
		for range n {
			out := app.Publish(key, map[string]any{"event_type": "a.b"})
			ids = append(ids, out.Deliveries[0].ID)
		}
		for _, id := range ids {
			app.WaitStatus(key, id, "failed", 30*time.Second)
		}
		return ids
	}
	before := publish(2)
	time.Sleep(20 * time.Millisecond)
	since := time.Now().UTC()
	inside := publish(3)
	until := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	after := publish(2)
	recv.SetScript(always(http.StatusOK))

	var r struct {
		ID             string `json:"id"`
		SubscriptionID string `json:"subscription_id"`
		Status         string `json:"status"`
		Total          int    `json:"total"`
		Retried        int    `json:"retried"`
		WorkflowID     string `json:"workflow_id"`
	}
	app.MustDo(http.StatusAccepted, "POST", "/v1/subscriptions/"+sub.ID+"/recover", key,
		map[string]any{"since": since.Format(time.RFC3339Nano), "until": until.Format(time.RFC3339Nano)}).JSON(t, &r)
	if r.Total != 3 || r.SubscriptionID != sub.ID || r.WorkflowID != "recovery-"+r.ID {
		t.Fatalf("recovery %+v, want 3 in its window", r)
	}
	waitFor(t, 30*time.Second, "the recovery to complete", func() bool {
		app.MustDo(http.StatusOK, "GET", "/v1/recoveries/"+r.ID, key, nil).JSON(t, &r)
		return r.Status == "completed"
	})
	if r.Retried != 3 {
		t.Errorf("retried %d, want 3", r.Retried)
	}
	for _, id := range inside {
		d := app.Delivery(key, id)
		if d.Status != "delivered" || d.Attempts != 2 || d.AttemptLog[1].Trigger != "recovery" {
			t.Errorf("delivery %s in the window: %s after %d attempts", id, d.Status, d.Attempts)
		}
	}
	for _, id := range append(before, after...) {
		if d := app.Delivery(key, id); d.Status != "failed" || d.Attempts != 1 {
			t.Errorf("delivery %s outside the window: %s after %d attempts", id, d.Status, d.Attempts)
		}
	}
	if n := len(recv.Requests()); n != 7+3 {
		t.Errorf("the endpoint got %d requests, want 10 (7 first attempts, 3 recovered)", n)
	}
	replayRecoveryHistory(t, app, r.WorkflowID)
	// Another account sees neither the subscription nor the recovery.
	other := app.NewAccount("other")
	app.MustDo(http.StatusNotFound, "GET", "/v1/recoveries/"+r.ID, other, nil)
	app.MustDo(http.StatusNotFound, "POST", "/v1/subscriptions/"+sub.ID+"/recover", other, map[string]any{"since": since.Format(time.RFC3339)})
}

// A replayed event reaches the endpoint again with its original webhook-id.
func TestReplayKeepsTheWebhookID(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("replay")
	recv := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, recv.URL, nil)
	out := app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{"z": 1, "a": 2}})
	app.WaitStatus(key, out.Deliveries[0].ID, "delivered", 30*time.Second)
	var replay struct {
		Deliveries []struct {
			ID             json.Number `json:"id"`
			SubscriptionID string      `json:"subscription_id"`
		} `json:"deliveries"`
	}
	app.MustDo(http.StatusAccepted, "POST", "/v1/events/"+out.EventID+"/replay", key, map[string]any{"subscription_id": sub.ID}).JSON(t, &replay)
	if len(replay.Deliveries) != 1 || replay.Deliveries[0].SubscriptionID != sub.ID || replay.Deliveries[0].ID == out.Deliveries[0].ID {
		t.Fatalf("replay answered %+v", replay)
	}
	d := app.WaitStatus(key, replay.Deliveries[0].ID, "delivered", 30*time.Second)
	reqs := recv.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("webhook-id") != out.EventID || reqs[1].Header.Get("webhook-id") != out.EventID {
		t.Fatalf("the endpoint got %d requests with ids %v, want the event id twice", len(reqs), eventIDs(recv))
	}
	if string(reqs[0].Body) != string(reqs[1].Body) || d.EventID != out.EventID {
		t.Errorf("the replay sent\n%s\nthe first\n%s", reqs[1].Body, reqs[0].Body)
	}
	app.MustDo(http.StatusNotFound, "POST", "/v1/events/"+out.EventID+"/replay", app.NewAccount("other"), nil)
}

// Retention deletes delivered history older than HOOKFLOW_RETENTION and keeps what is
// still open (a delivery held by a pause), however old.
func TestRetentionDeletesOldRowsAndKeepsOpenOnes(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_RETENTION=3s", "HOOKFLOW_RETENTION_INTERVAL=1s"}})
	key := app.NewAccount("retention")
	recv := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, recv.URL, map[string]any{"event_types": []string{"a.b"}})
	held := app.Subscribe(key, recv.URL, map[string]any{"event_types": []string{"held.*"}})
	app.MustDo(http.StatusOK, "POST", "/v1/subscriptions/"+held.ID+"/pause", key, nil)
	done := app.Publish(key, map[string]any{"event_type": "a.b"})
	open := app.Publish(key, map[string]any{"event_type": "held.one"})
	app.WaitStatus(key, done.Deliveries[0].ID, "delivered", 30*time.Second)
	waitFor(t, 30*time.Second, "the old delivered one to be deleted", func() bool {
		return app.Do("GET", "/v1/deliveries/"+done.Deliveries[0].ID.String(), key, nil).Status == http.StatusNotFound
	})
	app.MustDo(http.StatusNotFound, "GET", "/v1/events/"+done.EventID, key, nil)
	if d := app.Delivery(key, open.Deliveries[0].ID); d.Status != "pending" {
		t.Errorf("the held delivery is %s", d.Status)
	}
	app.MustDo(http.StatusOK, "GET", "/v1/events/"+open.EventID, key, nil)
	_ = sub
}

// replayRecoveryHistory replays a completed recovery's history against the current
// workflow code; it is the fixture of workflows/replay_test.go for recoveries
// (HOOKFLOW_RECORD_HISTORY=1 go test -run TestRecoveryRetriesExactlyTheWindow ./e2e
// writes it again).
func replayRecoveryHistory(t *testing.T, app *App, workflowID string) {
	t.Helper()
	hist := app.History(workflowID)
	events := len(hist.Events)
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.RecoveryWorkflow)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of the recovery's %d events: %v", events, err)
	}
	if os.Getenv("HOOKFLOW_RECORD_HISTORY") != "" {
		raw, err := (protojson.MarshalOptions{Indent: "  "}).Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../workflows/testdata/recovery.json", raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
