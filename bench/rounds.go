package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/hookflow/hookflow/temporaltest"
)

// Round is one pass of (a), (a′) and (b) on one Temporal server.
type Round struct {
	Ceiling       CeilingResult  `json:"a_ceiling"`
	ShapedCeiling CeilingResult  `json:"a_shaped_ceiling"`
	EndToEnd      EndToEndResult `json:"b_end_to_end"`
}

// Spread is one figure over the rounds: every value, their median and their range.
type Spread struct {
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

func newSpread(values []float64) Spread {
	if len(values) == 0 {
		return Spread{}
	}
	return Spread{Values: values, Median: median(values), Min: slices.Min(values), Max: slices.Max(values)}
}

// spreadOf is one figure of every round.
func spreadOf(rounds []Round, figure func(Round) float64) Spread {
	values := make([]float64, len(rounds))
	for i, r := range rounds {
		values[i] = figure(r)
	}
	return newSpread(values)
}

// RoundFigures are the figures of a server's rounds. The ratios are taken within each
// round, (b) over the (a) run just before it, so drift between rounds cancels; their
// median is the figure the targets use.
type RoundFigures struct {
	Rounds              int    `json:"rounds"`
	Ceiling             Spread `json:"a_workflows_per_second"`
	ShapedCeiling       Spread `json:"a_shaped_workflows_per_second"`
	EndToEnd            Spread `json:"b_deliveries_per_second"`
	EndToEndOverCeiling Spread `json:"b_over_a"`
	EndToEndOverShaped  Spread `json:"b_over_a_shaped"`
	ShapedOverCeiling   Spread `json:"a_shaped_over_a"`
	// CeilingTemporalMS is Temporal's CPU per ceiling workflow, its PostgreSQL's included
	// when it keeps its state there; ShapedTemporalMS the same in (a′).
	CeilingTemporalMS Spread `json:"a_temporal_cpu_ms"`
	ShapedTemporalMS  Spread `json:"a_shaped_temporal_cpu_ms"`
	// Per delivery in (b): hookflow's process, PostgreSQL's work for hookflow, Temporal
	// (with its PostgreSQL), the harness.
	HookflowMS         Spread `json:"b_hookflow_cpu_ms"`
	PostgresMS         Spread `json:"b_postgres_cpu_ms"`
	TemporalMS         Spread `json:"b_temporal_cpu_ms"`
	TemporalPostgresMS Spread `json:"b_temporal_postgres_cpu_ms"`
	BenchMS            Spread `json:"b_bench_cpu_ms"`
	TotalMS            Spread `json:"b_total_cpu_ms"`
	// OwnOverCeilingTemporal is hookflow's own CPU per delivery (its process and its
	// PostgreSQL) over Temporal's per ceiling workflow in the same round.
	OwnOverCeilingTemporal Spread `json:"b_own_cpu_over_a_temporal_cpu"`
	// History is the length of first-attempt deliveries' histories, the mean of each
	// round's sample.
	History Spread `json:"b_history_events"`
}

func roundFigures(rounds []Round) RoundFigures {
	temporalMS := func(c CPUPerDelivery) float64 { return c.Temporal + c.TemporalPostgres }
	return RoundFigures{
		Rounds:              len(rounds),
		Ceiling:             spreadOf(rounds, func(r Round) float64 { return r.Ceiling.PerSecond }),
		ShapedCeiling:       spreadOf(rounds, func(r Round) float64 { return r.ShapedCeiling.PerSecond }),
		EndToEnd:            spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.PerSecond }),
		EndToEndOverCeiling: spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.PerSecond / r.Ceiling.PerSecond }),
		EndToEndOverShaped:  spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.PerSecond / r.ShapedCeiling.PerSecond }),
		ShapedOverCeiling:   spreadOf(rounds, func(r Round) float64 { return r.ShapedCeiling.PerSecond / r.Ceiling.PerSecond }),
		CeilingTemporalMS:   spreadOf(rounds, func(r Round) float64 { return temporalMS(r.Ceiling.CPUPerWorkflow) }),
		ShapedTemporalMS:    spreadOf(rounds, func(r Round) float64 { return temporalMS(r.ShapedCeiling.CPUPerWorkflow) }),
		HookflowMS:          spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.CPUPerDelivery.Hookflow }),
		PostgresMS:          spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.CPUPerDelivery.Postgres }),
		TemporalMS:          spreadOf(rounds, func(r Round) float64 { return temporalMS(r.EndToEnd.CPUPerDelivery) }),
		TemporalPostgresMS:  spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.CPUPerDelivery.TemporalPostgres }),
		BenchMS:             spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.CPUPerDelivery.Bench }),
		TotalMS:             spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.CPUPerDelivery.Total }),
		OwnOverCeilingTemporal: spreadOf(rounds, func(r Round) float64 {
			// /proc counts CPU in 10 ms ticks: a tiny (a) can show none, and JSON has no
			// infinity.
			if temporalMS(r.Ceiling.CPUPerWorkflow) == 0 {
				return 0
			}
			return (r.EndToEnd.CPUPerDelivery.Hookflow + r.EndToEnd.CPUPerDelivery.Postgres) / temporalMS(r.Ceiling.CPUPerWorkflow)
		}),
		History: spreadOf(rounds, func(r Round) float64 { return r.EndToEnd.History.Mean }),
	}
}

