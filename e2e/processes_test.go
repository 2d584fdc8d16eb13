package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow/temporaltest"
)

// proc is a second hookflow process next to an App: the same environment (database,
// Temporal namespace, settings) but its own HOOKFLOW_HTTP_ADDR, so the test can run the
// API and the worker apart and kill one of them.
type proc struct {
	t      *testing.T
	args   []string
	env    []string
	URL    string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
}

// startWorker runs `hookflow serve --worker` beside app and waits for its probes.
func startWorker(t *testing.T, app *App) *proc {
	t.Helper()
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	env := append(append([]string(nil), app.env...), "HOOKFLOW_HTTP_ADDR="+addr)
	p := &proc{t: t, args: []string{"serve", "--worker"}, env: env, URL: "http://" + addr, logs: &syncBuffer{}}
	p.Start()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("worker log:\n%s", p.logs.Tail(8000))
		}
	})
	return p
}

// Start runs the process (again) and waits until /healthz answers.
func (p *proc) Start() {
	p.t.Helper()
	p.cmd = exec.Command(binary, p.args...)
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.exited)
	if err := waitProbe(p.URL, "/healthz", p.exited, 30*time.Second); err != nil {
		p.t.Fatalf("%v:\n%s", err, p.logs.Tail(4000))
	}
}

// Kill ends the process with SIGKILL: no shutdown code runs.
func (p *proc) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
}

// Stop sends SIGTERM and waits, killing the process if it takes longer than 20 s.
func (p *proc) Stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitProbe polls a probe (/healthz or /readyz) of the hookflow at url until it answers 200.
func waitProbe(url, probe string, exited <-chan struct{}, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url + probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("hookflow exited at start")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("hookflow did not answer %s within %s", probe, within)
}

// PID is the process id of the running hookflow process.
func (a *App) PID() int { return a.cmd.Process.Pid }

// rssMB reads the resident set size of a process from /proc, in MiB.
func rssMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", rest, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// privateTemporal starts an in-memory dev server for this test alone, so a test that
// breaks things disturbs no other and takes none of the shared server's namespaces. (A
// test that stops Temporal itself uses startOwnTemporal, whose state is on disk.)
func privateTemporal(t *testing.T) string {
	t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), temporaltest.Wait)
	defer cancel()
	srv, err := temporaltest.Start(ctx, temporaltest.Options{})
	if err != nil {
		t.Fatalf("start Temporal: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	t.Logf("private Temporal dev server at %s started in %s", srv.FrontendHostPort(), time.Since(began).Round(time.Millisecond))
	return srv.FrontendHostPort()
}

// privatePostgres is a PostgreSQL server of one test, which it stops and starts at will.
// The machine's shared server is never touched. PostgreSQL refuses to run as root, so
// its files belong to the postgres OS user and its programs run under that user.
type privatePostgres struct {
	t    *testing.T
	bin  string
	dir  string
	port string
	cred *syscall.Credential
	DSN  string
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the postgres OS user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir: its parent is private to root, and the server must reach its files.
	dir, err := os.MkdirTemp("", "hookflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	p := &privatePostgres{t: t, bin: bin, dir: dir, port: port,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)},
		DSN:  "postgres://postgres@127.0.0.1:" + port + "/hookflow?sslmode=disable"}
	t.Cleanup(func() {
		_ = p.run("pg_ctl", "-D", p.data(), "-m", "immediate", "-w", "stop")
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(p.dir, "postgres.log")); err == nil {
				t.Logf("private PostgreSQL log (tail):\n%s", tail(string(log), 4000))
			}
		}
		os.RemoveAll(dir)
	})
	if err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions"); err != nil {
		t.Fatal(err)
	}
	p.Start()
	admin, err := sql.Open("postgres", "postgres://postgres@127.0.0.1:"+port+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE hookflow"); err != nil {
		t.Fatalf("create database on the private server: %v", err)
	}
	return p
}

