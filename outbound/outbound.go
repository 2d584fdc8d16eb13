// Package outbound is how a delivery's request goes out to its destination: the Sender
// seam (package webhook is the HTTP implementation), and the rules that keep endpoints
// from hurting each other, all applied in Gateway.Begin before a request leaves:
//
//   - throttling (throttle.go): a 429, 502, 503 or 504 slows the whole destination down;
//   - the in-flight cap (slots.go): each worker sends at most a few requests at a time to
//     one destination;
//   - the rate limit: a subscription's rate_limit, kept in PostgreSQL so that every worker
//     replica shares it (store.TakeRateSlot);
//   - the order (ordering.go): a fifo subscription's delivery waits until the earlier
//     ones with its ordering key have ended;
//   - the hold (flights.go): an attempt that has no answer within a short hold is handed
//     off to an activity on this worker, so a hanging endpoint never keeps a workflow-task
//     slot that other tenants' deliveries need.
//
// A delivery that may not go out yet is told to wait, and for how long: the workflow
// waits on a durable timer, holding nothing and spending no attempt.
package outbound

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/tracing"
)

// Sender sends one request to one destination and describes the outcome. It never
// returns an error: every outcome (a refused connection, a timeout) is an attempt.
type Sender interface {
	Send(ctx context.Context, req hookflow.SendRequest) Outcome
}

// Outcome is one attempt's result.
type Outcome struct {
	Attempt hookflow.Attempt
	// RetryAfter is how long a throttling answer asked the sender to wait (0 if it did
	// not say), at most MaxRetryAfter.
	RetryAfter time.Duration
}

// MaxRetryAfter caps how long an endpoint's Retry-After can push requests back, so a
// hostile or mistaken header cannot park a delivery for months.
const MaxRetryAfter = 24 * time.Hour

// Store is the shared state the gateway needs: the rate limit and throttle every replica
// sees, and the marks that show (and order) deliveries waiting for their endpoint.
type Store interface {
	// TakeRateSlot lets one request of a rate-limited subscription out now (0), or says
	// how long this delivery must wait, marking it waiting.
	TakeRateSlot(ctx context.Context, req hookflow.SendRequest) (time.Duration, error)
	// Throttle records a throttling answer: no request to the destination before
	// now + max(retryAfter, the backoff's hold for its next throttle level), one level up.
	Throttle(ctx context.Context, destinationID string, retryAfter time.Duration, backoff ThrottleBackoff) error
	// Unthrottle ends a destination's throttle after a good answer.
	Unthrottle(ctx context.Context, destinationID string) error
	// MarkWaiting shows that a delivery waits for its endpoint, and until when at most.
	MarkWaiting(ctx context.Context, deliveryID string, reason hookflow.WaitReason, until time.Time) error
	// ClearWaiting removes the mark of a delivery that goes out.
	ClearWaiting(ctx context.Context, deliveryID string) error
	// TakeWaiters returns up to n of the destination's oldest deliveries waiting for a
	// slot (behind the in-flight cap, or held by a pause that has ended) that have not been
	// woken yet, marking them woken.
	TakeWaiters(ctx context.Context, destinationID string, n int) ([]Waiter, error)
	// RequeueWaiter makes a delivery taken by TakeWaiters, whose wake failed, one to take
	// again.
	RequeueWaiter(ctx context.Context, deliveryID string) error
	// HoldWaiting marks a delivery held by its subscription's pause; false when the pause
	// has ended meanwhile.
	HoldWaiting(ctx context.Context, deliveryID string, until time.Time) (bool, error)
}

// Waiter is a delivery waiting for a slot: what TakeWaiters returns.
type Waiter struct {
	DeliveryID string `db:"id"`
	WorkflowID string `db:"workflow_id"`
	// Undispatched is set for one held before its workflow was started: the dispatcher
	// starts it, and there is no workflow to wake.
	Undispatched bool `db:"undispatched"`
}

// Waker asks a waiting delivery's workflow to try again now (a signal).
type Waker interface {
	Wake(ctx context.Context, workflowID string) error
}

