// Command bench measures hookflow's throughput, latency and footprint against the ceiling
// its Temporal server allows, and writes a Markdown report with a JSON twin.
//
//	go run ./bench -report bench/report.md            # the full run (make bench)
//	go run ./bench -smoke -report /tmp/smoke.md       # every figure, tiny sizes
//	go run ./bench -only h -report /tmp/h/report.md   # one phase (g, h, i, e, p or ab) alone
//
// It needs the local PostgreSQL (scripts/ensure-postgres.sh), bin/temporal (make
// temporal) and, for (p), bin/temporal-server (make temporal-server); it starts its own
// Temporal dev servers, in memory, its own PostgreSQL-backed Temporal server on fresh
// databases, and its own hookflow processes, each on a fresh database.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := cli(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		stop()
		os.Exit(1)
	}
}

func cli(ctx context.Context, args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	def := DefaultConfig()
	report := flags.String("report", "bench/report.md", "where to write the Markdown report; the JSON twin goes next to it with .json")
	n := flags.Int("n", def.Events, "events posted in (b)")
	m := flags.Int("m", def.Subscriptions, "subscriptions each event fans out to")
	k := flags.Int("k", def.Parked, "deliveries parked on backoff timers in (e); 0 parks what (b)'s rate parks in 2 minutes, at most 20000 (the issue's target is 100000)")
	ceiling := flags.Int("ceiling", def.CeilingWorkflows, "minimal workflows run for the ceiling (a)")
	latency := flags.Float64("latency-seconds", def.LatencyDuration.Seconds(), "how long (d) posts at half of (b)'s rate")
	ingest := flags.Float64("ingest-seconds", def.IngestDuration.Seconds(), "how long (c) posts")
	retryUnit := flags.Duration("retry-unit", 0, "hookflow's retry unit in (e); 0 picks one that outlasts parking K")
	hookflowBin := flags.String("hookflow", "", "hookflow binary to run; empty builds ./cmd/hookflow")
	baseline := flags.String("baseline", "", "another hookflow binary (the build before a change): (b) runs with it and with this build, interleaved, and the report compares them")
	profile := flags.String("profile", "", "write a CPU profile of hookflow during (b) here (needs HOOKFLOW_PPROF_ADDR support in cmd/hookflow)")
	hold := flags.Int("hold", def.Held, "deliveries a paused subscription holds, then drains on its resume, in (h)")
	retentionRows := flags.Int("retention-rows", def.RetentionRows, "old deliveries (h) inserts for its retention run to delete")
	healthAttempts := flags.Int("health-attempts", def.HealthAttempts, "attempts in the window of (i)'s subscription, whose page is timed")
	only := flags.String("only", "", "run only this phase and write its report (g: the noisy neighbour; h: drain after a pause and retention, after a (b) of -n events, 500 unless given; i: a busy subscription's page; o: sealed secrets, Ed25519 and fifo against (b); e: parking and drain, after a short (b) like h's; p: the rounds on PostgreSQL persistence; ab: the dev server's rounds and (d)); for working on one phase, not for the committed report")
	rounds := flags.Int("rounds", def.Rounds, "how many times (a), (a′) and (b) run in turn on each Temporal server; the report gives each figure's median and range")
	skipPostgresTemporal := flags.Bool("skip-postgres-temporal", false, "leave out (p), the rounds on the Temporal server with PostgreSQL persistence (which needs bin/temporal-server: make temporal-server)")
	temporalServer := flags.String("temporal-server", "", "the temporal-server binary of (p), with temporal-sql-tool and temporal-server-schema beside it; empty is bin/temporal-server")
	temporalMaxConns := flags.Int("temporal-max-conns", 0, fmt.Sprintf("maxConns (and maxIdleConns) per service of (p)'s default store, the visibility store's half that; 0 is a deployment's (%d): four services may each open that many", pgTemporalMaxConns))
	stickySizes := flags.String("sticky-cache-sizes", joinInts(def.StickyCacheSizes), "comma-separated worker sticky cache sizes (e) runs with again, besides the build's own, through HOOKFLOW_STICKY_CACHE_SIZE (skipped with a note when the build does not read it); empty runs none")
	readme := flags.String("readme", "", "a README whose generated performance section (between its bench markers) is rewritten from the report")
	smoke := flags.Bool("smoke", false, "tiny sizes (n=100, m=2, k=50, ceiling=50, hold=100, retention-rows=2000, health-attempts=2000): checks that the harness works, not how fast hookflow is")
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg := def
	if *smoke {
		cfg = SmokeConfig()
	}
	// Flags given explicitly override the sizes -smoke chose.
	var sizeErr error
	flags.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "n":
			cfg.Events = *n
		case "m":
			cfg.Subscriptions = *m
		case "k":
			cfg.Parked = *k
		case "ceiling":
			cfg.CeilingWorkflows = *ceiling
		case "latency-seconds":
			cfg.LatencyDuration = time.Duration(*latency * float64(time.Second))
		case "ingest-seconds":
			cfg.IngestDuration = time.Duration(*ingest * float64(time.Second))
		case "hold":
			cfg.Held = *hold
		case "retention-rows":
			cfg.RetentionRows = *retentionRows
		case "health-attempts":
			cfg.HealthAttempts = *healthAttempts
		case "rounds":
			cfg.Rounds = *rounds
		case "sticky-cache-sizes":
			cfg.StickyCacheSizes = nil
			for _, field := range strings.FieldsFunc(*stickySizes, func(r rune) bool { return r == ',' || r == ' ' }) {
				size, err := strconv.Atoi(field)
				if err != nil || size < 1 {
					sizeErr = fmt.Errorf("-sticky-cache-sizes: %q is not a positive size", field)
				}
				cfg.StickyCacheSizes = append(cfg.StickyCacheSizes, size)
			}
		}
	})
	if sizeErr != nil {
		return sizeErr
	}
	cfg.SkipPostgresTemporal, cfg.TemporalServerBinary, cfg.TemporalMaxConns = *skipPostgresTemporal, *temporalServer, *temporalMaxConns
	cfg.RetryUnit, cfg.HookflowBinary, cfg.ProfilePath, cfg.Progress = *retryUnit, *hookflowBin, *profile, stderr
	cfg.BaselineBinary = *baseline
	switch *only {
	case "", "g", "i", "o", "p", "ab":
	case "h", "e":
		n := false
		flags.Visit(func(f *flag.Flag) { n = n || f.Name == "n" })
		if !n {
			cfg.Events = min(cfg.Events, shortEndToEndEvents)
		}
	default:
		return fmt.Errorf("-only takes g, h, i, o, e, p or ab (the phases that run alone), got %q", *only)
	}
	cfg.Only = *only

	rep, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.write(*report); err != nil {
		return err
	}
	// A phase run alone leaves the README's figures, which summarize a full run, alone.
	if *readme != "" && cfg.Only == "" {
		if err := rep.updateReadme(*readme, *report); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "\n%s\nreport: %s\n", rep.summaryTable(), *report)
	return nil
}

func joinInts(values []int) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ",")
}
