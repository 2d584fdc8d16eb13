package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/workflows"
)

// A delivery that waits for its rate limit and whose slow endpoint makes it hand its
// attempt off replays against the current workflow code. Its history is the fixture of
// workflows/replay_test.go for the waits and hand-offs: regenerate it with
// HOOKFLOW_RECORD_HISTORY=1 go test -run TestWaitAndHandOffHistoryReplays ./e2e
// (a change that must keep running workflows working keeps the old file).
func TestWaitAndHandOffHistoryReplays(t *testing.T) {
	app := startApp(t, AppOptions{})
	key := app.NewAccount("history")
	slow := newReceiver(t, always(http.StatusOK))
	slow.Config.Handler = delayed(slow.Config.Handler, 400*time.Millisecond)
	app.Subscribe(key, slow.URL, map[string]any{"rate_limit": 1})
	var last string
	for range 2 {
		last = app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{}}).Deliveries[0].ID.String()
	}
	d := app.WaitStatus(key, last, "delivered", 30*time.Second)

	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: app.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var events int
	hist, err := historyFrom(c.GetWorkflowHistory(context.Background(), d.WorkflowID, "", false, 0), &events)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TIMER_STARTED", "ACTIVITY_TASK_SCHEDULED", "AwaitAttempt"} {
		if !strings.Contains(string(raw), want) {
			t.Fatalf("the history has no %s: the delivery did not wait and hand off as the test needs", want)
		}
	}
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of %d events: %v", events, err)
	}
	if os.Getenv("HOOKFLOW_RECORD_HISTORY") != "" {
		if err := os.WriteFile("../workflows/testdata/delivery_wait_handoff.json", raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func delayed(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		next.ServeHTTP(w, r)
	})
}
