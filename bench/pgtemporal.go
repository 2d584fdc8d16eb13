package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/workflows"
)

// The PostgreSQL-backed server is configured as docker-compose.yml's temporalio/auto-setup
// runs it (its config template's defaults): the number of history shards is fixed when
// the schema is first used and bounds how many workflow updates proceed in parallel; each
// of the four services in the process keeps a pool of its own per store, up to maxConns
// (maxIdleConns the same), the visibility store's half as many.
const (
	pgTemporalShards   = 4
	pgTemporalMaxConns = 20
	// pgTemporalRetention is docker-compose.yml's DEFAULT_NAMESPACE_RETENTION.
	pgTemporalRetention = 168 * time.Hour
)

// PostgresTemporalSetup says how the PostgreSQL-backed Temporal server of (p) ran.
type PostgresTemporalSetup struct {
	Binary        string `json:"binary"`
	Version       string `json:"version"`
	SchemaDir     string `json:"schema_dir"`
	Database      string `json:"database"`
	Visibility    string `json:"visibility_database"`
	SchemaVersion string `json:"schema_version"`
	// VisibilitySchemaVersion is the advanced visibility schema's, which holds the search
	// attributes.
	VisibilitySchemaVersion string `json:"visibility_schema_version"`
	HistoryShards           int    `json:"history_shards"`
	MaxConns                int    `json:"max_conns"`
	MaxIdleConns            int    `json:"max_idle_conns"`
	VisibilityMaxConns      int    `json:"visibility_max_conns"`
	// PeakConnections is the most backends of Temporal's two databases seen at once while
	// (a) and (b) ran.
	PeakConnections int `json:"peak_connections"`
	// MaxConnections is the PostgreSQL server's max_connections, shared with hookflow.
	MaxConnections int `json:"postgres_max_connections"`
	// SetupSeconds covers creating the databases and their schemas.
	SetupSeconds float64 `json:"setup_seconds"`
	// StartSeconds runs from starting the server to its namespaces answering with
	// hookflow's search attributes.
	StartSeconds float64 `json:"start_seconds"`
}

// pgTemporal is one temporal-server process on PostgreSQL persistence.
type pgTemporal struct {
	setup    PostgresTemporalSetup
	hostPort string
	dir      string
	cmd      *exec.Cmd
	logs     *tailBuffer
	exited   chan struct{}
	admin    *sqlx.DB
}

// pgTemporalBinaries finds temporal-server, temporal-sql-tool beside it and the schema
// directory the Makefile copies beside them (bin/temporal-server-schema).
func pgTemporalBinaries(server string) (sqlTool, schema string, err error) {
	if server == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", "", err
		}
		server = filepath.Join(root, "bin", "temporal-server")
	}
	dir := filepath.Dir(server)
	sqlTool, schema = filepath.Join(dir, "temporal-sql-tool"), filepath.Join(dir, "temporal-server-schema")
	for _, p := range []string{server, sqlTool, filepath.Join(schema, "temporal", "versioned"), filepath.Join(schema, "visibility", "versioned")} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%s is missing: `make temporal-server` builds the Temporal server, its SQL tool and copies its PostgreSQL schema (make bench does it), or pass -skip-postgres-temporal", p)
		}
	}
	return sqlTool, schema, nil
}