// Observer receives what the gateway sees (metrics). Nil means none.
type Observer interface {
	ObserveThrottlingAnswer(code int)
}

// Defaults of a Gateway's settings.
const (
	// DefaultConcurrency is how many requests one worker sends to one destination at once.
	DefaultConcurrency = 10
	// DefaultHold is how long an attempt may keep its workflow task before it is handed
	// off: most endpoints answer well within it, so the common attempt costs nothing more,
	// and a burst of attempts to endpoints that just started hanging holds the worker's
	// workflow-task slots only this long each.
	DefaultHold = 250 * time.Millisecond
)

// slotPatience is how long a delivery waits in the worker for a slot before it is told to
// wait durably instead: a busy but healthy endpoint frees a slot within it, and the
// durable wait (a database mark, a timer, a signal) costs more than this short wait.
const slotPatience = 100 * time.Millisecond

// Gateway applies the isolation rules and sends. One per worker process.
type Gateway struct {
	Sender Sender
	Store  Store
	// Order keeps fifo subscriptions' deliveries in order; nil sends them unordered.
	Order OrderStore
	// Waker wakes deliveries waiting behind the in-flight cap when a slot frees. Nil: they
	// wake on their timers only.
	Waker Waker
	// Concurrency is the in-flight cap per destination on this worker (DefaultConcurrency
	// when 0).
	Concurrency int
	// Hold is how long Begin waits for an answer before handing the attempt off
	// (DefaultHold when 0).
	Hold time.Duration
	// Backoff is how long throttling answers hold a destination (DefaultThrottleBackoff
	// when zero).
	Backoff  ThrottleBackoff
	Logger   *slog.Logger
	Observer Observer
	Now      func() time.Time

	once    sync.Once
	slots   *slots
	flights *flights
}

func (g *Gateway) init() {
	g.once.Do(func() {
		g.slots = newSlots()
		g.flights = newFlights()
	})
}

func (g *Gateway) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now().UTC()
}

func (g *Gateway) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

func (g *Gateway) concurrency(req hookflow.SendRequest) int {
	if req.ThrottleLevel > 0 {
		// Slowing down: one request at a time until an answer is good again.
		return 1
	}
	if g.Concurrency > 0 {
		return g.Concurrency
	}
	return DefaultConcurrency
}

func (g *Gateway) hold() time.Duration {
	if g.Hold > 0 {
		return g.Hold
	}
	return DefaultHold
}

// Wait tells a delivery to wait for its endpoint: why, and for how long at most (a
// delivery behind the in-flight cap is woken sooner when a slot frees).
type Wait struct {
	Reason hookflow.WaitReason
	For    time.Duration
	// After names the delivery this one waits for (its turn in its ordering key).
	After string `json:",omitempty"`
}

// Begun is what Begin did: told the delivery to wait, finished the attempt, or handed it
// off (Ticket) to be awaited with Await on this worker.
type Begun struct {
	Wait    *Wait
	Outcome *Outcome
	Ticket  string
}

