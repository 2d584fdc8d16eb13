package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cliRun is one run of the hookflow binary's API commands.
type cliRun struct {
	stdout, stderr string
	code           int
}

// cli runs `hookflow args…` with the API's URL and key in the environment (key may be
// empty to leave it out).
func cli(t *testing.T, app *App, key string, args ...string) cliRun {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cliEnv(), "HOOKFLOW_URL="+app.URL)
	if key != "" {
		cmd.Env = append(cmd.Env, "HOOKFLOW_API_KEY="+key)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := cliRun{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		run.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("hookflow %s: %v", strings.Join(args, " "), err)
	}
	return run
}

// cliEnv is the test's environment without a HOOKFLOW_URL or HOOKFLOW_API_KEY of its own.
func cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKFLOW_URL=") && !strings.HasPrefix(kv, "HOOKFLOW_API_KEY=") {
			env = append(env, kv)
		}
	}
	return env
}

// mustJSON runs a command that must succeed and decodes its --json output.
func mustJSON(t *testing.T, app *App, key string, v any, args ...string) {
	t.Helper()
	run := cli(t, app, key, append(args, "--json")...)
	if run.code != 0 {
		t.Fatalf("hookflow %s: exit %d\n%s", strings.Join(args, " "), run.code, run.stderr)
	}
	if err := json.Unmarshal([]byte(run.stdout), v); err != nil {
		t.Fatalf("hookflow %s --json printed %q: %v", strings.Join(args, " "), run.stdout, err)
	}
}

