// Package temporaltest starts the pinned Temporal dev server (bin/temporal, built by
// `make temporal`) for tests and the benchmark, with hookflow's search attributes.
package temporaltest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/workflows"
)

// Binary finds bin/temporal by walking up from the working directory to the module root.
func Binary() (string, error) {
	if p := os.Getenv("HOOKFLOW_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", "temporal")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s is missing: run `make temporal` (make test does it)", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreeAddr returns a loopback address with a free port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Options configure a dev server.
type Options struct {
	// Address to listen on; empty picks a free port.
	Address string
	// DBFile keeps state on disk (SQLite) so a restarted server resumes; empty is in memory.
	DBFile string
	// SQLitePragmas ("name=value") tune the SQLite file; none leaves SQLite's defaults.
	SQLitePragmas []string
	// UI serves the Web UI on the port after the frontend's.
	UI bool
	// Namespaces are created besides "default", each with hookflow's search attributes,
	// so several hookflow instances can share one server without sharing task queues.
	Namespaces []string
	// WithoutSearchAttributes starts a server as a user may already run one: without
	// hookflow's search attributes, which whoever uses it must register.
	WithoutSearchAttributes bool
}

// Start starts a dev server and waits until it answers.
func Start(ctx context.Context, opts Options) (*testsuite.DevServer, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if opts.Address == "" {
		if opts.Address, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	var args []string
	if !opts.WithoutSearchAttributes {
		for _, name := range workflows.SearchAttributeNames {
			args = append(args, "--search-attribute", name+"=Keyword")
		}
	}
	for _, ns := range opts.Namespaces {
		args = append(args, "--namespace", ns)
	}
	for _, pragma := range opts.SQLitePragmas {
		args = append(args, "--sqlite-pragma", pragma)
	}
	return testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  bin,
		ClientOptions: &client.Options{HostPort: opts.Address, Namespace: "default", Logger: quietLogger()},
		EnableUI:      opts.UI,
		DBFilename:    opts.DBFile,
		LogLevel:      "error",
		ExtraArgs:     args,
		Stdout:        serverLog(),
		Stderr:        serverLog(),
	})
}

// quietLogger keeps the SDK's client chatter out of test output; warnings still show.
func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// serverLog is where the dev server's own output goes: nowhere, unless
// HOOKFLOW_TEMPORAL_LOG=1 asks for it while debugging.
func serverLog() io.Writer {
	if os.Getenv("HOOKFLOW_TEMPORAL_LOG") == "1" {
		return os.Stderr
	}
	return io.Discard
}

// Wait is how long tests give a dev server to start.
const Wait = 60 * time.Second
