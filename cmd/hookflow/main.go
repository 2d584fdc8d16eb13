// Command hookflow runs the webhook delivery service: `serve` runs the API (with the
// dashboard) and the worker, or either alone for scaling out; `migrate` applies the
// database migrations.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	temporallog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/config"
	"github.com/hookflow/hookflow/dispatch"
	"github.com/hookflow/hookflow/egress"
	"github.com/hookflow/hookflow/keyring"
	"github.com/hookflow/hookflow/metrics"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/outbound/webhook"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/tracing"
	"github.com/hookflow/hookflow/web"
	"github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

const usage = `hookflow — outbound webhook delivery

Usage:
  hookflow serve [--api] [--worker]   run the API + dashboard and the worker (both by default)
  hookflow migrate                    apply the database migrations (and encrypt
                                      plaintext signing secrets)
  hookflow secrets generate-key       print a new key for HOOKFLOW_SECRETS_KEY
  hookflow secrets reencrypt          encrypt every signing secret with the first key

Calling a running hookflow (--url or HOOKFLOW_URL, --api-key or HOOKFLOW_API_KEY;
--json prints the API's JSON):
  hookflow events send --type TYPE    post an event
  hookflow deliveries list|get|retry|tail
                                      list, show, retry or follow deliveries
  hookflow subscriptions list|create|pause|resume|test
                                      manage the account's subscriptions

Configuration comes from the environment; see the README.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, stop, args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
	case "migrate":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "hookflow: migrate takes no arguments, got %q\n", args[1:])
			return 2
		}
		err = migrate(ctx)
	case "secrets":
		err = secrets(ctx, args[1:], stderr)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
	case "events":
		return eventsCommand(ctx, args[1:], os.Stdout, stderr)
	case "deliveries":
		return deliveriesCommand(ctx, args[1:], os.Stdout, stderr)
	case "subscriptions":
		return subscriptionsCommand(ctx, args[1:], os.Stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stderr, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hookflow: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "hookflow: %v\n", err)
		return 1
	}
	return 0
}

func loadConfig() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load()
	if err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	return cfg, logger, nil
}

func migrate(ctx context.Context) error {
	cfg, logger, err := loadConfig()
	if err != nil {
		return err
	}
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	db.Close()
	return nil
}

// openStore connects, migrates and readies the signing secrets: a database that holds
// secrets sealed under a key this process lacks stops it here, and secrets still in
// plaintext (stored by an earlier build, or while no key was set) are sealed now.
func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.Secrets, err = cfg.Keyring(); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.CheckSecrets(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.Secrets == nil {
		logger.Warn("HOOKFLOW_SECRETS_KEY is not set: signing secrets are stored unencrypted; generate a key with `hookflow secrets generate-key`")
		return db, nil
	}
	sealed, err := db.SealSecrets(ctx, false)
	if err != nil {
		db.Close()
		return nil, err
	}
	if sealed > 0 {
		logger.Info("encrypted signing secrets stored in plaintext", "rows", sealed)
	}
	return db, nil
}

const secretsUsage = `usage: hookflow secrets generate-key | reencrypt

  generate-key  print a new key for HOOKFLOW_SECRETS_KEY
  reencrypt     encrypt every stored signing secret with the first key of
                HOOKFLOW_SECRETS_KEY; after it, the other keys may be removed