// medianRound is the round whose figure is the median (the lower of the middle two when
// the count is even): the one whose details the report shows and whose (b) sizes the
// phases that follow.
func medianRound(rounds []Round, figure func(Round) float64) Round {
	order := slices.Clone(rounds)
	slices.SortStableFunc(order, func(a, b Round) int {
		fa, fb := figure(a), figure(b)
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		return 0
	})
	return order[(len(order)-1)/2]
}

// DeliveryHistory is the histories of a sample of first-attempt deliveries.
type DeliveryHistory struct {
	Sample int     `json:"sample"`
	Mean   float64 `json:"mean"`
	Min    int     `json:"min"`
	Max    int     `json:"max"`
	// Types are the event types of a sampled history of the most common length.
	Types []string `json:"types"`
}

func summarizeHistories(shapes []HistoryShape) DeliveryHistory {
	h := DeliveryHistory{Sample: len(shapes), Min: math.MaxInt}
	if len(shapes) == 0 {
		return DeliveryHistory{}
	}
	counts := map[int]int{}
	total := 0
	for _, s := range shapes {
		total += s.Events
		h.Min, h.Max = min(h.Min, s.Events), max(h.Max, s.Events)
		counts[s.Events]++
	}
	h.Mean = float64(total) / float64(len(shapes))
	mode := shapes[0].Events
	for n, c := range counts {
		if c > counts[mode] || (c == counts[mode] && n < mode) {
			mode = n
		}
	}
	for _, s := range shapes {
		if s.Events == mode {
			h.Types = s.Types
			break
		}
	}
	return h
}

