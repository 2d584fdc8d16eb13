package main

import (
	"fmt"
	"strings"
)

// roundsTable prints every round of one server, the medians and ranges below them.
func roundsTable(p func(format string, args ...any), rounds []Round, rf RoundFigures) {
	p("| round | (a) /s | (a′) /s | (b) /s | (b) / (a) | (b) / (a′) | Temporal CPU ms per (a) workflow | hookflow + its PostgreSQL ms per delivery | own CPU / Temporal's per (a) workflow | history events (first-attempt deliveries) |")
	p("|---|---|---|---|---|---|---|---|---|---|")
	for i, r := range rounds {
		e := r.EndToEnd
		p("| %d | %s | %s | %s | %.2f | %.2f | %s | %s | %.3f | %s (%d–%d of %d) |", i+1, num(r.Ceiling.PerSecond), num(r.ShapedCeiling.PerSecond), num(e.PerSecond),
			e.PerSecond/r.Ceiling.PerSecond, e.PerSecond/r.ShapedCeiling.PerSecond,
			num(r.Ceiling.CPUPerWorkflow.Temporal+r.Ceiling.CPUPerWorkflow.TemporalPostgres),
			num(e.CPUPerDelivery.Hookflow+e.CPUPerDelivery.Postgres), rf.OwnOverCeilingTemporal.Values[i],
			num(e.History.Mean), e.History.Min, e.History.Max, e.History.Sample)
	}
	ownMS := make([]float64, len(rounds))
	for i, r := range rounds {
		ownMS[i] = r.EndToEnd.CPUPerDelivery.Hookflow + r.EndToEnd.CPUPerDelivery.Postgres
	}
	p("| **median** (min–max) | **%s** | **%s** | **%s** | **%s** | %s | %s | %s | **%s** | %s |",
		describeSpread(rf.Ceiling, ""), describeSpread(rf.ShapedCeiling, ""), describeSpread(rf.EndToEnd, ""),
		describeSpread(rf.EndToEndOverCeiling, ""), describeSpread(rf.EndToEndOverShaped, ""), describeSpread(rf.CeilingTemporalMS, ""),
		describeSpread(newSpread(ownMS), ""), describeSpread(rf.OwnOverCeilingTemporal, ""), describeSpread(rf.History, ""))
}

// roundsSection is the dev server's rounds.
func (r Report) roundsSection(p func(format string, args ...any)) {
	p("## (a), (a′) and (b), round by round")
	p("")
	p("%d rounds in turn (a, a′, b, a, a′, b, …), each run on a fresh dev server; the ratios are taken within a round, then their median. The spread is the range (min–max) of the rounds.", len(r.Rounds))
	p("")
	roundsTable(p, r.Rounds, r.Repeated)
	p("")
}

// postgresTemporalSection is (p).
func (r Report) postgresTemporalSection(p func(format string, args ...any)) {
	pt := r.PostgresTemporal
	if pt == nil {
		return
	}
	s := pt.Setup
	p("## (p) (a), (a′) and (b) on PostgreSQL persistence")
	p("")
	p("The Temporal server as a deployment runs it: `temporal-server` %s (the server the pinned Temporal CLI embeds, built from tools/temporal-server), its state in PostgreSQL (`postgres12` driver) and its advanced visibility too, which holds hookflow's search attributes, on the same local PostgreSQL as hookflow. One process runs the frontend, history, matching and worker services. The databases %s and %s were created for this run and their schemas set up by `temporal-sql-tool` (setup-schema, then update-schema from the server's own schema/postgresql/v12, to versions %s and %s) in %.1f s; the server answered with its namespaces and search attributes %.1f s after it started. Temporal's dynamic settings are its defaults (no dynamic config file). One server serves every round, so later rounds find the earlier rounds' workflows in its tables, as a deployment's would.",
		s.Version, s.Database, s.Visibility, s.SchemaVersion, s.VisibilitySchemaVersion, s.SetupSeconds, s.StartSeconds)
	p("")
	p("| history shards | maxConns (maxIdleConns) per service, default store | maxConns per service, visibility store | Temporal's backends at most, seen | PostgreSQL max_connections (shared with hookflow and the machine) |")
	p("|---|---|---|---|---|")
	p("| %d | %d (%d) | %d | %d | %d |", s.HistoryShards, s.MaxConns, s.MaxIdleConns, s.VisibilityMaxConns, s.PeakConnections, s.MaxConnections)
	p("")
	roundsTable(p, pt.Rounds, pt.Figures)
	p("")
	if r.Repeated.Ceiling.Median > 0 && r.Repeated.EndToEnd.Median > 0 {
		p("Against the dev server (medians): (a) %.2f ×, (b) %.2f ×.", pt.Figures.Ceiling.Median/r.Repeated.Ceiling.Median, pt.Figures.EndToEnd.Median/r.Repeated.EndToEnd.Median)
		p("")
	}
}

