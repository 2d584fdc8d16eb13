package hookflow_test

// No Docker engine is needed here: docker-compose.yml is loaded, interpolated and
// validated by compose-go (the library `docker compose` itself uses), and its wiring is
// checked against the configuration the README documents.

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	composeTestAdminKey   = "compose-test-admin-key-0123456789"
	composeTestSecretsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
)

// composeSearchAttributes are the Keyword search attributes hookflow's workflows set.
var composeSearchAttributes = []string{
	"HookflowAccountID",
	"HookflowSubscriptionID",
	"HookflowEventType",
	"HookflowDeliveryStatus",
}

// loadCompose loads docker-compose.yml with exactly env as the environment: the
// developer's own shell (and any .env file) must not change what is checked.
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "docker-compose.yml")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
		Environment: types.Mapping(env),
	}
	return loader.LoadWithContext(context.Background(), details)
}

func mustLoadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["HOOKFLOW_ADMIN_KEY"]; !ok {
		env["HOOKFLOW_ADMIN_KEY"] = composeTestAdminKey
	}
	if _, ok := env["HOOKFLOW_SECRETS_KEY"]; !ok {
		env["HOOKFLOW_SECRETS_KEY"] = composeTestSecretsKey
	}
	p, err := loadCompose(t, env)
	if err != nil {
		t.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

func composeService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func composeEnv(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil {
		t.Fatalf("service %s does not set %s", s.Name, name)
	}
	return *v
}

func TestComposeServices(t *testing.T) {
	p := mustLoadCompose(t, nil)
	got := p.ServiceNames()
	slices.Sort(got)
	want := []string{
		"hookflow-api",
		"hookflow-worker",
		"postgres",
		"temporal",
		"temporal-search-attributes",
		"temporal-ui",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
}

func TestComposePublishedPorts(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for _, tc := range []struct {
		service   string
		hostIP    string
		published string
		target    uint32
	}{
		// The API authenticates every call; Temporal and its UI do not, so they stay on
		// the host's loopback.
		{"hookflow-api", "", "8080", 8080},
		{"temporal-ui", "127.0.0.1", "8233", 8080},
		{"temporal", "127.0.0.1", "7233", 7233},
	} {
		s := composeService(t, p, tc.service)
		found := slices.ContainsFunc(s.Ports, func(port types.ServicePortConfig) bool {
			return port.HostIP == tc.hostIP && port.Published == tc.published && port.Target == tc.target
		})
		if !found {
			t.Errorf("%s: no port %s:%s:%d in %+v", tc.service, tc.hostIP, tc.published, tc.target, s.Ports)
		}
	}
	// Replicas of a service cannot share a host port, and nothing else needs to be reached
	// from the host.
	for _, name := range []string{"hookflow-worker", "postgres", "temporal-search-attributes"} {
		if ports := composeService(t, p, name).Ports; len(ports) != 0 {
			t.Errorf("%s publishes %+v, want no ports", name, ports)
		}
	}
}

func TestComposeHookflowEnvironment(t *testing.T) {
	p := mustLoadCompose(t, nil)
	postgres := composeService(t, p, "postgres")
	for _, name := range []string{"hookflow-api", "hookflow-worker"} {
		t.Run(name, func(t *testing.T) {
			s := composeService(t, p, name)

			// The documented defaults, kept so the containers behave like `hookflow serve`.
			for variable, want := range map[string]string{
				"TEMPORAL_ADDRESS":                   "temporal:7233",
				"TEMPORAL_NAMESPACE":                 "default",
				"HOOKFLOW_ADMIN_KEY":                 composeTestAdminKey,
				"HOOKFLOW_SECRETS_KEY":               composeTestSecretsKey,
				"HOOKFLOW_RETRY_UNIT":                "20m",
				"HOOKFLOW_FULFILMENT_RETRY_SCHEDULE": "15m,1h,2h,4h,4h,6h,6h",
				"HOOKFLOW_FULFILMENT_CHECK_INTERVAL": "1h",
				"HOOKFLOW_ALLOW_PRIVATE_NETWORKS":    "false",
				"HOOKFLOW_TEMPORAL_UI_URL":           "http://localhost:8233",
			} {
				if got := composeEnv(t, s, variable); got != want {
					t.Errorf("%s = %q, want %q", variable, got, want)
				}
			}

			host, port, err := net.SplitHostPort(composeEnv(t, s, "HOOKFLOW_HTTP_ADDR"))
			if err != nil || host != "0.0.0.0" || port != "8080" {
				t.Errorf("HOOKFLOW_HTTP_ADDR = %q, want 0.0.0.0:8080 (reachable from outside the container)",
					composeEnv(t, s, "HOOKFLOW_HTTP_ADDR"))
			}

			raw := composeEnv(t, s, "DATABASE_URL")
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("DATABASE_URL %q: %v", raw, err)
			}
			if u.Scheme != "postgres" && u.Scheme != "postgresql" {
				t.Errorf("DATABASE_URL scheme = %q, want postgres", u.Scheme)
			}
			if u.Hostname() != "postgres" {
				t.Errorf("DATABASE_URL host = %q, want the postgres service", u.Hostname())
			}
			if u.Port() != "5432" && u.Port() != "" {
				t.Errorf("DATABASE_URL port = %q, want 5432", u.Port())
			}
			if db := strings.TrimPrefix(u.Path, "/"); db != "hookflow" || db != composeEnv(t, postgres, "POSTGRES_DB") {
				t.Errorf("DATABASE_URL database = %q, want hookflow, the one the postgres service creates", db)
			}
			if user := u.User.Username(); user != composeEnv(t, postgres, "POSTGRES_USER") {
				t.Errorf("DATABASE_URL user = %q, want the postgres service's %q", user, composeEnv(t, postgres, "POSTGRES_USER"))
			}
			if pw, _ := u.User.Password(); pw != composeEnv(t, postgres, "POSTGRES_PASSWORD") {
				t.Errorf("DATABASE_URL password does not match the postgres service's POSTGRES_PASSWORD")
			}
			if u.Query().Get("sslmode") != "disable" {
				t.Errorf("DATABASE_URL = %q: the bundled PostgreSQL has no TLS, want sslmode=disable", raw)
			}
		})
	}
}

func TestComposeEnvironmentOverrides(t *testing.T) {
	p := mustLoadCompose(t, map[string]string{
		"HOOKFLOW_RETRY_UNIT":             "5s",
		"HOOKFLOW_ALLOW_PRIVATE_NETWORKS": "true",
		"POSTGRES_PASSWORD":               "s3cret",
	})
	for _, name := range []string{"hookflow-api", "hookflow-worker"} {
		s := composeService(t, p, name)
		if got := composeEnv(t, s, "HOOKFLOW_RETRY_UNIT"); got != "5s" {
			t.Errorf("%s: HOOKFLOW_RETRY_UNIT = %q, want the override 5s", name, got)
		}
		if got := composeEnv(t, s, "HOOKFLOW_ALLOW_PRIVATE_NETWORKS"); got != "true" {
			t.Errorf("%s: HOOKFLOW_ALLOW_PRIVATE_NETWORKS = %q, want the override true", name, got)
		}
		if got := composeEnv(t, s, "DATABASE_URL"); !strings.Contains(got, ":s3cret@postgres:") {
			t.Errorf("%s: DATABASE_URL = %q does not use POSTGRES_PASSWORD", name, got)
		}
	}
	if got := composeEnv(t, composeService(t, p, "postgres"), "POSTGRES_PASSWORD"); got != "s3cret" {
		t.Errorf("postgres: POSTGRES_PASSWORD = %q, want s3cret", got)
	}
	if got := composeEnv(t, composeService(t, p, "temporal"), "POSTGRES_PWD"); got != "s3cret" {
		t.Errorf("temporal: POSTGRES_PWD = %q, want s3cret", got)
	}
}

func TestComposeRequiresSecretsKey(t *testing.T) {
	_, err := loadCompose(t, map[string]string{"HOOKFLOW_ADMIN_KEY": composeTestAdminKey})
	if err == nil {
		t.Fatal("docker-compose.yml loaded without HOOKFLOW_SECRETS_KEY; want an error, not secrets stored unencrypted")
	}
	if !strings.Contains(err.Error(), "HOOKFLOW_SECRETS_KEY") {
		t.Errorf("error %q does not name HOOKFLOW_SECRETS_KEY", err)
	}
}

func TestComposeRequiresAdminKey(t *testing.T) {
	_, err := loadCompose(t, map[string]string{"HOOKFLOW_SECRETS_KEY": composeTestSecretsKey})
	if err == nil {
		t.Fatal("docker-compose.yml loaded without HOOKFLOW_ADMIN_KEY; want an error, not a default key")
	}
	t.Logf("without HOOKFLOW_ADMIN_KEY: %v", err)
	if !strings.Contains(err.Error(), "HOOKFLOW_ADMIN_KEY") {
		t.Errorf("error %q does not name HOOKFLOW_ADMIN_KEY", err)
	}
}

func TestComposeHookflowRoles(t *testing.T) {
	p := mustLoadCompose(t, nil)
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"hookflow-api":    {"serve", "--api"},
		"hookflow-worker": {"serve", "--worker"},
	} {
		s := composeService(t, p, name)
		if !slices.Equal([]string(s.Command), want) {
			t.Errorf("%s: command = %q, want %q", name, s.Command, want)
		}
		if s.Build == nil || filepath.Clean(s.Build.Context) != dir {
			t.Errorf("%s: want it built from the repository's Dockerfile, got build %+v", name, s.Build)
		}
	}
	worker := composeService(t, p, "hookflow-worker")
	if worker.Deploy == nil || worker.Deploy.Replicas == nil || *worker.Deploy.Replicas < 2 {
		t.Errorf("hookflow-worker: want deploy.replicas >= 2 to show scale-out, got %+v", worker.Deploy)
	}
	if worker.ContainerName != "" {
		t.Errorf("hookflow-worker: container_name %q prevents running replicas", worker.ContainerName)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for name, probe := range map[string]string{
		"postgres":        "pg_isready",
		"temporal":        "temporal operator",
		"hookflow-api":    "/readyz",
		"hookflow-worker": "/readyz",
	} {
		s := composeService(t, p, name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		if test := strings.Join(hc.Test, " "); !strings.Contains(test, probe) {
			t.Errorf("%s: healthcheck %q does not use %s", name, test, probe)
		}
	}
}

// Docker's SIGKILL must not come before hookflow's own shutdown has let attempts in flight
// finish (HOOKFLOW_SHUTDOWN_TIMEOUT, 30 s by default).
func TestComposeStopGracePeriodOutlastsTheShutdown(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for _, name := range []string{"hookflow-api", "hookflow-worker"} {
		grace := composeService(t, p, name).StopGracePeriod
		if grace == nil || time.Duration(*grace) < 45*time.Second {
			t.Errorf("%s: stop_grace_period %v, want at least 45s", name, grace)
		}
	}
}

func TestComposeStartupOrder(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for _, tc := range []struct {
		service, dependency, condition string
	}{
		{"temporal", "postgres", types.ServiceConditionHealthy},
		{"temporal-search-attributes", "temporal", types.ServiceConditionHealthy},
		{"temporal-ui", "temporal", types.ServiceConditionHealthy},
		{"hookflow-api", "postgres", types.ServiceConditionHealthy},
		{"hookflow-api", "temporal", types.ServiceConditionHealthy},
		{"hookflow-api", "temporal-search-attributes", types.ServiceConditionCompletedSuccessfully},
		{"hookflow-worker", "temporal-search-attributes", types.ServiceConditionCompletedSuccessfully},
		// The API migrates the database at its start; workers wait so they never race it.
		{"hookflow-worker", "hookflow-api", types.ServiceConditionHealthy},
	} {
		dep, ok := composeService(t, p, tc.service).DependsOn[tc.dependency]
		if !ok {
			t.Errorf("%s does not depend on %s", tc.service, tc.dependency)
			continue
		}
		if dep.Condition != tc.condition {
			t.Errorf("%s depends on %s with condition %q, want %q", tc.service, tc.dependency, dep.Condition, tc.condition)
		}
	}
}

func TestComposeSearchAttributeRegistration(t *testing.T) {
	p := mustLoadCompose(t, nil)
	job := composeService(t, p, "temporal-search-attributes")
	if !strings.HasPrefix(job.Image, "temporalio/admin-tools:") {
		t.Errorf("image = %q, want temporalio/admin-tools", job.Image)
	}
	for _, attr := range composeSearchAttributes {
		if !slices.Contains([]string(job.Command), attr) {
			t.Errorf("the registration job does not register %s (command %q)", attr, job.Command)
		}
	}
	if got := composeEnv(t, job, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("TEMPORAL_ADDRESS = %q, want temporal:7233", got)
	}
	if got, want := composeEnv(t, job, "TEMPORAL_NAMESPACE"), composeEnv(t, composeService(t, p, "hookflow-api"), "TEMPORAL_NAMESPACE"); got != want {
		t.Errorf("attributes registered in namespace %q, hookflow uses %q", got, want)
	}

	// auto-setup's demo attributes would use up SQL visibility's attribute slots.
	if got := composeEnv(t, composeService(t, p, "temporal"), "SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES"); got != "true" {
		t.Errorf("temporal: SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES = %q, want true", got)
	}

	// The script the job runs is mounted from deploy/ and does the registering.
	script := filepath.Join("deploy", "register-search-attributes.sh")
	mounted := slices.ContainsFunc(job.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && strings.HasSuffix(filepath.ToSlash(v.Source), filepath.ToSlash(script))
	})
	if !mounted {
		t.Errorf("%s is not mounted into the job: %+v", script, job.Volumes)
	}
	if !slices.ContainsFunc([]string(job.Entrypoint), func(arg string) bool {
		return strings.HasSuffix(arg, "/register-search-attributes.sh")
	}) {
		t.Errorf("entrypoint %q does not run the registration script", job.Entrypoint)
	}
	text, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"operator search-attribute create", "--type Keyword", "already exists", "--namespace"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("%s does not contain %q", script, want)
		}
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	p := mustLoadCompose(t, nil)
	for _, s := range p.Services {
		if s.Build != nil {
			continue
		}
		_, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q is not pinned to a version", s.Name, s.Image)
		}
	}
	if img := composeService(t, p, "temporal").Image; !strings.HasPrefix(img, "temporalio/auto-setup:1.29.") {
		t.Errorf("temporal image = %q, want temporalio/auto-setup:1.29.x", img)
	}
	if img := composeService(t, p, "postgres").Image; img != "postgres:16" && !strings.HasPrefix(img, "postgres:16.") {
		t.Errorf("postgres image = %q, want postgres:16", img)
	}
}

