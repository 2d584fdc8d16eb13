package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	hfworker "github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

// Report is everything one run measured; report.json is this struct.
type Report struct {
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"`
	Smoke   bool          `json:"smoke"`
	Machine Machine       `json:"machine"`
	Setup   Setup         `json:"setup"`
	Config  ConfigSummary `json:"config"`
	// Rounds are (a), (a′) and (b) on the dev server, run in turn Config.Rounds times;
	// Repeated are their figures, medians and ranges, which the targets use.
	Rounds   []Round      `json:"rounds"`
	Repeated RoundFigures `json:"rounds_figures"`
	// Ceiling, ShapedCeiling and EndToEnd are the median rounds' (medianRound): the
	// details the report shows of one round, and the (b) that sizes the later phases.
	Ceiling CeilingResult `json:"a_ceiling"`
	// ShapedCeiling is (a′): the ceiling workflow given what a delivery asks of Temporal
	// besides its POST, to tell Temporal's share of the gap from hookflow's own.
	ShapedCeiling CeilingResult `json:"a_shaped_ceiling"`
	// PostgresTemporal is (p): the rounds again on the Temporal server with PostgreSQL
	// persistence; nil when skipped.
	PostgresTemporal *PostgresTemporalResult `json:"p_postgres_temporal,omitempty"`
	// Persistence is (f): the ceiling on a file-backed dev server under each SQLite setting.
	Persistence []PersistenceVariant `json:"f_persistence"`
	EndToEnd    EndToEndResult       `json:"b_end_to_end"`
	Ingest      IngestResult         `json:"c_ingest"`
	Latency     LatencyResult        `json:"d_latency"`
	Parked      ParkedResult         `json:"e_parked"`
	Isolation   IsolationResult      `json:"g_isolation"`
	Pause       PauseResult          `json:"h_pause"`
	Health      HealthResult         `json:"i_health"`
	// Variants is (o): sealed secrets, Ed25519 and fifo, each as a ratio of (b).
	Variants *VariantsResult `json:"o_variants,omitempty"`
	// Baseline compares (b) with another build's, when -baseline names one.
	Baseline *BaselineResult `json:"b_baseline,omitempty"`
	Ratios   Ratios          `json:"ratios"`
	Targets  []Target        `json:"targets"`
	// Profile is hookflow's CPU profile over the dev server's (b) rounds.
	Profile *ProfileSummary `json:"profile,omitempty"`
	Notes   []string        `json:"notes"`
}

// Setup says what ran where.
type Setup struct {
	HookflowBinary      string `json:"hookflow_binary"`
	Temporal            string `json:"temporal"`
	TemporalPersistence string `json:"temporal_persistence"`
	PostgreSQL          string `json:"postgresql"`
}

// ConfigSummary is the run's sizes.
type ConfigSummary struct {
	Events        int `json:"n_events"`
	Subscriptions int `json:"m_subscriptions"`
	Parked        int `json:"k_parked"`
	// ParkedAuto is true when K was sized from (b)'s throughput rather than given.
	ParkedAuto       bool    `json:"k_parked_auto"`
	CeilingWorkflows int     `json:"ceiling_workflows"`
	LatencySeconds   float64 `json:"latency_seconds"`
	IngestSeconds    float64 `json:"ingest_seconds"`
	Posters          int     `json:"posters"`
	IngestPosters    int     `json:"ingest_posters"`
	Held             int     `json:"k_held"`
	RetentionRows    int     `json:"retention_rows"`
	HealthAttempts   int     `json:"i_health_attempts"`
	// Only is the phase run alone, if one was.
	Only string `json:"only,omitempty"`
}

func (c Config) summary() ConfigSummary {
	return ConfigSummary{Events: c.Events, Subscriptions: c.Subscriptions, Parked: c.Parked, ParkedAuto: c.Parked == 0, CeilingWorkflows: c.CeilingWorkflows,
		LatencySeconds: c.LatencyDuration.Seconds(), IngestSeconds: c.IngestDuration.Seconds(), Posters: c.Posters, IngestPosters: c.IngestPosters,
		Held: c.Held, RetentionRows: c.RetentionRows, HealthAttempts: c.HealthAttempts, Only: c.Only}
}

// EndToEndResult is figure (b).
type EndToEndResult struct {
	Events        int     `json:"events"`
	Subscriptions int     `json:"subscriptions"`
	Deliveries    int     `json:"deliveries"`
	Delivered     int     `json:"delivered"`
	Posters       int     `json:"posters"`
	Seconds       float64 `json:"seconds"`
	// IngestSeconds is how long posting the events took, within Seconds.
	IngestSeconds  float64        `json:"ingest_seconds"`
	PerSecond      float64        `json:"deliveries_per_second"`
	CPU            CPUSplit       `json:"cpu"`
	CPUPerDelivery CPUPerDelivery `json:"cpu_ms_per_delivery"`
	// History is a sample of the deliveries delivered at their first attempt.
	History DeliveryHistory `json:"history"`
}

// CPUPerDelivery is CPU milliseconds per delivery, per process: Postgres is PostgreSQL's
// work for hookflow, TemporalPostgres its work for Temporal (see CPUSplit).
type CPUPerDelivery struct {
	Hookflow         float64 `json:"hookflow"`
	Temporal         float64 `json:"temporal"`
	Postgres         float64 `json:"postgres"`
	TemporalPostgres float64 `json:"temporal_postgres"`
	Bench            float64 `json:"bench"`
	Total            float64 `json:"total"`
}

func (s CPUSplit) perDelivery(n int) CPUPerDelivery {
	ms := func(sec float64) float64 { return sec * 1000 / float64(n) }
	return CPUPerDelivery{Hookflow: ms(s.HookflowSeconds), Temporal: ms(s.TemporalSeconds), Postgres: ms(s.PostgresSeconds),
		TemporalPostgres: ms(s.TemporalPostgresSeconds), Bench: ms(s.BenchSeconds), Total: ms(s.Total())}
}

// IngestResult is figure (c).
type IngestResult struct {
	Posters       int     `json:"posters"`
	Subscriptions int     `json:"subscriptions"`
	Seconds       float64 `json:"seconds"`
	Accepted      int     `json:"accepted"`
	Rejected      int     `json:"rejected"`
	Stored        int     `json:"stored"`
	PerSecond     float64 `json:"events_per_second"`
}

