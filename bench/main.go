// Command bench measures hookflow's throughput, latency and footprint against the ceiling
// its Temporal server allows, and writes a Markdown report with a JSON twin.
//
//	go run ./bench -report bench/report.md            # the full run (make bench)
//	go run ./bench -smoke -report /tmp/smoke.md       # every figure, tiny sizes
//	go run ./bench -only h -report /tmp/h/report.md   # one phase (g or h) alone
//
// It needs the local PostgreSQL (scripts/ensure-postgres.sh) and bin/temporal (make
// temporal); it starts its own Temporal dev server, in memory, and its own hookflow
// processes, each on a fresh database.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	only := flags.String("only", "", "run only this phase and write its report (g: the noisy neighbour; h: drain after a pause and retention, after a (b) of -n events, 500 unless given); for working on one phase, not for the committed report")
	smoke := flags.Bool("smoke", false, "tiny sizes (n=100, m=2, k=50, ceiling=50, hold=100, retention-rows=2000): checks that the harness works, not how fast hookflow is")
	if err := flags.Parse(args); err != nil {
		return err
	}
	cfg := def
	if *smoke {
		cfg = SmokeConfig()
	}
	// Flags given explicitly override the sizes -smoke chose.
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
		}
	})
	cfg.RetryUnit, cfg.HookflowBinary, cfg.ProfilePath, cfg.Progress = *retryUnit, *hookflowBin, *profile, stderr
	cfg.BaselineBinary = *baseline
	switch *only {
	case "", "g":
	case "h":
		n := false
		flags.Visit(func(f *flag.Flag) { n = n || f.Name == "n" })
		if !n {
			cfg.Events = min(cfg.Events, shortEndToEndEvents)
		}
	default:
		return fmt.Errorf("-only takes g or h (the phases that run alone), got %q", *only)
	}
	cfg.Only = *only

	rep, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.write(*report); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "\n%s\nreport: %s\n", rep.summaryTable(), *report)
	return nil
}