// moduleRoot is the directory of hookflow's go.mod, above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// startPGTemporal creates two fresh databases on the local PostgreSQL, sets their schemas
// up with Temporal's own SQL tool from the schema shipped with the server, and starts the
// server on them with every service in one process and namespaces holding hookflow's
// search attributes.
func (b *bench) startPGTemporal(ctx context.Context, binary string, maxConns int, namespaces []string) (*pgTemporal, error) {
	sqlTool, schema, err := pgTemporalBinaries(binary)
	if err != nil {
		return nil, err
	}
	if binary == "" {
		binary = filepath.Join(filepath.Dir(sqlTool), "temporal-server")
	}
	out, err := exec.CommandContext(ctx, binary, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %v: %s", binary, err, out)
	}
	fields := strings.Fields(string(out))
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().Unix())
	t := &pgTemporal{logs: &tailBuffer{}, setup: PostgresTemporalSetup{Binary: binary, Version: fields[len(fields)-1], SchemaDir: schema,
		Database: "hookflow_bench_temporal_" + suffix, Visibility: "hookflow_bench_temporal_visibility_" + suffix,
		HistoryShards: pgTemporalShards, MaxConns: maxConns, MaxIdleConns: maxConns, VisibilityMaxConns: max(1, maxConns/2)}}
	t.admin = b.admin
	if err := b.admin.GetContext(ctx, &t.setup.MaxConnections, `SELECT current_setting('max_connections')::int`); err != nil {
		return nil, err
	}
	u, err := url.Parse(storetest.AdminURL())
	if err != nil {
		return nil, err
	}
	host, port := u.Hostname(), cmp.Or(u.Port(), "5432")
	user, password := u.User.Username(), ""
	if p, ok := u.User.Password(); ok {
		password = p
	}

	setupStart := time.Now()
	b.logf("(p) creating %s and %s with temporal-sql-tool", t.setup.Database, t.setup.Visibility)
	for _, db := range []struct{ name, schema string }{{t.setup.Database, "temporal"}, {t.setup.Visibility, "visibility"}} {
		base := []string{"--plugin", "postgres12", "--ep", host, "-p", port, "-u", user, "--db", db.name}
		if password != "" {
			base = append(base, "--pw", password)
		}
		for _, args := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", filepath.Join(schema, db.schema, "versioned")}} {
			cmd := exec.CommandContext(ctx, sqlTool, append(slices.Clone(base), args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.dropDatabases()
				return nil, fmt.Errorf("temporal-sql-tool %s on %s: %v\n%s", args[0], db.name, err, tail(string(out), 3000))
			}
		}
	}
	versionOf := func(db string) (string, error) {
		var v string
		dsn := *u
		dsn.Path = "/" + db
		conn, err := sqlx.Open("postgres", dsn.String())
		if err != nil {
			return "", err
		}
		defer conn.Close()
		err = conn.GetContext(ctx, &v, `SELECT curr_version FROM schema_version`)
		return v, err
	}
	if t.setup.SchemaVersion, err = versionOf(t.setup.Database); err == nil {
		t.setup.VisibilitySchemaVersion, err = versionOf(t.setup.Visibility)
	}
	if err != nil {
		t.dropDatabases()
		return nil, fmt.Errorf("read the schema versions: %w", err)
	}
	t.setup.SetupSeconds = time.Since(setupStart).Seconds()

	if t.dir, err = os.MkdirTemp("", "hookflow-bench-temporal"); err != nil {
		t.dropDatabases()
		return nil, err
	}
	ports, err := freeLowPorts(9)
	if err != nil {
		t.stop()
		return nil, err
	}
	t.hostPort = "127.0.0.1:" + ports[0]
	conf := pgTemporalConfigValues{Host: host, Port: port, User: user, Password: password, Database: t.setup.Database, Visibility: t.setup.Visibility,
		Shards: pgTemporalShards, MaxConns: t.setup.MaxConns, MaxIdleConns: t.setup.MaxIdleConns, VisibilityMaxConns: t.setup.VisibilityMaxConns,
		FrontendPort: ports[0], FrontendMembershipPort: ports[1], FrontendHTTPPort: ports[2], HistoryPort: ports[3], HistoryMembershipPort: ports[4],
		MatchingPort: ports[5], MatchingMembershipPort: ports[6], WorkerPort: ports[7], WorkerMembershipPort: ports[8]}
	if err := os.MkdirAll(filepath.Join(t.dir, "config"), 0o755); err != nil {
		t.stop()
		return nil, err
	}
	f, err := os.Create(filepath.Join(t.dir, "config", "bench.yaml"))
	if err == nil {
		err = errors.Join(pgTemporalConfig.Execute(f, conf), f.Close())
	}
	if err != nil {
		t.stop()
		return nil, err
	}

	started := time.Now()
	b.logf("(p) starting temporal-server %s on PostgreSQL (%d history shards)", t.setup.Version, pgTemporalShards)
	t.cmd = exec.Command(binary, "--root", t.dir, "--config", "config", "--env", "bench", "--allow-no-auth", "start")
	t.cmd.Stdout, t.cmd.Stderr = t.logs, t.logs
	// Should the benchmark die, the server dies with it instead of lingering.
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := t.cmd.Start(); err != nil {
		t.stop()
		return nil, err
	}
	t.exited = make(chan struct{})
	go func() { _ = t.cmd.Wait(); close(t.exited) }()
	if err := t.prepare(ctx, namespaces); err != nil {
		err = fmt.Errorf("(p) temporal-server on PostgreSQL: %w\n%s", err, t.logs.Tail(3000))
		t.stop()
		return nil, err
	}
	t.setup.StartSeconds = time.Since(started).Seconds()
	return t, nil
}

