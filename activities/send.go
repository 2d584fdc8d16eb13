package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/outbound"
)

// SendInput names one attempt of a delivery.
type SendInput struct {
	DeliveryID string
	// First marks a run's first attempt: its number and the run's start come from the
	// stored state, read by the same query as the request (Number is then ignored).
	First   bool
	Number  int
	Trigger hookflow.Trigger
	// Recovery names the recovery that started the run.
	Recovery string `json:",omitempty"`
	// RecordSuccess asks the step to record an attempt that succeeds itself, so the
	// common delivery costs one step: a failed one is recorded by the workflow, which
	// decides what follows it.
	RecordSuccess bool `json:",omitempty"`
}

// Resolve fixes the number and trigger of the attempt a Send call makes, and answers false
// when there is nothing to attempt (see StartResult.Done). A run's first attempt
// follows those already recorded; on a delivery that had already failed it is manual,
// since only a manual retry starts such a run.
func (in SendInput) Resolve(start StartResult) (number int, trigger hookflow.Trigger, ok bool) {
	if !in.First {
		return in.Number, in.Trigger, true
	}
	if start.Done() {
		return 0, in.Trigger, false
	}
	if start.OneAttempt() {
		return start.Attempts + 1, start.OneAttemptTrigger(), true
	}
	return start.Attempts + 1, in.Trigger, true
}

// SendResult is the outcome of one send step: an attempt, or why none was made (Skipped:
// never; Wait: not yet), or an attempt still in flight (HandedOff).
type SendResult struct {
	// Start is set on a run's first call: where the delivery stood and its retry policy.
	// When its status is delivered, no attempt was made.
	Start   *StartResult
	Attempt hookflow.Attempt
	Skipped string
	// RetryAfter is how long a throttling answer asked the sender to wait (0 if it did
	// not say), capped at outbound.MaxRetryAfter.
	RetryAfter time.Duration
	// Wait, when set, says the endpoint cannot take the request yet: no attempt was made,
	// and the workflow waits (durably) before it asks again.
	Wait *outbound.Wait
	// HandedOff, when set, says the request is still in flight: its answer is collected by
	// AwaitAttempt on the task queue named here (the worker that made it).
	HandedOff *HandOff
	// Recorded is set when the step recorded the attempt, which succeeded, itself (see
	// SendInput.RecordSuccess): the delivery is delivered.
	Recorded bool `json:",omitempty"`
}

// HandOff names an attempt in flight on one worker.
type HandOff struct {
	TaskQueue string
	Ticket    string
	// Timeout is the request's own, so the collecting step knows how long it may take.
	Timeout time.Duration
}

// Send makes one attempt, unless the endpoint cannot take it yet (see package outbound):
// it signs the stored payload and POSTs it. Every HTTP outcome, including timeouts and
// refused connections, is returned as data, so Temporal never repeats a request on its
// own; only a failure to read the request from the database is an error.
func (a *Activities) Send(ctx context.Context, in SendInput) (SendResult, error) {
	req, err := a.Store.SendRequest(ctx, in.DeliveryID)
	if err != nil {
		return SendResult{}, classify(err)
	}
	var res SendResult
	var start StartResult
	if in.First {
		start = a.startResult(req.State, in.Recovery)
		res.Start = &start
	}
	number, trigger, ok := in.Resolve(start)
	if !ok {
		if start.Ordered && start.Status == hookflow.StatusDelivered {
			// Delivered by an earlier run whose worker stopped before it could say so:
			// the next one in order may still be waiting to hear it.
			a.Outbound.HandOn(ctx, in.DeliveryID)
		}
		return res, nil
	}
	if !in.First && req.State.Status == hookflow.StatusDelivered {
		// This step ran before, recorded its success and was lost before it could answer
		// (its worker stopped): the request is not made again.
		res.Attempt, res.Recorded = hookflow.Attempt{Number: req.State.Attempts}, true
		return res, nil
	}
	if req.Skip != "" {
		res.Skipped = req.Skip
		return res, nil
	}
	begun, err := a.Outbound.Begin(ctx, req, number, trigger)
	if err != nil {
		// The worker is stopping, or the store is down: this is not the endpoint's failure,
		// so it is not recorded as one; the step runs again.
		return SendResult{}, classify(err)
	}
	switch {
	case begun.Wait != nil:
		res.Wait = begun.Wait
	case begun.Ticket != "":
		res.HandedOff = &HandOff{TaskQueue: a.AttemptQueue, Ticket: begun.Ticket, Timeout: req.Timeout}
	default:
		res.Attempt, res.RetryAfter = a.observe(*begun.Outcome)
		if in.RecordSuccess && res.Attempt.Succeeded() {
			if !in.First {
				start = a.startResult(req.State, in.Recovery)
			}
			rec := start.AttemptRecord(in.DeliveryID, res.Attempt, in.Recovery, a.now())
			// The request was made: a failure to record it (or a slow database) must not
			// make the step run, and send, again, so the workflow records it instead.
			recordCtx, cancel := context.WithTimeout(ctx, recordInSendTimeout)
			err := a.record(recordCtx, rec)
			cancel()
			if err != nil {
				a.logger().Warn("could not record a successful attempt; the workflow records it", "delivery_id", in.DeliveryID, "error", err)
			} else {
				res.Recorded = true
			}
		}
	}
	return res, nil
}

// recordInSendTimeout bounds the send step's own record of a success, far inside the
// step's timeout.
const recordInSendTimeout = 10 * time.Second

// AwaitInput names a handed-off attempt.
type AwaitInput struct {
	DeliveryID string
	Ticket     string
}

// ErrTypeLostAttempt marks an attempt whose worker stopped before its answer was
// collected: the workflow records it as a failed attempt with an unknown outcome.
const ErrTypeLostAttempt = "LostAttempt"

// AwaitAttempt collects the answer of an attempt Send handed off. It runs on the task
// queue of the worker that made the request.
func (a *Activities) AwaitAttempt(ctx context.Context, in AwaitInput) (SendResult, error) {
	out, err := a.Outbound.Await(ctx, in.Ticket)
	if errors.Is(err, outbound.ErrLostAttempt) {
		return SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeLostAttempt, nil)
	}
	if err != nil {
		return SendResult{}, err
	}
	var res SendResult
	res.Attempt, res.RetryAfter = a.observe(out)
	return res, nil
}

// observe counts an attempt the workflow is about to record (the gateway logs it when
// its answer comes).
func (a *Activities) observe(out outbound.Outcome) (hookflow.Attempt, time.Duration) {
	if a.Metrics != nil {
		a.Metrics.ObserveAttempt(out.Attempt)
	}
	return out.Attempt, out.RetryAfter
}
