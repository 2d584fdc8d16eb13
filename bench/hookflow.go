package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/temporaltest"
)

const adminKey = "bench-admin-key-0123456789"

// secretsKey seals signing secrets at rest, so the measured path decrypts them.
const secretsKey = "YmVuY2gtc2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2Q="

// buildHookflow compiles cmd/hookflow into dir, so the benchmark measures the working tree
// when no binary is named.
func buildHookflow(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "hookflow")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/hookflow/hookflow/cmd/hookflow")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build hookflow: %v\n%s", err, out)
	}
	return bin, nil
}

// fatalTB lets the benchmark program use storetest.CreateDatabase, which reports failure
// through tb.Fatalf: here that becomes a panic that createDatabase turns into an error.
type fatalTB struct {
	testing.TB
}

type fatalError struct{ msg string }

func (fatalTB) Helper() {}

func (fatalTB) Fatalf(format string, args ...any) {
	panic(fatalError{fmt.Sprintf(format, args...)})
}

// createDatabase makes a fresh database on the local PostgreSQL.
func createDatabase() (dsn string, drop func(), err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = errors.New(fe.msg)
		}
	}()
	dsn, drop = storetest.CreateDatabase(fatalTB{})
	return dsn, drop, nil
}

func databaseName(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	return path.Base(u.Path)
}

// hookflowOptions configure one hookflow process.
type hookflowOptions struct {
	Name            string
	Binary          string
	TemporalAddress string
	Namespace       string
	RetryUnit       time.Duration
	Env             []string
}

// hookflowProc is one `hookflow serve` (API and worker) with a database of its own.
type hookflowProc struct {
	Name   string
	URL    string
	DSN    string
	DB     *sqlx.DB
	cmd    *exec.Cmd
	drop   func()
	logs   *tailBuffer
	exited chan struct{}
}

func startHookflow(ctx context.Context, opts hookflowOptions) (*hookflowProc, error) {
	dsn, drop, err := createDatabase()
	if err != nil {
		return nil, err
	}
	p := &hookflowProc{Name: opts.Name, DSN: dsn, drop: drop, logs: &tailBuffer{}}
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		drop()
		return nil, err
	}
	p.URL = "http://" + addr
	p.cmd = exec.Command(opts.Binary, "serve")
	p.cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dsn,
		"TEMPORAL_ADDRESS="+opts.TemporalAddress,
		"TEMPORAL_NAMESPACE="+opts.Namespace,
		"HOOKFLOW_HTTP_ADDR="+addr,
		"HOOKFLOW_ADMIN_KEY="+adminKey,
		// Signing secrets are sealed at rest, as in a deployment.
		"HOOKFLOW_SECRETS_KEY="+secretsKey,
		"HOOKFLOW_ALLOW_PRIVATE_NETWORKS=true",
		"HOOKFLOW_INGEST_RATE_PER_SECOND=0",
		"HOOKFLOW_DISPATCH_SWEEP_INTERVAL=1s",
		"HOOKFLOW_LOG_LEVEL=warn",
		"HOOKFLOW_SHUTDOWN_TIMEOUT=5s",
		"HOOKFLOW_RETRY_UNIT="+opts.RetryUnit.String(),
	)
	p.cmd.Env = append(p.cmd.Env, opts.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// Should the benchmark die, its hookflow processes die with it instead of lingering on
	// a shared machine.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		drop()
		return nil, err
	}
	p.exited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	if p.DB, err = sqlx.Open("postgres", dsn); err != nil {
		p.stop()
		return nil, err
	}
	p.DB.SetMaxOpenConns(2)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s did not answer /healthz within 60s:\n%s", p.Name, p.logs.Tail(3000))
		}
		select {
		case <-p.exited:
			p.stop()
			return nil, fmt.Errorf("%s exited at start:\n%s", p.Name, p.logs.Tail(3000))
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is the hookflow process's id.
func (p *hookflowProc) PID() int { return p.cmd.Process.Pid }

// stop ends the process (SIGTERM, then SIGKILL) and drops its database.
func (p *hookflowProc) stop() {
	if p.cmd.Process != nil && p.exited != nil {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
		}
	}
	if p.DB != nil {
		p.DB.Close()
	}
	p.drop()
}

