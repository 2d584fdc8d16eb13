package activities_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/egress"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/outbound/webhook"
	"github.com/hookflow/hookflow/signing"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// fixture is a real store with one subscription pointing at a real endpoint.
type fixture struct {
	db      *store.DB
	acts    *activities.Activities
	account string
	sub     hookflow.Subscription
}

func newFixture(t *testing.T, handler http.HandlerFunc, timeout int) *fixture {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc, err := db.CreateAccount(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{})
	sub.URL, sub.Timeout, sub.Headers = srv.URL+"/hook", timeout, map[string]string{"X-Tenant": "acme"}
	if sub.SecretKey, err = signing.NewSecret(); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSubscription(ctx, acc.ID, &sub); err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, account: acc.ID, sub: sub,
		acts: &activities.Activities{Store: db, RetryUnit: time.Minute, Outbound: &outbound.Gateway{
			Sender: &webhook.Sender{Client: egress.Guard{AllowPrivate: true}.Client()}, Store: db, Hold: time.Minute}}}
}

func (f *fixture) send(t *testing.T) activities.SendResult {
	t.Helper()
	out, err := f.db.IngestEvent(context.Background(), f.account, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{"id":7}`)}, "")
	if err != nil || len(out.Deliveries) != 1 {
		t.Fatalf("ingest: %v %+v", err, out)
	}
	res, err := f.acts.Send(context.Background(), activities.SendInput{DeliveryID: out.Deliveries[0].Key, Number: 1, Trigger: hookflow.TriggerAutomatic})
	if err != nil {
		t.Fatalf("Send returned an error for an HTTP outcome: %v", err)
	}
	return res
}

func TestSendSignsAndSendsThePayload(t *testing.T) {
	var got *http.Request
	var body []byte
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
		w.WriteHeader(http.StatusNoContent)
	}, 5)
	res := f.send(t)
	if !res.Attempt.Succeeded() || *res.Attempt.ResponseCode != http.StatusNoContent || res.Attempt.Number != 1 {
		t.Fatalf("attempt: %+v", res.Attempt)
	}
	wh, _ := standardwebhooks.NewWebhook(f.sub.SecretKey)
	if err := wh.Verify(body, got.Header); err != nil {
		t.Errorf("signature: %v", err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("X-Tenant") != "acme" || got.Header.Get("User-Agent") != webhook.UserAgent {
		t.Errorf("request: %s %v", got.Method, got.Header)
	}
	if !strings.Contains(string(body), `"data":{"id":7}`) {
		t.Errorf("body: %s", body)
	}
}

func TestSendKeepsAThousandCharactersOfTheAnswer(t *testing.T) {
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, strings.Repeat("é", 5000))
	}, 5)
	res := f.send(t)
	if n := utf8.RuneCountInString(res.Attempt.ResponseBody); n != hookflow.MaxResponseBodyChars || !utf8.ValidString(res.Attempt.ResponseBody) {
		t.Errorf("body excerpt: %d characters, valid UTF-8 %v", n, utf8.ValidString(res.Attempt.ResponseBody))
	}
	if res.Attempt.Succeeded() || res.Attempt.Error != "endpoint answered 502 Bad Gateway" {
		t.Errorf("attempt: %+v", res.Attempt.Error)
	}
}

func TestSendTimesOutWithTheSubscriptionTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}, 1)
	defer close(release)
	start := time.Now()
	res := f.send(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the attempt took %v with a 1 s timeout", took)
	}
	if res.Attempt.ResponseCode != nil || !strings.HasPrefix(res.Attempt.Error, "timed out") {
		t.Errorf("attempt: code %v error %q", res.Attempt.ResponseCode, res.Attempt.Error)
	}
}

func TestSendReadsRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		code   int
		header string
		want   time.Duration
	}{
		{http.StatusTooManyRequests, "120", 2 * time.Minute},
		{http.StatusServiceUnavailable, "30", 30 * time.Second},
		{http.StatusServiceUnavailable, "99999999", outbound.MaxRetryAfter},
		{http.StatusServiceUnavailable, "soon", 0},
		{http.StatusServiceUnavailable, "-5", 0},
		{http.StatusInternalServerError, "120", 0}, // only throttling answers ask for time
	} {
		t.Run(strconv.Itoa(tc.code)+" "+tc.header, func(t *testing.T) {
			f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.header)
				w.WriteHeader(tc.code)
			}, 5)
			if got := f.send(t).RetryAfter; got != tc.want {
				t.Errorf("RetryAfter = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("HTTP date", func(t *testing.T) {
		f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		}, 5)
		if got := f.send(t).RetryAfter; got < 58*time.Minute || got > time.Hour {
			t.Errorf("RetryAfter = %v, want about an hour", got)
		}
	})
}

func TestSendSkipsADeletedSubscription(t *testing.T) {
	requests := 0
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) { requests++ }, 5)
	out, err := f.db.IngestEvent(context.Background(), f.account, hookflow.EventInput{EventType: "a.b", Data: []byte(`{}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.DeleteSubscription(context.Background(), f.account, f.sub.ID); err != nil {
		t.Fatal(err)
	}
	res, err := f.acts.Send(context.Background(), activities.SendInput{DeliveryID: out.Deliveries[0].Key, Number: 1})
	if err != nil || res.Skipped != "the subscription was deleted" || requests != 0 {
		t.Errorf("Send after delete: %+v %v, %d requests", res, err, requests)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// A run's first send reads where the delivery stands with the request: the attempt is
// numbered after those recorded, and the policy comes from the subscription.
func TestFirstSendOfARunReadsTheStartWithTheRequest(t *testing.T) {
	requests := 0
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.WriteHeader(http.StatusInternalServerError)
	}, 5)
	ctx := context.Background()
	out, err := f.db.IngestEvent(ctx, f.account, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := out.Deliveries[0].Key
	first := activities.SendInput{DeliveryID: id, First: true, Number: 99, Trigger: hookflow.TriggerAutomatic}

	res, err := f.acts.Send(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if res.Start == nil || res.Start.Status != hookflow.StatusPending || res.Start.Attempts != 0 ||
		!reflect.DeepEqual(res.Start.Policy, hookflow.LinearPolicy(f.sub.MaxRetries, time.Minute)) {
		t.Fatalf("start: %+v", res.Start)
	}
	if res.Attempt.Number != 1 || res.Attempt.Trigger != hookflow.TriggerAutomatic {
		t.Fatalf("attempt: %+v", res.Attempt)
	}

	// Attempts exhausted: a new run (a manual retry) makes attempt 2, as a manual one.
	if err := f.db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: id, Attempt: res.Attempt, Status: hookflow.StatusFailed}); err != nil {
		t.Fatal(err)
	}
	res, err = f.acts.Send(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if res.Start.Status != hookflow.StatusFailed || res.Attempt.Number != 2 || res.Attempt.Trigger != hookflow.TriggerManual {
		t.Fatalf("after failed: start %+v attempt %+v", res.Start, res.Attempt)
	}

	// Delivered: the run learns it and nothing is sent.
	code := http.StatusOK
	if err := f.db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: id, Status: hookflow.StatusDelivered,
		Attempt: hookflow.Attempt{Number: 3, StartedAt: time.Now(), ResponseCode: &code, Trigger: hookflow.TriggerManual}}); err != nil {
		t.Fatal(err)
	}
	sent := requests
	res, err = f.acts.Send(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if res.Start.Status != hookflow.StatusDelivered || res.Attempt.Number != 0 || requests != sent {
		t.Fatalf("after delivered: start %+v attempt %+v, requests %d then %d", res.Start, res.Attempt, sent, requests)
	}
}

// A worker that stops mid-attempt must not record the endpoint as failing: the step ends
// with an error, so Temporal runs it again on a worker that is up.
func TestSendInterruptedByTheWorkerIsNotAnAttempt(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	f := newFixture(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}, 30)
	t.Cleanup(func() { close(release) })
	out, err := f.db.IngestEvent(context.Background(), f.account, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		<-arrived
		stop()
	}()
	res, err := f.acts.Send(ctx, activities.SendInput{DeliveryID: out.Deliveries[0].Key, Number: 1, Trigger: hookflow.TriggerAutomatic})
	if err == nil {
		t.Fatalf("Send reported %+v for an interrupted attempt, want an error", res.Attempt)
	}
}
