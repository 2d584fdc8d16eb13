// Package activities holds the steps of hookflow's workflows that touch the world: the
// HTTP send and the store writes. They are methods on one struct of dependencies, so the
// worker and the tests register the same thing.
package activities

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/outbound"
)

// ErrTypeNotFound marks errors that no retry can fix: the delivery is gone.
const ErrTypeNotFound = "NotFound"

// Store is what the activities need of the database.
type Store interface {
	SendRequest(ctx context.Context, deliveryID string) (hookflow.SendRequest, error)
	RecordAttempt(ctx context.Context, rec hookflow.AttemptRecord) error
	FailWithoutAttempt(ctx context.Context, deliveryID, reason string) error
	RefirePendingFulfilments(ctx context.Context, accountID string) (int, error)
	NextRecoveryStep(ctx context.Context, recoveryID string, window int) (hookflow.RecoveryStep, error)
	PurgeBatch(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// Activities holds the dependencies of every activity.
type Activities struct {
	Store Store
	// Outbound sends the requests, keeping each endpoint's share of the worker bounded.
	Outbound *outbound.Gateway
	// AttemptQueue is this worker's own task queue, where attempts it hands off are
	// collected (see AwaitAttempt).
	AttemptQueue string
	// RetryUnit is the linear backoff unit: retry n waits n × RetryUnit.
	RetryUnit time.Duration
	// FulfilmentSchedule is the wait before each retry of a fulfilment_pending delivery.
	FulfilmentSchedule []time.Duration
	Logger             *slog.Logger
	Metrics            Observer
	// Starter starts the delivery workflows a recovery retries.
	Starter RecoveryStarter
	// RecoveryWindow is how many of a recovery's deliveries are retried at once
	// (DefaultRecoveryWindow when 0); RecoveryPoll how often it looks at their progress
	// (DefaultRecoveryPoll when 0).
	RecoveryWindow int
	RecoveryPoll   time.Duration
	// Retention is how long events, deliveries and attempts are kept (0: forever).
	Retention time.Duration
}

// Observer receives the outcome of every attempt (metrics). Nil means none.
type Observer interface {
	ObserveAttempt(a hookflow.Attempt)
	ObserveOutcome(status hookflow.Status)
}

// StartResult is where the delivery stood when a workflow run began and the policy its
// retries follow, fixed for the run.
type StartResult struct {
	Status   hookflow.Status
	Attempts int
	Policy   hookflow.Policy
	// Fulfilment is true when the answer decides a fulfilment (fulfilment_pending).
	Fulfilment bool
	// Recovery is the recovery that started the run, if one did; RecoveryDone is set when
	// that recovery's attempt was made already (the run was started again).
	Recovery     string `json:",omitempty"`
	RecoveryDone bool   `json:",omitempty"`
	// Ordered is set for a fifo subscription's delivery: when it ends, the next one of
	// its ordering key is woken.
	Ordered bool `json:",omitempty"`
}

// OneAttempt is the rule for a run that starts on a delivery that had already failed: only
// a manual retry or a recovery starts such a run, and it gets exactly one attempt.
func (st StartResult) OneAttempt() bool { return st.Status == hookflow.StatusFailed }

// OneAttemptTrigger is what that one attempt is recorded as.
func (st StartResult) OneAttemptTrigger() hookflow.Trigger {
	if st.Recovery != "" {
		return hookflow.TriggerRecovery
	}
	return hookflow.TriggerManual
}

// AttemptRecord is what an attempt writes when it succeeded: the delivery is delivered,
// and for the fulfilment protocol a 200 completes the fulfilment (another 2xx leaves it
// pending for the next check). The workflow and the send step both record success through
// it; for a failed attempt the workflow then sets what follows (status, next attempt).
func (st StartResult) AttemptRecord(deliveryID string, attempt hookflow.Attempt, recovery string, at time.Time) hookflow.AttemptRecord {
	return hookflow.AttemptRecord{DeliveryID: deliveryID, Ordered: st.Ordered, Attempt: attempt, Status: hookflow.StatusDelivered,
		CompleteFulfilment: st.Fulfilment && attempt.Succeeded() && *attempt.ResponseCode == 200,
		RecoveryID:         recovery, At: at}
}

// Done reports whether the run has nothing to attempt: the delivery was delivered, or its
// recovery's attempt was made already.
func (st StartResult) Done() bool { return st.Status == hookflow.StatusDelivered || st.RecoveryDone }

// startResult turns the stored state into the run's start: the subscription's max_retries
// become a linear policy in this worker's retry unit, a fulfilment its schedule.
func (a *Activities) startResult(st hookflow.DeliveryState, recovery string) StartResult {
	res := StartResult{Status: st.Status, Attempts: st.Attempts, Fulfilment: st.Fulfilment, Recovery: recovery, Ordered: st.Ordered}
	if recovery != "" {
		res.RecoveryDone = st.RecoveryID != recovery || !st.RecoveryPending
	}
	switch st.Policy {
	case hookflow.PolicySchedule:
		res.Policy = hookflow.SchedulePolicy(a.FulfilmentSchedule)
	case hookflow.PolicyNone:
		res.Policy = hookflow.Policy{Kind: hookflow.PolicyNone}
	default:
		res.Policy = hookflow.LinearPolicy(st.MaxRetries, a.RetryUnit)
	}
	return res
}

// FulfilmentCheckInput scopes a fulfilment check; an empty AccountID checks every account.
type FulfilmentCheckInput struct {
	AccountID string
}

// RefirePendingFulfilments fires fulfilment_pending again for every fulfilment still
// pending, without issues and not in flight, and returns how many it fired.
func (a *Activities) RefirePendingFulfilments(ctx context.Context, in FulfilmentCheckInput) (int, error) {
	n, err := a.Store.RefirePendingFulfilments(ctx, in.AccountID)
	if err == nil && n > 0 {
		a.logger().Info("fulfilment check fired", "fulfilments", n, "account_id", in.AccountID)
	}
	return n, classify(err)
}

// Record writes an attempt and the delivery's new state.
func (a *Activities) Record(ctx context.Context, rec hookflow.AttemptRecord) error {
	return classify(a.record(ctx, rec))
}

// record writes an attempt; once the delivery has ended, the next one of its ordering key
// may go.
func (a *Activities) record(ctx context.Context, rec hookflow.AttemptRecord) error {
	if err := a.Store.RecordAttempt(ctx, rec); err != nil {
		return err
	}
	if a.Metrics != nil {
		a.Metrics.ObserveOutcome(rec.Status)
	}
	if rec.Ordered && rec.Status != hookflow.StatusRetrying {
		a.Outbound.HandOn(ctx, rec.DeliveryID)
	}
	return nil
}

func (a *Activities) now() time.Time { return time.Now().UTC() }

// FailInput ends a delivery that cannot be attempted.
type FailInput struct {
	DeliveryID string
	Reason     string
	// Ordered: see AttemptRecord.Ordered.
	Ordered bool `json:",omitempty"`
}

// FailWithoutAttempt marks the delivery failed without a request.
func (a *Activities) FailWithoutAttempt(ctx context.Context, in FailInput) error {
	if err := a.Store.FailWithoutAttempt(ctx, in.DeliveryID, in.Reason); err != nil {
		return classify(err)
	}
	if in.Ordered {
		a.Outbound.HandOn(ctx, in.DeliveryID)
	}
	return nil
}

func (a *Activities) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}

// classify makes "not found" non-retryable; everything else (an outage) is retried by
// Temporal with backoff.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if hookflow.ErrorCode(err) == hookflow.ENOTFOUND {
		return temporal.NewNonRetryableApplicationError(hookflow.ErrorMessage(err), ErrTypeNotFound, err)
	}
	return err
}