// countStatus counts the deliveries with a status.
func (p *hookflowProc) countStatus(ctx context.Context, status string) (int, error) {
	var n int
	err := p.DB.GetContext(ctx, &n, `SELECT count(*) FROM deliveries WHERE status = $1`, status)
	return n, err
}

// waitStatus polls until at least want deliveries have the status and returns when the
// poll saw it; the poll interval bounds the error of the measured time.
func (p *hookflowProc) waitStatus(ctx context.Context, status string, want int, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		n, err := p.countStatus(ctx, status)
		if err != nil {
			return time.Time{}, err
		}
		if n >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: %d of %d deliveries %s after %s:\n%s", p.Name, n, want, status, within, p.logs.Tail(2000))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-p.exited:
			return time.Time{}, fmt.Errorf("%s exited:\n%s", p.Name, p.logs.Tail(3000))
		case <-time.After(pollInterval):
		}
	}
}

const pollInterval = 50 * time.Millisecond

// apiClient talks to a hookflow API. Its transport keeps a connection per concurrent
// poster: the default two idle connections per host would make most requests open a
// new one, measuring TCP set-up instead of hookflow.
type apiClient struct {
	base string
	http *http.Client
}

func newAPIClient(base string) *apiClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 512
	return &apiClient{base: base, http: &http.Client{Transport: t, Timeout: 60 * time.Second}}
}

func (c *apiClient) do(ctx context.Context, method, path, key string, body any, want int, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, answer)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(answer, out)
}

// newAccount creates an account and returns its API key.
func (c *apiClient) newAccount(ctx context.Context, name string) (string, error) {
	var acc struct {
		APIKey string `json:"api_key"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/accounts", adminKey, map[string]any{"name": name}, http.StatusCreated, &acc)
	return acc.APIKey, err
}

// subscribe subscribes endpoint to every event type.
func (c *apiClient) subscribe(ctx context.Context, key, endpoint string) error {
	return c.do(ctx, http.MethodPost, "/v1/subscriptions", key,
		map[string]any{"url": endpoint, "event_types": []string{"*"}, "description": "benchmark"}, http.StatusCreated, nil)
}

// publish posts the i-th event and returns its id (the webhook-id of its deliveries).
func (c *apiClient) publish(ctx context.Context, key string, i int) (string, error) {
	var out struct {
		EventID string `json:"event_id"`
	}
	err := c.do(ctx, http.MethodPost, "/v1/events", key, benchEvent(i), http.StatusAccepted, &out)
	return out.EventID, err
}

// benchEvent is a typical small event: a promoter sign-up with a few fields.
func benchEvent(i int) map[string]any {
	return map[string]any{
		"event_type":  "promoter.created",
		"action":      "created",
		"entity_type": "promoter",
		"entity_id":   fmt.Sprint(i),
		"data": map[string]any{
			"email": fmt.Sprintf("promoter-%d@example.com", i), "name": fmt.Sprintf("Promoter %d", i),
			"campaign": "spring-referrals", "balance": 0, "plan": "pro",
		},
	}
}

// publishAll posts count events with bounded concurrency and returns their ids in order.
func (c *apiClient) publishAll(ctx context.Context, key string, count, concurrency int) ([]string, error) {
	ids := make([]string, count)
	err := postConcurrently(ctx, count, concurrency, func(i int) error {
		id, err := c.publish(ctx, key, i)
		ids[i] = id
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// postConcurrently calls post for 0 … count-1 from concurrency goroutines, stopping at the
// first error.
func postConcurrently(ctx context.Context, count, concurrency int, post func(i int) error) error {
	next := make(chan int)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := post(i); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range count {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// tailBuffer keeps a process's output for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailKeep = 64 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*tailKeep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-tailKeep:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := string(b.buf)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
