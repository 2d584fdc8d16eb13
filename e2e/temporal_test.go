package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/temporaltest"
)

// Namespace is the Temporal namespace of the instance.
func (a *App) Namespace() string {
	for i := len(a.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(a.env[i], "TEMPORAL_NAMESPACE="); ok {
			return v
		}
	}
	return "default"
}

// ownTemporal is a dev server of one test, on disk, that the test stops and starts.
type ownTemporal struct {
	addr   string
	dbFile string
	server *testsuite.DevServer
}

func startOwnTemporal(t *testing.T) (*ownTemporal, error) {
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		return nil, err
	}
	o := &ownTemporal{addr: addr, dbFile: filepath.Join(t.TempDir(), "temporal.db")}
	o.start(t)
	t.Cleanup(o.stop)
	return o, nil
}

func (o *ownTemporal) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), temporaltest.Wait)
	defer cancel()
	srv, err := temporaltest.Start(ctx, temporaltest.Options{Address: o.addr, DBFile: o.dbFile})
	if err != nil {
		t.Fatalf("start Temporal: %v", err)
	}
	o.server = srv
}

func (o *ownTemporal) stop() {
	if o.server != nil {
		_ = o.server.Stop()
		o.server = nil
	}
}

func historyFrom(iter client.HistoryEventIterator, count *int) (*historypb.History, error) {
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		hist.Events = append(hist.Events, ev)
	}
	*count = len(hist.Events)
	return hist, nil
}

// History is a workflow's whole history, from the app's namespace.
func (a *App) History(workflowID string) *historypb.History {
	a.t.Helper()
	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: a.Namespace()})
	if err != nil {
		a.t.Fatal(err)
	}
	defer c.Close()
	var events int
	hist, err := historyFrom(c.GetWorkflowHistory(context.Background(), workflowID, "", false, 0), &events)
	if err != nil {
		a.t.Fatal(err)
	}
	return hist
}
