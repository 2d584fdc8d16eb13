package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	temporallog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/temporaltest"
	hfworker "github.com/hookflow/hookflow/worker"
)

// Config sizes one benchmark run.
type Config struct {
	Events        int // N: events posted in (b)
	Subscriptions int // M: subscriptions each event fans out to
	// Parked is K, the deliveries parked on backoff timers in (e); zero sizes it from (b)'s
	// throughput (see autoParked).
	Parked           int
	CeilingWorkflows int // workflows run for (a)
	LatencyDuration  time.Duration
	IngestDuration   time.Duration
	// RetryUnit is hookflow's backoff unit in (e); zero picks one long enough for the K
	// deliveries to stay parked while they are measured, from (b)'s throughput.
	RetryUnit time.Duration
	// Posters post events concurrently in (b) and (e); IngestPosters in (c).
	Posters       int
	IngestPosters int
	// HookflowBinary is run for every hookflow process; empty builds cmd/hookflow.
	HookflowBinary string
	// BaselineBinary, when set, is another build whose (b) is compared with this one's.
	BaselineBinary string
	// Held is K of (h): the deliveries a paused subscription holds until its resume.
	Held int
	// RetentionRows is how many old deliveries (h) inserts for its retention run to delete.
	RetentionRows int
	// HealthAttempts is how many attempts (i)'s subscription has in its window.
	HealthAttempts int
	// Only names the one phase to run alone: "g", "h" (with a short (b) to compare with) or
	// "i".
	Only string
	// ProfilePath, when set, receives a CPU profile of hookflow taken during (b), merged
	// over the rounds; (p)'s goes beside it with -postgres-temporal before the extension.
	ProfilePath string
	// Rounds is how many times (a), (a′) and (b) run, interleaved, on each Temporal server.
	Rounds int
	// SkipPostgresTemporal leaves out (p), the rounds on the PostgreSQL-backed server.
	SkipPostgresTemporal bool
	// TemporalServerBinary is (p)'s temporal-server; empty is bin/temporal-server.
	TemporalServerBinary string
	// TemporalMaxConns is (p)'s maxConns per service and store; 0 is a deployment's.
	TemporalMaxConns int
	// StickyCacheSizes are further worker sticky cache sizes (e) runs with, besides the
	// build's default, when the build reads HOOKFLOW_STICKY_CACHE_SIZE. The full run's is
	// one that holds every workflow (e) parks, to show what the cache's misses cost the
	// drain.
	StickyCacheSizes []int
	Smoke            bool
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// DefaultConfig is the full run: a quarter of an hour or so on a 2-core machine.
func DefaultConfig() Config {
	return Config{Events: 1000, Subscriptions: 2, Parked: 0, CeilingWorkflows: 2000,
		LatencyDuration: 20 * time.Second, IngestDuration: 15 * time.Second, Posters: 16, IngestPosters: 32,
		Held: 10000, RetentionRows: 100000, HealthAttempts: goalHealthSize, Rounds: 3, StickyCacheSizes: []int{autoParkMax}}
}

// SmokeConfig is the smallest run that still produces every figure: it checks that the
// harness works, not how fast hookflow is.
func SmokeConfig() Config {
	// 200 deliveries in (b): enough for each process to spend CPU time /proc can see (it
	// counts in 10 ms ticks, and PostgreSQL spends under 1 ms per delivery).
	return Config{Events: 100, Subscriptions: 2, Parked: 50, CeilingWorkflows: 50,
		LatencyDuration: 3 * time.Second, IngestDuration: 2 * time.Second, Posters: 16, IngestPosters: 32,
		Held: 100, RetentionRows: 2000, HealthAttempts: 2000, Rounds: 2, StickyCacheSizes: []int{100}, Smoke: true}
}

// Namespaces of the Temporal dev server: the hookflow processes of (b)/(d) and of (e) run
// at the same time as nothing else, but separate namespaces keep any straggling task of
// one phase from being picked up by the other's worker.
const (
	namespaceEndToEnd = "bench"
	namespaceParked   = "bench-parked"
	// namespaceIsolation is (g)'s, namespacePause (h)'s.
	namespaceIsolation = "bench-isolation"
	namespacePause     = "bench-pause"
	historySample      = 20
)

type bench struct {
	cfg      Config
	progress io.Writer
	receiver *receiver
	server   *testsuite.DevServer
	temporal string // frontend host:port
	tempPID  int
	// temporalDBs are Temporal's databases on the local PostgreSQL, when it keeps its state
	// there (in (p)); their backends' CPU is Temporal's.
	temporalDBs []string
	// e2eNamespace, when set, is (b)'s namespace instead of namespaceEndToEnd.
	e2eNamespace string
	admin        *sqlx.DB
	binary       string
	report       *Report
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// run measures every figure in one go and returns the report.
func run(ctx context.Context, cfg Config) (Report, error) {
	started := time.Now()
	rep := Report{Started: started.UTC(), Smoke: cfg.Smoke, Machine: describeMachine(), Config: cfg.summary()}
	b := &bench{cfg: cfg, progress: cfg.Progress, report: &rep}
	if b.progress == nil {
		b.progress = io.Discard
	}
	if cfg.Events < 1 || cfg.Subscriptions < 1 || cfg.Parked < 0 || cfg.CeilingWorkflows < 1 || cfg.Posters < 1 || cfg.IngestPosters < 1 ||
		cfg.Held < 1 || cfg.RetentionRows < 1 || cfg.HealthAttempts < 1 || cfg.Rounds < 1 {
		return rep, errors.New("every size must be at least 1")
	}

	var err error
	if b.admin, err = sqlx.Open("postgres", storetest.AdminURL()); err != nil {
		return rep, err
	}
	defer b.admin.Close()
	if err := b.admin.GetContext(ctx, &rep.Machine.PostgreSQL, `SELECT current_setting('server_version')`); err != nil {
		return rep, fmt.Errorf("PostgreSQL at %s (scripts/ensure-postgres.sh starts it): %w", storetest.AdminURL(), err)
	}

	b.binary = cfg.HookflowBinary
	if b.binary == "" {
		dir, err := os.MkdirTemp("", "hookflow-bench")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		b.logf("building hookflow")
		if b.binary, err = buildHookflow(ctx, dir); err != nil {
			return rep, err
		}
	}
	rep.Setup.HookflowBinary = b.binary

	if b.receiver, err = startReceiver(); err != nil {
		return rep, err
	}
	defer b.receiver.close()

	// Each phase that runs workflows gets a fresh in-memory dev server, so none pays for
	// the closed workflows of the one before.
	defer b.stopTemporal()
	if err := b.freshTemporal(ctx); err != nil {
		return rep, err
	}
	rep.Setup.Temporal = "Temporal dev server (bin/temporal server start-dev), a fresh one for each (a), (a′) and (b) of every round (the last (b) with (d)), and for each of (e), (g), (h) and (i)"
	rep.Setup.TemporalPersistence = "in memory (SQLite :memory:, no --db-filename): nothing is written to disk, so Temporal's own persistence costs less than on a real cluster"
	rep.Setup.PostgreSQL = "local PostgreSQL " + rep.Machine.PostgreSQL + " at " + redactURL(storetest.AdminURL()) + ", a fresh database per hookflow process; shared with whatever else runs on the machine"

	switch cfg.Only {
	case "g":
		if err := b.isolation(ctx); err != nil {
			return rep, err
		}
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	case "h", "e":
		// (h)'s drain is judged against (b), and (e) is sized from it, so a (b) runs
		// first, through the same code.
		hf, api, key, err := b.warmHookflow(ctx, "hookflow (b)", b.binary, nil)
		if err != nil {
			return rep, err
		}
		rep.EndToEnd, err = b.measureEndToEnd(ctx, hf, api, key, "", nil, 0)
		hf.stop()
		if err != nil {
			return rep, err
		}
		b.logf("(b) %.1f deliveries/s", rep.EndToEnd.PerSecond)
		if err := b.freshTemporal(ctx); err != nil {
			return rep, err
		}
		if cfg.Only == "e" {
			if err := b.parked(ctx); err != nil {
				return rep, err
			}
			rep.Seconds = time.Since(started).Seconds()
			return rep, nil
		}
		if err := b.pause(ctx); err != nil {
			return rep, err
		}
		rep.finishPause()
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	case "p":
		if err := b.postgresTemporal(ctx); err != nil {
			return rep, err
		}
		rep.finishRounds()
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	case "ab":
		if err := b.devServerRounds(ctx); err != nil {
			return rep, err
		}
		rep.finishRounds()
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	case "i":
		if err := b.health(ctx); err != nil {
			return rep, err
		}
		rep.finishHealth()
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	case "o":
		if err := b.variants(ctx); err != nil {
			return rep, err
		}
		rep.finishVariants()
		rep.Seconds = time.Since(started).Seconds()
		return rep, nil
	}
	if err := b.devServerRounds(ctx); err != nil {
		return rep, err
	}
	if err := b.ingest(ctx); err != nil {
		return rep, err
	}
	if err := b.persistence(ctx); err != nil {
		return rep, err
	}
	if !cfg.SkipPostgresTemporal {
		if err := b.postgresTemporal(ctx); err != nil {
			return rep, err
		}
	}
	if err := b.freshTemporal(ctx); err != nil {
		return rep, err
	}
	if err := b.parked(ctx); err != nil {
		return rep, err
	}
	if err := b.freshTemporal(ctx); err != nil {
		return rep, err
	}
	if err := b.isolation(ctx); err != nil {
		return rep, err
	}
	if err := b.freshTemporal(ctx); err != nil {
		return rep, err
	}
	if err := b.pause(ctx); err != nil {
		return rep, err
	}
	if err := b.freshTemporal(ctx); err != nil {
		return rep, err
	}
	if err := b.health(ctx); err != nil {
		return rep, err
	}
	if err := b.variants(ctx); err != nil {
		return rep, err
	}
	if cfg.BaselineBinary != "" {
		if err := b.compareBaseline(ctx); err != nil {
			return rep, err
		}
	}
	rep.finish()
	rep.Seconds = time.Since(started).Seconds()
	return rep, nil
}

// freshTemporal replaces the in-memory dev server, if one runs, by a new one with the
// namespaces of every phase.
func (b *bench) freshTemporal(ctx context.Context) error {
	b.stopTemporal()
	b.logf("starting a Temporal dev server")
	startCtx, cancel := context.WithTimeout(ctx, temporaltest.Wait)
	server, err := temporaltest.Start(startCtx, temporaltest.Options{Namespaces: []string{namespaceEndToEnd, namespaceParked, namespaceIsolation, namespacePause, namespaceHealth}})
	cancel()
	if err != nil {
		return fmt.Errorf("start the Temporal dev server: %w", err)
	}
	b.server, b.temporal = server, server.FrontendHostPort()
	_, port, _ := net.SplitHostPort(b.temporal)
	b.tempPID, err = findDevServerPID(port)
	return err
}

func (b *bench) stopTemporal() {
	if b.server != nil {
		_ = b.server.Stop()
		b.server = nil
	}
}

func (b *bench) dial(namespace string) (client.Client, error) { return dial(b.temporal, namespace) }

func dial(hostPort, namespace string) (client.Client, error) {
	logger := temporallog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	// The ceiling's client uses hookflow's connection settings, so (a) and (b) differ
	// only in what the workflows do.
	return client.Dial(client.Options{HostPort: hostPort, Namespace: namespace, Logger: logger,
		ConnectionOptions: hfworker.ConnectionOptions()})
}

// ceiling runs (a), or (a′) with a delivery's shape, on the current Temporal server.
func (b *bench) ceiling(ctx context.Context, label string, shape ceilingShape) (CeilingResult, error) {
	c, err := b.dial("default")
	if err != nil {
		return CeilingResult{}, err
	}
	defer c.Close()
	var pg *pgCPU
	if len(b.temporalDBs) > 0 {
		pg = newPGCPU(b.admin, "", b.temporalDBs...)
	}
	res, err := runCeiling(ctx, c, b.receiver.URL, b.cfg.CeilingWorkflows, b.tempPID, pg, shape)
	if err != nil {
		return res, fmt.Errorf("%s: %w", label, err)
	}
	b.logf("%s %.1f workflows/s; CPU temporal %.1fs (its PostgreSQL %.1fs) worker+harness %.1fs over %.1fs", label,
		res.PerSecond, res.CPU.TemporalSeconds, res.CPU.TemporalPostgresSeconds, res.CPU.BenchSeconds, res.CPU.WallSeconds)
	return res, nil
}

// deliveryShape is what a hookflow delivery delivered at its first attempt asks of
// Temporal besides its POST: four search attributes at start. Its send step records its
// own success, and a delivered delivery upserts nothing, so (b)'s history test holds it
// to the ceiling's length; the shape's other fields stay for measuring what either would
// cost.
var deliveryShape = ceilingShape{SearchAttributes: true}

// persistenceVariants are the SQLite settings (f) compares for the file-backed dev server
// of `make run`; scripts/temporal-dev.sh starts it with the one marked InUse.
var persistenceVariants = []PersistenceVariant{
	{Name: "SQLite defaults (rollback journal, synchronous=full)", Durable: true},
	{Name: "journal_mode=wal, synchronous=full", Pragmas: []string{"journal_mode=wal", "synchronous=full"}, Durable: true, InUse: true},
	{Name: "journal_mode=wal, synchronous=normal", Pragmas: []string{"journal_mode=wal", "synchronous=normal"}},
}

// (f): the ceiling on a dev server that keeps its state in a SQLite file, as `make run`'s
// does, under each set of pragmas.
func (b *bench) persistence(ctx context.Context) error {
	n := max(b.cfg.CeilingWorkflows/2, 1)
	for _, v := range persistenceVariants {
		dir, err := os.MkdirTemp("", "hookflow-bench-sqlite")
		if err != nil {
			return err
		}
		res, err := b.fileBackedCeiling(ctx, filepath.Join(dir, "temporal.db"), v.Pragmas, n)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("(f) %s: %w", v.Name, err)
		}
		v.Ceiling = res
		b.report.Persistence = append(b.report.Persistence, v)
		b.logf("(f) %s: %.1f workflows/s", v.Name, res.PerSecond)
	}
	return nil
}

func (b *bench) fileBackedCeiling(ctx context.Context, dbFile string, pragmas []string, n int) (CeilingResult, error) {
	startCtx, cancel := context.WithTimeout(ctx, temporaltest.Wait)
	server, err := temporaltest.Start(startCtx, temporaltest.Options{DBFile: dbFile, SQLitePragmas: pragmas})
	cancel()
	if err != nil {
		return CeilingResult{}, err
	}
	defer server.Stop()
	_, port, _ := net.SplitHostPort(server.FrontendHostPort())
	pid, err := findDevServerPID(port)
	if err != nil {
		return CeilingResult{}, err
	}
	c, err := dial(server.FrontendHostPort(), "default")
	if err != nil {
		return CeilingResult{}, err
	}
	defer c.Close()
	return runCeiling(ctx, c, b.receiver.URL, n, pid, nil, ceilingShape{})
}

// setUp creates an account subscribed m times to the receiver's path and returns its key.
func setUp(ctx context.Context, api *apiClient, endpoint string, m int) (string, error) {
	key, err := api.newAccount(ctx, "bench")
	if err != nil {
		return "", err
	}
	for i := range m {
		if err := api.subscribe(ctx, key, fmt.Sprintf("%s%d", endpoint, i)); err != nil {
			return "", err
		}
	}
	return key, nil
}

// warmHookflow starts a hookflow for (b) with M subscriptions and delivers one event
// outside the clock: the lazy Temporal client connects, the worker starts polling, the
// connection pools fill.
func (b *bench) warmHookflow(ctx context.Context, name, binary string, env []string) (*hookflowProc, *apiClient, string, error) {
	hf, err := startHookflow(ctx, hookflowOptions{Name: name, Binary: binary, TemporalAddress: b.temporal,
		Namespace: b.endToEndNamespace(), RetryUnit: time.Minute, Env: env})
	if err != nil {
		return nil, nil, "", err
	}
	api := newAPIClient(hf.URL)
	key, err := setUp(ctx, api, b.receiver.URL+okPath+"e2e-", b.cfg.Subscriptions)
	if err == nil {
		_, err = api.publish(ctx, key, -1)
	}
	if err == nil {
		if _, err = hf.waitStatus(ctx, "delivered", b.cfg.Subscriptions, time.Minute); err != nil {
			err = fmt.Errorf("warm-up delivery: %w", err)
		}
	}
	if err != nil {
		hf.stop()
		return nil, nil, "", err
	}
	return hf, api, key, nil
}

// BaselineResult compares (b) of this build with (b) of another (the build before a
// change), in interleaved rounds on fresh dev servers.
type BaselineResult struct {
	Binary            string    `json:"binary"`
	Rounds            int       `json:"rounds"`
	BaselinePerSecond []float64 `json:"baseline_per_second"`
	CurrentPerSecond  []float64 `json:"current_per_second"`
	BaselineMedian    float64   `json:"baseline_median"`
	CurrentMedian     float64   `json:"current_median"`
	// Ratio is the current median over the baseline's.
	Ratio float64 `json:"ratio"`
}

// baselineRounds is how many times each build runs (b) when a baseline is given.
const baselineRounds = 3

// compareBaseline runs (b) with the baseline binary and with this build in turn.
func (b *bench) compareBaseline(ctx context.Context) error {
	res := BaselineResult{Binary: b.cfg.BaselineBinary, Rounds: baselineRounds}
	for round := range baselineRounds {
		for _, run := range []struct {
			name, binary string
			into         *[]float64
		}{{"baseline", b.cfg.BaselineBinary, &res.BaselinePerSecond}, {"this build", b.binary, &res.CurrentPerSecond}} {
			if err := b.freshTemporal(ctx); err != nil {
				return err
			}
			hf, api, key, err := b.warmHookflow(ctx, "hookflow (b, "+run.name+")", run.binary, nil)
			if err != nil {
				return err
			}
			e2e, err := b.measureEndToEnd(ctx, hf, api, key, "", nil, b.report.Ceiling.PerSecond)
			hf.stop()
			if err != nil {
				return err
			}
			*run.into = append(*run.into, e2e.PerSecond)
			b.logf("(b) round %d, %s: %.1f deliveries/s", round+1, run.name, e2e.PerSecond)
		}
	}
	res.BaselineMedian, res.CurrentMedian = median(res.BaselinePerSecond), median(res.CurrentPerSecond)
	res.Ratio = res.CurrentMedian / res.BaselineMedian
	b.report.Baseline = &res
	return nil
}

func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// measureEndToEnd posts (b)'s events to a warmed-up hookflow and measures until all are
// delivered, with the CPU of every process (and a profile when pprofAddr is set).
// ceilingRate, the ceiling's workflows/s on the same server (0 when not measured), sizes
// the patience and the profile.
func (b *bench) measureEndToEnd(ctx context.Context, hf *hookflowProc, api *apiClient, key, pprofAddr string, prof *profiler, ceilingRate float64) (EndToEndResult, error) {
	cfg := b.cfg
	deliveries := cfg.Events * cfg.Subscriptions
	b.logf("(b) end to end: %d events × %d subscriptions", cfg.Events, cfg.Subscriptions)
	pg := newPGCPU(b.admin, databaseName(hf.DSN), b.temporalDBs...)
	window, err := startCPUWindow(ctx, hf.PID(), b.tempPID, pg)
	if err != nil {
		return EndToEndResult{}, err
	}
	profileDone := prof.start(ctx, pprofAddr, float64(deliveries)/cmp.Or(ceilingRate, unmeasuredRate))
	start := time.Now()
	if _, err := api.publishAll(ctx, key, cfg.Events, cfg.Posters); err != nil {
		return EndToEndResult{}, err
	}
	ingested := time.Since(start)
	end, err := hf.waitStatus(ctx, "delivered", cfg.Subscriptions+deliveries, patience(deliveries, ceilingRate))
	if err != nil {
		return EndToEndResult{}, err
	}
	cpu, err := window.finish(ctx)
	if err != nil {
		return EndToEndResult{}, err
	}
	<-profileDone
	e2e := EndToEndResult{Events: cfg.Events, Subscriptions: cfg.Subscriptions, Deliveries: deliveries, Posters: cfg.Posters,
		Seconds: end.Sub(start).Seconds(), IngestSeconds: ingested.Seconds(), CPU: cpu}
	e2e.PerSecond = float64(deliveries) / e2e.Seconds
	delivered, err := hf.countStatus(ctx, "delivered")
	if err != nil {
		return EndToEndResult{}, err
	}
	e2e.Delivered = delivered - cfg.Subscriptions
	e2e.CPUPerDelivery = cpu.perDelivery(deliveries)
	return e2e, nil
}

// patience is how long a phase of n deliveries may take before the benchmark gives up:
// far beyond what the ceiling's rate needs, so only a stuck run trips it. A phase run
// alone has no measured rate; it assumes a slow one.
func patience(n int, rate float64) time.Duration {
	if !(rate > 0) {
		rate = unmeasuredRate
	}
	return 2*time.Minute + time.Duration(10*float64(n)/rate*float64(time.Second))
}

// unmeasuredRate stands in for the ceiling's deliveries/s when it was not measured: well
// below what a 2-core machine does.
const unmeasuredRate = 10.0

// historyPerDelivery reads the histories of a sample of the deliveries delivered at their
// first attempt: the case the ceiling workflow stands for.
func (b *bench) historyPerDelivery(ctx context.Context, hf *hookflowProc) (DeliveryHistory, error) {
	c, err := b.dial(b.endToEndNamespace())
	if err != nil {
		return DeliveryHistory{}, err
	}
	defer c.Close()
	var ids []string
	// The workflow ids as the store derives them.
	if err := hf.DB.SelectContext(ctx, &ids, `SELECT COALESCE(workflow_id, 'delivery-' || number) FROM deliveries
		WHERE status = 'delivered' AND attempts = 1 ORDER BY random() LIMIT $1`, historySample); err != nil {
		return DeliveryHistory{}, err
	}
	if len(ids) == 0 {
		return DeliveryHistory{}, errors.New("no delivery delivered at its first attempt to sample")
	}
	var shapes []HistoryShape
	for _, id := range ids {
		h, err := workflowHistory(ctx, c, id)
		if err != nil {
			return DeliveryHistory{}, err
		}
		shapes = append(shapes, h)
	}
	return summarizeHistories(shapes), nil
}

// (d): latency at half of (b)'s throughput, open loop: events go out on a fixed schedule
// whatever the answers take, so a slow hookflow shows as latency, not as a lower rate.
func (b *bench) latency(ctx context.Context, hf *hookflowProc, api *apiClient, key string) error {
	cfg := b.cfg
	target := 0.5 * b.report.EndToEnd.PerSecond
	eventRate := target / float64(cfg.Subscriptions)
	count := max(1, int(eventRate*cfg.LatencyDuration.Seconds()))
	b.logf("(d) latency: %d events at %.1f events/s (%.1f deliveries/s)", count, eventRate, target)
	before, err := hf.countStatus(ctx, "delivered")
	if err != nil {
		return err
	}
	type sent struct {
		id string
		at time.Time
	}
	var (
		wg       sync.WaitGroup
		sends    = make([]sent, count)
		mu       sync.Mutex
		failures int
		firstErr error
		// Bounds the requests in flight; reaching it means hookflow stopped answering.
		slots = make(chan struct{}, 1024)
	)
	interval := time.Duration(float64(time.Second) / eventRate)
	start := time.Now()
	var last time.Time
	for i := range count {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		slots <- struct{}{}
		wg.Add(1)
		last = time.Now()
		go func(i int) {
			defer func() { <-slots; wg.Done() }()
			at := time.Now()
			id, err := api.publish(ctx, key, i)
			if err != nil {
				mu.Lock()
				failures++
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
				return
			}
			sends[i] = sent{id: id, at: at}
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("(d) %d posts failed: %w", failures, firstErr)
	}
	if _, err := hf.waitStatus(ctx, "delivered", before+count*cfg.Subscriptions, patience(count*cfg.Subscriptions, target)); err != nil {
		return err
	}
	var latencies []float64
	missing := 0
	for _, s := range sends {
		for j := range cfg.Subscriptions {
			arrived, ok := b.receiver.arrival(s.id, fmt.Sprintf("%se2e-%d", okPath, j))
			if !ok {
				missing++
				continue
			}
			latencies = append(latencies, float64(arrived.Sub(s.at))/float64(time.Millisecond))
		}
	}
	if missing > 0 {
		return fmt.Errorf("(d) %d deliveries recorded delivered never reached the receiver", missing)
	}
	slices.Sort(latencies)
	res := LatencyResult{TargetDeliveriesPerSecond: target, EventsPerSecond: eventRate, Events: count,
		Deliveries: count * cfg.Subscriptions, Delivered: len(latencies), Seconds: cfg.LatencyDuration.Seconds(),
		P50MS: percentile(latencies, 50), P95MS: percentile(latencies, 95), P99MS: percentile(latencies, 99),
		MaxMS: latencies[len(latencies)-1]}
	if count > 1 {
		res.AchievedEventsPerSecond = float64(count-1) / last.Sub(start).Seconds()
	} else {
		res.AchievedEventsPerSecond = eventRate
	}
	b.report.Latency = res
	b.logf("(d) p50 %.1f ms, p95 %.1f ms, p99 %.1f ms", res.P50MS, res.P95MS, res.P99MS)
	return nil
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// (c): ingest alone, with Temporal unreachable, so acceptance is only PostgreSQL.
func (b *bench) ingest(ctx context.Context) error {
	res, err := b.measureIngest(ctx, nil, b.cfg.IngestDuration)
	if err != nil {
		return err
	}
	b.report.Ingest = res
	return nil
}

// measureIngest runs (c) once, for duration, with env added to hookflow's.
func (b *bench) measureIngest(ctx context.Context, env []string, duration time.Duration) (IngestResult, error) {
	cfg := b.cfg
	// A free port nobody listens on: every connection to "Temporal" is refused.
	closed, err := temporaltest.FreeAddr()
	if err != nil {
		return IngestResult{}, err
	}
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (c)", Binary: b.binary, TemporalAddress: closed,
		Namespace: "default", RetryUnit: time.Minute, Env: env})
	if err != nil {
		return IngestResult{}, err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := setUp(ctx, api, b.receiver.URL+okPath+"ingest-", cfg.Subscriptions)
	if err != nil {
		return IngestResult{}, err
	}
	if _, err := api.publishAll(ctx, key, cfg.IngestPosters, cfg.IngestPosters); err != nil {
		return IngestResult{}, fmt.Errorf("(c) warm-up: %w", err)
	}
	b.logf("(c) ingest alone: %d posters for %s, Temporal unreachable", cfg.IngestPosters, duration)
	var accepted, rejected atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for p := range cfg.IngestPosters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; time.Now().Before(deadline) && ctx.Err() == nil; i += cfg.IngestPosters {
				if _, err := api.publish(ctx, key, i); err != nil {
					rejected.Add(1)
					continue
				}
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var stored int
	if err := hf.DB.GetContext(ctx, &stored, `SELECT count(*) FROM events`); err != nil {
		return IngestResult{}, err
	}
	res := IngestResult{Posters: cfg.IngestPosters, Subscriptions: cfg.Subscriptions, Seconds: elapsed.Seconds(),
		Accepted: int(accepted.Load()), Rejected: int(rejected.Load()), Stored: stored - cfg.IngestPosters}
	res.PerSecond = float64(res.Accepted) / res.Seconds
	b.logf("(c) %.1f events/s accepted, %d rejected", res.PerSecond, res.Rejected)
	if res.Stored != res.Accepted {
		return IngestResult{}, fmt.Errorf("(c) %d events answered 202 but %d stored", res.Accepted, res.Stored)
	}
	return res, nil
}

// (e): K deliveries parked on their backoff timers, then released.
func (b *bench) parked(ctx context.Context) error {
	cfg := b.cfg
	k := cfg.Parked
	if k == 0 {
		k = autoParked(b.report.EndToEnd.PerSecond)
	}
	b.report.Config.Parked = k
	// Parking K deliveries takes about as long as delivering them; the first retry waits
	// one unit, so the unit must outlast parking them all plus measuring. Any longer and
	// the recovery waits for nothing.
	rate := b.report.EndToEnd.PerSecond
	parkEstimate := time.Duration(float64(k) / rate * 1.3 * float64(time.Second))
	unit := cfg.RetryUnit
	if unit == 0 {
		floor := 30 * time.Second
		if cfg.Smoke {
			floor = 8 * time.Second
		}
		unit = max(floor, (parkEstimate + 10*time.Second).Round(time.Second))
	}
	res, err := b.parkOnce(ctx, k, unit, 0)
	if err != nil {
		return err
	}
	b.report.Parked = res
	// The drain replays the history of every parked workflow the sticky cache no longer
	// holds; further sizes show how much of the drain that costs, when the build lets the
	// size be set.
	for _, size := range cfg.StickyCacheSizes {
		honoured, err := b.stickyCacheSettable(ctx)
		if err != nil {
			return err
		}
		if !honoured {
			b.report.Parked.StickyCacheNote = fmt.Sprintf("not measured with sticky cache sizes %v: this build does not read HOOKFLOW_STICKY_CACHE_SIZE (its worker kept more than %d parked workflows in a cache set to %d)",
				cfg.StickyCacheSizes, stickyProbeSize, stickyProbeSize)
			b.logf("(e) %s", b.report.Parked.StickyCacheNote)
			break
		}
		if err := b.freshTemporal(ctx); err != nil {
			return err
		}
		b.receiver.reset()
		other, err := b.parkOnce(ctx, k, unit, size)
		if err != nil {
			return err
		}
		b.report.Parked.StickyRuns = append(b.report.Parked.StickyRuns, other)
	}
	return nil
}

// parkOnce parks k deliveries, releases them and measures both; stickyCacheSize, when
// not 0, is passed as HOOKFLOW_STICKY_CACHE_SIZE.
func (b *bench) parkOnce(ctx context.Context, k int, unit time.Duration, stickyCacheSize int) (ParkedResult, error) {
	cfg := b.cfg
	rate := b.report.EndToEnd.PerSecond
	var env []string
	name := "hookflow (e)"
	if stickyCacheSize > 0 {
		env = append(env, fmt.Sprintf("HOOKFLOW_STICKY_CACHE_SIZE=%d", stickyCacheSize))
		name = fmt.Sprintf("hookflow (e, sticky cache %d)", stickyCacheSize)
	}
	hf, err := startHookflow(ctx, hookflowOptions{Name: name, Binary: b.binary, TemporalAddress: b.temporal,
		Namespace: namespaceParked, RetryUnit: unit, Env: env})
	if err != nil {
		return ParkedResult{}, err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := setUp(ctx, api, b.receiver.URL+failPath+"parked-", 1)
	if err != nil {
		return ParkedResult{}, err
	}
	res := ParkedResult{Parked: k, RetryUnitSeconds: unit.Seconds(), StickyCacheSize: stickyCacheSize}
	// The idle process, after its worker has connected, is the baseline.
	time.Sleep(time.Second)
	if res.RSSBeforeBytes, err = rssBytes(hf.PID()); err != nil {
		return ParkedResult{}, err
	}
	if res.TemporalRSSBeforeBytes, err = rssBytes(b.tempPID); err != nil {
		return ParkedResult{}, err
	}
	dbBefore, tablesBefore, err := databaseBytes(ctx, hf.DB)
	if err != nil {
		return ParkedResult{}, err
	}

	b.logf("(e) parking %d deliveries (retry unit %s)", k, unit)
	start := time.Now()
	if _, err := api.publishAll(ctx, key, k, cfg.Posters); err != nil {
		return ParkedResult{}, err
	}
	parkedAt, err := hf.waitStatus(ctx, "retrying", k, patience(k, rate))
	if err != nil {
		return ParkedResult{}, err
	}
	res.ParkSeconds = parkedAt.Sub(start).Seconds()
	// Let the worker's and the Go runtime's memory settle after the burst.
	time.Sleep(2 * time.Second)
	if res.RSSParkedBytes, err = rssBytes(hf.PID()); err != nil {
		return ParkedResult{}, err
	}
	if res.TemporalRSSParkedBytes, err = rssBytes(b.tempPID); err != nil {
		return ParkedResult{}, err
	}
	dbAfter, tablesAfter, err := databaseBytes(ctx, hf.DB)
	if err != nil {
		return ParkedResult{}, err
	}
	res.RSSPerParkedBytes = float64(res.RSSParkedBytes-res.RSSBeforeBytes) / float64(k)
	res.DatabaseBytesPerParked = float64(dbAfter-dbBefore) / float64(k)
	res.TableBytesPerParked = float64(tablesAfter-tablesBefore) / float64(k)
	if err := hf.DB.GetContext(ctx, &res.FiredEarly, `SELECT count(*) FROM attempts WHERE number > 1`); err != nil {
		return ParkedResult{}, err
	}
	b.logf("(e) parked in %.1fs: hookflow RSS %.1f MB (from %.1f MB), %.0f PostgreSQL bytes each",
		res.ParkSeconds, mb(res.RSSParkedBytes), mb(res.RSSBeforeBytes), res.DatabaseBytesPerParked)

	stickyBefore, err := scrapeStickyCache(ctx, hf.URL)
	if err != nil {
		return ParkedResult{}, err
	}
	res.StickyCacheParked = stickyBefore.Size
	b.receiver.heal()
	healed := time.Now()
	// Every first retry is due one unit after its delivery parked; past that, with room for
	// the timers to drain, whatever still waits (a timer that fired before the heal and
	// pushed its delivery to a second, longer wait) is retried by hand so the run ends.
	due := start.Add(unit).Add(2 * time.Duration(res.ParkSeconds*float64(time.Second))).Add(30 * time.Second)
	done, err := hf.waitStatus(ctx, "delivered", k, time.Until(due))
	if err != nil && ctx.Err() == nil && hf.exitedErr() == nil {
		if res.ManualRetries, err = retryUndelivered(ctx, hf, api, key); err != nil {
			return ParkedResult{}, err
		}
		b.logf("(e) %d deliveries still waiting; retried them by hand", res.ManualRetries)
		done, err = hf.waitStatus(ctx, "delivered", k, patience(k, rate))
	}
	if err != nil {
		return ParkedResult{}, err
	}
	res.Delivered, err = hf.countStatus(ctx, "delivered")
	if err != nil {
		return ParkedResult{}, err
	}
	res.RecoverySeconds = done.Sub(healed).Seconds()
	if times := b.receiver.recoveries(); len(times) > 0 {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		res.RecoveryDrainSeconds = times[len(times)-1].Sub(times[0]).Seconds()
		if res.RecoveryDrainSeconds > 0 {
			res.RecoveryPerSecond = float64(len(times)) / res.RecoveryDrainSeconds
		}
	}
	if res.ParkSeconds > 0 {
		res.ParkPerSecond = float64(k) / res.ParkSeconds
	}
	if res.ParkPerSecond > 0 {
		res.DrainOverPark = res.RecoveryPerSecond / res.ParkPerSecond
	}
	if res.StickyCacheDuringDrain, err = stickyCacheDelta(ctx, hf.URL, stickyBefore); err != nil {
		return ParkedResult{}, err
	}
	b.logf("(e) all %d delivered %.1fs after the endpoint recovered; drain %.1f /s = %.2f × parking (%.1f /s); sticky cache during the drain %+v",
		k, res.RecoverySeconds, res.RecoveryPerSecond, res.DrainOverPark, res.ParkPerSecond, res.StickyCacheDuringDrain)
	return res, nil
}

// Bounds of the K chosen when none is given: parking K deliveries runs at about (b)'s
// rate and releasing them takes as long again plus the retry unit, so K is what (b)'s rate
// parks in two minutes, which keeps (e) near five minutes; at most the suggested
// full-run size.
const (
	autoParkSeconds = 120
	autoParkMax     = 20000
	autoParkMin     = 500
)

func autoParked(rate float64) int {
	k := int(rate*autoParkSeconds) / 100 * 100
	return min(autoParkMax, max(autoParkMin, k))
}

// exitedErr reports whether the process has exited.
func (p *hookflowProc) exitedErr() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited", p.Name)
	default:
		return nil
	}
}

// retryUndelivered asks for an attempt now on every delivery not yet delivered.
func retryUndelivered(ctx context.Context, hf *hookflowProc, api *apiClient, key string) (int, error) {
	var ids []string
	if err := hf.DB.SelectContext(ctx, &ids, `SELECT id FROM deliveries WHERE status <> 'delivered'`); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := api.do(ctx, http.MethodPost, "/v1/deliveries/"+id+"/retry", key, nil, http.StatusAccepted, nil); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// databaseBytes is the size of the database and of the tables a delivery writes to, with
// their indexes and TOAST.
func databaseBytes(ctx context.Context, db *sqlx.DB) (database, tables int64, err error) {
	err = db.QueryRowxContext(ctx, `SELECT pg_database_size(current_database()),
		pg_total_relation_size('events') + pg_total_relation_size('deliveries') + pg_total_relation_size('attempts')`).Scan(&database, &tables)
	return database, tables, err
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }
