package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
)

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		values           []float64
		median, min, max float64
	}{
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		// An even count takes the mean of the middle two.
		{[]float64{4, 1, 3, 10}, 3.5, 1, 10},
		{[]float64{2, 2, 9, 2, 2}, 2, 2, 9},
	} {
		s := newSpread(tc.values)
		if s.Median != tc.median || s.Min != tc.min || s.Max != tc.max {
			t.Errorf("newSpread(%v) = %+v, want median %v, range %v–%v", tc.values, s, tc.median, tc.min, tc.max)
		}
		if !slices.Equal(s.Values, tc.values) {
			t.Errorf("newSpread(%v) changed the values to %v", tc.values, s.Values)
		}
	}
	if s := newSpread(nil); s.Median != 0 || s.Values != nil {
		t.Errorf("newSpread(nil) = %+v", s)
	}
}

func TestRoundFiguresTakeRatiosWithinRounds(t *testing.T) {
	round := func(a, b, temporalMS, hookflowMS, pgMS float64) Round {
		return Round{
			Ceiling:       CeilingResult{PerSecond: a, CPUPerWorkflow: CPUPerDelivery{Temporal: temporalMS}},
			ShapedCeiling: CeilingResult{PerSecond: a},
			EndToEnd:      EndToEndResult{PerSecond: b, CPUPerDelivery: CPUPerDelivery{Hookflow: hookflowMS, Postgres: pgMS}},
		}
	}
	// The machine slows down over the run: each round's ratio is 0.9 whatever the rate.
	rounds := []Round{round(200, 180, 10, 1, 1), round(100, 90, 20, 2, 1), round(150, 135, 10, 1.5, 0.5)}
	f := roundFigures(rounds)
	if f.Rounds != 3 || f.Ceiling.Median != 150 || f.EndToEnd.Median != 135 {
		t.Errorf("medians %+v %+v", f.Ceiling, f.EndToEnd)
	}
	if r := f.EndToEndOverCeiling; math.Abs(r.Min-0.9) > 1e-9 || math.Abs(r.Max-0.9) > 1e-9 {
		t.Errorf("(b)/(a) %+v, want 0.9 in every round", r)
	}
	if o := f.OwnOverCeilingTemporal; math.Abs(o.Median-0.2) > 1e-9 || math.Abs(o.Min-0.15) > 1e-9 {
		t.Errorf("own CPU over Temporal's %+v, want median 0.2 (0.2, 0.15, 0.2)", o)
	}
	if m := medianRound(rounds, func(r Round) float64 { return r.EndToEnd.PerSecond }); m.EndToEnd.PerSecond != 135 {
		t.Errorf("median round has (b) %v, want 135", m.EndToEnd.PerSecond)
	}
	// With an even count the median round is the lower of the middle two.
	if m := medianRound(rounds[:2], func(r Round) float64 { return r.EndToEnd.PerSecond }); m.EndToEnd.PerSecond != 90 {
		t.Errorf("median of two rounds has (b) %v, want 90", m.EndToEnd.PerSecond)
	}
}

// events is a history as the SDK's iterator hands it out.
type events struct {
	list []*historypb.HistoryEvent
	err  error
}

func (e *events) HasNext() bool { return len(e.list) > 0 || e.err != nil }

func (e *events) Next() (*historypb.HistoryEvent, error) {
	if len(e.list) == 0 {
		return nil, e.err
	}
	next := e.list[0]
	e.list = e.list[1:]
	return next, nil
}

func history(types ...enums.EventType) *events {
	e := &events{}
	for i, typ := range types {
		e.list = append(e.list, &historypb.HistoryEvent{EventId: int64(i + 1), EventType: typ})
	}
	return e
}

// The ceiling workflow's history: start, one workflow task, one local activity's marker.
var ceilingHistory = []enums.EventType{
	enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enums.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enums.EVENT_TYPE_WORKFLOW_TASK_STARTED,
	enums.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enums.EVENT_TYPE_MARKER_RECORDED, enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
}

func TestCountHistory(t *testing.T) {
	h, err := countHistory(history(ceilingHistory...))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted", "MarkerRecorded", "WorkflowExecutionCompleted"}
	if h.Events != 6 || !slices.Equal(h.Types, want) {
		t.Errorf("countHistory = %+v, want 6 events %v", h, want)
	}
	broken := history(ceilingHistory[:2]...)
	broken.err = errors.New("connection reset")
	if _, err := countHistory(broken); err == nil {
		t.Error("countHistory hid the iterator's error")
	}
	if h, err := countHistory(history()); err != nil || h.Events != 0 {
		t.Errorf("empty history: %+v, %v", h, err)
	}
}