// LatencyResult is figure (d).
type LatencyResult struct {
	TargetDeliveriesPerSecond float64 `json:"target_deliveries_per_second"`
	EventsPerSecond           float64 `json:"events_per_second"`
	AchievedEventsPerSecond   float64 `json:"achieved_events_per_second"`
	Seconds                   float64 `json:"seconds"`
	Events                    int     `json:"events"`
	Deliveries                int     `json:"deliveries"`
	Delivered                 int     `json:"delivered"`
	P50MS                     float64 `json:"p50_ms"`
	P95MS                     float64 `json:"p95_ms"`
	P99MS                     float64 `json:"p99_ms"`
	MaxMS                     float64 `json:"max_ms"`
}

// ParkedResult is figure (e).
type ParkedResult struct {
	Parked                 int     `json:"parked"`
	RetryUnitSeconds       float64 `json:"retry_unit_seconds"`
	ParkSeconds            float64 `json:"park_seconds"`
	RSSBeforeBytes         int64   `json:"hookflow_rss_before_bytes"`
	RSSParkedBytes         int64   `json:"hookflow_rss_parked_bytes"`
	RSSPerParkedBytes      float64 `json:"hookflow_rss_bytes_per_parked"`
	TemporalRSSBeforeBytes int64   `json:"temporal_rss_before_bytes"`
	TemporalRSSParkedBytes int64   `json:"temporal_rss_parked_bytes"`
	DatabaseBytesPerParked float64 `json:"postgres_database_bytes_per_parked"`
	TableBytesPerParked    float64 `json:"postgres_table_bytes_per_parked"`
	// FiredEarly counts retries made before the measurement ended; it should be 0.
	FiredEarly int `json:"fired_early"`
	// ManualRetries counts deliveries the harness had to retry by hand to finish.
	ManualRetries        int     `json:"manual_retries"`
	RecoverySeconds      float64 `json:"recovery_seconds"`
	RecoveryDrainSeconds float64 `json:"recovery_drain_seconds"`
	RecoveryPerSecond    float64 `json:"recovery_deliveries_per_second"`
	Delivered            int     `json:"delivered"`
	// ParkPerSecond is K over ParkSeconds; DrainOverPark is the drain's rate
	// (RecoveryPerSecond) over it. The first retries come due at the pace the deliveries
	// parked, so a worker that keeps up drains at about that pace.
	ParkPerSecond float64 `json:"park_deliveries_per_second"`
	DrainOverPark float64 `json:"drain_over_park"`
	// StickyCacheSize is the HOOKFLOW_STICKY_CACHE_SIZE this run set; 0 is the build's own.
	StickyCacheSize int `json:"sticky_cache_size,omitempty"`
	// StickyCacheParked is the worker's sticky cache size (workflows held) with K parked;
	// StickyCacheDuringDrain the cache's hits, misses and forced evictions over the drain.
	StickyCacheParked      float64     `json:"sticky_cache_parked"`
	StickyCacheDuringDrain StickyCache `json:"sticky_cache_during_drain"`
	// StickyRuns are (e) again with other sticky cache sizes (-sticky-cache-sizes);
	// StickyCacheNote says why they are missing, when they are.
	StickyRuns      []ParkedResult `json:"sticky_runs,omitempty"`
	StickyCacheNote string         `json:"sticky_cache_note,omitempty"`
}

// PersistenceVariant is one SQLite setting of (f) and the ceiling it allowed.
type PersistenceVariant struct {
	Name    string   `json:"name"`
	Pragmas []string `json:"pragmas"`
	// Durable is true when a committed transaction survives a power loss, not only a
	// crash of the server process.
	Durable bool `json:"durable"`
	// InUse marks the setting `make run` starts its dev server with.
	InUse   bool          `json:"in_use"`
	Ceiling CeilingResult `json:"ceiling"`
}

// Ratios relate the figures to each other.
type Ratios struct {
	EndToEndOverCeiling float64 `json:"b_over_a"`
	// EndToEndOverShapedCeiling is (b) / (a′): hookflow's own share of the gap.
	EndToEndOverShapedCeiling float64 `json:"b_over_a_shaped"`
	IngestOverEndToEnd        float64 `json:"c_over_b"`
}

// Target is one of the goals and how the run fared.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Limit    float64 `json:"limit"`
	// Spread is the measured figure's range over the rounds (min–max), or what else it
	// rests on when it is not repeated.
	Spread string `json:"spread"`
	// Status is met, missed, or "not measured at 100,000" when K was below the goal's.
	Status string `json:"status"`
	By     string `json:"by"`
}

// withSpread gives a target the range of the rounds its median comes from.
func withSpread(t Target, s Spread) Target {
	switch {
	case len(s.Values) > 1:
		t.Spread = fmt.Sprintf("%s–%s over %d rounds", num(s.Min), num(s.Max), len(s.Values))
	default:
		t.Spread = "one round"
	}
	return t
}

// once marks a target measured in a single run.
func once(t Target, what string) Target {
	t.Spread = what
	return t
}

// historyTarget compares the histories of first-attempt deliveries, in every round, with
// the ceiling workflow's: equal means every sampled one has the ceiling's length.
func historyTarget(name string, rounds []Round) Target {
	low, high, ceiling, sample := math.MaxInt, 0, 0, 0
	for _, r := range rounds {
		h := r.EndToEnd.History
		low, high, sample = min(low, h.Min), max(high, h.Max), sample+h.Sample
		ceiling = max(ceiling, r.Ceiling.HistoryEvents)
	}
	means := spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.History.Mean }).Median
	t := Target{Name: name, Goal: "= the ceiling workflow's history", Value: means, Limit: float64(ceiling),
		Measured: fmt.Sprintf("%s events (ceiling: %d)", num(means), ceiling),
		Spread:   fmt.Sprintf("%d–%d events over %d sampled in %d rounds", low, high, sample, len(rounds))}
	t.Status = status(sample > 0 && low == ceiling && high == ceiling)
	switch {
	case t.Status == "met":
		t.By = "equal"
	case low == high:
		t.By = fmt.Sprintf("%+d events (%d vs %d)", high-ceiling, high, ceiling)
	default:
		t.By = fmt.Sprintf("%+d to %+d events (%d–%d vs %d)", low-ceiling, high-ceiling, low, high, ceiling)
	}
	return t
}