// cpuSection splits (b)'s CPU by process on each server and names the largest costs in
// hookflow's profile.
func (r Report) cpuSection(p func(format string, args ...any)) {
	rf, pt := r.Repeated, r.PostgresTemporal
	p("## What bounds (b): CPU per delivery by process, and hookflow's profile")
	p("")
	p("utime + stime from `/proc/<pid>/stat` over each measurement, per delivery in (b) and per workflow in (a): the median of the rounds (min–max). PostgreSQL's processes are read from /proc too: the backends of each database, and the shared processes (postmaster, WAL writer, checkpointer, background writer, autovacuum) divided in proportion to the backends' CPU. In (a) the worker runs inside the harness, so its CPU is on the harness row.")
	p("")
	header := "| process | (b) dev server, ms per delivery | (a) dev server, ms per workflow |"
	rule := "|---|---|---|"
	if pt != nil {
		header += " (b) PostgreSQL persistence, ms per delivery | (a) PostgreSQL persistence, ms per workflow |"
		rule += "---|---|"
	}
	p("%s", header)
	p("%s", rule)
	spreads := func(rounds []Round, f func(CPUPerDelivery) float64, inCeiling bool) string {
		b := describeSpread(spreadOf(rounds, func(r Round) float64 { return f(r.EndToEnd.CPUPerDelivery) }), "")
		a := "–"
		if inCeiling {
			a = describeSpread(spreadOf(rounds, func(r Round) float64 { return f(r.Ceiling.CPUPerWorkflow) }), "")
		}
		return b + " | " + a
	}
	row := func(name string, f func(CPUPerDelivery) float64, inCeiling bool) {
		line := fmt.Sprintf("| %s | %s |", name, spreads(r.Rounds, f, inCeiling))
		if pt != nil {
			line += fmt.Sprintf(" %s |", spreads(pt.Rounds, f, inCeiling))
		}
		p("%s", line)
	}
	row("hookflow", func(c CPUPerDelivery) float64 { return c.Hookflow }, false)
	row("PostgreSQL for hookflow", func(c CPUPerDelivery) float64 { return c.Postgres }, false)
	row("Temporal server process", func(c CPUPerDelivery) float64 { return c.Temporal }, true)
	row("PostgreSQL for Temporal", func(c CPUPerDelivery) float64 { return c.TemporalPostgres }, true)
	row("harness (posters, receiver; in (a) also the worker)", func(c CPUPerDelivery) float64 { return c.Bench }, true)
	row("total", func(c CPUPerDelivery) float64 { return c.Total }, true)
	p("")
	own := func(name string, f RoundFigures) {
		p("- %s: hookflow's own CPU per delivery (its process and its PostgreSQL) is %s ms against Temporal's %s ms per ceiling workflow (its PostgreSQL included): **%s ×** (median of the rounds' ratios; target ≤ %.2f).",
			name, num(f.HookflowMS.Median+f.PostgresMS.Median), num(f.CeilingTemporalMS.Median), describeSpread(f.OwnOverCeilingTemporal, ""), goalOwnCPUShare)
	}
	own("Dev server", rf)
	if pt != nil {
		own("PostgreSQL persistence", pt.Figures)
	}
	p("")
	r.profileTable(p, "dev server", r.Profile)
	if pt != nil {
		r.profileTable(p, "PostgreSQL persistence", pt.Profile)
	}
}