func TestHistoryTarget(t *testing.T) {
	shape := func(n int) HistoryShape { return HistoryShape{Events: n, Types: make([]string, n)} }
	round := func(ceiling int, deliveries ...int) Round {
		var shapes []HistoryShape
		for _, n := range deliveries {
			shapes = append(shapes, shape(n))
		}
		return Round{Ceiling: CeilingResult{HistoryEvents: ceiling}, EndToEnd: EndToEndResult{History: summarizeHistories(shapes)}}
	}
	equal := historyTarget("h", []Round{round(6, 6, 6, 6), round(6, 6, 6)})
	if equal.Status != "met" || equal.Value != 6 || equal.By != "equal" {
		t.Errorf("equal histories: %+v", equal)
	}
	// One longer history (a delivery that waited for its endpoint) misses the target.
	longer := historyTarget("h", []Round{round(6, 6, 6, 8), round(6, 6, 6)})
	if longer.Status != "missed" || !strings.Contains(longer.By, "+0 to +2") || !strings.Contains(longer.Spread, "6–8 events over 5 sampled in 2 rounds") {
		t.Errorf("a longer history: %+v", longer)
	}
	more := historyTarget("h", []Round{round(6, 8, 8)})
	if more.Status != "missed" || more.By != "+2 events (8 vs 6)" {
		t.Errorf("every history longer: %+v", more)
	}
	s := summarizeHistories([]HistoryShape{shape(8), shape(6), shape(6)})
	if s.Sample != 3 || s.Min != 6 || s.Max != 8 || math.Abs(s.Mean-20.0/3) > 1e-9 || len(s.Types) != 6 {
		t.Errorf("summarizeHistories = %+v, want the most common length's types", s)
	}
}

func TestEventTypeName(t *testing.T) {
	if got := eventTypeName(enums.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES); got != "UpsertWorkflowSearchAttributes" {
		t.Errorf("eventTypeName = %q", got)
	}
}

