package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/workflows"
)

// TestReplayRecordedHistory replays a history recorded from a real server — an attempt that
// failed, a backoff timer, a retry, a manual retry signal cutting the next wait short, and
// the delivery — against the current workflow code. A change that would break running
// workflows fails here.
func TestReplayRecordedHistory(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/delivery_retry_signal.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