// Goals from the issue.
const (
	goalEndToEndShare   = 0.90
	goalOwnCPUShare     = 0.20
	goalDrainOverPark   = 0.8
	goalIngestRate      = 1000
	goalIngestMultiple  = 10
	goalP50MS           = 50
	goalP99MS           = 250
	goalParked          = 100000
	goalParkedRSSMB     = 300
	stickyCacheDefaults = hfworker.StickyCacheSize
)

// atLeast and atMost build a target and say by how much it was met or missed.
func atLeast(name, goal, unit string, value, limit float64) Target {
	t := Target{Name: name, Goal: goal, Value: value, Limit: limit, Measured: fmt.Sprintf("%s %s", num(value), unit)}
	t.Status = status(value >= limit)
	t.By = fmt.Sprintf("%+.0f%% (%s vs %s)", (value/limit-1)*100, num(value), num(limit))
	return t
}

func atMost(name, goal, unit string, value, limit float64) Target {
	t := Target{Name: name, Goal: goal, Value: value, Limit: limit, Measured: fmt.Sprintf("%s %s", num(value), unit)}
	t.Status = status(value <= limit)
	if value <= limit {
		t.By = fmt.Sprintf("%.0f%% under (%s vs %s)", (1-value/limit)*100, num(value), num(limit))
	} else {
		t.By = fmt.Sprintf("%.0f%% over (%s vs %s)", (value/limit-1)*100, num(value), num(limit))
	}
	return t
}

func status(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// num prints a figure with as many digits as it deserves.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// finish computes the ratios, the targets and the notes from the figures.
// finishRounds computes the rounds' figures and their targets; a run of the rounds alone
// (-only ab or p) has nothing else to finish.
func (r *Report) finishRounds() {
	r.Repeated = roundFigures(r.Rounds)
	rf := r.Repeated
	r.Ratios.EndToEndOverCeiling, r.Ratios.EndToEndOverShapedCeiling = rf.EndToEndOverCeiling.Median, rf.EndToEndOverShaped.Median
	ownGoal := "(hookflow + its PostgreSQL) per delivery in (b) ≤ 0.20 × Temporal per workflow in (a), same round"
	pt := r.PostgresTemporal
	if len(r.Rounds) > 0 {
		r.Targets = append(r.Targets, withSpread(atLeast("(b)/(a), dev server", "(b) ≥ 0.90 × (a)", "× (a)", rf.EndToEndOverCeiling.Median, goalEndToEndShare), rf.EndToEndOverCeiling))
	}
	if pt != nil {
		r.Targets = append(r.Targets, withSpread(atLeast("(b)/(a), PostgreSQL persistence", "(b) ≥ 0.90 × (a)", "× (a)",
			pt.Figures.EndToEndOverCeiling.Median, goalEndToEndShare), pt.Figures.EndToEndOverCeiling))
	}
	if len(r.Rounds) > 0 {
		r.Targets = append(r.Targets, historyTarget("history events per first-attempt delivery, dev server", r.Rounds),
			withSpread(atMost("hookflow's own CPU per delivery, dev server", ownGoal, "× Temporal's", rf.OwnOverCeilingTemporal.Median, goalOwnCPUShare), rf.OwnOverCeilingTemporal))
	}
	if pt != nil {
		r.Targets = append(r.Targets, withSpread(atMost("hookflow's own CPU per delivery, PostgreSQL persistence", ownGoal+" (Temporal's PostgreSQL included)", "× Temporal's",
			pt.Figures.OwnOverCeilingTemporal.Median, goalOwnCPUShare), pt.Figures.OwnOverCeilingTemporal))
	}
}

func (r *Report) finish() {
	r.finishRounds()
	rf, c := r.Repeated, r.Ingest.PerSecond
	r.Ratios.IngestOverEndToEnd = c / rf.EndToEnd.Median
	ingestOver := make([]float64, len(rf.EndToEnd.Values))
	for i, v := range rf.EndToEnd.Values {
		ingestOver[i] = c / v
	}
	r.Targets = append(r.Targets,
		once(atLeast("(c) ingest rate", "≥ 1,000 events/s", "events/s", c, goalIngestRate), "one run"),
		withSpread(atLeast("(c) ingest vs end to end", "(c) ≥ 10 × (b)", "× (b)", r.Ratios.IngestOverEndToEnd, goalIngestMultiple), newSpread(ingestOver)),
		once(atMost("(d) latency p50", "≤ 50 ms", "ms", r.Latency.P50MS, goalP50MS), fmt.Sprintf("one run of %d deliveries", r.Latency.Delivered)),
		once(atMost("(d) latency p99", "≤ 250 ms", "ms", r.Latency.P99MS, goalP99MS), fmt.Sprintf("one run of %d deliveries", r.Latency.Delivered)),
	)
	p := r.Parked
	rss := atMost("(e) hookflow RSS with 100,000 parked", "≤ 300 MB at K = 100,000", "MB", mb(p.RSSParkedBytes), goalParkedRSSMB)
	if p.Parked < goalParked {
		// Not measured at the goal's size. The linear projection from this run's baseline
		// is given as a hint only: the worker's sticky cache holds at most worker.StickyCacheSize workflows,
		// so beyond that the real growth is smaller, and a small K is dominated by fixed
		// costs (pools, goroutines), so the projection over-estimates.
		projected := (float64(p.RSSBeforeBytes) + p.RSSPerParkedBytes*goalParked) / (1 << 20)
		hint := atMost("", "", "MB", projected, goalParkedRSSMB)
		rss.Value = projected
		rss.Measured = fmt.Sprintf("%s MB at K = %d", num(mb(p.RSSParkedBytes)), p.Parked)
		rss.Status = "not measured at 100,000"
		rss.By = fmt.Sprintf("linear projection %s MB, %s: an upper bound (see notes)", num(projected), strings.SplitN(hint.By, " (", 2)[0])
	}
	rss.Spread = "one run"
	r.Targets = append(r.Targets, rss,
		once(atLeast("(e) drain after the outage vs parking", "drain rate ≥ 0.8 × parking rate", "× parking", p.DrainOverPark, goalDrainOverPark),
			fmt.Sprintf("one run, K = %d", p.Parked)))
	g := r.Isolation
	r.Targets = append(r.Targets, once(atMost("(g) healthy p99 beside hung attempts", fmt.Sprintf("p99 with ≥ %d hung ≤ 2 × p99 alone", goalHung), "× p99 alone", g.P99Ratio, goalIsolationFactor), "one run"))
	r.finishPause()
	r.finishHealth()
	r.finishVariants()
	if bl := r.Baseline; bl != nil {
		r.Targets = append(r.Targets, once(atLeast("(b) this build vs the baseline", "≥ 0.95 × the baseline's (b) (medians)", "× baseline", bl.Ratio, 0.95),
			fmt.Sprintf("medians of %d rounds each", bl.Rounds)))
	}

	cpu := r.EndToEnd.CPU
	busy := cpu.Total() / (cpu.WallSeconds * float64(r.Machine.CPUs))
	biggest, share := "hookflow", cpu.HookflowSeconds
	for name, s := range map[string]float64{"the Temporal dev server": cpu.TemporalSeconds, "PostgreSQL": cpu.PostgresSeconds, "the harness": cpu.BenchSeconds} {
		if s > share {
			biggest, share = name, s
		}
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("During (b) the measured processes used %.1f CPU-seconds of the %.1f the machine had (%.0f%% of %d CPUs); %s used the most (%.0f%% of it).",
			cpu.Total(), cpu.WallSeconds*float64(r.Machine.CPUs), busy*100, r.Machine.CPUs, biggest, share/cpu.Total()*100),
		fmt.Sprintf("A hookflow delivery delivered at its first attempt has a history of %s events (median of the rounds' means) against %d for the ceiling's minimal workflow; Temporal spent %.2f× the CPU per delivery (%s ms, median) that it spent per ceiling workflow (%s ms).",
			num(rf.History.Median), r.Ceiling.HistoryEvents, rf.TemporalMS.Median/rf.CeilingTemporalMS.Median, num(rf.TemporalMS.Median), num(rf.CeilingTemporalMS.Median)),
		fmt.Sprintf("(a), (a′) and (b) ran %d times in turn (a, a′, b, a, a′, b, …), each on a fresh dev server, so drift over the run falls on all three alike; each figure is the median of its rounds with its range (min–max), and each ratio is taken within a round before its median is. (c), (d), (e), (g) and (h) ran once, sized from the median round's (b).", rf.Rounds),
		"The machine is shared: other processes (tests, builds) may have run at the same time, so the figures are noisy; load average at start: "+r.Machine.LoadAvg+".",
		"PostgreSQL's CPU for hookflow counts the backends of hookflow's database and a share of the server's shared processes (WAL writer, checkpointer, background writer, autovacuum), which also serve other databases on the server: all of it on the dev server, and on PostgreSQL persistence the part proportional to hookflow's backends' CPU against Temporal's (the rest is Temporal's).",
		fmt.Sprintf("(e) recovery time runs from the endpoint's recovery to the last delivery: it includes the wait on the backoff timers (first retry at 1 × retry unit = %.0f s after parking), not only hookflow's work; the drain (first to last successful retry) is %.1f s.",
			r.Parked.RetryUnitSeconds, r.Parked.RecoveryDrainSeconds),
	)
	if p.Parked < goalParked {
		how := "set by -k"
		if r.Config.ParkedAuto {
			how = fmt.Sprintf("what (b)'s rate parks in %d s, capped at %d, so the run stays within minutes", autoParkSeconds, autoParkMax)
		}
		r.Notes = append(r.Notes, fmt.Sprintf("(e) ran with K = %d (%s), not the issue's 100,000: parking a delivery costs about as much as delivering it, and releasing them takes as long again plus the retry unit; `-k 100000` measures the target itself. The worker keeps at most %d workflows in its sticky cache (worker.StickyCacheSize), so RSS is not linear in K.", p.Parked, how, stickyCacheDefaults))
	}
	if p.FiredEarly > 0 || p.ManualRetries > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("(e) %d retries fired before the measurement ended and %d deliveries were retried by hand: the retry unit was too short for K (set -retry-unit).", p.FiredEarly, p.ManualRetries))
	}
	if r.Smoke {
		r.Notes = append(r.Notes, "Smoke run: the sizes are tiny, so the figures check the harness, not hookflow's performance.")
	}
	// The phases that run once give their targets one measurement each.
	for i := range r.Targets {
		if r.Targets[i].Spread == "" {
			r.Targets[i].Spread = "one run"
		}
	}
}