// rounds runs (a), (a′) and (b) in turn, n times, on the server b.temporal names, so
// that whatever drifts over the run (other load on the shared machine, a server's tables
// growing) falls on all three alike. fresh, when set, replaces the server before each
// measurement so none pays for the closed workflows of the one before; namespace, when
// set, names each round's namespace for (b) on a server that stays. last runs on the
// last round's hookflow process, after every round is in.
func (b *bench) rounds(ctx context.Context, server string, n int, fresh func(context.Context) error, namespace func(round int) string,
	prof *profiler, last func(rounds []Round, hf *hookflowProc, api *apiClient, key string) error) ([]Round, error) {
	again := func() error {
		if fresh == nil {
			return nil
		}
		return fresh(ctx)
	}
	var rounds []Round
	for i := range n {
		var r Round
		var err error
		b.logf("round %d of %d on %s", i+1, n, server)
		if err := again(); err != nil {
			return nil, err
		}
		b.logf("(a) ceiling: %d minimal workflows", b.cfg.CeilingWorkflows)
		if r.Ceiling, err = b.ceiling(ctx, "(a)", ceilingShape{}); err != nil {
			return nil, err
		}
		if err := again(); err != nil {
			return nil, err
		}
		b.logf("(a') the ceiling with a delivery's shape: %+v", deliveryShape)
		if r.ShapedCeiling, err = b.ceiling(ctx, "(a')", deliveryShape); err != nil {
			return nil, err
		}
		if err := again(); err != nil {
			return nil, err
		}
		if namespace != nil {
			b.e2eNamespace = namespace(i)
		}
		var pprofAddr string
		var env []string
		if prof != nil {
			if pprofAddr, err = temporaltest.FreeAddr(); err != nil {
				return nil, err
			}
			env = append(env, "HOOKFLOW_PPROF_ADDR="+pprofAddr)
		}
		hf, api, key, err := b.warmHookflow(ctx, "hookflow (b)", b.binary, env)
		if err != nil {
			return nil, err
		}
		r.EndToEnd, err = b.measureEndToEnd(ctx, hf, api, key, pprofAddr, prof, r.Ceiling.PerSecond)
		if err == nil {
			r.EndToEnd.History, err = b.historyPerDelivery(ctx, hf)
		}
		if err != nil {
			hf.stop()
			return nil, err
		}
		e2e := r.EndToEnd
		b.logf("(b) %.1f deliveries/s (%.2f × (a)); CPU hookflow %.1fs temporal %.1fs (its PostgreSQL %.1fs) postgres %.1fs bench %.1fs over %.1fs",
			e2e.PerSecond, e2e.PerSecond/r.Ceiling.PerSecond, e2e.CPU.HookflowSeconds, e2e.CPU.TemporalSeconds, e2e.CPU.TemporalPostgresSeconds,
			e2e.CPU.PostgresSeconds, e2e.CPU.BenchSeconds, e2e.CPU.WallSeconds)
		rounds = append(rounds, r)
		if i == n-1 && last != nil {
			err = last(rounds, hf, api, key)
		}
		hf.stop()
		if err != nil {
			return nil, err
		}
	}
	return rounds, nil
}

// devServerRounds are the rounds on fresh in-memory dev servers; (d) runs on the last
// round's process at half the median (b).
func (b *bench) devServerRounds(ctx context.Context) error {
	var prof *profiler
	if b.cfg.ProfilePath != "" {
		prof = &profiler{path: b.cfg.ProfilePath}
	}
	rounds, err := b.rounds(ctx, "the dev server", b.cfg.Rounds, b.freshTemporal, nil, prof,
		func(rounds []Round, hf *hookflowProc, api *apiClient, key string) error {
			b.report.Rounds = rounds
			b.report.setMedianRounds()
			return b.latency(ctx, hf, api, key)
		})
	if err != nil {
		return err
	}
	b.report.Rounds = rounds
	b.report.setMedianRounds()
	b.report.Profile, err = prof.finish(b.report.EndToEnd.CPUPerDelivery.Hookflow)
	return err
}

// PostgresTemporalResult is (p): (a), (a′) and (b) against the Temporal server on
// PostgreSQL persistence, as a deployment runs it.
type PostgresTemporalResult struct {
	Setup         PostgresTemporalSetup `json:"setup"`
	Rounds        []Round               `json:"rounds"`
	Figures       RoundFigures          `json:"figures"`
	Ceiling       CeilingResult         `json:"a_ceiling"`
	ShapedCeiling CeilingResult         `json:"a_shaped_ceiling"`
	EndToEnd      EndToEndResult        `json:"b_end_to_end"`
	Profile       *ProfileSummary       `json:"profile,omitempty"`
}

