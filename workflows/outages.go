package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
)

// RecoveryWorkflow retries, once each, the failed deliveries of a recovery (its id is
// hookflow.RecoveryWorkflowID). The work is one heartbeating activity: should its worker
// stop, the activity runs again elsewhere and carries on from what the database records
// (which deliveries were taken, which have had their attempt), so the history stays
// short however many deliveries a recovery retries.
func RecoveryWorkflow(ctx workflow.Context, in activities.RecoverInput) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 7 * 24 * time.Hour,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeNotFound},
		},
	})
	var started int
	err := workflow.ExecuteActivity(ctx, a.Recover, in).Get(ctx, &started)
	return started, err
}

// RetentionScheduleID is the Temporal Schedule that runs RetentionWorkflow.
const RetentionScheduleID = "hookflow-retention"

// RetentionWorkflow deletes the events, deliveries and attempts older than the retention.
func RetentionWorkflow(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	})
	var deleted int
	err := workflow.ExecuteActivity(ctx, a.Purge).Get(ctx, &deleted)
	return deleted, err
}