// finishPause adds (h)'s targets and notes; a run of (h) alone has nothing else to finish.
func (r *Report) finishPause() {
	h, ret := r.Pause, r.Pause.Retention
	r.Targets = append(r.Targets,
		atLeast("(h) drain after a pause vs end to end", "drain ≥ 0.8 × (b)", "× (b)", h.DrainOverEndToEnd, goalDrainShare),
		atLeast("(h) ingest during a retention run", "(c) during retention ≥ 0.8 × (c) alone", "× alone", ret.IngestDuringOverAlone, goalIngestDuringShare))
	r.Notes = append(r.Notes,
		fmt.Sprintf("(h) compares the drain with (b), which spreads its deliveries over %d subscriptions, each allowed %d requests in flight; the drain has one subscription, so at most %d of its requests are in flight at once.",
			r.EndToEnd.Subscriptions, h.EndpointConcurrency, h.EndpointConcurrency),
		"(h) retention: the ingest it measures is (c)'s, but in a process whose worker reaches Temporal (it runs the retention workflow). The phase's database gives deliveries `dispatched_at` DEFAULT now(), so the dispatcher never hands the ingested deliveries to Temporal and ingest costs PostgreSQL alone, as in (c); it also spares them an entry in the index of undispatched deliveries, so its absolute rate is not quite (c)'s: the target is the ratio of its two windows.",
	)
	if ret.After.TableBytes >= ret.Before.TableBytes {
		r.Notes = append(r.Notes, fmt.Sprintf("(h) storage: the retention run deleted %d deliveries, yet pg_total_relation_size did not fall (%s MB before, %s MB after, %s MB after a plain VACUUM): deleted rows' space stays in the files, free for new rows once vacuumed; only VACUUM FULL or pg_repack return it to the system. The live rows' own bytes fell from %s MB to %s MB.",
			ret.DeletedDeliveries, num(mb(ret.Before.TableBytes)), num(mb(ret.After.TableBytes)), num(mb(ret.AfterVacuum.TableBytes)),
			num(mb(ret.Before.LiveRowBytes)), num(mb(ret.After.LiveRowBytes))))
	}
	if r.Config.Only == "h" {
		r.Notes = append(r.Notes, fmt.Sprintf("Run with -only h: (b) ran first with N = %d events, shorter than the full run's, only to give (h)'s drain its ratio; the other phases did not run and their figures are zero.", r.EndToEnd.Events))
	}
}

