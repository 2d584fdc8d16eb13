package workflows_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/outbound/webhook"
	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/workflows"
)

// The failure window, with the real store and a real endpoint on the workflow's skipped
// clock: a subscription whose attempts have all failed for HOOKFLOW_PAUSE_AFTER is paused
// by the first failed attempt at or past it (not one before), its next retry is held
// without an attempt, its subscribers to hookflow.subscription.paused get the event, and
// after resume the held retry goes out with the number it would have had.
func TestFailureWindowPausesExactlyWhenItShould(t *testing.T) {
	ctx := context.Background()
	db := storetest.MustOpen(t)
	db.PauseAfter = 2 * time.Hour
	var mu sync.Mutex
	answer := http.StatusInternalServerError
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(answer)
	}))
	defer endpoint.Close()
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer listener.Close()

	acc, err := db.CreateAccount(ctx, "window")
	if err != nil {
		t.Fatal(err)
	}
	failing := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &endpoint.URL, MaxRetries: ptr(10)})
	failing.SecretKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ops := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &listener.URL, EventTypes: &[]string{"hookflow.*"}})
	ops.SecretKey = failing.SecretKey
	for _, sub := range []*hookflow.Subscription{&failing, &ops} {
		if err := db.CreateSubscription(ctx, acc.ID, sub); err != nil {
			t.Fatal(err)
		}
	}
	// ops names hookflow.* only: the event goes to failing alone.
	in := hookflow.EventInput{EventType: "referral.created", Data: json.RawMessage(`{}`)}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	ingested, err := db.IngestEvent(ctx, acc.ID, in, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ingested.Deliveries) != 1 {
		t.Fatalf("the event went to %d subscriptions, want 1", len(ingested.Deliveries))
	}
	key := ingested.Deliveries[0].Key

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{Store: db, RetryUnit: unit,
		Outbound: &outbound.Gateway{Sender: &webhook.Sender{Client: endpoint.Client()}, Store: db}})
	start := env.Now()
	// Attempts at 0, 20, 60, 120 min: the fourth is the first at 2 h of failures. Retry
	// 4 comes due at 200 min and is held; the subscription is resumed at 5 h.
	var pausedSub hookflow.Subscription
	var held hookflow.Delivery
	env.RegisterDelayedCallback(func() {
		var err error
		if pausedSub, err = db.FindSubscription(ctx, acc.ID, failing.ID); err != nil {
			t.Error(err)
		}
		if held, err = db.FindDelivery(ctx, acc.ID, key); err != nil {
			t.Error(err)
		}
		if _, err := db.ResumeSubscription(ctx, acc.ID, failing.ID); err != nil {
			t.Error(err)
		}
		mu.Lock()
		answer = http.StatusOK
		mu.Unlock()
		env.SignalWorkflow(workflows.WakeSignal, nil)
	}, 5*time.Hour)
	env.ExecuteWorkflow(workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: key})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	if !pausedSub.Paused || pausedSub.PausedAt == nil {
		t.Fatalf("the subscription was not paused by 5 h of failures: %+v", pausedSub)
	}
	if got, want := pausedSub.PausedAt.Sub(start).Round(time.Minute), 120*time.Minute; got != want {
		t.Errorf("paused after %s of failures, want %s (the attempt that reached the window)", got, want)
	}
	if want := "every attempt failed since"; len(pausedSub.PausedReason) < len(want) || pausedSub.PausedReason[:len(want)] != want {
		t.Errorf("paused_reason = %q", pausedSub.PausedReason)
	}
	d, err := db.FindDelivery(ctx, acc.ID, key)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != hookflow.StatusDelivered || d.Attempts != 5 {
		t.Errorf("delivery %s after %d attempts, want delivered after 5 (the hold spent none)", d.Status, d.Attempts)
	}
	if held.Attempts != 4 || held.Status != hookflow.StatusRetrying || held.WaitingReason == nil || *held.WaitingReason != hookflow.WaitPaused {
		t.Errorf("before the resume: %s after %d attempts, waiting %v; want retrying after 4, held by the pause", held.Status, held.Attempts, held.WaitingReason)
	}
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: ops.ID})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, od := range page.Data {
		types = append(types, od.EventType)
	}
	// Newest first: resumed, then paused.
	if len(types) != 2 || types[0] != hookflow.EventSubscriptionResumed || types[1] != hookflow.EventSubscriptionPaused {
		t.Errorf("the hookflow.* subscription got %v, want the resume and the pause", types)
	}
	resumed, err := db.FindSubscription(ctx, acc.ID, failing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Paused {
		t.Error("still paused after resume")
	}
}

func ptr[T any](v T) *T { return &v }