// prepare waits for the frontend, registers the namespaces and hookflow's search
// attributes in each (as deploy/register-search-attributes.sh does for a deployment),
// and waits until every one of them is visible.
func (t *pgTemporal) prepare(ctx context.Context, namespaces []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var c client.Client
	for {
		var err error
		if c, err = dial(t.hostPort, "default"); err == nil {
			if _, err = c.CheckHealth(ctx, nil); err == nil {
				break
			}
			c.Close()
		}
		if err := t.waitOrExit(ctx, err); err != nil {
			return err
		}
	}
	defer c.Close()
	attrs := map[string]enums.IndexedValueType{}
	for _, name := range workflows.SearchAttributeNames {
		attrs[name] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	for _, ns := range namespaces {
		for {
			_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: ns,
				WorkflowExecutionRetentionPeriod: durationpb.New(pgTemporalRetention)})
			var exists *serviceerror.NamespaceAlreadyExists
			if err == nil || errors.As(err, &exists) {
				break
			}
			if err := t.waitOrExit(ctx, err); err != nil {
				return fmt.Errorf("register namespace %s: %w", ns, err)
			}
		}
		for {
			listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
			if err == nil {
				missing := map[string]enums.IndexedValueType{}
				for name, typ := range attrs {
					if _, ok := listed.CustomAttributes[name]; !ok {
						missing[name] = typ
					}
				}
				if len(missing) == 0 {
					break
				}
				_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: missing})
				var exists *serviceerror.AlreadyExists
				if errors.As(err, &exists) {
					err = nil
				}
				if err == nil {
					err = errors.New("search attributes not listed yet")
				}
			}
			if err := t.waitOrExit(ctx, err); err != nil {
				return fmt.Errorf("search attributes of %s: %w", ns, err)
			}
		}
	}
	// Listed is not yet usable: each service learns a namespace's search attributes when it
	// next refreshes the namespace. A start that carries them, in every namespace, is.
	for _, ns := range namespaces {
		nc, err := dial(t.hostPort, ns)
		if err != nil {
			return err
		}
		err = probeSearchAttributes(ctx, nc, t.waitOrExit)
		nc.Close()
		if err != nil {
			return fmt.Errorf("search attributes of %s: %w", ns, err)
		}
	}
	return nil
}

// probeSearchAttributes starts a workflow nothing runs, with hookflow's search attributes,
// until the server takes it; then ends it.
func probeSearchAttributes(ctx context.Context, c client.Client, wait func(context.Context, error) error) error {
	var attrs []temporal.SearchAttributeUpdate
	for _, name := range workflows.SearchAttributeNames {
		attrs = append(attrs, temporal.NewSearchAttributeKeyKeyword(name).ValueSet("probe"))
	}
	id := fmt.Sprintf("bench-search-attribute-probe-%d", time.Now().UnixNano())
	for {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "bench-probe",
			TypedSearchAttributes: temporal.NewSearchAttributes(attrs...)}, "probe")
		if err == nil {
			return c.TerminateWorkflow(ctx, id, "", "search attribute probe")
		}
		if err := wait(ctx, err); err != nil {
			return err
		}
	}
}