// Figures are the headline numbers, each of which a complete run makes positive.
func (r Report) Figures() map[string]float64 {
	figures := map[string]float64{
		"a_shaped.workflows_per_second": r.ShapedCeiling.PerSecond,
		"ratio.b_over_a_shaped":         r.Ratios.EndToEndOverShapedCeiling,
		"a.workflows_per_second":        r.Ceiling.PerSecond,
		"a.history_events":              float64(r.Ceiling.HistoryEvents),
		"b.deliveries_per_second":       r.EndToEnd.PerSecond,
		"b.history_events":              r.EndToEnd.History.Mean,
		"b.cpu.hookflow":                r.EndToEnd.CPUPerDelivery.Hookflow,
		"b.cpu.temporal":                r.EndToEnd.CPUPerDelivery.Temporal,
		"b.cpu.postgres":                r.EndToEnd.CPUPerDelivery.Postgres,
		"c.events_per_second":           r.Ingest.PerSecond,
		"d.p50_ms":                      r.Latency.P50MS,
		"d.p95_ms":                      r.Latency.P95MS,
		"d.p99_ms":                      r.Latency.P99MS,
		"e.hookflow_rss_parked_bytes":   float64(r.Parked.RSSParkedBytes),
		"e.postgres_bytes_per_parked":   r.Parked.DatabaseBytesPerParked,
		"e.table_bytes_per_parked":      r.Parked.TableBytesPerParked,
		"e.recovery_seconds":            r.Parked.RecoverySeconds,
		"ratio.b_over_a":                r.Ratios.EndToEndOverCeiling,
		"ratio.c_over_b":                r.Ratios.IngestOverEndToEnd,
		"e.temporal_rss_parked_bytes":   float64(r.Parked.TemporalRSSParkedBytes),
		"e.hookflow_rss_before_bytes":   float64(r.Parked.RSSBeforeBytes),
		"b.seconds":                     r.EndToEnd.Seconds,
		"a.cpu.temporal":                r.Ceiling.CPUPerWorkflow.Temporal,
		"d.achieved_events_per_second":  r.Latency.AchievedEventsPerSecond,
		"g.alone_p99_ms":                r.Isolation.Alone.P99MS,
		"g.with_hung_p99_ms":            r.Isolation.WithHung.P99MS,
		"g.hung_min":                    float64(r.Isolation.HungMin),
		"g.through_timeouts_p99_ms":     r.Isolation.ThroughTimeouts.P99MS,
		"h.drain_per_second":            r.Pause.DrainPerSecond,
		"h.drain_over_b":                r.Pause.DrainOverEndToEnd,
		"h.hold_seconds":                r.Pause.HoldSeconds,
		"h.retention_delete_seconds":    r.Pause.Retention.DeleteSeconds,
		"h.bytes_per_delivery_before":   r.Pause.Retention.Before.BytesPerDelivery,
		"h.bytes_per_delivery_after":    r.Pause.Retention.After.BytesPerDelivery,
		"h.ingest_during_over_alone":    r.Pause.Retention.IngestDuringOverAlone,
		"i.page_7d_median_ms":           r.Health.PageWeek.MedianMS,
		"i.page_7d_p95_ms":              r.Health.PageWeek.P95MS,
		"i.page_24h_median_ms":          r.Health.PageDay.MedianMS,
		"i.api_7d_median_ms":            r.Health.APIWeek.MedianMS,
		"i.record_per_second":           r.Health.RecordPerSecond,
	}
	for i, v := range r.Persistence {
		figures[fmt.Sprintf("f.%d.workflows_per_second", i)] = v.Ceiling.PerSecond
	}
	rf := r.Repeated
	figures["rounds.a_median"], figures["rounds.b_median"], figures["rounds.b_over_a_median"] = rf.Ceiling.Median, rf.EndToEnd.Median, rf.EndToEndOverCeiling.Median
	figures["rounds.own_cpu_over_a_temporal"] = rf.OwnOverCeilingTemporal.Median
	figures["e.park_per_second"], figures["e.drain_over_park"] = r.Parked.ParkPerSecond, r.Parked.DrainOverPark
	if pt := r.PostgresTemporal; pt != nil {
		figures["p.a_median"], figures["p.b_median"], figures["p.b_over_a_median"] = pt.Figures.Ceiling.Median, pt.Figures.EndToEnd.Median, pt.Figures.EndToEndOverCeiling.Median
		figures["p.a_temporal_cpu_ms"], figures["p.b_hookflow_cpu_ms"] = pt.Figures.CeilingTemporalMS.Median, pt.Figures.HookflowMS.Median
		figures["p.b_temporal_postgres_cpu_ms"] = pt.Figures.TemporalPostgresMS.Median
	}
	return figures
}

// write saves the Markdown report at path and its JSON twin next to it.
func (r Report) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(path, filepath.Ext(path))+".json", append(raw, '\n'), 0o644)
}

