package activities_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
)

func (f *fixture) ingest(t *testing.T) string {
	t.Helper()
	out, err := f.db.IngestEvent(context.Background(), f.account, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{}`)}, "")
	if err != nil || len(out.Deliveries) != 1 {
		t.Fatalf("ingest: %v %+v", err, out)
	}
	return out.Deliveries[0].Key
}

func (f *fixture) sendOne(t *testing.T, id string) activities.SendResult {
	t.Helper()
	res, err := f.acts.Send(context.Background(), activities.SendInput{DeliveryID: id, Number: 1, Trigger: hookflow.TriggerAutomatic})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	return res
}

// A throttling answer to one delivery holds the subscription's others for as long as it
// asked, without a request.
func TestThrottlingAnswerHoldsTheOtherDeliveries(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
	}, 5)
	first := f.sendOne(t, f.ingest(t))
	if first.Attempt.ResponseCode == nil || *first.Attempt.ResponseCode != 503 || first.RetryAfter != 30*time.Second {
		t.Fatalf("first attempt: %+v", first)
	}
	// The throttle is written once the answer is handed over: wait for it.
	next := f.ingest(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, err := f.db.SendRequest(context.Background(), next)
		if err != nil {
			t.Fatal(err)
		}
		if req.ThrottledUntil != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the throttling answer was not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := f.sendOne(t, next)
	if second.Wait == nil || second.Wait.Reason != hookflow.WaitThrottled || second.Wait.For < 29*time.Second || second.Wait.For > 30*time.Second {
		t.Fatalf("second delivery: %+v, want a throttled wait of about 30 s", second)
	}
	if requests != 1 {
		t.Fatalf("endpoint got %d requests, want 1", requests)
	}
}

type recordingWaker struct {
	mu    sync.Mutex
	woken []string
}

func (w *recordingWaker) Wake(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.woken = append(w.woken, id)
	return nil
}

// Past the in-flight cap a delivery is told to wait (no request, no attempt); a slow
// attempt is handed off and collected later; when a slot frees, the oldest waiter is
// woken.
func TestInFlightCapHandOffAndWake(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.WriteHeader(http.StatusOK)
	}, 5)
	waker := &recordingWaker{}
	f.acts.Outbound.Concurrency, f.acts.Outbound.Hold, f.acts.Outbound.Waker = 2, 50*time.Millisecond, waker
	f.acts.AttemptQueue = "own-queue"

	var handed []*activities.HandOff
	var ids []string
	for range 2 {
		id := f.ingest(t)
		ids = append(ids, id)
		res := f.sendOne(t, id)
		if res.HandedOff == nil || res.HandedOff.TaskQueue != "own-queue" {
			t.Fatalf("a slow attempt was not handed off: %+v", res)
		}
		handed = append(handed, res.HandedOff)
	}
	waiter := f.ingest(t)
	res := f.sendOne(t, waiter)
	if res.Wait == nil || res.Wait.Reason != hookflow.WaitInFlightCap || res.Wait.For < 5*time.Second {
		t.Fatalf("third delivery: %+v, want a wait behind the cap bounded by the attempts' timeout", res)
	}
	d, err := f.db.FindDelivery(context.Background(), f.account, waiter)
	if err != nil || d.WaitingReason == nil || *d.WaitingReason != hookflow.WaitInFlightCap || d.Attempts != 0 {
		t.Fatalf("waiting delivery: %+v %v", d, err)
	}

	close(release)
	for i, h := range handed {
		got, err := f.acts.AwaitAttempt(context.Background(), activities.AwaitInput{DeliveryID: ids[i], Ticket: h.Ticket})
		if err != nil || !got.Attempt.Succeeded() || got.Attempt.Number != 1 {
			t.Fatalf("collected attempt %d: %+v %v", i, got, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		waker.mu.Lock()
		woken := append([]string(nil), waker.woken...)
		waker.mu.Unlock()
		if len(woken) > 0 {
			d, err := f.db.FindDelivery(context.Background(), f.account, waiter)
			if err != nil {
				t.Fatal(err)
			}
			if woken[0] != d.WorkflowID || len(woken) > 1 {
				t.Fatalf("woken %v, want just the waiter %s", woken, waiter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting delivery was not woken when slots freed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Woken, it goes out (the answer comes at once now) and the mark is gone.
	if res := f.sendOne(t, waiter); !res.Attempt.Succeeded() {
		t.Fatalf("woken delivery: %+v", res)
	}
	if d, _ := f.db.FindDelivery(context.Background(), f.account, waiter); d.WaitingReason != nil {
		t.Fatalf("the admitted delivery still shows waiting: %v", *d.WaitingReason)
	}
}

// A ticket this worker does not know (its process restarted) is a lost attempt, which no
// retry can find.
func TestAwaitOfAnUnknownTicketIsALostAttempt(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {}, 5)
	_, err := f.acts.AwaitAttempt(context.Background(), activities.AwaitInput{DeliveryID: "d", Ticket: "unknown"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeLostAttempt || !appErr.NonRetryable() {
		t.Fatalf("AwaitAttempt of an unknown ticket: %v", err)
	}
	if appErr.Message() != outbound.ErrLostAttempt.Error() {
		t.Fatalf("message %q", appErr.Message())
	}
}