// waitOrExit pauses before the next try, or gives up with why.
func (t *pgTemporal) waitOrExit(ctx context.Context, last error) error {
	select {
	case <-t.exited:
		return errors.New("the server exited")
	case <-ctx.Done():
		return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
	case <-time.After(250 * time.Millisecond):
		return nil
	}
}

func (t *pgTemporal) pid() int { return t.cmd.Process.Pid }

// stop ends the server (SIGTERM, then SIGKILL) and drops its databases.
func (t *pgTemporal) stop() {
	if t.cmd != nil && t.cmd.Process != nil && t.exited != nil {
		select {
		case <-t.exited:
		default:
			_ = t.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-t.exited:
			case <-time.After(15 * time.Second):
				_ = t.cmd.Process.Kill()
				<-t.exited
			}
		}
	}
	if t.dir != "" {
		os.RemoveAll(t.dir)
	}
	t.dropDatabases()
}

func (t *pgTemporal) dropDatabases() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, db := range []string{t.setup.Database, t.setup.Visibility} {
		_, _ = t.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	}
}

// freeLowPorts finds n free loopback ports below 32768: Temporal stores its services'
// membership ports in a smallint column, which the kernel's ephemeral ports overflow.
func freeLowPorts(n int) ([]string, error) {
	var ports []string
	seen := map[int]bool{}
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free ports below 32768 on 127.0.0.1")
		}
		port := 20000 + rand.IntN(12000)
		if seen[port] {
			continue
		}
		seen[port] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, strconv.Itoa(port))
	}
	return ports, nil
}

// pgTemporalConfigValues fill pgTemporalConfig.
type pgTemporalConfigValues struct {
	Host, Port, User, Password, Database, Visibility       string
	Shards, MaxConns, MaxIdleConns, VisibilityMaxConns     int
	FrontendPort, FrontendMembershipPort, FrontendHTTPPort string
	HistoryPort, HistoryMembershipPort                     string
	MatchingPort, MatchingMembershipPort                   string
	WorkerPort, WorkerMembershipPort                       string
}

// pgTemporalConfig is the server's configuration: Temporal's development-postgres12.yaml
// reduced to what one local process needs, with advanced visibility on PostgreSQL (which
// holds custom search attributes) and no dynamic config file, so every dynamic setting is
// Temporal's default.
var pgTemporalConfig = template.Must(template.New("bench.yaml").Parse(`log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: {{.Shards}}
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "{{.Database}}"
        connectAddr: "{{.Host}}:{{.Port}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: {{.MaxConns}}
        maxIdleConns: {{.MaxIdleConns}}
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "{{.Visibility}}"
        connectAddr: "{{.Host}}:{{.Port}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: {{.VisibilityMaxConns}}
        maxIdleConns: {{.VisibilityMaxConns}}
        maxConnLifetime: "1h"

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
  frontend:
    rpc:
      grpcPort: {{.FrontendPort}}
      membershipPort: {{.FrontendMembershipPort}}
      bindOnLocalHost: true
      httpPort: {{.FrontendHTTPPort}}
  matching:
    rpc:
      grpcPort: {{.MatchingPort}}
      membershipPort: {{.MatchingMembershipPort}}
      bindOnLocalHost: true
  history:
    rpc:
      grpcPort: {{.HistoryPort}}
      membershipPort: {{.HistoryMembershipPort}}
      bindOnLocalHost: true
  worker:
    rpc:
      grpcPort: {{.WorkerPort}}
      membershipPort: {{.WorkerMembershipPort}}
      bindOnLocalHost: true

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:{{.FrontendPort}}"
      httpAddress: "127.0.0.1:{{.FrontendHTTPPort}}"

dcRedirectionPolicy:
  policy: "noop"

archival:
  history:
    state: "disabled"
  visibility:
    state: "disabled"

namespaceDefaults:
  archival:
    history:
      state: "disabled"
    visibility:
      state: "disabled"
`))

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