func (r Report) markdown() string {
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }
	title := "hookflow benchmark"
	if r.Smoke {
		title += " (smoke run)"
	}
	p("# %s", title)
	p("")
	p("Run %s, %.0f s in all, by `make bench` (`go run ./bench`). JSON twin: the same path with `.json`.", r.Started.Format(time.RFC3339), r.Seconds)
	p("")
	p("## Machine")
	p("")
	p("| CPUs | model | RAM | kernel | Go | PostgreSQL | load average at start |")
	p("|---|---|---|---|---|---|---|")
	p("| %d | %s | %.1f GiB | %s | %s | %s | %s |", r.Machine.CPUs, r.Machine.Model, float64(r.Machine.RAMBytes)/(1<<30), r.Machine.Kernel,
		r.Machine.GoVersion, r.Machine.PostgreSQL, r.Machine.LoadAvg)
	p("")
	p("## Set-up")
	p("")
	p("- Temporal: %s; persistence %s.", r.Setup.Temporal, r.Setup.TemporalPersistence)
	if pt := r.PostgresTemporal; pt != nil {
		p("- Temporal on PostgreSQL persistence, (p): `temporal-server` %s on the same PostgreSQL, %d history shards, maxConns %d per service (visibility %d); see (p).",
			pt.Setup.Version, pt.Setup.HistoryShards, pt.Setup.MaxConns, pt.Setup.VisibilityMaxConns)
	}
	p("- Rounds: (a), (a′) and (b) ran %d times in turn on each Temporal server; their figures are medians with the range (min–max).", len(r.Rounds))
	p("- PostgreSQL: %s.", r.Setup.PostgreSQL)
	p("- hookflow: `%s serve` (API and worker in one process) as a subprocess per phase, with `HOOKFLOW_INGEST_RATE_PER_SECOND=0` (unlimited), `HOOKFLOW_DISPATCH_SWEEP_INTERVAL=1s`, `HOOKFLOW_LOG_LEVEL=warn`, `HOOKFLOW_ALLOW_PRIVATE_NETWORKS=true`.", r.Setup.HookflowBinary)
	p("- Receiver: a net/http server in the harness answering 200 (and 500 on the failing path of (e) until it recovers); it records the first arrival of each delivery by `webhook-id` (the event id) and path (the subscription).")
	p("- Ceiling (a): a workflow with one local activity POSTing to the same receiver, started with eager start on the same Temporal server, run by an in-process SDK worker with hookflow's worker settings, %d workflows in flight.", r.Ceiling.Concurrency)
	p("")
	c := r.Config
	p("| N events | M subscriptions | deliveries (b) | K parked | ceiling workflows | posters (b, e) | posters (c) | (c) duration | (d) duration | retry unit (e) |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	parked := fmt.Sprint(c.Parked)
	if c.ParkedAuto {
		parked += " (from (b)'s rate)"
	}
	p("| %d | %d | %d | %s | %d | %d | %d | %.0f s | %.0f s | %.0f s |", c.Events, c.Subscriptions, c.Events*c.Subscriptions, parked,
		c.CeilingWorkflows, c.Posters, c.IngestPosters, c.IngestSeconds, c.LatencySeconds, r.Parked.RetryUnitSeconds)
	p("")
	p("## Figures")
	p("")
	p("| | figure | value |")
	p("|---|---|---|")
	a, b, in, l, e := r.Ceiling, r.EndToEnd, r.Ingest, r.Latency, r.Parked
	rf := r.Repeated
	p("| (a) | ceiling: minimal workflows completed per second, median (min–max) of %d rounds | **%s /s** (median round: %d in %.1f s) |", rf.Rounds, describeSpread(rf.Ceiling, ""), a.Workflows, a.Seconds)
	sh := r.ShapedCeiling
	p("| (a′) | the ceiling workflow with a delivery's demands on Temporal (%s) | **%s /s** (median round: %d in %.1f s; Temporal %s ms CPU per workflow against %s for (a)) |",
		describeShape(deliveryShape), describeSpread(rf.ShapedCeiling, ""), sh.Workflows, sh.Seconds, describeSpread(rf.ShapedTemporalMS, ""), describeSpread(rf.CeilingTemporalMS, ""))
	p("| (b) | hookflow end to end: deliveries recorded `delivered` per second | **%s /s** (median round: %d in %.1f s; posting took %.1f s) |", describeSpread(rf.EndToEnd, ""), b.Deliveries, b.Seconds, b.IngestSeconds)
	if pt := r.PostgresTemporal; pt != nil {
		pf := pt.Figures
		p("| (p) | (a), (a′) and (b) on the Temporal server with PostgreSQL persistence | (a) **%s /s**, (a′) %s /s, (b) **%s /s**: (b) / (a) **%s** |",
			describeSpread(pf.Ceiling, ""), describeSpread(pf.ShapedCeiling, ""), describeSpread(pf.EndToEnd, ""), describeSpread(pf.EndToEndOverCeiling, ""))
	}
	p("| (c) | ingest alone, Temporal unreachable: events answered 202 per second | **%s /s** (%d in %.1f s, %d posters, %d rejected; %d subscriptions per event) |", num(in.PerSecond), in.Accepted, in.Seconds, in.Posters, in.Rejected, in.Subscriptions)
	p("| (d) | latency, ingest → first request at the receiver, per delivery | **p50 %s ms, p95 %s ms, p99 %s ms** (max %s ms) |", num(l.P50MS), num(l.P95MS), num(l.P99MS), num(l.MaxMS))
	p("| | … at | %s deliveries/s target (%s events/s; achieved %s events/s), %d deliveries over %.0f s |", num(l.TargetDeliveriesPerSecond), num(l.EventsPerSecond), num(l.AchievedEventsPerSecond), l.Deliveries, l.Seconds)
	p("| (e) | K deliveries parked on backoff timers | %d (parked in %.1f s) |", e.Parked, e.ParkSeconds)
	p("| | hookflow RSS (VmRSS) idle → with K parked | %s MB → **%s MB** (%s KB per parked) |", num(mb(e.RSSBeforeBytes)), num(mb(e.RSSParkedBytes)), num(e.RSSPerParkedBytes/1024))
	p("| | Temporal dev server RSS idle → with K parked | %s MB → %s MB |", num(mb(e.TemporalRSSBeforeBytes)), num(mb(e.TemporalRSSParkedBytes)))
	p("| | PostgreSQL bytes per parked delivery | **%s** (database size delta; events + deliveries + attempts with indexes: %s) |", num(e.DatabaseBytesPerParked), num(e.TableBytesPerParked))
	p("| | endpoint recovered → all K delivered | %.1f s (drain, first to last retry: %.1f s, %s deliveries/s = **%.2f ×** the parking rate, %s /s) |", e.RecoverySeconds, e.RecoveryDrainSeconds, num(e.RecoveryPerSecond),
		e.DrainOverPark, num(e.ParkPerSecond))
	p("| | Temporal history events per first-attempt delivery (dev server) | %s, median of the rounds' means (%d–%d over the samples; ceiling workflow: %d) |", describeSpread(rf.History, ""),
		minHistory(r.Rounds), maxHistory(r.Rounds), a.HistoryEvents)
	p("| | … a first-attempt delivery's events | %s |", strings.Join(b.History.Types, ", "))
	p("| | … the ceiling workflow's events | %s |", strings.Join(a.HistoryTypes, ", "))
	g := r.Isolation
	p("| (g) | a healthy subscription's latency (ingest → first request), %s events/s for %.0f s: alone | p50 %s ms, p95 %s ms, **p99 %s ms** (max %s ms) |",
		num(g.EventsPerSecond), g.AloneSeconds, num(g.Alone.P50MS), num(g.Alone.P95MS), num(g.Alone.P99MS), num(g.Alone.MaxMS))
	p("| | … while another account's endpoint holds %d–%d hung attempts (%d subscriptions, timeout %d s, %d events; measured for %.0f s once the burst settled, %.1f s after the hung count was reached) | p50 %s ms, p95 %s ms, **p99 %s ms** (max %s ms): **%.2f ×** alone |",
		g.HungMin, g.HungMax, g.NoisySubscriptions, g.TimeoutSeconds, g.NoisyEvents, g.Seconds, g.SettleSeconds, num(g.WithHung.P50MS), num(g.WithHung.P95MS), num(g.WithHung.P99MS), num(g.WithHung.MaxMS), g.P99Ratio)
	p("| | … through the moment those %d attempts time out together and the %d waiting behind them go out (not the target's condition: the noisy account's churn at its worst) | p50 %s ms, p95 %s ms, **p99 %s ms** (max %s ms) |",
		g.NoisyEvents/2, g.NoisyEvents/2, num(g.ThroughTimeouts.P50MS), num(g.ThroughTimeouts.P95MS), num(g.ThroughTimeouts.P99MS), num(g.ThroughTimeouts.MaxMS))
	r.variantsSection(p)
	if bl := r.Baseline; bl != nil {
		p("| (b) vs baseline | (b) of `%s` and of this build, %d interleaved rounds each on fresh dev servers | baseline %v /s (median %s), this build %v /s (median %s): **%.2f ×** |",
			bl.Binary, bl.Rounds, roundAll(bl.BaselinePerSecond), num(bl.BaselineMedian), roundAll(bl.CurrentPerSecond), num(bl.CurrentMedian), bl.Ratio)
	}
	p("")
	p("Every delivery was delivered: (b) %d of %d, (d) %d of %d, (e) %d of %d, (h) %d of %d.", b.Delivered, b.Deliveries, l.Delivered, l.Deliveries, e.Delivered, e.Parked,
		r.Pause.Delivered, r.Pause.Held)
	p("")
	p("## Ratios")
	p("")
	p("Medians of the ratios within each round (min–max).")
	p("")
	p("| ratio | dev server | PostgreSQL persistence |")
	p("|---|---|---|")
	pgRatio := func(f func(RoundFigures) Spread) string {
		if pt := r.PostgresTemporal; pt != nil {
			return describeSpread(f(pt.Figures), "")
		}
		return "–"
	}
	p("| (b) / (a) | %s | %s |", describeSpread(rf.EndToEndOverCeiling, ""), pgRatio(func(f RoundFigures) Spread { return f.EndToEndOverCeiling }))
	p("| (a′) / (a): what Temporal's side of a delivery costs | %s | %s |", describeSpread(rf.ShapedOverCeiling, ""), pgRatio(func(f RoundFigures) Spread { return f.ShapedOverCeiling }))
	p("| (b) / (a′): what hookflow's own work costs | %s | %s |", describeSpread(rf.EndToEndOverShaped, ""), pgRatio(func(f RoundFigures) Spread { return f.EndToEndOverShaped }))
	p("| hookflow's own CPU per delivery / Temporal's per (a) workflow | %s | %s |", describeSpread(rf.OwnOverCeilingTemporal, ""), pgRatio(func(f RoundFigures) Spread { return f.OwnOverCeilingTemporal }))
	p("| (c) / (b) | %.1f | – |", r.Ratios.IngestOverEndToEnd)
	p("")
	p("## Targets")
	p("")
	p("Each figure is the median of the rounds where it was repeated; the spread is its range (min–max).")
	p("")
	p("| target | goal | measured (median) | spread | status | by |")
	p("|---|---|---|---|---|---|")
	for _, t := range r.Targets {
		p("| %s | %s | %s | %s | **%s** | %s |", t.Name, t.Goal, t.Measured, t.Spread, t.Status, t.By)
	}
	p("")
	r.roundsSection(p)
	r.postgresTemporalSection(p)
	r.cpuSection(p)
	r.parkedSection(p)
	p("## (f) `make run`'s Temporal persistence: SQLite settings")
	p("")
	p("The ceiling workflow (as (a), %d workflows) on a dev server that keeps its state in a SQLite file (`--db-filename`), as `make run`'s does, under each setting; (a) is the same server in memory.", max(r.Config.CeilingWorkflows/2, 1))
	p("")
	p("| setting | survives | workflows/s | vs in memory (a) | Temporal CPU ms per workflow | `make run` |")
	p("|---|---|---|---|---|---|")
	for _, v := range r.Persistence {
		survives, used := "a server crash, not a power loss (the last commits can roll back)", ""
		if v.Durable {
			survives = "a server crash and a power loss"
		}
		if v.InUse {
			used = "**in use**"
		}
		p("| %s | %s | %s | %.2f | %s | %s |", v.Name, survives, num(v.Ceiling.PerSecond), v.Ceiling.PerSecond/a.PerSecond, num(v.Ceiling.CPUPerWorkflow.Temporal), used)
	}
	p("")
	r.pauseSection(p)
	r.healthSection(p)
	p("## Notes")
	p("")
	for _, n := range r.Notes {
		p("- %s", n)
	}
	return sb.String()
}

