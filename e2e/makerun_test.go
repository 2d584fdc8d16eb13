package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/temporaltest"
	"github.com/hookflow/hookflow/workflows"
)

// makeRun is scripts/run.sh (what `make run` runs after building) in a checkout of its
// own: a scratch directory with the scripts and the built binaries, so its .data is the
// test's and its Temporal dev server and ports are its own.
type makeRun struct {
	t        *testing.T
	root     string
	env      []string
	httpAddr string
	// existingTemporal is a server that answered before run.sh started: it must use it
	// and leave it running.
	existingTemporal string
	cmd              *exec.Cmd
	out              *syncBuffer
	exited           chan struct{}
	exitCode         int
}

func newMakeRun(t *testing.T) *makeRun {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(filepath.Join(root, "scripts"), os.DirFS("../scripts")); err != nil {
		t.Fatal(err)
	}
	temporalBin, err := temporaltest.Binary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"hookflow": binary, "temporal": temporalBin} {
		if err := os.Symlink(target, filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	// A database that does not exist yet: run.sh creates it.
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	dbName := "hookflow_makerun_" + hex.EncodeToString(suffix)
	dsn, _ := url.Parse(storetest.AdminURL())
	dsn.Path = "/" + dbName
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", storetest.AdminURL())
		if err == nil {
			_, _ = admin.Exec("DROP DATABASE IF EXISTS " + dbName + " WITH (FORCE)")
			admin.Close()
		}
	})
	temporalAddr, httpAddr := freeAddrWithUIPort(t), mustFreeAddr(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKFLOW_") && !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	env = append(env, "DATABASE_URL="+dsn.String(), "TEMPORAL_ADDRESS="+temporalAddr, "HOOKFLOW_HTTP_ADDR="+httpAddr)
	r := &makeRun{t: t, root: root, env: env, httpAddr: httpAddr}
	t.Cleanup(r.forceStop)
	return r
}

// start runs the script as a terminal would run a foreground job (a process group of
// its own) and waits for its banner and for hookflow to be ready; it answers the admin
// key the banner shows and where it says the key came from.
func (r *makeRun) start() (adminKey, keySource string) {
	r.t.Helper()
	r.out = &syncBuffer{}
	r.cmd = exec.Command("bash", filepath.Join(r.root, "scripts", "run.sh"))
	r.cmd.Env, r.cmd.Dir = r.env, r.root
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.exited = make(chan struct{})
	go func() {
		err := r.cmd.Wait()
		r.exitCode = 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			r.exitCode = exit.ExitCode()
		}
		close(r.exited)
	}()
	banner := regexp.MustCompile(`admin key\s+(hfa_[0-9a-f]+)\s+\(([^)]*)\)`)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if m := banner.FindStringSubmatch(r.out.Tail(1 << 20)); m != nil {
			adminKey, keySource = m[1], m[2]
			break
		}
		select {
		case <-r.exited:
			r.t.Fatalf("run.sh exited (%d) before its banner:\n%s", r.exitCode, r.out.Tail(4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no banner within 2 minutes:\n%s", r.out.Tail(4000))
		}
	}
	for _, want := range []string{"http://" + r.httpAddr + "/v1", "http://" + r.httpAddr + "/", "Temporal UI"} {
		if !strings.Contains(r.out.Tail(1<<20), want) {
			r.t.Errorf("banner does not show %q:\n%s", want, r.out.Tail(2000))
		}
	}
	if err := waitProbe("http://"+r.httpAddr, "/readyz", r.exited, time.Minute); err != nil {
		r.t.Fatalf("%v:\n%s", err, r.out.Tail(4000))
	}
	return adminKey, keySource
}

// interrupt is Ctrl-C in the terminal: SIGINT to the whole foreground process group.
func (r *makeRun) interrupt() {
	r.t.Helper()
	temporalPID := r.temporalPID()
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		r.t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(90 * time.Second):
		r.t.Fatalf("run.sh still running 90 s after Ctrl-C:\n%s", r.out.Tail(4000))
	}
	if r.exitCode != 0 {
		r.t.Errorf("run.sh exited %d after Ctrl-C, want 0 (a clean stop):\n%s", r.exitCode, r.out.Tail(2000))
	}
	switch {
	case r.existingTemporal != "":
		if temporalPID != 0 {
			r.t.Errorf("run.sh started a Temporal dev server (pid %d) although one answered", temporalPID)
		}
		if conn, err := net.DialTimeout("tcp", r.existingTemporal, time.Second); err != nil {
			r.t.Errorf("the Temporal server that was there before run.sh is gone after Ctrl-C: %v", err)
		} else {
			conn.Close()
		}
	case temporalPID == 0:
		r.t.Fatal("no .data/temporal.pid: run.sh did not start the Temporal dev server")
	case syscall.Kill(temporalPID, 0) == nil:
		r.t.Errorf("the Temporal dev server (pid %d) is still running after Ctrl-C", temporalPID)
	}
	if conn, err := net.DialTimeout("tcp", r.httpAddr, time.Second); err == nil {
		conn.Close()
		r.t.Errorf("hookflow still listens on %s after Ctrl-C", r.httpAddr)
	}
}

