package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness at -smoke sizes, through the same flags and code as
// `make bench`, and checks the report it writes: every figure present and positive, every
// delivery delivered. It needs PostgreSQL and bin/temporal like the e2e tests, and it does
// not skip without them: a harness nobody runs rots.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "report.md")
	// (p) needs bin/temporal-server, which only make bench builds; TestPostgresTemporal
	// runs it.
	if err := cli(ctx, []string{"-smoke", "-skip-postgres-temporal", "-report", path}, testLog{t}); err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(strings.TrimSuffix(path, ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	for name, v := range rep.Figures() {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("figure %s = %v, want a positive number", name, v)
		}
	}
	want := SmokeConfig()
	if rep.Config.Events != want.Events || rep.Config.Subscriptions != want.Subscriptions || rep.Config.Parked != want.Parked {
		t.Errorf("config %+v, want the smoke sizes", rep.Config)
	}
	if got, want := rep.EndToEnd.Delivered, want.Events*want.Subscriptions; got != want || rep.EndToEnd.Deliveries != want {
		t.Errorf("(b) delivered %d of %d, want %d", got, rep.EndToEnd.Deliveries, want)
	}
	if rep.Latency.Delivered == 0 || rep.Latency.Delivered != rep.Latency.Deliveries {
		t.Errorf("(d) delivered %d of %d", rep.Latency.Delivered, rep.Latency.Deliveries)
	}
	if rep.Parked.Delivered != want.Parked {
		t.Errorf("(e) delivered %d of %d", rep.Parked.Delivered, want.Parked)
	}
	if rep.Ingest.Accepted == 0 || rep.Ingest.Stored != rep.Ingest.Accepted {
		t.Errorf("(c) accepted %d, stored %d", rep.Ingest.Accepted, rep.Ingest.Stored)
	}
	if len(rep.Targets) != 15 {
		t.Errorf("%d targets, want 15", len(rep.Targets))
	}
	if v := rep.Variants; v == nil || len(v.SealedPerSecond) != variantRounds || v.FIFO1PerSecond <= 0 || v.FIFO100PerSecond <= 0 || v.Ed25519PerSecond <= 0 {
		t.Errorf("(o) %+v", rep.Variants)
	}
	if len(rep.Rounds) != want.Rounds || rep.Repeated.Rounds != want.Rounds || rep.Repeated.EndToEndOverCeiling.Median <= 0 {
		t.Errorf("rounds %d, figures %+v; want %d rounds", len(rep.Rounds), rep.Repeated, want.Rounds)
	}
	for _, target := range rep.Targets {
		if target.Spread == "" {
			t.Errorf("target %q has no spread", target.Name)
		}
	}
	if h := rep.Health; h.Attempts != want.HealthAttempts || h.ShownAttempts != int64(want.HealthAttempts) || h.PageWeek.MedianMS <= 0 {
		t.Errorf("(i) %+v", h)
	}
	if h := rep.Pause; h.Held != want.Held || h.Delivered != want.Held || h.SentWhilePaused != 0 ||
		h.Retention.DeletedDeliveries != h.Retention.OldDeliveries || h.Retention.OldDeliveries < want.RetentionRows {
		t.Errorf("(h) %+v", h)
	}
	if rep.Isolation.HungMin < 50 || rep.Isolation.Alone.Deliveries == 0 || rep.Isolation.WithHung.Deliveries != rep.Isolation.Alone.Deliveries {
		t.Errorf("(g) %+v", rep.Isolation)
	}

	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, section := range []string{"## Machine", "## Figures", "## Ratios", "## Targets", "## (h) Drain after a pause", "## (i) Endpoint health", "## What bounds (b)", "## (a), (a′) and (b), round by round", "## (e) Drain after the outage", "model", "in memory"} {
		if !strings.Contains(string(md), section) {
			t.Errorf("report.md lacks %q", section)
		}
	}
}

// testLog sends the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// The setting (f) reports as `make run`'s is the one scripts/temporal-dev.sh passes.
func TestPersistenceInUseIsWhatMakeRunStarts(t *testing.T) {
	script, err := os.ReadFile("../scripts/temporal-dev.sh")
	if err != nil {
		t.Fatal(err)
	}
	inUse, pragmas := 0, 0
	for _, v := range persistenceVariants {
		if !v.InUse {
			continue
		}
		inUse, pragmas = inUse+1, len(v.Pragmas)
		for _, pragma := range v.Pragmas {
			if !strings.Contains(string(script), "--sqlite-pragma "+pragma) {
				t.Errorf("scripts/temporal-dev.sh does not pass --sqlite-pragma %s", pragma)
			}
		}
	}
	if inUse != 1 {
		t.Errorf("%d settings marked in use, want 1", inUse)
	}
	if n := strings.Count(string(script), "--sqlite-pragma "); n != pragmas {
		t.Errorf("scripts/temporal-dev.sh passes %d pragmas, the setting in use has %d", n, pragmas)
	}
}