func roundAll(values []float64) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = num(v)
	}
	return out
}

// redactURL hides a password, should the admin URL carry one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// summaryTable is the figures as aligned text, for the terminal.
func (r Report) summaryTable() string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "(a) ceiling\t%s workflows/s\t(median of %d rounds)\n", describeSpread(r.Repeated.Ceiling, ""), r.Repeated.Rounds)
	fmt.Fprintf(w, "(b) end to end\t%s deliveries/s\t(b)/(a) %s\n", describeSpread(r.Repeated.EndToEnd, ""), describeSpread(r.Repeated.EndToEndOverCeiling, ""))
	if pt := r.PostgresTemporal; pt != nil {
		fmt.Fprintf(w, "(p) on PostgreSQL persistence\t(a) %s, (b) %s\t(b)/(a) %s\n", describeSpread(pt.Figures.Ceiling, ""), describeSpread(pt.Figures.EndToEnd, ""),
			describeSpread(pt.Figures.EndToEndOverCeiling, ""))
	}
	fmt.Fprintf(w, "(c) ingest\t%s events/s\t(c)/(b) %.1f\n", num(r.Ingest.PerSecond), r.Ratios.IngestOverEndToEnd)
	fmt.Fprintf(w, "(d) latency\tp50 %s ms  p95 %s ms  p99 %s ms\n", num(r.Latency.P50MS), num(r.Latency.P95MS), num(r.Latency.P99MS))
	fmt.Fprintf(w, "(g) healthy p99\talone %s ms  with %d hung %s ms\t%.2f×\n", num(r.Isolation.Alone.P99MS), r.Isolation.HungMin, num(r.Isolation.WithHung.P99MS), r.Isolation.P99Ratio)
	fmt.Fprintf(w, "(e) %d parked\tRSS %s MB\t%s PostgreSQL bytes each; drain %.2f× parking\n", r.Parked.Parked, num(mb(r.Parked.RSSParkedBytes)), num(r.Parked.DatabaseBytesPerParked), r.Parked.DrainOverPark)
	fmt.Fprintf(w, "(h) drain after a pause\t%s deliveries/s\t%.2f× (b)\n", num(r.Pause.DrainPerSecond), r.Pause.DrainOverEndToEnd)
	fmt.Fprintf(w, "(h) ingest during retention\t%s events/s\t%.2f× alone\n", num(r.Pause.Retention.IngestDuringPerSecond), r.Pause.Retention.IngestDuringOverAlone)
	fmt.Fprintf(w, "(i) busy subscription's page (7 d)\tmedian %s ms  p95 %s ms\t%d attempts\n", num(r.Health.PageWeek.MedianMS), num(r.Health.PageWeek.P95MS), r.Health.Attempts)
	for _, t := range r.Targets {
		fmt.Fprintf(w, "target %s\t%s\t%s\n", t.Name, t.Status, t.By)
	}
	_ = w.Flush()
	return sb.String()
}

