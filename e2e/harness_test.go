// Package e2e runs hookflow as a real process against a real Temporal dev server, a real
// PostgreSQL and real HTTP endpoints, and checks what users see through the API.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/api/openapitest"
	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/temporaltest"
)

const adminKey = "e2e-admin-key-0123456789"

// secretsKey seals the signing secrets of every hookflow the tests start.
const secretsKey = "ZTJlLXNlY3JldHMta2V5LTAxMjM0NTY3ODlhYmNkZWY="

// apiDoc checks exchanges against the served OpenAPI document.
var apiDoc = sync.OnceValues(openapitest.New)

var (
	binary    string // the hookflow binary under test
	temporal  *testsuite.DevServer
	nsCounter atomic.Int32
)

const namespaces = 48

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hookflow-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "hookflow")
	build := exec.Command("go", "build", "-o", binary, "../cmd/hookflow")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hookflow:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), temporaltest.Wait)
	defer cancel()
	var names []string
	for i := 0; i < namespaces; i++ {
		names = append(names, fmt.Sprintf("e2e-%d", i))
	}
	temporal, err = temporaltest.Start(ctx, temporaltest.Options{Namespaces: names})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start Temporal dev server:", err)
		return 1
	}
	defer temporal.Stop()
	defer writeReliabilityReport()
	return m.Run()
}

// nextNamespace gives each hookflow instance a namespace of its own on the shared server.
func nextNamespace(t *testing.T) string {
	n := nsCounter.Add(1) - 1
	if n >= namespaces {
		t.Fatalf("more hookflow instances than pre-created namespaces (%d)", namespaces)
	}
	return fmt.Sprintf("e2e-%d", n)
}

// App is one running `hookflow serve` with its own database.
type App struct {
	t      *testing.T
	URL    string
	DB     *sqlx.DB
	DSN    string
	env    []string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan struct{}
}

// AppOptions adjust an instance.
type AppOptions struct {
	TemporalAddress string
	Namespace       string
	Env             []string
	Args            []string
}

// startApp runs hookflow on a fresh database with short waits: the retry unit is 300 ms.
func startApp(t *testing.T, opts AppOptions) *App {
	t.Helper()
	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	return startAppOn(t, dsn, opts)
}

// startAppOn is startApp against a database the test provides (a private PostgreSQL
// server in the fault tests).
func startAppOn(t *testing.T, dsn string, opts AppOptions) *App {
	t.Helper()
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if opts.TemporalAddress == "" {
		opts.TemporalAddress = temporal.FrontendHostPort()
	}
	if opts.Namespace == "" {
		opts.Namespace = nextNamespace(t)
	}
	app := &App{t: t, URL: "http://" + addr, DSN: dsn, logs: &syncBuffer{}}
	app.env = append(os.Environ(),
		"DATABASE_URL="+dsn,
		"TEMPORAL_ADDRESS="+opts.TemporalAddress,
		"TEMPORAL_NAMESPACE="+opts.Namespace,
		"HOOKFLOW_HTTP_ADDR="+addr,
		"HOOKFLOW_ADMIN_KEY="+adminKey,
		// Signing secrets are sealed at rest, as in a deployment.
		"HOOKFLOW_SECRETS_KEY="+secretsKey,
		"HOOKFLOW_RETRY_UNIT=300ms",
		"HOOKFLOW_FULFILMENT_RETRY_SCHEDULE=100ms,100ms,100ms,100ms,100ms,100ms,100ms",
		"HOOKFLOW_FULFILMENT_CHECK_INTERVAL=1h",
		"HOOKFLOW_ALLOW_PRIVATE_NETWORKS=true",
		"HOOKFLOW_DISPATCH_SWEEP_INTERVAL=250ms",
		"HOOKFLOW_SHUTDOWN_TIMEOUT=5s",
		"HOOKFLOW_THROTTLE_BASE=50ms",
		"HOOKFLOW_THROTTLE_MAX=200ms",
	)
	app.env = append(app.env, opts.Env...)
	app.DB = sqlx.MustOpen("postgres", dsn)
	t.Cleanup(func() { app.DB.Close() })
	app.Start(opts.Args...)
	t.Cleanup(func() {
		app.Stop()
		if t.Failed() {
			t.Logf("hookflow log:\n%s", app.logs.Tail(8000))
		}
	})
	return app
}

// Start runs the hookflow process and waits until it serves.
func (a *App) Start(args ...string) {
	a.t.Helper()
	a.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	a.cmd.Env = a.env
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(a.cmd, a.exited)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(a.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-a.exited:
			a.t.Fatalf("hookflow exited at start:\n%s", a.logs.Tail(4000))
		case <-time.After(50 * time.Millisecond):
		}
	}
	a.t.Fatalf("hookflow did not answer /healthz within 30s:\n%s", a.logs.Tail(4000))
}