// Begin sends req unless its destination cannot take it now. A request that goes out and
// is answered within the hold comes back as an Outcome; one that is still in flight after
// it comes back as a Ticket, and its answer is collected by Await. Only a failure to reach
// the store, or ctx ending, is an error (the step then runs again: no attempt was made).
func (g *Gateway) Begin(ctx context.Context, req hookflow.SendRequest, number int, trigger hookflow.Trigger) (Begun, error) {
	g.init()
	now := g.now()
	if req.Paused {
		// Held, not refused: the delivery keeps its place (creation order) and its
		// attempts until the subscription is resumed, which wakes the held ones. A resume
		// that came since the request was read lets it go.
		held, err := g.Store.HoldWaiting(ctx, req.DeliveryID, now.Add(HeldRecheck))
		if err != nil {
			return Begun{}, err
		}
		if held {
			return Begun{Wait: &Wait{Reason: hookflow.WaitPaused, For: HeldRecheck}}, nil
		}
	}
	if wait, err := g.waitForTurn(ctx, &req, trigger, now); err != nil || wait != nil {
		return Begun{Wait: wait}, err
	}
	if req.ThrottledUntil != nil && req.ThrottledUntil.After(now) {
		until := *req.ThrottledUntil
		if err := g.Store.MarkWaiting(ctx, req.DeliveryID, hookflow.WaitThrottled, until); err != nil {
			return Begun{}, err
		}
		return Begun{Wait: &Wait{Reason: hookflow.WaitThrottled, For: until.Sub(now)}}, nil
	}

	// An endpoint known to be slow gets no patience and no hold: its attempts would only
	// keep workflow-task slots waiting for what will not come soon.
	slow := g.slots.slow(req.DestinationID)
	patience, hold := slotPatience, g.hold()
	if slow {
		patience, hold = 0, 0
	}
	slot, ok := g.slots.acquire(ctx, req.DestinationID, g.concurrency(req), patience, req.Timeout)
	if !ok {
		// Marked before the slot is looked at again, so a slot freed meanwhile either is
		// taken now or finds this delivery among the waiters to wake.
		until := now.Add(g.slots.nextFree(req.DestinationID, now, req.Timeout))
		if err := g.Store.MarkWaiting(ctx, req.DeliveryID, hookflow.WaitInFlightCap, until); err != nil {
			return Begun{}, err
		}
		g.slots.refused(req.DestinationID)
		if slot, ok = g.slots.acquire(ctx, req.DestinationID, g.concurrency(req), 0, req.Timeout); !ok {
			return Begun{Wait: &Wait{Reason: hookflow.WaitInFlightCap, For: until.Sub(now)}}, nil
		}
		req.Waiting = true
	}
	// A slot given back without a request made (the rate limit said wait, the store
	// failed) wakes a waiter only if this worker turned one away.
	release := func() { g.release(req.DestinationID, slot, false) }

	if req.RateLimit > 0 {
		wait, err := g.takeRateSlot(ctx, req)
		if err != nil {
			release()
			return Begun{}, err
		}
		if wait > 0 {
			release()
			return Begun{Wait: &Wait{Reason: hookflow.WaitRateLimited, For: wait}}, nil
		}
	} else if req.Waiting {
		if err := g.Store.ClearWaiting(ctx, req.DeliveryID); err != nil {
			release()
			return Begun{}, err
		}
	}

	// The attempt's span is a child of the send step's (Temporal's interceptor gives the
	// step the delivery's trace); it ends with the answer, however long that takes.
	// With tracing off the span records nothing, and nothing is spent describing it.
	_, span := tracing.Tracer().Start(ctx, "hookflow.attempt", trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("server.address", hostOf(req.URL)), attribute.String("hookflow.delivery_key", req.DeliveryID),
			attribute.Int("hookflow.attempt", number))
	}
	f := g.flights.start(func(flightCtx context.Context) Outcome {
		out := g.Sender.Send(flightCtx, req)
		endAttemptSpan(span, out.Attempt)
		out.Attempt.Number, out.Attempt.Trigger = number, trigger
		if time.Duration(out.Attempt.DurationMS)*time.Millisecond < g.hold() {
			// Answered as fast as the hold allows: the endpoint is not slow (any more).
			g.slots.answered(req.DestinationID)
		}
		return out
	}, func(out Outcome) {
		// After the answer is handed over: the next waiter's wake and the throttle's
		// write must not delay it. A delivery admitted from a wait hands its turn on.
		g.release(req.DestinationID, slot, req.Waiting)
		g.logAttempt(req, out.Attempt)
		g.afterAnswer(req, out)
	}, req.Timeout)

	timer := time.NewTimer(hold)
	defer timer.Stop()
	select {
	case <-f.done:
		g.flights.forget(f)
		out := f.outcome
		return Begun{Outcome: &out}, nil
	case <-timer.C:
		g.slots.markSlow(req.DestinationID)
		return Begun{Ticket: f.ticket}, nil
	case <-ctx.Done():
		// The worker is stopping or lost the task: the request is abandoned, and the step
		// runs again elsewhere. It was not the endpoint's failure, so nothing is recorded.
		f.cancel()
		g.flights.forget(f)
		return Begun{}, ctx.Err()
	}
}

