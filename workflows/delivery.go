// Package workflows holds hookflow's Temporal workflows. They make no I/O and read no
// clock but the workflow's: every effect goes through an activity, so replays are exact.
package workflows

import (
	"errors"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
)

// TaskQueue is where delivery workflows and their activities run.
const TaskQueue = "hookflow-deliveries"

// Names other processes use to talk to a delivery workflow.
const (
	// RetrySignal asks for an attempt now: it cuts a backoff wait short.
	RetrySignal = "retry"
	// StateQuery returns the delivery's DeliveryState.
	StateQuery = "state"
)

// Search attributes an operator filters deliveries by in the Temporal UI.
var (
	AccountIDKey      = temporal.NewSearchAttributeKeyKeyword("HookflowAccountID")
	SubscriptionIDKey = temporal.NewSearchAttributeKeyKeyword("HookflowSubscriptionID")
	EventTypeKey      = temporal.NewSearchAttributeKeyKeyword("HookflowEventType")
	StatusKey         = temporal.NewSearchAttributeKeyKeyword("HookflowDeliveryStatus")
)

// SearchAttributeNames are the names `make run` and the tests register.
var SearchAttributeNames = []string{AccountIDKey.GetName(), SubscriptionIDKey.GetName(), EventTypeKey.GetName(), StatusKey.GetName()}

// DeliveryInput starts a delivery workflow. It carries ids only: the body lives in
// PostgreSQL. The workflow's own id is delivery-<the delivery's number> (the store
// derives it; deliveries from before numbers keep delivery-<DeliveryID>): derived from
// the delivery, so a second start of it is a no-op instead of a second delivery.
type DeliveryInput struct {
	// DeliveryID is the delivery's internal id (hookflow.Delivery.Key).
	DeliveryID string
	// Recovery names the recovery that starts this run to retry the failed delivery once.
	Recovery string `json:",omitempty"`
}