// Stop sends SIGTERM and waits for the process to exit.
func (a *App) Stop() {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// Response is an API answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the answer into v.
func (r Response) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do calls the API with the key; body is marshalled unless it is a string or nil.
func (a *App) Do(method, path, key string, body any, headers ...string) Response {
	a.t.Helper()
	var reqBody []byte
	switch b := body.(type) {
	case nil:
	case string:
		reqBody = []byte(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		reqBody = raw
	}
	var reader io.Reader
	if reqBody != nil {
		reader = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, a.URL+path, reader)
	if err != nil {
		a.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if reader != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	// Every exchange is checked against the OpenAPI document: a request the document
	// would reject (when the server accepted it) or an answer it does not describe fails.
	checker, err := apiDoc()
	if err != nil {
		a.t.Fatal(err)
	}
	if err := checker.Check(method, a.URL+path, req.Header, reqBody, resp.StatusCode, resp.Header, raw); err != nil &&
		!errors.Is(err, openapitest.ErrNotDocumented) {
		a.t.Errorf("OpenAPI: %s %s: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Body: raw, Header: resp.Header}
}

// MustDo is Do that fails the test unless the status is want.
func (a *App) MustDo(want int, method, path, key string, body any, headers ...string) Response {
	a.t.Helper()
	r := a.Do(method, path, key, body, headers...)
	if r.Status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// NewAccount creates an account and returns its API key.
func (a *App) NewAccount(name string) string {
	a.t.Helper()
	var acc struct {
		APIKey string `json:"api_key"`
	}
	a.MustDo(http.StatusCreated, "POST", "/v1/accounts", adminKey, map[string]any{"name": name}).JSON(a.t, &acc)
	return acc.APIKey
}

// Subscription is the API's answer for a subscription.
type Subscription struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	SecretKey string `json:"secret_key"`
}

// Subscribe creates a subscription; fields override the defaults.
func (a *App) Subscribe(key, url string, fields map[string]any) Subscription {
	a.t.Helper()
	body := map[string]any{"url": url}
	for k, v := range fields {
		body[k] = v
	}
	var sub Subscription
	a.MustDo(http.StatusCreated, "POST", "/v1/subscriptions", key, body).JSON(a.t, &sub)
	return sub
}

// Ingested is the answer to POST /v1/events.
type Ingested struct {
	EventID    string `json:"event_id"`
	Deliveries []struct {
		// ID is the delivery's number (json.Number keeps it exact and usable in paths).
		ID             json.Number `json:"id"`
		SubscriptionID string      `json:"subscription_id"`
		Status         string      `json:"status"`
	} `json:"deliveries"`
}

// Publish posts an event.
func (a *App) Publish(key string, event map[string]any, headers ...string) Ingested {
	a.t.Helper()
	var out Ingested
	a.MustDo(http.StatusAccepted, "POST", "/v1/events", key, event, headers...).JSON(a.t, &out)
	return out
}

// Delivery is the API's delivery record.
type Delivery struct {
	ID             json.Number     `json:"id"`
	WorkflowID     string          `json:"workflow_id"`
	EventID        string          `json:"event_id"`
	SubscriptionID string          `json:"subscription_id"`
	EventType      string          `json:"event_type"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	ResponseCode   *int            `json:"response_code"`
	ResponseBody   string          `json:"response_body"`
	LastError      string          `json:"last_error"`
	Payload        json.RawMessage `json:"payload"`
	Test           bool            `json:"test"`
	DeliveredAt    *time.Time      `json:"delivered_at"`
	NextAttemptAt  *time.Time      `json:"next_attempt_at"`
	WaitingReason  *string         `json:"waiting_reason"`
	WaitingSince   *time.Time      `json:"waiting_since"`
	AttemptLog     []struct {
		Number       int       `json:"number"`
		StartedAt    time.Time `json:"started_at"`
		DurationMS   int64     `json:"duration_ms"`
		ResponseCode *int      `json:"response_code"`
		ResponseBody string    `json:"response_body"`
		Error        string    `json:"error"`
		Trigger      string    `json:"trigger"`
	} `json:"attempt_log"`
}

// Delivery reads a delivery by its id (a json.Number from an answer, or a string).
func (a *App) Delivery(key string, id any) Delivery {
	a.t.Helper()
	var d Delivery
	a.MustDo(http.StatusOK, "GET", fmt.Sprint("/v1/deliveries/", id), key, nil).JSON(a.t, &d)
	return d
}

// WaitDelivery polls a delivery until cond holds.
func (a *App) WaitDelivery(key string, id any, within time.Duration, cond func(Delivery) bool) Delivery {
	a.t.Helper()
	deadline := time.Now().Add(within)
	var d Delivery
	for {
		d = a.Delivery(key, id)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("delivery %s did not reach the expected state within %s; last: status=%s attempts=%d error=%q\nlog:\n%s",
				id, within, d.Status, d.Attempts, d.LastError, a.logs.Tail(3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitStatus polls until the delivery has the status.
func (a *App) WaitStatus(key string, id any, status string, within time.Duration) Delivery {
	a.t.Helper()
	return a.WaitDelivery(key, id, within, func(d Delivery) bool { return d.Status == status })
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
