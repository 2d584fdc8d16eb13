package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// userHZ is the unit of the times in /proc/<pid>/stat. The kernel fixes it at 100 for the
// /proc ABI whatever its internal tick rate, so it need not be asked (which would need cgo).
const userHZ = 100

// procStat is what the benchmark reads of /proc/<pid>/stat.
type procStat struct {
	PPID int
	// CPU is utime+stime in seconds: the process's own CPU, not its reaped children's.
	CPU float64
}

func readProcStat(pid int) (procStat, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The command name may hold spaces and parentheses: fields are counted from the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+2:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return procStat{PPID: ppid, CPU: (utime + stime) / userHZ}, nil
}

func cpuSeconds(pid int) (float64, error) {
	st, err := readProcStat(pid)
	return st.CPU, err
}

// rssBytes is the resident set (VmRSS) of a process.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// findDevServerPID finds the Temporal dev server listening on port: the SDK's DevServer
// does not expose its process, and its command line names the port.
func findDevServerPID(port string) (int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, dir := range dirs {
		raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		startDev, portMatch := false, false
		for i, a := range args {
			startDev = startDev || a == "start-dev"
			portMatch = portMatch || (a == "--port" && i+1 < len(args) && args[i+1] == port)
		}
		if startDev && portMatch {
			return strconv.Atoi(filepath.Base(dir))
		}
	}
	return 0, fmt.Errorf("no Temporal dev server process on port %s", port)
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	Model      string `json:"model"`
	RAMBytes   int64  `json:"ram_bytes"`
	LoadAvg    string `json:"load_average_at_start"`
	GoVersion  string `json:"go_version"`
	PostgreSQL string `json:"postgresql"`
	Kernel     string `json:"kernel"`
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.Model = strings.TrimSpace(value)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.RAMBytes = kb << 10
			}
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	return m
}

// pgCPU accounts the CPU PostgreSQL spends for the databases of one measurement: the
// backends connected to hookflow's database, those connected to Temporal's (when Temporal
// keeps its state in PostgreSQL), and the server's shared processes (postmaster, WAL
// writer, checkpointer, background writer, autovacuum), which work for every database.
// Backends come and go (hookflow's pool, the dispatcher's LISTEN connection, Temporal's
// pools), so the set is sampled while the measurement runs and a backend that ends keeps
// the CPU it was last seen with.
type pgCPU struct {
	admin       *sqlx.DB
	hookflowDB  string
	temporalDBs []string

	mu         sync.Mutex
	postmaster int
	first      map[int]float64
	last       map[int]float64
	owner      map[int]pgOwner
	started    bool
	// peak is the most backends seen at once for each owner.
	peak map[pgOwner]int
}

// pgOwner is whom a PostgreSQL process works for.
type pgOwner int

const (
	ownerShared pgOwner = iota
	ownerHookflow
	ownerTemporal
)

// newPGCPU measures the backends of hookflowDB (empty: none) and of temporalDBs.
func newPGCPU(admin *sqlx.DB, hookflowDB string, temporalDBs ...string) *pgCPU {
	return &pgCPU{admin: admin, hookflowDB: hookflowDB, temporalDBs: temporalDBs,
		first: map[int]float64{}, last: map[int]float64{}, owner: map[int]pgOwner{}, peak: map[pgOwner]int{}}
}

func (p *pgCPU) pids(ctx context.Context) (map[int]pgOwner, error) {
	var rows []struct {
		PID      int    `db:"pid"`
		Database string `db:"datname"`
	}
	err := p.admin.SelectContext(ctx, &rows, `SELECT pid, COALESCE(datname, '') AS datname FROM pg_stat_activity
		WHERE datname = $1 OR datname = ANY($2) OR backend_type <> 'client backend'`, p.hookflowDB, pq.Array(p.temporalDBs))
	if err != nil {
		return nil, err
	}
	if p.postmaster == 0 {
		var self int
		if err := p.admin.GetContext(ctx, &self, `SELECT pg_backend_pid()`); err != nil {
			return nil, err
		}
		st, err := readProcStat(self)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL's processes are not readable here (is it on this machine?): %w", err)
		}
		p.postmaster = st.PPID
	}
	owners := map[int]pgOwner{p.postmaster: ownerShared}
	for _, r := range rows {
		switch {
		case r.Database != "" && r.Database == p.hookflowDB:
			owners[r.PID] = ownerHookflow
		case r.Database != "" && slices.Contains(p.temporalDBs, r.Database):
			owners[r.PID] = ownerTemporal
		default:
			owners[r.PID] = ownerShared
		}
	}
	return owners, nil
}