// postgresTemporal is (p). One server serves every round: its databases are created and
// their schemas set up once per run, so later rounds find the workflows of the earlier
// ones in its tables, as a deployment's server would.
func (b *bench) postgresTemporal(ctx context.Context) error {
	// The dev server of the phase before is stopped: only one Temporal runs at a time.
	b.stopTemporal()
	// Each round's hookflow has a fresh database, whose delivery numbers (and so workflow
	// ids) start again from 1: each round gets a namespace of its own on the one server.
	namespaces := []string{"default"}
	for i := range b.cfg.Rounds {
		namespaces = append(namespaces, pgRoundNamespace(i))
	}
	t, err := b.startPGTemporal(ctx, b.cfg.TemporalServerBinary, cmp.Or(b.cfg.TemporalMaxConns, pgTemporalMaxConns), namespaces)
	if err != nil {
		return err
	}
	defer t.stop()
	res := &PostgresTemporalResult{Setup: t.setup}
	b.report.PostgresTemporal = res
	devTemporal, devPID := b.temporal, b.tempPID
	b.temporal, b.tempPID, b.temporalDBs = t.hostPort, t.pid(), []string{t.setup.Database, t.setup.Visibility}
	defer func() { b.temporal, b.tempPID, b.temporalDBs, b.e2eNamespace = devTemporal, devPID, nil, "" }()
	var prof *profiler
	if b.cfg.ProfilePath != "" {
		prof = &profiler{path: siblingPath(b.cfg.ProfilePath, "-postgres-temporal")}
	}
	if res.Rounds, err = b.rounds(ctx, "temporal-server on PostgreSQL", b.cfg.Rounds, nil, pgRoundNamespace, prof, nil); err != nil {
		return err
	}
	res.Figures = roundFigures(res.Rounds)
	res.Ceiling = medianRound(res.Rounds, func(r Round) float64 { return r.Ceiling.PerSecond }).Ceiling
	res.ShapedCeiling = medianRound(res.Rounds, func(r Round) float64 { return r.ShapedCeiling.PerSecond }).ShapedCeiling
	res.EndToEnd = medianRound(res.Rounds, func(r Round) float64 { return r.EndToEnd.PerSecond }).EndToEnd
	for _, r := range res.Rounds {
		res.Setup.PeakConnections = max(res.Setup.PeakConnections, r.EndToEnd.CPU.TemporalPostgresPeakConnections,
			r.Ceiling.CPU.TemporalPostgresPeakConnections, r.ShapedCeiling.CPU.TemporalPostgresPeakConnections)
	}
	if res.Profile, err = prof.finish(res.EndToEnd.CPUPerDelivery.Hookflow); err != nil {
		return err
	}
	b.logf("(p) on PostgreSQL: (a) %.1f /s, (b) %.1f /s, (b)/(a) %.2f (medians of %d rounds)", res.Figures.Ceiling.Median,
		res.Figures.EndToEnd.Median, res.Figures.EndToEndOverCeiling.Median, res.Figures.Rounds)
	return nil
}

func pgRoundNamespace(round int) string { return fmt.Sprintf("%s-p%d", namespaceEndToEnd, round+1) }

// endToEndNamespace is the namespace (b)'s hookflow uses.
func (b *bench) endToEndNamespace() string {
	if b.e2eNamespace != "" {
		return b.e2eNamespace
	}
	return namespaceEndToEnd
}

// setMedianRounds sets the single-run fields (a), (a′) and (b) to the median rounds.
func (r *Report) setMedianRounds() {
	if len(r.Rounds) == 0 {
		return
	}
	r.Ceiling = medianRound(r.Rounds, func(r Round) float64 { return r.Ceiling.PerSecond }).Ceiling
	r.ShapedCeiling = medianRound(r.Rounds, func(r Round) float64 { return r.ShapedCeiling.PerSecond }).ShapedCeiling
	r.EndToEnd = medianRound(r.Rounds, func(r Round) float64 { return r.EndToEnd.PerSecond }).EndToEnd
}

// describeRounds is a spread as the report prints it: the median, then the range.
func describeSpread(s Spread, unit string) string {
	if len(s.Values) <= 1 {
		return num(s.Median) + unit
	}
	return fmt.Sprintf("%s%s (%s–%s)", num(s.Median), unit, num(s.Min), num(s.Max))
}
