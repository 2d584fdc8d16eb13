package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/outbound/webhook"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/workflows"
)

// arrival is one request an ordered endpoint received, on the workflows' skipped clock.
type arrival struct {
	entity string
	n      int
	at     time.Time
}

// orderedEndpoint answers by script and records what arrived, in order.
type orderedEndpoint struct {
	*httptest.Server
	mu       sync.Mutex
	arrivals []arrival
	answer   func(entity string, n int) int
	now      func() time.Time
}

func newOrderedEndpoint(t *testing.T, answer func(entity string, n int) int) *orderedEndpoint {
	e := &orderedEndpoint{answer: answer}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			EntityID string `json:"entity_id"`
			Data     struct {
				N int `json:"n"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("decode: %v", err)
		}
		e.mu.Lock()
		e.arrivals = append(e.arrivals, arrival{entity: p.EntityID, n: p.Data.N, at: e.now()})
		code := e.answer(p.EntityID, p.Data.N)
		e.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *orderedEndpoint) got() []arrival {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]arrival(nil), e.arrivals...)
}

// envWaker delivers the gateway's wakes to the test environment's workflows.
type envWaker struct {
	env *testsuite.TestWorkflowEnvironment
}

func (w envWaker) Wake(_ context.Context, workflowID string) error {
	return w.env.SignalWorkflowByID(workflowID, workflows.WakeSignal, nil)
}

// runDeliveries is a test parent that runs delivery workflows side by side, with the ids
// the store gives them, as the dispatcher would.
func runDeliveries(ctx workflow.Context, keys, ids []string) ([]workflows.DeliveryState, error) {
	futures := make([]workflow.ChildWorkflowFuture, len(keys))
	for i := range keys {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: ids[i]})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: keys[i]})
	}
	states := make([]workflows.DeliveryState, len(keys))
	for i, f := range futures {
		err := f.Get(ctx, &states[i])
		if err == nil {
			continue
		}
		// A delivery that failed closed its workflow as failed.
		if states[i], err = deliveryOutcome(err, nil); err != nil {
			return nil, err
		}
	}
	return states, nil
}

// orderedFixture is a fifo subscription on the real store and the events posted to it.
type orderedFixture struct {
	db         *store.DB
	accountID  string
	keys, ids  []string
	env        *testsuite.TestWorkflowEnvironment
	endpoint   *orderedEndpoint
	deliveries []hookflow.IngestedDelivery
}

func newOrderedFixture(t *testing.T, maxRetries int, answer func(entity string, n int) int, events ...[2]any) *orderedFixture {
	t.Helper()
	ctx := context.Background()
	f := &orderedFixture{db: storetest.MustOpen(t)}
	var suite testsuite.WorkflowTestSuite
	f.env = suite.NewTestWorkflowEnvironment()
	f.endpoint = newOrderedEndpoint(t, answer)
	f.endpoint.now = f.env.Now
	acc, err := f.db.CreateAccount(ctx, "ordered")
	if err != nil {
		t.Fatal(err)
	}
	f.accountID = acc.ID
	fifo := hookflow.OrderingFIFO
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &f.endpoint.URL, MaxRetries: &maxRetries, Ordering: &fifo})
	sub.SecretKey = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if err := f.db.CreateSubscription(ctx, acc.ID, &sub); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		in := hookflow.EventInput{EventType: "referral.updated", EntityType: "referral",
			EntityID: hookflow.EntityID{Value: ev[0].(string)}, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, ev[1].(int)))}
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		ingested, err := f.db.IngestEvent(ctx, acc.ID, in, "")
		if err != nil {
			t.Fatal(err)
		}
		d := ingested.Deliveries[0]
		f.deliveries = append(f.deliveries, d)
		f.keys = append(f.keys, d.Key)
		f.ids = append(f.ids, fmt.Sprintf("delivery-%d", d.ID))
	}
	f.env.RegisterWorkflow(workflows.DeliveryWorkflow)
	f.env.RegisterActivity(&activities.Activities{Store: f.db, RetryUnit: time.Minute,
		Outbound: &outbound.Gateway{Sender: &webhook.Sender{Client: f.endpoint.Client()}, Store: f.db, Order: f.db, Waker: envWaker{f.env}}})
	return f
}

func (f *orderedFixture) run(t *testing.T) []workflows.DeliveryState {
	t.Helper()
	f.env.ExecuteWorkflow(runDeliveries, f.keys, f.ids)
	if err := f.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var states []workflows.DeliveryState
	if err := f.env.GetWorkflowResult(&states); err != nil {
		t.Fatal(err)
	}
	return states
}

// Three events of one referral, the first failing twice: the later two wait for it (a
// retry wait holds the key back) and arrive after it in order, released by its end rather
// than by their own recheck; another referral's event is not held back.
func TestFIFOKeepsOneKeysOrderThroughRetries(t *testing.T) {
	// The first event fails twice, then its third attempt succeeds.
	fails := 0
	f := newOrderedFixture(t, 3, func(entity string, n int) int {
		if entity == "r1" && n == 1 && fails < 2 {
			fails++
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}, [2]any{"r1", 1}, [2]any{"r1", 2}, [2]any{"r1", 3}, [2]any{"r2", 4})
	// While the first is between its retries, the second shows what it waits for.
	var waiting hookflow.Delivery
	f.env.RegisterDelayedCallback(func() {
		var err error
		if waiting, err = f.db.FindDelivery(context.Background(), f.accountID, f.keys[1]); err != nil {
			t.Error(err)
		}
	}, 30*time.Second)
	start := f.env.Now()
	states := f.run(t)

	for i, s := range states {
		if s.Status != hookflow.StatusDelivered {
			t.Errorf("delivery %d ended %s", i, s.Status)
		}
	}
	got := f.endpoint.got()
	var r1 []int
	var r1Done, r2At, secondAt time.Time
	for _, a := range got {
		switch a.entity {
		case "r1":
			r1 = append(r1, a.n)
			if a.n == 1 {
				r1Done = a.at
			}
			if a.n == 2 {
				secondAt = a.at
			}
		case "r2":
			r2At = a.at
		}
	}
	if fmt.Sprint(r1) != "[1 1 1 2 3]" {
		t.Fatalf("referral r1's requests arrived as %v, want [1 1 1 2 3] (the first's three attempts, then the others in order)", r1)
	}
	// Retries at +1 and +3 minutes; the next in order goes at once after, not after the
	// 15-minute recheck.
	if d := r1Done.Sub(start); d < 3*time.Minute || d > 4*time.Minute {
		t.Errorf("the first delivery succeeded %v after the start, want its third attempt at 3 minutes", d)
	}
	if d := secondAt.Sub(r1Done); d < 0 || d >= time.Minute {
		t.Errorf("the second went %v after the first ended: want it woken by the end, not the recheck", d)
	}
	if d := r2At.Sub(start); d >= time.Minute {
		t.Errorf("another key's event went out %v after the start: it was held back", d)
	}
	if waiting.WaitingReason == nil || *waiting.WaitingReason != hookflow.WaitOrdering ||
		waiting.WaitingFor == nil || *waiting.WaitingFor != f.deliveries[0].ID {
		t.Errorf("while it waited, the second delivery showed reason %v waiting for %v; want ordering, for %d",
			waiting.WaitingReason, waiting.WaitingFor, f.deliveries[0].ID)
	}
	if states[1].Attempts != 1 || states[2].Attempts != 1 {
		t.Errorf("waiting spent attempts: %d and %d, want 1 each", states[1].Attempts, states[2].Attempts)
	}
}

// A delivery that fails for good stops holding its key: the next goes after its last
// attempt.
func TestFIFOFailedDeliveryReleasesTheKey(t *testing.T) {
	f := newOrderedFixture(t, 1, func(entity string, n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}, [2]any{"r1", 1}, [2]any{"r1", 2})
	start := f.env.Now()
	states := f.run(t)
	if states[0].Status != hookflow.StatusFailed || states[0].Attempts != 2 {
		t.Fatalf("the first delivery: %s after %d attempts, want failed after 2", states[0].Status, states[0].Attempts)
	}
	if states[1].Status != hookflow.StatusDelivered {
		t.Fatalf("the second delivery ended %s", states[1].Status)
	}
	got := f.endpoint.got()
	if len(got) != 3 || got[0].n != 1 || got[1].n != 1 || got[2].n != 2 {
		t.Fatalf("arrivals %+v, want the first twice then the second", got)
	}
	if d := got[2].at.Sub(start); d < time.Minute || d >= 2*time.Minute {
		t.Errorf("the second went %v after the start: want right after the first's last attempt at 1 minute", d)
	}
}