func TestComposeDockerfile(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	var instructions []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			instructions = append(instructions, line)
		}
	}
	has := func(pattern string) bool {
		re := regexp.MustCompile(pattern)
		return slices.ContainsFunc(instructions, re.MatchString)
	}

	if !has(`^RUN .*CGO_ENABLED=0 .*go build .*\./cmd/hookflow(\s|$)`) {
		t.Error("Dockerfile does not build ./cmd/hookflow with CGO_ENABLED=0")
	}
	if !has(`^EXPOSE .*\b8080\b`) {
		t.Error("Dockerfile does not EXPOSE 8080")
	}
	if !has(`^ENV .*HOOKFLOW_HTTP_ADDR=0\.0\.0\.0:8080`) {
		t.Error("Dockerfile does not make hookflow listen on 0.0.0.0:8080")
	}
	if !has(`^ENTRYPOINT .*hookflow`) {
		t.Error("Dockerfile has no hookflow ENTRYPOINT")
	}
	if !has(`^USER `) {
		t.Error("Dockerfile runs as root: want a USER")
	}
	// The health checks (the image's and docker-compose.yml's) call curl.
	if !has(`^RUN .*apt-get install .*\bcurl\b`) {
		t.Error("Dockerfile does not install curl for the health checks")
	}

	// The builder image follows go.mod's Go version.
	goMod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	// The whole version: official images build with GOTOOLCHAIN=local, so an older patch
	// release refuses a go.mod that asks for a newer one.
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+\.\d+)`).FindSubmatch(goMod)
	if m == nil {
		t.Fatal("no go directive with a patch version in go.mod")
	}
	if !has(`^FROM golang:` + regexp.QuoteMeta(string(m[1])) + `-`) {
		t.Errorf("Dockerfile's builder is not golang:%s like go.mod", m[1])
	}

	// Nothing the build needs may be left out of the build context.
	ignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(ignore)) {
		pattern := strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "cmd/hookflow/main.go"} {
			if ok, _ := filepath.Match(pattern, needed); ok || pattern == "*" {
				t.Errorf(".dockerignore pattern %q excludes %s", pattern, needed)
			}
		}
	}
}
