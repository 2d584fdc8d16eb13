package dispatch

import (
	"context"
	"errors"
	"log/slog"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/workflows"
)

// OutageStore is the database side of the outage service.
type OutageStore interface {
	hookflow.OutageService
	outbound.Store
	FindSubscription(ctx context.Context, accountID, id string) (hookflow.Subscription, error)
}

// Outages is the outage service the API and the dashboard share: the store's, plus what
// Temporal does for it (a resume wakes the held deliveries; a recovery is a workflow).
type Outages struct {
	OutageStore
	Client client.Client
	// Width is how many held deliveries a resume wakes at once (each, when its answer
	// comes, wakes the next): the worker's in-flight cap per endpoint.
	Width  int
	Logger *slog.Logger
}

var _ hookflow.OutageService = Outages{}

func (o Outages) logger() *slog.Logger { return loggerOr(o.Logger) }

// ResumeSubscription ends the pause and wakes the oldest held deliveries. Resuming a
// subscription that is not paused wakes nothing: another chain of releases beside the
// running one would let younger deliveries overtake older ones.
func (o Outages) ResumeSubscription(ctx context.Context, accountID, id string) (hookflow.Subscription, error) {
	before, err := o.OutageStore.FindSubscription(ctx, accountID, id)
	if err != nil {
		return before, err
	}
	sub, err := o.OutageStore.ResumeSubscription(ctx, accountID, id)
	if err != nil || !before.Paused {
		return sub, err
	}
	width := max(o.Width, 1)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	// Failures are logged, not answered: the resume is committed, and a delivery whose
	// wake is lost goes out when its own timer ends.
	_, _ = outbound.WakeWaiters(ctx, o.OutageStore, Waker{Client: o.Client}, sub.ID, width, o.logger())
	return sub, nil
}

// CreateRecovery records a recovery and starts its workflow; when Temporal cannot take
// it, the recovery is removed again and the answer is 503.
func (o Outages) CreateRecovery(ctx context.Context, accountID, subscriptionID string, req hookflow.RecoveryRequest) (hookflow.Recovery, error) {
	r, err := o.OutageStore.CreateRecovery(ctx, accountID, subscriptionID, req)
	if err != nil {
		return r, err
	}
	startCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err = o.Client.ExecuteWorkflow(startCtx, client.StartWorkflowOptions{
		ID:                    r.WorkflowID,
		TaskQueue:             workflows.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.AccountIDKey.ValueSet(accountID), workflows.SubscriptionIDKey.ValueSet(r.SubscriptionID)),
	}, workflows.RecoveryWorkflow, activities.RecoverInput{RecoveryID: r.ID})
	if err != nil {
		if cancelErr := o.OutageStore.CancelRecovery(context.WithoutCancel(ctx), r.ID); cancelErr != nil {
			o.logger().Warn("could not remove the recovery that did not start", "recovery_id", r.ID, "error", cancelErr)
		}
		return hookflow.Recovery{}, temporalError(o.logger(), err, "recovery", "recovery_id", r.ID)
	}
	return r, nil
}

// RecoveryStarter starts the delivery workflows a recovery retries.
type RecoveryStarter struct {
	Client client.Client
}

// StartRecovery starts a new run of the failed delivery's workflow, named for the
// recovery. A run already open (a manual retry) is left to itself.
func (r RecoveryStarter) StartRecovery(ctx context.Context, item hookflow.DispatchItem, recoveryID string) error {
	opts := reopenOptions(item, hookflow.StatusFailed)
	_, err := r.Client.ExecuteWorkflow(ctx, opts, workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: item.DeliveryID, Recovery: recoveryID})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil
	}
	return err
}
