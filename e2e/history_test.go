package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
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
	var ids []string
	for range 4 {
		ids = append(ids, app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{}}).Deliveries[0].ID.String())
	}
	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: app.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// At one request a second, the later ones wait for their turns.
	var raw []byte
	var hist *historypb.History
	var events int
	for _, id := range ids {
		d := app.WaitStatus(key, id, "delivered", 30*time.Second)
		if hist, err = historyFrom(c.GetWorkflowHistory(context.Background(), d.WorkflowID, "", false, 0), &events); err != nil {
			t.Fatal(err)
		}
		if raw, err = (protojson.MarshalOptions{Indent: "  "}).Marshal(hist); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "TIMER_STARTED") && strings.Contains(string(raw), "AwaitAttempt") {
			break
		}
		raw = nil
	}
	if raw == nil {
		t.Fatal("no delivery both waited for its turn and handed its attempt off")
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
