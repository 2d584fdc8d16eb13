package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// FulfilmentScheduleID is the Temporal Schedule that runs the periodic fulfilment check.
const FulfilmentScheduleID = "hookflow-fulfilment-check"

// FulfilmentCheckWorkflowID is the id of an on-demand check of one account; a request
// while one runs joins it.
func FulfilmentCheckWorkflowID(accountID string) string { return "fulfilment-check-" + accountID }

// FulfilmentCheckWorkflow fires fulfilment_pending again for every fulfilment still
// pending, without issues and with no delivery in flight. The deliveries it creates are
// dispatched like any other.
func FulfilmentCheckWorkflow(ctx workflow.Context, in activities.FulfilmentCheckInput) (int, error) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	})
	var fired int
	err := workflow.ExecuteActivity(ctx, a.RefirePendingFulfilments, in).Get(ctx, &fired)
	return fired, err
}