func (p *privatePostgres) data() string { return filepath.Join(p.dir, "data") }

// Start starts the server and waits until it accepts connections.
func (p *privatePostgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.port, p.dir)
	if err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		p.t.Fatal(err)
	}
}

// Stop shuts the server down the way an operator restarting it would: sessions are
// terminated, the server exits cleanly.
func (p *privatePostgres) Stop() {
	p.t.Helper()
	if err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		p.t.Fatal(err)
	}
}

func (p *privatePostgres) run(program string, args ...string) error {
	cmd := exec.Command(filepath.Join(p.bin, program), args...)
	cmd.Dir = p.dir
	cmd.Env = []string{"PATH=" + p.bin + ":/usr/bin:/bin", "LANG=C", "HOME=" + p.dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	// Output to a file, not a pipe: the server pg_ctl starts outlives it and would hold
	// a pipe open.
	out, err := os.CreateTemp("", "hookflow-pg-cmd-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		text, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %v\n%s", program, strings.Join(args, " "), err, text)
	}
	return nil
}

// postgresBin finds the newest installed PostgreSQL's programs.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("no PostgreSQL server programs in /usr/lib/postgresql/*/bin")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// tally is an endpoint that counts requests per (path, webhook-id), so a test can tell
// which deliveries arrived and how many arrived more than once. Each path can answer
// after a delay and fail a delivery's first requests.
type tally struct {
	*httptest.Server
	mu        sync.Mutex
	seen      map[string]int
	requests  int
	answered  int
	delay     time.Duration
	failFirst map[string]int // path → how many requests of each delivery fail with 500
}

func newTally(t *testing.T, delay time.Duration) *tally {
	r := &tally{seen: map[string]int{}, delay: delay, failFirst: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *tally) serve(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	key := req.URL.Path + " " + req.Header.Get("Webhook-Id")
	r.mu.Lock()
	r.requests++
	r.seen[key]++
	n := r.seen[key]
	fail := n <= r.failFirst[req.URL.Path]
	r.mu.Unlock()
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-req.Context().Done():
			return
		}
	}
	code := http.StatusOK
	if fail {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code)))
	r.mu.Lock()
	r.answered++
	r.mu.Unlock()
}

// counts returns how many requests arrived, how many were answered, and how many
// distinct (path, webhook-id) pairs they carried.
func (r *tally) counts() (requests, answered, distinct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests, r.answered, len(r.seen)
}

// got reports how many requests carried this path and webhook-id.
func (r *tally) got(path, webhookID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[path+" "+webhookID]
}

// apiCall is one API request made off the test goroutine, so it reports instead of
// failing the test.
type apiCall struct {
	Status int
	Body   []byte
	Took   time.Duration
	Err    error
}