func TestParseStickyCache(t *testing.T) {
	exposition := `# HELP temporal_sticky_cache_hit_total temporal_sticky_cache_hit_total counter
# TYPE temporal_sticky_cache_hit_total counter
temporal_sticky_cache_hit_total{namespace="bench",task_queue="hookflow"} 120
temporal_sticky_cache_hit_total{namespace="bench",task_queue="other"} 3
temporal_sticky_cache_miss_total{namespace="bench"} 7
temporal_sticky_cache_total_forced_eviction_total{namespace="bench"} 2
temporal_sticky_cache_size{namespace="bench"} 2000
temporal_sticky_cache_size_other 5
go_goroutines 40
`
	s, err := parseStickyCache(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if want := (StickyCache{Hits: 123, Misses: 7, ForcedEviction: 2, Size: 2000}); s != want {
		t.Errorf("parseStickyCache = %+v, want %+v", s, want)
	}
}

// A sample is charged to the innermost frame of a named area; frames of the standard
// library go to their caller.
func TestProfileAreas(t *testing.T) {
	fn := map[string]*profile.Function{}
	loc := func(names ...string) []*profile.Location {
		var locs []*profile.Location
		for _, name := range names {
			if fn[name] == nil {
				fn[name] = &profile.Function{ID: uint64(len(fn) + 1), Name: name}
			}
			locs = append(locs, &profile.Location{ID: uint64(len(fn)), Line: []profile.Line{{Function: fn[name]}}})
		}
		return locs
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			// JSON encoding inside an API handler is the API's.
			{Value: []int64{1, 30e6}, Location: loc("encoding/json.Marshal", "github.com/hookflow/hookflow/api.(*EventHandler).Create", "net/http.(*conn).serve")},
			// The driver inside the store inside the API is the driver's.
			{Value: []int64{1, 50e6}, Location: loc("syscall.Syscall", "github.com/lib/pq.(*conn).send", "github.com/hookflow/hookflow/store.(*DB).CreateEvent",
				"github.com/hookflow/hookflow/api.(*EventHandler).Create")},
			{Value: []int64{1, 15e6}, Location: loc("crypto/sha256.block", "github.com/hookflow/hookflow/signing.Sign", "go.temporal.io/sdk/internal.(*localActivityTaskHandler).execute")},
			{Value: []int64{1, 5e6}, Location: loc("runtime.gcBgMarkWorker")},
		},
	}
	areas, secs := profileAreas(p)
	if math.Abs(secs-0.1) > 1e-9 {
		t.Errorf("%v sample seconds, want 0.1", secs)
	}
	got := map[string]AreaCost{}
	total := 0.0
	for _, a := range areas {
		got[a.Area] = a
		total += a.Flat
	}
	if math.Abs(total-1) > 1e-9 {
		t.Errorf("flat shares add up to %v", total)
	}
	sql, apiArea := got["SQL driver (lib/pq, database/sql, sqlx)"], got["API (HTTP server, ingest handlers)"]
	if sql.Flat != 0.5 || sql.Top != "github.com/lib/pq.(*conn).send" || apiArea.Flat != 0.3 || apiArea.Cum != 0.8 {
		t.Errorf("SQL driver %+v, API %+v", sql, apiArea)
	}
	if s := got["signing and secrets (signing, keyring)"]; s.Flat != 0.15 {
		t.Errorf("signing %+v", s)
	}
	if sdk := got["Temporal SDK worker and client (with gRPC, protobuf)"]; sdk.Flat != 0 || sdk.Cum != 0.15 {
		t.Errorf("the SDK, only an outer frame: %+v", sdk)
	}
	if r := got[runtimeArea]; r.Flat != 0.05 {
		t.Errorf("runtime %+v", r)
	}
	if areas[0].Area != sql.Area {
		t.Errorf("largest cost %q, want the SQL driver", areas[0].Area)
	}
	sum := &ProfileSummary{Areas: areas}
	if top := sum.topAreas(3); len(top) != 3 || top[2].Area != sql.Area && top[1].Area != apiArea.Area {
		t.Errorf("top areas %+v", top)
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# x\n\n## Performance\n\nprose\n\n" + readmeBegin + "\nold figures\n" + readmeEnd + "\n\nmore prose\n"
	out, err := replaceSection(doc, "\nnew figures\n\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# x\n\n## Performance\n\nprose\n\n" + readmeBegin + "\n\nnew figures\n\n" + readmeEnd + "\n\nmore prose\n"
	if out != want {
		t.Errorf("replaceSection =\n%s\nwant\n%s", out, want)
	}
	if _, err := replaceSection("no markers", "x"); err == nil {
		t.Error("a README without the markers was accepted")
	}
	// The README carries the markers make bench writes between.
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replaceSection(string(raw), ""); err != nil {
		t.Errorf("README.md: %v", err)
	}
}

// TestPostgresTemporal runs (p) alone at tiny sizes: the Temporal server on PostgreSQL
// persistence, its schema set up by temporal-sql-tool. It needs bin/temporal-server (make
// test and make bench build it once, from the cache after that). Its pools are small, so
// that beside the other packages' tests it stays within PostgreSQL's connections.
func TestPostgresTemporal(t *testing.T) {
	if _, _, err := pgTemporalBinaries(""); err != nil {
		t.Fatalf("%v (make temporal-server builds it)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "report.md")
	if err := cli(ctx, []string{"-only", "p", "-n", "50", "-m", "2", "-ceiling", "50", "-rounds", "2", "-temporal-max-conns", "3", "-report", path}, testLog{t}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(strings.TrimSuffix(path, ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	pt := rep.PostgresTemporal
	if pt == nil || len(pt.Rounds) != 2 || pt.Setup.SchemaVersion == "" || pt.Setup.VisibilitySchemaVersion == "" || pt.Setup.HistoryShards != pgTemporalShards ||
		pt.Setup.MaxConns != 3 {
		t.Fatalf("(p) %+v", pt)
	}
	for i, r := range pt.Rounds {
		if r.EndToEnd.Delivered != 100 || r.Ceiling.PerSecond <= 0 || r.EndToEnd.CPU.TemporalPostgresSeconds <= 0 || r.EndToEnd.History.Sample == 0 {
			t.Errorf("round %d: %+v", i+1, r)
		}
	}
	if pt.Setup.PeakConnections == 0 {
		t.Error("no backend of Temporal's databases was seen")
	}
}