func (p *pgCPU) sample(ctx context.Context) error {
	owners, err := p.pids(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	count := map[pgOwner]int{}
	for pid, owner := range owners {
		cpu, err := cpuSeconds(pid)
		if err != nil {
			continue // ended between the query and the read
		}
		if _, seen := p.first[pid]; !seen {
			// A backend that appears mid-measurement started during it: all its CPU counts.
			if p.started {
				p.first[pid] = 0
			} else {
				p.first[pid] = cpu
			}
		}
		p.last[pid], p.owner[pid] = cpu, owner
		count[owner]++
	}
	for owner, n := range count {
		p.peak[owner] = max(p.peak[owner], n)
	}
	p.started = true
	return nil
}

// pgSplit is PostgreSQL's CPU over a measurement by whom it worked for.
type pgSplit struct {
	Hookflow, Temporal, Shared float64
}

func (p *pgCPU) split() pgSplit {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s pgSplit
	for pid, first := range p.first {
		d := p.last[pid] - first
		switch p.owner[pid] {
		case ownerHookflow:
			s.Hookflow += d
		case ownerTemporal:
			s.Temporal += d
		default:
			s.Shared += d
		}
	}
	return s
}

// apportion divides the shared processes' CPU between hookflow and Temporal in proportion
// to their backends' CPU: the WAL writer and the checkpointer work for whoever commits.
// With one of them absent (the ceiling's phases have no hookflow, the dev server keeps
// Temporal's state in memory) it all goes to the other.
func (s pgSplit) apportion(hookflowMeasured bool) (hookflow, temporal float64) {
	switch {
	case s.Hookflow+s.Temporal > 0:
		share := s.Hookflow / (s.Hookflow + s.Temporal)
		return s.Hookflow + share*s.Shared, s.Temporal + (1-share)*s.Shared
	case hookflowMeasured:
		return s.Shared, 0
	default:
		return 0, s.Shared
	}
}

// cpuWindow measures the CPU of the benchmark's processes over one phase; a zero
// hookflowPID or a nil pg leaves that process out (the ceiling runs without them).
type cpuWindow struct {
	hookflowPID, temporalPID int
	pg                       *pgCPU
	start                    time.Time
	hookflow0, temporal0     float64
	self0                    float64
	stop                     chan struct{}
	done                     chan struct{}
}

func startCPUWindow(ctx context.Context, hookflowPID, temporalPID int, pg *pgCPU) (*cpuWindow, error) {
	w := &cpuWindow{hookflowPID: hookflowPID, temporalPID: temporalPID, pg: pg, stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if hookflowPID != 0 {
		if w.hookflow0, err = cpuSeconds(hookflowPID); err != nil {
			return nil, err
		}
	}
	if w.temporal0, err = cpuSeconds(temporalPID); err != nil {
		return nil, err
	}
	if w.self0, err = cpuSeconds(os.Getpid()); err != nil {
		return nil, err
	}
	if pg != nil {
		if err := pg.sample(ctx); err != nil {
			return nil, err
		}
	}
	w.start = time.Now()
	go func() {
		defer close(w.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if pg != nil {
					_ = pg.sample(ctx)
				}
			}
		}
	}()
	return w, nil
}

// CPUSplit is the CPU each process used during a phase.
type CPUSplit struct {
	WallSeconds     float64 `json:"wall_seconds"`
	HookflowSeconds float64 `json:"hookflow_cpu_seconds"`
	TemporalSeconds float64 `json:"temporal_cpu_seconds"`
	// PostgresSeconds is PostgreSQL's work for hookflow: its database's backends and its
	// share of the shared processes (pgSplit.apportion).
	PostgresSeconds float64 `json:"postgres_cpu_seconds"`
	// TemporalPostgresSeconds is PostgreSQL's work for Temporal when Temporal keeps its
	// state there: its databases' backends and their share of the shared processes.
	TemporalPostgresSeconds float64 `json:"temporal_postgres_cpu_seconds"`
	// PostgresSharedSeconds is the shared processes' CPU, already within the two above.
	PostgresSharedSeconds float64 `json:"postgres_shared_cpu_seconds"`
	// TemporalPostgresPeakConnections is the most backends of Temporal's databases seen
	// at once.
	TemporalPostgresPeakConnections int `json:"temporal_postgres_peak_connections,omitempty"`
	// BenchSeconds is this harness: the event posters and the receiver.
	BenchSeconds float64 `json:"bench_cpu_seconds"`
}

// Total is the CPU of every process together.
func (s CPUSplit) Total() float64 {
	return s.HookflowSeconds + s.TemporalSeconds + s.PostgresSeconds + s.TemporalPostgresSeconds + s.BenchSeconds
}

func (w *cpuWindow) finish(ctx context.Context) (CPUSplit, error) {
	close(w.stop)
	<-w.done
	split := CPUSplit{WallSeconds: time.Since(w.start).Seconds()}
	if w.pg != nil {
		if err := w.pg.sample(ctx); err != nil {
			return split, err
		}
		pg := w.pg.split()
		split.PostgresSeconds, split.TemporalPostgresSeconds = pg.apportion(w.pg.hookflowDB != "")
		split.PostgresSharedSeconds = pg.Shared
		w.pg.mu.Lock()
		split.TemporalPostgresPeakConnections = w.pg.peak[ownerTemporal]
		w.pg.mu.Unlock()
	}
	if w.hookflowPID != 0 {
		h, err := cpuSeconds(w.hookflowPID)
		if err != nil {
			return split, err
		}
		split.HookflowSeconds = h - w.hookflow0
	}
	t, err := cpuSeconds(w.temporalPID)
	if err != nil {
		return split, err
	}
	self, err := cpuSeconds(os.Getpid())
	if err != nil {
		return split, err
	}
	split.TemporalSeconds, split.BenchSeconds = t-w.temporal0, self-w.self0
	return split, nil
}