`

// secrets generates keys for HOOKFLOW_SECRETS_KEY and re-encrypts stored secrets after
// a new key was put first.
func secrets(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) != 1 {
		fmt.Fprint(stderr, secretsUsage)
		return errors.New("secrets takes one subcommand")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stderr, secretsUsage)
		return flag.ErrHelp
	case "generate-key":
		fmt.Println(keyring.Generate())
		return nil
	case "reencrypt":
		cfg, logger, err := loadConfig()
		if err != nil {
			return err
		}
		if cfg.SecretsKey == "" {
			return errors.New("HOOKFLOW_SECRETS_KEY is not set: put the new key first, then the old ones, comma-separated")
		}
		db, err := openStore(ctx, cfg, logger)
		if err != nil {
			return err
		}
		defer db.Close()
		n, err := db.SealSecrets(ctx, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "re-encrypted the signing secrets of %d rows with key %s\n", n, db.Secrets.CurrentID())
		return nil
	}
	fmt.Fprint(stderr, secretsUsage)
	return fmt.Errorf("unknown secrets subcommand %q", args[0])
}

// serve runs the roles until ctx is done; stopSignals is called once shutdown begins, so
// a second Ctrl-C ends the process at once.
func serve(ctx context.Context, stopSignals func(), args []string, stderr io.Writer) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	apiRole := flags.Bool("api", false, "run the API and dashboard")
	workerRole := flags.Bool("worker", false, "run the worker and dispatcher")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q (the roles are --api and --worker)", flags.Args())
	}
	if !*apiRole && !*workerRole {
		*apiRole, *workerRole = true, true
	}
	cfg, logger, err := loadConfig()
	if err != nil {
		return err
	}
	startPprof(cfg.PprofAddr)

	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	db.PauseAfter, db.Retention = cfg.PauseAfter, cfg.Retention

	m := metrics.New()
	m.RegisterOpenDeliveries(db, 5*time.Second)
	temporalMetrics, stopTemporalMetrics := m.TemporalHandler()
	defer stopTemporalMetrics()

	// One client for every use (API, worker, dispatcher, schedules), so all share the
	// connection's security. A lazy client connects on first use, so the API starts and
	// keeps accepting events while Temporal is down.
	conn, creds, err := dispatch.Connection{TLS: cfg.TemporalTLS, CertFile: cfg.TemporalTLSCert, KeyFile: cfg.TemporalTLSKey,
		CAFile: cfg.TemporalTLSCA, ServerName: cfg.TemporalTLSServerName, APIKey: cfg.TemporalAPIKey,
		Logger: logger.With("component", "temporal")}.Options()
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	stopTracing, err := tracing.Setup(ctx)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	var interceptors []interceptor.ClientInterceptor
	if tracing.Enabled() {
		traced, err := tracing.TemporalInterceptor()
		if err != nil {
			return err
		}
		interceptors = append(interceptors, traced)
	}
	connOpts := worker.ConnectionOptions()
	connOpts.TLS = conn.TLS
	temporal, err := client.NewLazyClient(client.Options{
		HostPort:          cfg.TemporalAddress,
		Namespace:         cfg.TemporalNamespace,
		Logger:            temporallog.NewStructuredLogger(logger.With("component", "temporal")),
		MetricsHandler:    temporalMetrics,
		ConnectionOptions: connOpts,
		Credentials:       creds,
		Interceptors:      interceptors,
	})
	if err != nil {
		return fmt.Errorf("temporal client: %w", err)
	}
	defer temporal.Close()

	temporalUp := watchTemporal(ctx, temporal, m)
	// The API is ready when PostgreSQL answers: ingest never waits on Temporal, so a load
	// balancer must keep it in service while Temporal is down. A worker needs both.
	readiness := func(ctx context.Context) error {
		if err := pingDatabase(ctx, db); err != nil {
			return err
		}
		if !*workerRole {
			return nil
		}
		// A worker asks now rather than trusting the last check: its probe is what takes
		// it out of service when Temporal goes.
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := temporal.CheckHealth(checkCtx, &client.CheckHealthRequest{})
		temporalUp.Store(err == nil)
		m.SetTemporalReachable(err == nil)
		if err != nil {
			return hookflow.Errorf(hookflow.EUNAVAILABLE, "the Temporal server is not reachable")
		}
		return nil
	}

	guard := egress.Guard{AllowPrivate: cfg.AllowPrivateNetworks}
	var wg sync.WaitGroup
	workerCtx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	// A worker that cannot run ends the process: a supervisor restarts it, and a process
	// that answers probes with no worker inside would hide the fault.
	workerErr := make(chan error, 1)

	if *workerRole {
		gateway := &outbound.Gateway{Sender: &webhook.Sender{Client: guard.Client()}, Store: db, Order: db,
			Waker: dispatch.Waker{Client: temporal}, Concurrency: cfg.EndpointConcurrency, Hold: cfg.AttemptHold,
			Backoff: outbound.ThrottleBackoff{Base: cfg.ThrottleBase, Max: cfg.ThrottleMax},
			Logger:  logger.With("component", "outbound"), Observer: m}
		acts := &activities.Activities{Store: db, Outbound: gateway, RetryUnit: cfg.RetryUnit,
			FulfilmentSchedule: cfg.FulfilmentRetrySchedule, Logger: logger, Metrics: m,
			Starter: dispatch.RecoveryStarter{Client: temporal}, Retention: cfg.Retention}
		dispatcher := &dispatch.Dispatcher{Store: db, Client: temporal, DatabaseURL: store.ConnectionURL(cfg.DatabaseURL),
			SweepInterval: cfg.DispatchSweepInterval, Logger: logger.With("component", "dispatcher"),
			ObserveLag: m.ObserveDispatch}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := waitForTemporal(workerCtx, temporal, logger); err != nil {
				workerErr <- err
				return
			}
			if workerCtx.Err() != nil {
				return
			}
			if err := worker.CheckNamespace(workerCtx, temporal, cfg.TemporalNamespace); err != nil {
				workerErr <- err
				return
			}
			if err := dispatch.EnsureFulfilmentSchedule(workerCtx, temporal, cfg.FulfilmentCheckInterval); err != nil {
				workerErr <- fmt.Errorf("create the fulfilment check schedule: %w", err)
				return
			}
			if err := dispatch.EnsureRetentionSchedule(workerCtx, temporal, cfg.RetentionInterval); err != nil {
				workerErr <- fmt.Errorf("create the retention schedule: %w", err)
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = dispatcher.Run(workerCtx)
			}()
			worker.SetStickyCacheSize(cfg.StickyCacheSize)
			if err := worker.Run(workerCtx, temporal, acts, cfg.ShutdownTimeout); err != nil {
				workerErr <- err
			}
		}()
		logger.Info("worker starting", "task_queue", workflows.TaskQueue, "temporal", cfg.TemporalAddress)
	}

	var srv *http.Server
	serveErr := make(chan error, 1)
	if !*apiRole {
		// A worker alone still answers probes and scrapes.
		router := api.NewRouter(api.Deps{Metrics: m.Handler(), Ready: readiness, TemporalReachable: temporalUp.Load, Probes: true})
		srv = &http.Server{Addr: cfg.HTTPAddr, Handler: router, ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- srv.ListenAndServe() }()
		logger.Info("worker probes listening", "addr", cfg.HTTPAddr)
	}
	if *apiRole {
		if cfg.AdminKey == "" {
			logger.Warn("HOOKFLOW_ADMIN_KEY is not set: creating accounts is disabled")
		}
		outages := dispatch.Outages{OutageStore: db, Client: temporal, Width: cfg.EndpointConcurrency, Logger: logger.With("component", "outages")}
		router := api.NewRouter(api.Deps{
			// Keys are cached briefly; a revoked key stops working within the TTL.
			Accounts:      &api.KeyCache{AccountService: db, TTL: api.KeyCacheTTL, MaxEntries: 10000},
			APIKeys:       db,
			Subscriptions: db, Events: db, Deliveries: db, Campaigns: db, Fulfilments: db, Outages: outages, Health: db,
			Retrier: dispatch.Retrier{Client: temporal, Logger: logger}, Checker: dispatch.FulfilmentChecker{Client: temporal, Logger: logger},
			URLs: guard, AdminKey: cfg.AdminKey, IngestLimiter: api.NewIngestLimiter(cfg.IngestRatePerSecond),
			Portals: db, PortalLinkTTL: cfg.PortalLinkTTL, PublicURL: cfg.PublicURL,
			Ready:             readiness,
			TemporalReachable: temporalUp.Load,
			Metrics:           m.Handler(),
			Middleware:        []gin.HandlerFunc{api.RequestLog(logger), api.Deadline(requestDeadline)},
			Extra: func(r *gin.Engine) {
				web.Register(r, web.Deps{Accounts: db, Subscriptions: db, Deliveries: db, Events: db, Fulfilments: db, Campaigns: db, Outages: outages,
					Health: db, Sessions: db, Retrier: dispatch.Retrier{Client: temporal, Logger: logger}, URLs: guard,
					TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.TemporalNamespace,
					Portals: db, PortalSessionTTL: cfg.PortalSessionTTL, PortalFrameAncestors: cfg.FrameAncestors()})
			},
		})
		srv = &http.Server{Addr: cfg.HTTPAddr, Handler: router, ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { serveErr <- srv.ListenAndServe() }()
		logger.Info("api listening", "addr", cfg.HTTPAddr)
	}

	var fatal error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			stopWorker()
			wg.Wait()
			return fmt.Errorf("http server: %w", err)
		}
	case err := <-workerErr:
		fatal = fmt.Errorf("worker: %w", err)
		logger.Error("worker cannot run; stopping", "error", err)
	}
	stopSignals()
	// Stop taking requests first, then let in-flight attempts finish (or hand them back
	// to Temporal) before the process exits.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if srv != nil {
		_ = srv.Shutdown(shutdownCtx)
	}
	stopWorker()
	wg.Wait()
	return fatal
}

// requestDeadline bounds every API request, so a database that stops answering (rather
// than refusing) turns into a 503 instead of a hung client.
const requestDeadline = 20 * time.Second

// waitForTemporal blocks until Temporal answers, so a worker started before Temporal
// comes up waits instead of failing. A server that refuses this client as configured (a
// certificate or key it rejects) is an error: waiting would not change its answer.
func waitForTemporal(ctx context.Context, c client.Client, logger *slog.Logger) error {
	for warned := false; ; {
		checkCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := c.CheckHealth(checkCtx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if dispatch.Refused(err) {
			return fmt.Errorf("the Temporal server refused the connection; check TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME and TEMPORAL_API_KEY: %w", err)
		}
		if !warned {
			logger.Warn("waiting for Temporal", "error", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func pingDatabase(ctx context.Context, db *store.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := db.Ping(ctx); err != nil {
		return hookflow.Errorf(hookflow.EUNAVAILABLE, "the PostgreSQL server is not reachable")
	}
	return nil
}

// temporalCheckInterval is how often a process asks Temporal whether it answers: probes
// then read the last answer instead of each making a call.
const temporalCheckInterval = 5 * time.Second

// watchTemporal checks Temporal's health until ctx ends, keeping the last answer in the
// returned flag and in the hookflow_temporal_reachable gauge.
func watchTemporal(ctx context.Context, c client.Client, m *metrics.Metrics) *atomic.Bool {
	var up atomic.Bool
	check := func() {
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.CheckHealth(checkCtx, &client.CheckHealthRequest{})
		up.Store(err == nil)
		m.SetTemporalReachable(err == nil)
	}
	check()
	go func() {
		ticker := time.NewTicker(temporalCheckInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				check()
			}
		}
	}()
	return &up
}