// DeliveryState is what the state query answers and what the workflow returns.
type DeliveryState struct {
	DeliveryID    string          `json:"delivery_id"`
	Status        hookflow.Status `json:"status"`
	Attempts      int             `json:"attempts"`
	ResponseCode  *int            `json:"response_code"`
	LastError     string          `json:"last_error"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	Policy        hookflow.Policy `json:"policy"`
	// Waiting is set while the delivery waits for its endpoint (not for a retry).
	Waiting *Waiting `json:"waiting,omitempty"`
}

// Waiting says why a delivery waits for its endpoint, since when, and until when at most.
type Waiting struct {
	Reason hookflow.WaitReason `json:"reason"`
	Since  time.Time           `json:"since"`
	Until  time.Time           `json:"until"`
	// After is the delivery (its internal id) this one waits for: the one before it in
	// its ordering key.
	After string `json:"after,omitempty"`
}

// WakeSignal tells a delivery waiting for its endpoint that a slot is free: it asks again
// at once instead of at the end of its wait.
const WakeSignal = "wake"

// DeliveryWorkflow makes the attempts of one delivery: attempt, record, decide, and wait
// on a durable timer (or a retry signal) before the next one.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) (DeliveryState, error) {
	d := &delivery{state: DeliveryState{DeliveryID: in.DeliveryID}, trigger: hookflow.TriggerAutomatic, first: true, recovery: in.Recovery}
	if err := d.setup(ctx); err != nil {
		return d.state, err
	}
	return d.state, d.run(ctx)
}

// delivery is one run of a DeliveryWorkflow: its state and the steps it takes.
type delivery struct {
	state DeliveryState
	// start is where the delivery stood when the run began, read by its first send step.
	start   activities.StartResult
	first   bool
	single  bool
	trigger hookflow.Trigger
	// recovery is the recovery that started the run, if one did.
	recovery string
	retry    workflow.ReceiveChannel
	wake     workflow.ReceiveChannel
	// closeFailed caches closesFailed's answer.
	closeFailed *bool

	storeCtx, sendCtx workflow.Context
}

var a *activities.Activities

func (d *delivery) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, StateQuery, func() (DeliveryState, error) { return d.state, nil }); err != nil {
		return err
	}
	d.retry = workflow.GetSignalChannel(ctx, RetrySignal)
	d.wake = workflow.GetSignalChannel(ctx, WakeSignal)
	// Store steps are local activities: short, on this worker, without a history event
	// per schedule. They retry until the database answers again.
	d.storeCtx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        200 * time.Millisecond,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: []string{activities.ErrTypeNotFound},
		},
	})
	// The send step is a local activity too: it runs in the same workflow task as the
	// steps around it, so an attempt costs no round trip through a task queue and no
	// activity events in the history. It keeps the workflow task only for a short hold
	// (package outbound): an endpoint that has not answered by then is awaited by a
	// regular activity, so a hanging endpoint holds no workflow-task slot. Its HTTP
	// outcome is a result, never an error: only a failure to prepare the request (the
	// database is down) or a lost worker makes it run again.
	d.sendCtx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 150 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeNotFound},
		},
	})
	return nil
}

// run loops: send, and when an attempt was made, record and decide; then wait for the
// endpoint or for the next attempt.
func (d *delivery) run(ctx workflow.Context) error {
	for {
		// Retry requests that arrived before this attempt are answered by it.
		for d.retry.ReceiveAsync(nil) {
			d.trigger = hookflow.TriggerManual
		}
		sent, done, err := d.send(ctx)
		if err != nil || done {
			return err
		}
		if sent.Skipped != "" {
			return d.skip(ctx, sent.Skipped)
		}
		if sent.Wait != nil {
			d.waitForEndpoint(ctx, *sent.Wait)
			continue
		}
		if sent.Recorded {
			// The send step recorded the attempt, which succeeded: the common delivery
			// costs one step, and its history nothing more.
			d.delivered(sent.Attempt)
			return nil
		}
		if sent.HandedOff != nil {
			sent = d.collect(ctx, *sent.HandedOff)
		}
		wait, err := d.record(ctx, sent)
		if err != nil {
			return err
		}
		if d.state.Status == hookflow.StatusFailed && d.retry.ReceiveAsync(nil) {
			// A retry asked for while the last attempt was being made: the API accepted it,
			// so it gets its attempt. Histories from before this branch existed ended here.
			if workflow.GetVersion(ctx, lateRetryChange, workflow.DefaultVersion, 1) == 1 {
				d.single, d.trigger = true, hookflow.TriggerManual
				continue
			}
		}
		if d.state.Status != hookflow.StatusRetrying {
			// Retries that came too late to matter (the delivery was delivered) are spent.
			for d.retry.ReceiveAsync(nil) {
			}
			return d.closing(ctx)
		}
		d.trigger = hookflow.TriggerAutomatic
		d.waitForRetry(ctx, wait)
	}
}

// send runs the send step. On a run's first call it also learns where the delivery
// stands; done is true when there is nothing to do (it was delivered, or the recovery
// that started the run has had its attempt).
func (d *delivery) send(ctx workflow.Context) (sent activities.SendResult, done bool, err error) {
	attempt := activities.SendInput{DeliveryID: d.state.DeliveryID, First: d.first, Number: d.state.Attempts + 1, Trigger: d.trigger,
		Recovery: d.recovery, RecordSuccess: true}
	if err := workflow.ExecuteLocalActivity(d.sendCtx, a.Send, attempt).Get(ctx, &sent); err != nil {
		return sent, false, err
	}
	if d.first {
		if sent.Start == nil {
			return sent, false, errors.New("the first send step reported no start")
		}
		d.first, d.start = false, *sent.Start
		d.state.Status, d.state.Attempts, d.state.Policy = d.start.Status, d.start.Attempts, d.start.Policy
		if d.start.Done() {
			return sent, true, nil
		}
		d.single = d.start.OneAttempt()
		if d.single {
			d.trigger = d.start.OneAttemptTrigger()
		}
	}
	return sent, false, nil
}

// skip ends a delivery that may not be attempted (its subscription was deleted).
func (d *delivery) skip(ctx workflow.Context, reason string) error {
	d.state.Status, d.state.LastError, d.state.NextAttemptAt, d.state.Waiting = hookflow.StatusFailed, reason, nil, nil
	if err := workflow.ExecuteLocalActivity(d.storeCtx, a.FailWithoutAttempt, activities.FailInput{DeliveryID: d.state.DeliveryID, Reason: reason, Ordered: d.start.Ordered}).Get(ctx, nil); err != nil {
		return err
	}
	if err := d.showStatus(ctx, d.state.Status); err != nil {
		return err
	}
	return d.closing(ctx)
}

// delivered takes in an attempt the send step recorded itself.
func (d *delivery) delivered(attempt hookflow.Attempt) {
	d.state.Attempts, d.state.Status, d.state.NextAttemptAt, d.state.Waiting = attempt.Number, hookflow.StatusDelivered, nil, nil
	d.state.ResponseCode, d.state.LastError = attempt.ResponseCode, attempt.Error
	for d.retry.ReceiveAsync(nil) {
	}
}

// ErrTypeDeliveryFailed is the type of the error a delivery workflow that ends failed
// closes with: the Temporal UI's status column then says Failed. Its details carry the
// DeliveryState.
const ErrTypeDeliveryFailed = "DeliveryFailed"

// closing is how the run ends: a delivery that failed closes the workflow as failed (from
// closeFailedChange on), every other one completes.
func (d *delivery) closing(ctx workflow.Context) error {
	if d.state.Status != hookflow.StatusFailed || !d.closesFailed(ctx) {
		return nil
	}
	return temporal.NewNonRetryableApplicationError("the delivery failed: "+hookflow.Excerpt(d.state.LastError, 200),
		ErrTypeDeliveryFailed, nil, d.state)
}

// showStatus puts a new status in the search attribute, except the failed status of a run
// that closes its workflow as failed: the workflow's own status says it.
func (d *delivery) showStatus(ctx workflow.Context, status hookflow.Status) error {
	if status == hookflow.StatusFailed && d.closesFailed(ctx) {
		return nil
	}
	return upsertStatus(ctx, status)
}

// closesFailed reports whether this run closes a failed delivery as a failed workflow
// rather than one that completed with a "failed" search attribute. It is asked on the
// failure path only, once.
func (d *delivery) closesFailed(ctx workflow.Context) bool {
	if d.closeFailed == nil {
		v := workflow.GetVersion(ctx, closeFailedChange, workflow.DefaultVersion, 1) == 1
		d.closeFailed = &v
	}
	return *d.closeFailed
}

// collect awaits an attempt still in flight on the worker that made it. When that worker
// is gone, the attempt was made but its answer is unknown: it counts as a failed attempt.
func (d *delivery) collect(ctx workflow.Context, h activities.HandOff) activities.SendResult {
	awaitCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: h.TaskQueue,
		// A worker that stopped never picks it up.
		ScheduleToStartTimeout: handOffPickup,
		StartToCloseTimeout:    h.Timeout + handOffPickup,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var sent activities.SendResult
	started := workflow.Now(ctx)
	err := workflow.ExecuteActivity(awaitCtx, a.AwaitAttempt, activities.AwaitInput{DeliveryID: d.state.DeliveryID, Ticket: h.Ticket}).Get(ctx, &sent)
	if err != nil {
		sent = activities.SendResult{Attempt: hookflow.Attempt{
			Number: d.state.Attempts + 1, Trigger: d.trigger, StartedAt: started,
			Error: "the worker making this attempt stopped before the endpoint's answer was collected",
		}}
	}
	return sent
}

// handOffPickup bounds how long a handed-off attempt waits for its worker to collect it.
const handOffPickup = 30 * time.Second

// record writes the attempt and decides what follows: delivered, failed, or retrying
// after the returned wait.
func (d *delivery) record(ctx workflow.Context, sent activities.SendResult) (time.Duration, error) {
	number := sent.Attempt.Number
	wait, more := time.Duration(0), false
	status := hookflow.StatusDelivered
	var next *time.Time
	rec := d.start.AttemptRecord(d.state.DeliveryID, sent.Attempt, d.recovery, workflow.Now(ctx).UTC())
	if !sent.Attempt.Succeeded() {
		status = hookflow.StatusFailed
		if !d.single && !d.endsAtGone(ctx, sent.Attempt) {
			wait, more = d.state.Policy.RetryWait(number)
			// An endpoint that asks for time gets it, but never sooner than the
			// policy's own wait.
			wait = max(wait, sent.RetryAfter)
		}
		if more {
			status = hookflow.StatusRetrying
			at := workflow.Now(ctx).Add(wait).UTC()
			next = &at
		}
	}
	rec.Status, rec.NextAttemptAt = status, next
	rec.FulfilmentIssues = d.start.Fulfilment && status == hookflow.StatusFailed
	// 410 Gone: the endpoint says it is gone for good, so its subscription is paused
	// (nothing more is sent, and nothing is lost) until a person resumes it.
	if gone(sent.Attempt) {
		rec.PauseReason = hookflow.PausedByGone
	}
	if err := workflow.ExecuteLocalActivity(d.storeCtx, a.Record, rec).Get(ctx, nil); err != nil {
		return 0, err
	}
	previous := d.state.Status
	d.state.Attempts, d.state.Status, d.state.NextAttemptAt, d.state.Waiting = number, status, next, nil
	d.state.ResponseCode, d.state.LastError = sent.Attempt.ResponseCode, sent.Attempt.Error
	if status != previous {
		if err := d.showStatus(ctx, status); err != nil {
			return 0, err
		}
	}
	return wait, nil
}

// waitForEndpoint waits, without an attempt, until the endpoint can take the request: for
// the wait the send step named, or less when a slot frees (wake) or a person asks for a
// retry. The attempt that follows keeps its number.
func (d *delivery) waitForEndpoint(ctx workflow.Context, w outbound.Wait) {
	now := workflow.Now(ctx).UTC()
	since := now
	if d.state.Waiting != nil && d.state.Waiting.Reason == w.Reason {
		since = d.state.Waiting.Since
	}
	d.state.Waiting = &Waiting{Reason: w.Reason, Since: since, Until: now.Add(w.For), After: w.After}
	if w.Reason == hookflow.WaitOrdering {
		// What the Temporal UI shows beside the running workflow.
		workflow.SetCurrentDetails(ctx, "Waiting for its turn: delivery "+w.After+" has the same ordering key and has not ended yet.")
		defer workflow.SetCurrentDetails(ctx, "")
	}
	// A wake that came before this wait began is not drained: it may be the one meant for
	// it (a slot freed while the send step was returning, the delivery before it in order
	// ended), and a stale one costs only an early look.
	d.sleep(ctx, w.For, d.wake)
}

// waitForRetry waits for the policy's wait, or less when a person asks for a retry.
func (d *delivery) waitForRetry(ctx workflow.Context, wait time.Duration) {
	d.sleep(ctx, wait, nil)
}

// sleep waits on a durable timer that a retry signal (or wake, when given) cuts short.
func (d *delivery) sleep(ctx workflow.Context, wait time.Duration, wake workflow.ReceiveChannel) {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	selector := workflow.NewSelector(ctx)
	selector.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) {})
	selector.AddReceive(d.retry, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		d.trigger = hookflow.TriggerManual
	})
	if wake != nil {
		selector.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	}
	selector.Select(ctx)
	cancelTimer()
}

// closeFailedChange marks the version of DeliveryWorkflow in which a delivery that ends
// failed closes its workflow as failed (the Temporal UI's status says so) instead of
// completing with a "failed" search attribute. GetVersion is called on the failure path
// only, so a delivery that succeeds records no marker.
const closeFailedChange = "close-failed"

// lateRetryChange marks the version of DeliveryWorkflow that answers a retry signalled
// during a delivery's last attempt (GetVersion is called on that path only, so the common
// path records no marker).
const lateRetryChange = "late-retry-attempts"

// pauseOnGoneChange marks the version of DeliveryWorkflow in which a 410 Gone pauses the
// subscription and the delivery keeps its retries (held by the pause); before it, a 410
// ended the delivery's retries. GetVersion is called on a 410 only.
const pauseOnGoneChange = "pause-on-gone"

// endsAtGone reports whether a 410 ends the delivery's retries: only in runs begun before
// pauseOnGoneChange.
func (d *delivery) endsAtGone(ctx workflow.Context, a hookflow.Attempt) bool {
	return gone(a) && workflow.GetVersion(ctx, pauseOnGoneChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}

func gone(a hookflow.Attempt) bool {
	return a.ResponseCode != nil && *a.ResponseCode == http.StatusGone
}

func upsertStatus(ctx workflow.Context, status hookflow.Status) error {
	return workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(status)))
}