func (r *makeRun) temporalPID() int {
	raw, err := os.ReadFile(filepath.Join(r.root, ".data", "temporal.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// forceStop cleans up after a failed test: whatever is still running goes.
func (r *makeRun) forceStop() {
	if r.cmd != nil && r.cmd.Process != nil {
		select {
		case <-r.exited:
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(60 * time.Second):
				_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	}
	if pid := r.temporalPID(); pid > 0 && syscall.Kill(pid, 0) == nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if r.t.Failed() && r.out != nil {
		r.t.Logf("run.sh output:\n%s", r.out.Tail(8000))
	}
}

// TestMakeRunServesDeliversAndStopsOnCtrlC is `make run` as a new user meets it: one
// command brings up PostgreSQL's database, the Temporal dev server and hookflow and
// prints where they are; an event posted with the printed admin key's account is
// delivered; Ctrl-C stops everything it started; a second run finds everything kept.
func TestMakeRunServesDeliversAndStopsOnCtrlC(t *testing.T) {
	t.Parallel()
	run := newMakeRun(t)
	adminKey, source := run.start()
	if source != "kept in .data/admin-key" {
		t.Errorf("admin key source %q, want it generated and kept in .data/admin-key", source)
	}
	app := &App{t: t, URL: "http://" + run.httpAddr, logs: &syncBuffer{}}
	var acc struct {
		APIKey string `json:"api_key"`
	}
	app.MustDo(http.StatusCreated, "POST", "/v1/accounts", adminKey, map[string]any{"name": "Acme"}).JSON(t, &acc)
	rcv := newReceiver(t, always(http.StatusOK))
	app.Subscribe(acc.APIKey, rcv.URL+"/hooks", map[string]any{"event_types": []string{"promoter.*"}})
	delivery := app.Publish(acc.APIKey, map[string]any{"event_type": "promoter.created", "entity_id": "42"}).Deliveries[0].ID.String()
	app.WaitStatus(acc.APIKey, delivery, "delivered", 30*time.Second)
	t.Logf("first run: delivery %s delivered, %d request(s) at the receiver", delivery, len(rcv.Requests()))

	run.interrupt()

	again, source := run.start()
	if again != adminKey || source != "kept in .data/admin-key" {
		t.Errorf("second run's admin key %q (%s), want the first run's %q", again, source, adminKey)
	}
	if d := app.Delivery(acc.APIKey, delivery); d.Status != "delivered" || d.Attempts != 1 {
		t.Errorf("after a restart the delivery is %s with %d attempts, want delivered with 1", d.Status, d.Attempts)
	}
	// Temporal's state survived too (.data/temporal.db): the delivery's workflow is there.
	c, err := client.Dial(client.Options{HostPort: runEnv(run.env, "TEMPORAL_ADDRESS"), Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, app.Delivery(acc.APIKey, delivery).WorkflowID, "")
	if err != nil {
		t.Fatalf("the delivery's workflow after a restart: %v", err)
	}
	if s := desc.WorkflowExecutionInfo.Status; s != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("the delivery's workflow is %s after a restart, want completed", s)
	}
	run.interrupt()
}

// TestMakeRunUsesATemporalServerThatIsAlreadyThere: a user who already runs a Temporal
// server (here one without hookflow's search attributes) gets it used, the attributes
// registered, deliveries delivered, and the server left running on Ctrl-C.
func TestMakeRunUsesATemporalServerThatIsAlreadyThere(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), temporaltest.Wait)
	defer cancel()
	existing, err := temporaltest.Start(ctx, temporaltest.Options{WithoutSearchAttributes: true})
	if err != nil {
		t.Fatalf("start Temporal: %v", err)
	}
	t.Cleanup(func() { _ = existing.Stop() })

	run := newMakeRun(t)
	run.existingTemporal = existing.FrontendHostPort()
	run.setEnv("TEMPORAL_ADDRESS", run.existingTemporal)
	adminKey, _ := run.start()

	listed, err := existing.Client().OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := listed.CustomAttributes[name]; !ok {
			t.Errorf("search attribute %s was not registered (have %v)", name, listed.CustomAttributes)
		}
	}
	app := &App{t: t, URL: "http://" + run.httpAddr, logs: &syncBuffer{}}
	var acc struct {
		APIKey string `json:"api_key"`
	}
	app.MustDo(http.StatusCreated, "POST", "/v1/accounts", adminKey, map[string]any{"name": "Acme"}).JSON(t, &acc)
	rcv := newReceiver(t, always(http.StatusOK))
	app.Subscribe(acc.APIKey, rcv.URL+"/hooks", nil)
	delivery := app.Publish(acc.APIKey, map[string]any{"event_type": "promoter.created"}).Deliveries[0].ID.String()
	app.WaitStatus(acc.APIKey, delivery, "delivered", 30*time.Second)
	run.interrupt()
}

func runEnv(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// setEnv replaces a variable of the script's environment.
func (r *makeRun) setEnv(name, value string) {
	for i, kv := range r.env {
		if strings.HasPrefix(kv, name+"=") {
			r.env[i] = name + "=" + value
			return
		}
	}
	r.env = append(r.env, name+"="+value)
}

func mustFreeAddr(t *testing.T) string {
	t.Helper()
	addr, err := temporaltest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// freeAddrWithUIPort finds a free port whose neighbour 1,000 up (where the dev server
// puts its Web UI) is free as well.
func freeAddrWithUIPort(t *testing.T) string {
	t.Helper()
	for range 20 {
		addr := mustFreeAddr(t)
		_, portText, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(portText)
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1000))); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port pair for the Temporal dev server and its UI")
	return ""
}
