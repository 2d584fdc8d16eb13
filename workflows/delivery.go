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

// WorkflowID is the id of a delivery's workflow. Deriving it from the delivery id makes a
// second start of the same delivery a no-op instead of a second delivery.
func WorkflowID(deliveryID string) string { return "delivery-" + deliveryID }

// DeliveryInput starts a delivery workflow. It carries ids only: the body lives in
// PostgreSQL.
type DeliveryInput struct {
	DeliveryID string
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
}

// DeliveryWorkflow makes the attempts of one delivery: attempt, record, decide, and wait
// on a durable timer (or a retry signal) before the next one.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) (DeliveryState, error) {
	var a *activities.Activities
	state := DeliveryState{DeliveryID: in.DeliveryID}
	if err := workflow.SetQueryHandler(ctx, StateQuery, func() (DeliveryState, error) { return state, nil }); err != nil {
		return state, err
	}
	retry := workflow.GetSignalChannel(ctx, RetrySignal)

	// Store steps are local activities: short, on this worker, without a history event
	// per schedule. They retry until the database answers again.
	storeCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
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
	// activity events in the history. It may take as long as the subscription's timeout
	// (at most 120 s; the SDK heartbeats the workflow task meanwhile). Its HTTP outcome is
	// a result, never an error: only a failure to prepare the request (the database is
	// down) or a lost worker makes it run again.
	sendCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 150 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeNotFound},
		},
	})

	// The run's first send step also reads where the delivery stands and its retry policy
	// (one query, one local activity); until then the run knows nothing of it.
	var start activities.StartResult
	first, single := true, false
	trigger := hookflow.TriggerAutomatic
	for {
		// Retry requests that arrived before this attempt are answered by it.
		for retry.ReceiveAsync(nil) {
			trigger = hookflow.TriggerManual
		}
		var sent activities.SendResult
		attempt := activities.SendInput{DeliveryID: in.DeliveryID, First: first, Number: state.Attempts + 1, Trigger: trigger}
		if err := workflow.ExecuteLocalActivity(sendCtx, a.Send, attempt).Get(ctx, &sent); err != nil {
			return state, err
		}
		if first {
			if sent.Start == nil {
				return state, errors.New("the first send step reported no start")
			}
			first, start = false, *sent.Start
			state.Status, state.Attempts, state.Policy = start.Status, start.Attempts, start.Policy
			if start.Status == hookflow.StatusDelivered {
				return state, nil
			}
			// A delivery that had already failed gets exactly one more attempt: this run
			// was started by a manual retry.
			single = start.Status == hookflow.StatusFailed
		}
		if sent.Skipped != "" {
			state.Status, state.LastError, state.NextAttemptAt = hookflow.StatusFailed, sent.Skipped, nil
			err := workflow.ExecuteLocalActivity(storeCtx, a.FailWithoutAttempt, activities.FailInput{DeliveryID: in.DeliveryID, Reason: sent.Skipped}).Get(ctx, nil)
			return state, errors.Join(err, upsertStatus(ctx, state.Status))
		}
		number := sent.Attempt.Number

		wait, more := time.Duration(0), false
		status := hookflow.StatusDelivered
		var next *time.Time
		record := hookflow.AttemptRecord{DeliveryID: in.DeliveryID, Attempt: sent.Attempt}
		// The fulfilment protocol: 200 completes the fulfilment; another 2xx leaves it
		// pending for the next check, with nothing scheduled.
		record.CompleteFulfilment = start.Fulfilment && sent.Attempt.Succeeded() && *sent.Attempt.ResponseCode == 200
		if !sent.Attempt.Succeeded() {
			status = hookflow.StatusFailed
			if !single && !gone(sent.Attempt) {
				wait, more = state.Policy.RetryWait(number)
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
		record.Status, record.NextAttemptAt = status, next
		record.FulfilmentIssues = start.Fulfilment && status == hookflow.StatusFailed
		// 410 Gone means the endpoint will never accept again: stop sending to it.
		record.DisableSubscription = gone(sent.Attempt)
		if err := workflow.ExecuteLocalActivity(storeCtx, a.Record, record).Get(ctx, nil); err != nil {
			return state, err
		}
		previous := state.Status
		state.Attempts, state.Status, state.NextAttemptAt = number, status, next
		state.ResponseCode, state.LastError = sent.Attempt.ResponseCode, sent.Attempt.Error
		if status != previous {
			if err := upsertStatus(ctx, status); err != nil {
				return state, err
			}
		}
		if status == hookflow.StatusFailed && retry.ReceiveAsync(nil) {
			// A retry asked for while the last attempt was being made: the API accepted it,
			// so it gets its attempt. Histories from before this branch existed ended here.
			if workflow.GetVersion(ctx, lateRetryChange, workflow.DefaultVersion, 1) == 1 {
				single, trigger = true, hookflow.TriggerManual
				continue
			}
		}
		if status != hookflow.StatusRetrying {
			// Retries that came too late to matter (the delivery was delivered) are spent.
			for retry.ReceiveAsync(nil) {
			}
			return state, nil
		}

		trigger = hookflow.TriggerAutomatic
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		selector := workflow.NewSelector(ctx)
		selector.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) {})
		selector.AddReceive(retry, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			trigger = hookflow.TriggerManual
		})
		selector.Select(ctx)
		cancelTimer()
	}
}

// lateRetryChange marks the version of DeliveryWorkflow that answers a retry signalled
// during a delivery's last attempt (GetVersion is called on that path only, so the common
// path records no marker).
const lateRetryChange = "late-retry-attempts"

func gone(a hookflow.Attempt) bool {
	return a.ResponseCode != nil && *a.ResponseCode == http.StatusGone
}

func upsertStatus(ctx workflow.Context, status hookflow.Status) error {
	return workflow.UpsertTypedSearchAttributes(ctx, StatusKey.ValueSet(string(status)))
}
