package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// EnsureFulfilmentSchedule creates the Temporal Schedule of the periodic fulfilment check,
// or brings its interval up to date. Every worker calls it at start; the schedule id makes
// that safe.
func EnsureFulfilmentSchedule(ctx context.Context, c client.Client, every time.Duration) error {
	return ensureSchedule(ctx, c, workflows.FulfilmentScheduleID, every, &client.ScheduleWorkflowAction{
		ID:        "fulfilment-check",
		Workflow:  workflows.FulfilmentCheckWorkflow,
		Args:      []any{activities.FulfilmentCheckInput{}},
		TaskQueue: workflows.TaskQueue,
	})
}

// EnsureRetentionSchedule creates the Temporal Schedule that deletes what is older than
// the retention, or brings its interval up to date.
func EnsureRetentionSchedule(ctx context.Context, c client.Client, every time.Duration) error {
	return ensureSchedule(ctx, c, workflows.RetentionScheduleID, every, &client.ScheduleWorkflowAction{
		ID:        "retention",
		Workflow:  workflows.RetentionWorkflow,
		TaskQueue: workflows.TaskQueue,
	})
}

// ensureSchedule creates a schedule, or updates the interval of the one with its id.
func ensureSchedule(ctx context.Context, c client.Client, id string, every time.Duration, action *client.ScheduleWorkflowAction) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   id,
		Spec: spec,
		// A run still going when the next is due makes the next one pointless.
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action:  action,
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		handle := c.ScheduleClient().GetHandle(ctx, id)
		return handle.Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				in.Description.Schedule.Spec = &spec
				return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
			},
		})
	}
	if err != nil {
		return fmt.Errorf("create the schedule %s: %w", id, err)
	}
	return nil
}

// FulfilmentChecker runs the fulfilment check of one account on demand.
type FulfilmentChecker struct {
	Client client.Client
	Logger *slog.Logger
}

// RunFulfilmentCheck starts the check and returns its workflow id without waiting.
func (f FulfilmentChecker) RunFulfilmentCheck(ctx context.Context, accountID string) (string, error) {
	id := workflows.FulfilmentCheckWorkflowID(accountID)
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := f.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.AccountIDKey.ValueSet(accountID)),
	}, workflows.FulfilmentCheckWorkflow, activities.FulfilmentCheckInput{AccountID: accountID})
	if err != nil {
		return "", temporalError(loggerOr(f.Logger), err, "fulfilment check", "account_id", accountID)
	}
	return id, nil
}
