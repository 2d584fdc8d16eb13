package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/workflows"
)

// TestFIFOKeepsEachKeysOrderAcrossWorkers: a fifo subscription gets 50 events over 5
// ordering keys from an endpoint that fails a third of its requests at random, with two
// worker processes sharing the deliveries. Per key, every request the endpoint sees (the
// failed attempts too) is of the same event or a later one than the request before it,
// and each event is delivered once, in order. A delivery that waited for its turn replays
// against the current workflow code (the fixture of workflows/replay_test.go;
// HOOKFLOW_RECORD_HISTORY=1 writes it again).
func TestFIFOKeepsEachKeysOrderAcrossWorkers(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	startWorker(t, app)
	key := app.NewAccount("Ordered")

	const keys, perKey = 5, 10
	var mu sync.Mutex
	seen := map[string][]int{}
	delivered := map[string][]int{}
	random := rand.New(rand.NewPCG(7, 11))
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Data struct {
				Key string `json:"key"`
				N   int    `json:"n"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("decode: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		seen[p.Data.Key] = append(seen[p.Data.Key], p.Data.N)
		if random.IntN(3) == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		delivered[p.Data.Key] = append(delivered[p.Data.Key], p.Data.N)
	}))
	t.Cleanup(endpoint.Close)
	sub := app.Subscribe(key, endpoint.URL, map[string]any{"ordering": "fifo", "max_retries": 10})

	// Each key's events are posted in order (one after the other); the keys at once.
	var wg sync.WaitGroup
	ids := make([][]json.Number, keys)
	for k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perKey {
				ingested := app.Publish(key, map[string]any{"event_type": "referral.updated", "ordering_key": fmt.Sprintf("k%d", k),
					"data": map[string]any{"key": fmt.Sprintf("k%d", k), "n": n}})
				ids[k] = append(ids[k], ingested.Deliveries[0].ID)
			}
		}()
	}
	wg.Wait()

	for k := range keys {
		for n := range perKey {
			app.WaitStatus(key, ids[k][n], "delivered", 2*time.Minute)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for k := range keys {
		name := fmt.Sprintf("k%d", k)
		got := seen[name]
		for i := 1; i < len(got); i++ {
			if got[i] < got[i-1] {
				t.Errorf("key %s: a request of event %d came after one of event %d: %v", name, got[i], got[i-1], got)
				break
			}
		}
		want := make([]int, perKey)
		for n := range want {
			want[n] = n
		}
		if fmt.Sprint(delivered[name]) != fmt.Sprint(want) {
			t.Errorf("key %s: delivered %v, want %v", name, delivered[name], want)
		}
	}
	total := 0
	for _, got := range seen {
		total += len(got)
	}
	if total == keys*perKey {
		t.Errorf("no request failed: the endpoint's failures did not test the order")
	}

	// Deliveries that waited for their turn replay against the current workflow code.
	rows, err := app.DB.Query(`SELECT number FROM deliveries WHERE subscription_id = $1 AND ordering_seq > 1 ORDER BY number`, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	var later []int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		later = append(later, n)
	}
	rows.Close()
	waited := 0
	for _, n := range later {
		if replayOrderedHistory(t, app, fmt.Sprintf("delivery-%d", n), waited == 0) {
			waited++
		}
	}
	if waited == 0 {
		t.Errorf("none of the %d later deliveries waited for its turn: the order was not tested", len(later))
	}
	t.Logf("%d of %d later deliveries waited for their turn; %d requests in all", waited, len(later), total)
}

// replayOrderedHistory replays a delivery's history and reports whether it waited for its
// turn; keep writes it as the fixture of workflows/replay_test.go when asked to.
func replayOrderedHistory(t *testing.T, app *App, workflowID string, keep bool) bool {
	t.Helper()
	hist := app.History(workflowID)
	events := len(hist.Events)
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflow(workflows.DeliveryWorkflow)
	if err := replayer.ReplayWorkflowHistory(nil, hist); err != nil {
		t.Fatalf("replay of %s's %d events: %v", workflowID, events, err)
	}
	if !waitedForTurn(hist) {
		return false
	}
	raw, err := (protojson.MarshalOptions{Indent: "  "}).Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	if keep && os.Getenv("HOOKFLOW_RECORD_HISTORY") != "" {
		if err := os.WriteFile("../workflows/testdata/delivery_ordered_wait.json", raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return true
}

// waitedForTurn reports whether a delivery's send step ever answered "wait for your turn"
// (the local activity's result is in its marker's details).
func waitedForTurn(hist *historypb.History) bool {
	for _, ev := range hist.Events {
		marker := ev.GetMarkerRecordedEventAttributes()
		if marker == nil {
			continue
		}
		for _, payloads := range marker.GetDetails() {
			for _, p := range payloads.GetPayloads() {
				if strings.Contains(string(p.GetData()), `"Reason":"ordering"`) {
					return true
				}
			}
		}
	}
	return false
}