// TestCLI runs each API command of the binary against hookflow: its exit status, its
// --json output and its table, and the errors people make.
func TestCLI(t *testing.T) {
	app := startApp(t, AppOptions{})
	key := app.NewAccount("CLI")
	// The endpoint refuses its first two requests, so a delivery goes pending → retrying →
	// delivered for the tail to follow, retrying for long enough that a poll sees it.
	var requests atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer receiver.Close()

	var sub struct {
		ID         string   `json:"id"`
		URL        string   `json:"url"`
		EventTypes []string `json:"event_types"`
		SecretKey  string   `json:"secret_key"`
		MaxRetries int      `json:"max_retries"`
	}
	mustJSON(t, app, key, &sub, "subscriptions", "create", receiver.URL+"/hooks", "--event-type", "cli.*", "--max-retries", "3",
		"--header", "X-Tenant=acme")
	if sub.ID == "" || !strings.HasPrefix(sub.SecretKey, "whsec_") || sub.MaxRetries != 3 || strings.Join(sub.EventTypes, ",") != "cli.*" {
		t.Fatalf("created %+v", sub)
	}

	t.Run("subscriptions list", func(t *testing.T) {
		var list struct {
			Data []struct {
				ID     string `json:"id"`
				Paused bool   `json:"paused"`
			} `json:"data"`
		}
		mustJSON(t, app, key, &list, "subscriptions", "list")
		if len(list.Data) != 1 || list.Data[0].ID != sub.ID {
			t.Fatalf("listed %+v", list)
		}
		table := cli(t, app, key, "subscriptions", "list")
		lines := strings.Split(strings.TrimSpace(table.stdout), "\n")
		if table.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.HasPrefix(lines[1], sub.ID+" ") ||
			strings.Index(lines[0], "STATE") != strings.Index(lines[1], "active") {
			t.Errorf("table (exit %d):\n%s", table.code, table.stdout)
		}
	})

	// The tail starts before the event, so it sees the delivery appear and change.
	tail := exec.Command(binary, "deliveries", "tail", "--json", "--interval", "200ms", "--subscription", sub.ID)
	tail.Env = append(cliEnv(), "HOOKFLOW_URL="+app.URL, "HOOKFLOW_API_KEY="+key)
	tailOut, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	tailErr, err := tail.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tail.Process.Kill() }()
	started, err := bufio.NewReader(tailErr).ReadString('\n')
	if err != nil || !strings.Contains(started, "following deliveries") {
		t.Fatalf("tail said %q, %v", started, err)
	}

	var sent struct {
		EventID    string `json:"event_id"`
		Deliveries []struct {
			ID     json.Number `json:"id"`
			Status string      `json:"status"`
		} `json:"deliveries"`
	}
	mustJSON(t, app, key, &sent, "events", "send", "--type", "cli.tested", "--action", "created", "--entity-type", "cli",
		"--entity-id", "7", "--data", `{"name":"Zoë"}`, "--idempotency-key", "cli-1")
	if sent.EventID == "" || len(sent.Deliveries) != 1 {
		t.Fatalf("sent %+v", sent)
	}
	delivery := sent.Deliveries[0].ID.String()

	t.Run("deliveries tail", func(t *testing.T) {
		lines := make(chan string)
		go func() {
			scanner := bufio.NewScanner(tailOut)
			scanner.Buffer(make([]byte, 1<<20), 1<<20)
			for scanner.Scan() {
				lines <- scanner.Text()
			}
			close(lines)
		}()
		var statuses []string
		timeout := time.After(30 * time.Second)
		for len(statuses) == 0 || statuses[len(statuses)-1] != "delivered" {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("tail ended; printed %v", statuses)
				}
				var d struct {
					ID     json.Number `json:"id"`
					Status string      `json:"status"`
				}
				if err := json.Unmarshal([]byte(line), &d); err != nil {
					t.Fatalf("tail printed %q: %v", line, err)
				}
				if d.ID.String() != delivery {
					t.Fatalf("tail printed delivery %s, want only %s", d.ID, delivery)
				}
				statuses = append(statuses, d.Status)
			case <-timeout:
				t.Fatalf("tail printed %v within 30s, want the delivery through to delivered", statuses)
			}
		}
		for i := 1; i < len(statuses); i++ {
			if statuses[i] == statuses[i-1] {
				t.Errorf("tail printed status %s twice in a row: %v", statuses[i], statuses)
			}
		}
		if !strings.Contains(strings.Join(statuses, " "), "retrying") {
			t.Errorf("tail printed %v, want the retries after the endpoint's 500s", statuses)
		}
		if err := tail.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := tail.Wait(); err != nil {
			t.Errorf("tail after Ctrl-C: %v, want exit 0", err)
		}
	})
	app.WaitStatus(key, delivery, "delivered", 30*time.Second)

	t.Run("events send again", func(t *testing.T) {
		again := cli(t, app, key, "events", "send", "--type", "cli.tested", "--action", "created", "--entity-type", "cli",
			"--entity-id", "7", "--data", `{"name":"Zoë"}`, "--idempotency-key", "cli-1")
		if again.code != 0 || !strings.Contains(again.stdout, sent.EventID) || !strings.Contains(again.stdout, "nothing new was created") {
			t.Errorf("a replayed post printed (exit %d):\n%s%s", again.code, again.stdout, again.stderr)
		}
		conflict := cli(t, app, key, "events", "send", "--type", "cli.other", "--idempotency-key", "cli-1")
		if conflict.code != 1 || !strings.Contains(conflict.stderr, "409 conflict") {
			t.Errorf("the key with another event (exit %d): %s", conflict.code, conflict.stderr)
		}
	})

	t.Run("deliveries get", func(t *testing.T) {
		var d struct {
			Status     string `json:"status"`
			EventID    string `json:"event_id"`
			AttemptLog []struct {
				ResponseCode *int   `json:"response_code"`
				Trigger      string `json:"trigger"`
			} `json:"attempt_log"`
		}
		mustJSON(t, app, key, &d, "deliveries", "get", delivery)
		if d.Status != "delivered" || d.EventID != sent.EventID || len(d.AttemptLog) != 3 || *d.AttemptLog[2].ResponseCode != 200 {
			t.Errorf("delivery %+v", d)
		}
		table := cli(t, app, key, "deliveries", "get", delivery)
		if table.code != 0 || !strings.Contains(table.stdout, "status:") || !strings.Contains(table.stdout, "ATTEMPT") ||
			!strings.Contains(table.stdout, "automatic") {
			t.Errorf("table (exit %d):\n%s", table.code, table.stdout)
		}
	})

	t.Run("deliveries list", func(t *testing.T) {
		mustJSON(t, app, key, &struct{}{}, "events", "send", "--type", "cli.second")
		var page struct {
			Data []struct {
				ID json.Number `json:"id"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		mustJSON(t, app, key, &page, "deliveries", "list", "--limit", "1")
		if len(page.Data) != 1 || page.NextCursor == nil || page.Data[0].ID.String() == delivery {
			t.Fatalf("first page %+v, want the newest delivery and a cursor", page)
		}
		var next struct {
			Data []struct {
				ID json.Number `json:"id"`
			} `json:"data"`
		}
		mustJSON(t, app, key, &next, "deliveries", "list", "--limit", "1", "--cursor", *page.NextCursor)
		if len(next.Data) != 1 || next.Data[0].ID.String() != delivery {
			t.Errorf("second page %+v, want delivery %s", next, delivery)
		}
		var all struct {
			Data []json.RawMessage `json:"data"`
		}
		mustJSON(t, app, key, &all, "deliveries", "list", "--limit", "1", "--all")
		if len(all.Data) != 2 {
			t.Errorf("--all listed %d deliveries, want 2", len(all.Data))
		}
		var filtered struct {
			Data []json.RawMessage `json:"data"`
		}
		mustJSON(t, app, key, &filtered, "deliveries", "list", "--event-type", "cli.tested", "--status", "delivered")
		if len(filtered.Data) != 1 {
			t.Errorf("filtered listing has %d deliveries, want 1", len(filtered.Data))
		}
	})

	t.Run("deliveries retry", func(t *testing.T) {
		run := cli(t, app, key, "deliveries", "retry", delivery)
		if run.code != 1 || !strings.Contains(run.stderr, "(409 conflict)") {
			t.Errorf("retrying a delivered delivery: exit %d: %s", run.code, run.stderr)
		}
	})

	t.Run("subscriptions pause resume test", func(t *testing.T) {
		var paused struct {
			Paused       bool   `json:"paused"`
			PausedReason string `json:"paused_reason"`
		}
		mustJSON(t, app, key, &paused, "subscriptions", "pause", sub.ID, "--reason", "maintenance")
		if !paused.Paused || paused.PausedReason != "maintenance" {
			t.Errorf("paused %+v", paused)
		}
		var resumed struct {
			Paused bool `json:"paused"`
		}
		mustJSON(t, app, key, &resumed, "subscriptions", "resume", sub.ID)
		if resumed.Paused {
			t.Errorf("resumed %+v", resumed)
		}
		var test struct {
			ID   json.Number `json:"id"`
			Test bool        `json:"test"`
		}
		mustJSON(t, app, key, &test, "subscriptions", "test", sub.ID)
		if !test.Test {
			t.Errorf("test delivery %+v", test)
		}
		app.WaitStatus(key, test.ID, "delivered", 30*time.Second)
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			name string
			key  string
			args []string
			code int
			says string
		}{
			{"no command", key, []string{"deliveries"}, 2, "usage: hookflow deliveries"},
			{"unknown command", key, []string{"deliveries", "purge"}, 2, `unknown command "deliveries purge"`},
			{"missing argument", key, []string{"deliveries", "get"}, 2, "takes ID"},
			{"unknown flag", key, []string{"subscriptions", "list", "--colour"}, 2, "flag provided but not defined"},
			{"missing --type", key, []string{"events", "send"}, 2, "needs --type"},
			{"bad --data", key, []string{"events", "send", "--type", "a.b", "--data", "[1]"}, 2, "not a JSON object"},
			{"bad --status", key, []string{"deliveries", "list", "--status", "lost"}, 2, "none of pending"},
			{"bad --signature-scheme", key, []string{"subscriptions", "create", "https://example.com", "--signature-scheme", "md5"}, 2, "neither hmac-sha256"},
			{"no key", "", []string{"subscriptions", "list"}, 2, "HOOKFLOW_API_KEY"},
			{"wrong key", "hfk_0000000000000000_wrong", []string{"subscriptions", "list"}, 1, "(401 unauthorized)"},
			{"unknown delivery", key, []string{"deliveries", "get", "999999"}, 1, "(404 not_found)"},
			{"invalid field", key, []string{"subscriptions", "create", "not-a-url"}, 1, "(422 invalid)"},
		} {
			run := cli(t, app, c.key, c.args...)
			if run.code != c.code || !strings.Contains(run.stderr, c.says) {
				t.Errorf("%s: hookflow %s: exit %d, stderr %q; want exit %d saying %q",
					c.name, strings.Join(c.args, " "), run.code, run.stderr, c.code, c.says)
			}
		}
		help := cli(t, app, key, "deliveries", "get", "-h")
		if help.code != 0 || !strings.Contains(help.stderr, "-json") {
			t.Errorf("deliveries get -h: exit %d: %s", help.code, help.stderr)
		}
		down := cli(t, app, key, "subscriptions", "list", "--url", "http://127.0.0.1:1")
		if down.code != 1 || !strings.Contains(down.stderr, "cannot reach the API") {
			t.Errorf("an API that is not there: exit %d: %s", down.code, down.stderr)
		}
	})
}
