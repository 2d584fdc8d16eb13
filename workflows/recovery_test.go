package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// A recovery whose activity is lost with its worker runs it again: the second run carries
// on (the database says what was taken and what was attempted) and the workflow ends
// with it.
func TestRecoveryCarriesOnAfterItsWorkerStops(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(&activities.Activities{})
	var runs []string
	env.OnActivity(a.Recover, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecoverInput) (int, error) {
		runs = append(runs, in.RecoveryID)
		if len(runs) == 1 {
			return 0, errors.New("the worker stopped (heartbeat timeout)")
		}
		return 3, nil
	})
	env.ExecuteWorkflow(workflows.RecoveryWorkflow, activities.RecoverInput{RecoveryID: "r1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var started int
	if err := env.GetWorkflowResult(&started); err != nil {
		t.Fatal(err)
	}
	if started != 3 || len(runs) != 2 || runs[1] != "r1" {
		t.Fatalf("started %d in runs %v, want 3 in a second run of r1", started, runs)
	}
}