// maxRateWaitInPlace is the longest remainder of a rate-limit turn waited out in the send
// step rather than on a durable timer: a timer's own latency would otherwise be added at
// every turn and the limit would never be reached.
const maxRateWaitInPlace = 250 * time.Millisecond

// takeRateSlot takes the delivery's rate-limit turn, waiting in place when it is at most
// maxRateWaitInPlace away.
func (g *Gateway) takeRateSlot(ctx context.Context, req hookflow.SendRequest) (time.Duration, error) {
	for range 3 {
		wait, err := g.Store.TakeRateSlot(ctx, req)
		if err != nil || wait <= 0 || wait > maxRateWaitInPlace {
			return wait, err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.Store.TakeRateSlot(ctx, req)
}

// Await returns the outcome of an attempt Begin handed off.
func (g *Gateway) Await(ctx context.Context, ticket string) (Outcome, error) {
	g.init()
	return g.flights.await(ctx, ticket)
}

// logAttempt writes the line every attempt gets: which delivery, where, and how it went.
func (g *Gateway) logAttempt(req hookflow.SendRequest, a hookflow.Attempt) {
	code := 0
	if a.ResponseCode != nil {
		code = *a.ResponseCode
	}
	g.logger().Info("attempt", "delivery_id", req.DeliveryID, "event_id", req.MessageID,
		"subscription_id", req.SubscriptionID, "campaign_webhook_id", req.CampaignWebhookID, "attempt", a.Number,
		"response_code", code, "duration_ms", a.DurationMS, "error", a.Error)
}

// release frees a slot and wakes the oldest delivery waiting for it: when this worker
// turned one away, or when the request itself had waited (a delivery admitted from a wait
// hands its turn to the next waiter, so the deliveries a resume releases follow one
// another without any worker having refused them).
func (g *Gateway) release(destinationID string, s *slot, waited bool) {
	waiters, seen := g.slots.release(destinationID, s)
	if (!waiters && !waited) || g.Waker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := WakeWaiters(ctx, g.Store, g.Waker, destinationID, 1, g.logger())
	if err == nil && n == 0 {
		g.slots.noWaiters(destinationID, seen)
	}
}

// HeldRecheck is how long a delivery held by a pause waits before it looks again, should
// the wake of its resume be lost: long, since a pause may hold many deliveries for days and
// each look is a workflow task and a write.
const HeldRecheck = 3 * time.Hour

// WakeWaiters wakes up to n of the destination's oldest deliveries waiting for a slot
// and returns how many it took. A wake that fails is logged: that delivery wakes on its
// timer.
func WakeWaiters(ctx context.Context, st Store, w Waker, destinationID string, n int, logger *slog.Logger) (int, error) {
	waiters, err := st.TakeWaiters(ctx, destinationID, n)
	if err != nil {
		logger.Warn("could not read the deliveries waiting for a slot; they wake on their timers", "destination_id", destinationID, "error", err)
		return 0, err
	}
	for _, waiter := range waiters {
		if waiter.Undispatched {
			// No workflow yet: the dispatcher starts it (the store has told it).
			continue
		}
		if err := w.Wake(ctx, waiter.WorkflowID); err != nil {
			// Put back, so the next release takes it instead of its timer.
			logger.Warn("could not wake a waiting delivery; it is taken again by the next release", "workflow_id", waiter.WorkflowID, "error", err)
			if err := st.RequeueWaiter(context.WithoutCancel(ctx), waiter.DeliveryID); err != nil {
				logger.Warn("could not put a waiting delivery back; it wakes on its timer", "workflow_id", waiter.WorkflowID, "error", err)
			}
		}
	}
	return len(waiters), nil
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Hostname()
	}
	return ""
}

// endAttemptSpan records an attempt's answer on its span and ends it.
func endAttemptSpan(span trace.Span, a hookflow.Attempt) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if a.ResponseCode != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", *a.ResponseCode))
	}
	span.SetAttributes(attribute.Int64("hookflow.duration_ms", a.DurationMS))
	if !a.Succeeded() {
		span.SetStatus(codes.Error, hookflow.Excerpt(a.Error, 200))
	}
}