func callAPI(client *http.Client, method, url, key string, body any) apiCall {
	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return apiCall{Err: err}
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, reader)
	if err != nil {
		return apiCall{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	began := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return apiCall{Err: err, Took: time.Since(began)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return apiCall{Status: resp.StatusCode, Body: raw, Took: time.Since(began), Err: err}
}

// deliveryProgress counts the deliveries of the database by status.
func deliveryProgress(db *sqlx.DB) (map[string]int, int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.Select(&rows, `SELECT status, count(*) AS n FROM deliveries GROUP BY status`); err != nil {
		return nil, 0, err
	}
	by, total := map[string]int{}, 0
	for _, r := range rows {
		by[r.Status] = r.N
		total += r.N
	}
	return by, total, nil
}

// waitDelivered polls the database until want deliveries are delivered. Database errors
// count as not yet (the database may be coming back). It returns how long it waited.
func waitDelivered(t *testing.T, db *sqlx.DB, want int, within time.Duration, logs func() string) time.Duration {
	t.Helper()
	began := time.Now()
	deadline := began.Add(within)
	var by map[string]int
	var lastErr error
	for {
		var err error
		by, _, err = deliveryProgress(db)
		if err != nil {
			lastErr = err
		} else if by["delivered"] >= want {
			return time.Since(began)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: deliveries by status %v, want %d delivered (last error %v)\nlog:\n%s", within, by, want, lastErr, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recordStats sums up the delivery records checked by checkRecords.
type recordStats struct {
	Deliveries  int
	Attempts    int
	MaxAttempts int
	Retried     int // deliveries that needed more than one attempt
}

// checkRecords reads the deliveries and attempts tables directly and checks that every
// delivery is delivered with a complete, consistent record: attempt rows numbered 1..n
// without gaps or repeats, deliveries.attempts = n, only the last attempt a 2xx, and the
// delivery's response code and delivered_at taken from it.
func checkRecords(t *testing.T, db *sqlx.DB) recordStats {
	t.Helper()
	var deliveries []struct {
		ID           string        `db:"id"`
		Status       string        `db:"status"`
		Attempts     int           `db:"attempts"`
		ResponseCode sql.NullInt64 `db:"response_code"`
		DeliveredAt  sql.NullTime  `db:"delivered_at"`
	}
	if err := db.Select(&deliveries, `SELECT id, status, attempts, response_code, delivered_at FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	var attempts []struct {
		DeliveryID   string        `db:"delivery_id"`
		Number       int           `db:"number"`
		ResponseCode sql.NullInt64 `db:"response_code"`
	}
	if err := db.Select(&attempts, `SELECT delivery_id, number, response_code FROM attempts ORDER BY delivery_id, number`); err != nil {
		t.Fatal(err)
	}
	byDelivery := map[string][]int{}
	codes := map[string][]sql.NullInt64{}
	for _, a := range attempts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], a.Number)
		codes[a.DeliveryID] = append(codes[a.DeliveryID], a.ResponseCode)
	}
	stats := recordStats{Deliveries: len(deliveries), Attempts: len(attempts)}
	bad := 0
	for _, d := range deliveries {
		numbers := byDelivery[d.ID]
		var problems []string
		for i, n := range numbers {
			if n != i+1 {
				problems = append(problems, fmt.Sprintf("attempt numbers %v are not 1..%d", numbers, len(numbers)))
				break
			}
		}
		n := len(numbers)
		if d.Status != "delivered" {
			problems = append(problems, "status "+d.Status)
		}
		if n == 0 {
			problems = append(problems, "no attempt rows")
		} else {
			last := codes[d.ID][n-1]
			if d.Attempts != numbers[n-1] || d.Attempts != n {
				problems = append(problems, fmt.Sprintf("deliveries.attempts = %d, attempt rows %d, highest number %d", d.Attempts, n, numbers[n-1]))
			}
			if !last.Valid || last.Int64 < 200 || last.Int64 > 299 {
				problems = append(problems, fmt.Sprintf("last attempt's code %v is not a 2xx", last))
			}
			if d.ResponseCode != last {
				problems = append(problems, fmt.Sprintf("response_code %v differs from the last attempt's %v", d.ResponseCode, last))
			}
			for i, c := range codes[d.ID][:n-1] {
				if c.Valid && c.Int64 >= 200 && c.Int64 <= 299 {
					problems = append(problems, fmt.Sprintf("attempt %d succeeded (%d) yet another followed", i+1, c.Int64))
				}
			}
		}
		if !d.DeliveredAt.Valid {
			problems = append(problems, "delivered_at not set")
		}
		if len(problems) > 0 {
			bad++
			if bad <= 10 {
				t.Errorf("delivery %s: %s", d.ID, strings.Join(problems, "; "))
			}
		}
		stats.MaxAttempts = max(stats.MaxAttempts, n)
		if n > 1 {
			stats.Retried++
		}
	}
	if bad > 10 {
		t.Errorf("... %d deliveries in all have an inconsistent record", bad)
	}
	return stats
}