// pauseSection is (h)'s part of the Markdown report.
func (r Report) pauseSection(p func(format string, args ...any)) {
	h, ret := r.Pause, r.Pause.Retention
	p("## (h) Drain after a pause, and retention")
	p("")
	p("One subscription to the receiver's 200 path is paused through the API, K events matching it are posted (%d posters), and once PostgreSQL shows all K deliveries `waiting_reason = 'paused'` it is resumed through the API; the drain runs from the resume request to the last delivery recorded `delivered`. Then, in the same process (`HOOKFLOW_RETENTION=%s`, `HOOKFLOW_RETENTION_INTERVAL=%s` so the schedule never fires by itself), old delivered rows are inserted by SQL, (c)'s ingest is measured alone and while a run of the `%s` schedule, triggered through the Temporal SDK, deletes them.",
		h.Posters, time.Duration(ret.RetentionSeconds*float64(time.Second)), pauseRetentionInterval, workflows.RetentionScheduleID)
	p("")
	p("| K held | endpoint concurrency (`HOOKFLOW_ENDPOINT_CONCURRENCY`) | (b) it is compared with | old rows | ingest posters | ingest alone |")
	p("|---|---|---|---|---|---|")
	p("| %d | %d | %s deliveries/s (%d deliveries, %d subscriptions) | %d events × %d subscriptions, %d deliveries, %d attempts, created %.0f h before | %d | %.0f s |",
		h.Held, h.EndpointConcurrency, num(r.EndToEnd.PerSecond), r.EndToEnd.Deliveries, r.EndToEnd.Subscriptions,
		ret.OldEvents, ret.IngestSubscriptions, ret.OldDeliveries, ret.OldAttempts, ret.OldAgeSeconds/3600, ret.IngestPosters, ret.IngestAloneSeconds)
	p("")
	p("| figure | value |")
	p("|---|---|")
	p("| posting K events → all K held (`waiting_reason = 'paused'`) | %.1f s (posting took %.1f s; %d attempts made while paused) |", h.HoldSeconds, h.PostSeconds, h.SentWhilePaused)
	p("| resume → all K delivered | %.1f s: **%s deliveries/s**, **%.2f ×** (b) (%d of %d delivered) |", h.DrainSeconds, num(h.DrainPerSecond), h.DrainOverEndToEnd, h.Delivered, h.Held)
	p("| inserting the old rows by SQL | %.1f s |", ret.InsertSeconds)
	p("| retention run: trigger → workflow done | %.1f s: %d events, %d deliveries, %d attempts deleted |", ret.DeleteSeconds, ret.DeletedEvents, ret.DeletedDeliveries, ret.DeletedAttempts)
	p("| (c) ingest alone, with the old rows in place | %s events/s over %.1f s |", num(ret.IngestAlonePerSecond), ret.IngestAloneSeconds)
	p("| (c) ingest while the retention run deletes | %s events/s over %.1f s: **%.2f ×** alone (%d rejected in all) |", num(ret.IngestDuringPerSecond), ret.IngestDuringSeconds, ret.IngestDuringOverAlone, ret.IngestRejected)
	p("")
	p("PostgreSQL bytes of events + deliveries + attempts (with indexes and TOAST), per delivery row. Deleted rows leave their space in the files, and a plain VACUUM (what autovacuum runs) only marks it free for new rows, so `pg_total_relation_size` is no measure of what the retention removed; the live rows' own bytes (`pg_column_size` of each row, no indexes or page overhead) show what the rows left still need. The rows after are the %d deliveries of the drain and its warm-up and those of the %d events ingested during the phase, which the retention keeps.",
		h.Held+1, ret.IngestedEvents)
	p("")
	p("| when | delivery rows | pg_total_relation_size | per delivery | live rows' own bytes | per delivery |")
	p("|---|---|---|---|---|---|")
	for _, row := range []struct {
		name string
		s    StorageSnapshot
	}{{"before (old rows in, vacuumed)", ret.Before}, {"after the retention run", ret.After}, {"after a plain VACUUM", ret.AfterVacuum}} {
		p("| %s | %d | %s MB | **%s** | %s MB | %s |", row.name, row.s.Deliveries, num(mb(row.s.TableBytes)), num(row.s.BytesPerDelivery),
			num(mb(row.s.LiveRowBytes)), num(row.s.LiveBytesPerDelivery))
	}
	p("")
	p("| target | goal | measured | status | by |")
	p("|---|---|---|---|---|")
	for _, t := range r.Targets {
		if strings.HasPrefix(t.Name, "(h)") {
			p("| %s | %s | %s | **%s** | %s |", t.Name, t.Goal, t.Measured, t.Status, t.By)
		}
	}
	p("")
}