// profileTable is hookflow's CPU by package area on one server.
func (r Report) profileTable(p func(format string, args ...any), server string, s *ProfileSummary) {
	p("### hookflow's CPU profile, %s", server)
	p("")
	if s == nil || len(s.Areas) == 0 {
		note := "not taken (run with -profile)"
		if s != nil && s.Note != "" {
			note = s.Note
		}
		p("No profile: %s.", note)
		p("")
		return
	}
	where := "kept in memory only"
	if s.Path != "" {
		where = fmt.Sprintf("`%s` (`go tool pprof -top %s`)", s.Path, s.Path)
	}
	p("The CPU profiles of the %d (b) rounds (%v s each, from the start of (b)), merged: %.1f CPU-seconds of samples, %s. Each sample is charged to the innermost frame on its stack that belongs to a named area (standard library and other frames, such as JSON encoding, allocation, syscalls, go to their caller), so the shares add up to 100%%; ms per delivery applies a share to hookflow's measured CPU per delivery (the median round's). Cumulative is the share of samples with the area anywhere on the stack.",
		s.Rounds, s.Seconds, s.Samples, where)
	p("")
	var top []string
	for _, a := range s.topAreas(3) {
		top = append(top, fmt.Sprintf("%s (%.0f%%, %s ms per delivery)", a.Area, a.Flat*100, num(a.MSPerDelivery)))
	}
	p("The three largest costs: %s.", strings.Join(top, "; "))
	p("")
	p("| area | share of hookflow's CPU | ms per delivery | cumulative | hottest function (share of all) |")
	p("|---|---|---|---|---|")
	for _, a := range s.Areas {
		if a.Flat < 0.005 && a.Cum < 0.05 {
			continue
		}
		top := "– (only outer frames: its callees are charged to their own areas)"
		if a.Top != "" {
			top = fmt.Sprintf("`%s` (%.1f%%)", a.Top, a.TopShare*100)
		}
		p("| %s | %.1f%% | %s | %.0f%% | %s |", a.Area, a.Flat*100, num(a.MSPerDelivery), a.Cum*100, top)
	}
	p("")
}

// parkedSection adds (e)'s drain and its sticky cache to the report.
func (r Report) parkedSection(p func(format string, args ...any)) {
	e := r.Parked
	p("## (e) Drain after the outage, and the sticky cache")
	p("")
	p("The first retries come due one retry unit after each delivery parked, so they come due at the pace the deliveries parked; a worker that keeps up drains at that pace. The drain runs from the first to the last successful retry. The sticky cache figures are the Temporal SDK's, from hookflow's `/metrics`: a miss is a workflow task whose workflow the cache no longer held, so the worker fetched and replayed its history.")
	p("")
	p("| sticky cache size | K | parking rate | drain rate | drain / parking | cache with K parked | hits, misses, forced evictions during the drain | hookflow RSS with K parked |")
	p("|---|---|---|---|---|---|---|---|")
	line := func(x ParkedResult) {
		size := fmt.Sprintf("%d (the build's)", stickyCacheDefaults)
		if x.StickyCacheSize > 0 {
			size = fmt.Sprint(x.StickyCacheSize)
		}
		c := x.StickyCacheDuringDrain
		p("| %s | %d | %s /s | %s /s | **%.2f** | %.0f | %.0f, %.0f, %.0f | %s MB |", size, x.Parked, num(x.ParkPerSecond), num(x.RecoveryPerSecond), x.DrainOverPark,
			x.StickyCacheParked, c.Hits, c.Misses, c.ForcedEviction, num(mb(x.RSSParkedBytes)))
	}
	line(e)
	for _, x := range e.StickyRuns {
		line(x)
	}
	p("")
	if e.StickyCacheNote != "" {
		p("Other sizes: %s.", e.StickyCacheNote)
		p("")
	}
}

// describeShape says what a ceiling shape adds to the minimal workflow.
func describeShape(s ceilingShape) string {
	var parts []string
	if s.SearchAttributes {
		parts = append(parts, "four search attributes at start")
	}
	if s.StatusUpsert {
		parts = append(parts, "one status upsert")
	}
	if s.ExtraLocalActivities > 0 {
		parts = append(parts, map[bool]string{true: "a second local activity", false: fmt.Sprintf("%d more local activities", s.ExtraLocalActivities)}[s.ExtraLocalActivities == 1])
	}
	if len(parts) == 0 {
		return "nothing more"
	}
	return strings.Join(parts, ", ")
}

func minHistory(rounds []Round) int {
	low := 0
	for i, r := range rounds {
		if i == 0 || r.EndToEnd.History.Min < low {
			low = r.EndToEnd.History.Min
		}
	}
	return low
}

func maxHistory(rounds []Round) int {
	high := 0
	for _, r := range rounds {
		high = max(high, r.EndToEnd.History.Max)
	}
	return high
}
