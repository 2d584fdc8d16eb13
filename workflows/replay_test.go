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

// TestReplayWaitAndHandOff replays a delivery that waited for its rate limit on a durable
// timer and whose slow answer was collected by AwaitAttempt, recorded from this build by
// e2e's TestWaitAndHandOffHistoryReplays (HOOKFLOW_RECORD_HISTORY=1 regenerates it).
func TestReplayWaitAndHandOff(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/delivery_wait_handoff.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// TestReplayRecovery replays a recovery recorded from this build by e2e's
// TestRecoveryRetriesExactlyTheWindow (HOOKFLOW_RECORD_HISTORY=1 regenerates it).
func TestReplayRecovery(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.RecoveryWorkflow)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/recovery.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// TestReplayOrderedWait replays a fifo subscription's delivery that waited for its turn
// behind an earlier one of its ordering key and was woken when that one ended, recorded by
// e2e's TestFIFOKeepsEachKeysOrderAcrossWorkers (HOOKFLOW_RECORD_HISTORY=1 regenerates
// it): a worker that restarts mid-wait resumes the wait from this history.
func TestReplayOrderedWait(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/delivery_ordered_wait.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

// TestReplayFailedFromBeforeCloseFailed replays a delivery that failed after its retries
// under the build before closeFailedChange, when a failed delivery completed its workflow
// with a "failed" search attribute: a query of such a closed workflow, or a worker that
// picks up one still open, replays it unchanged.
func TestReplayFailedFromBeforeCloseFailed(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/delivery_failed.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
