// Package store is hookflow's PostgreSQL store, built on sqlx and lib/pq. Each method owns
// its transaction; every query is scoped to the calling account.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/keyring"
	"github.com/hookflow/hookflow/schema"
)

// DB is the PostgreSQL store.
type DB struct {
	db *sqlx.DB
	// hot runs the queries every delivery makes as prepared statements.
	hot *statements
	// Now is the clock, replaceable in tests.
	Now func() time.Time
	// PauseAfter is how long a subscription's attempts may all fail before it is paused
	// (0: never for that reason).
	PauseAfter time.Duration
	// Retention is how long events, deliveries and attempts are kept (0: forever).
	Retention time.Duration
	// Secrets seals signing secrets at rest; nil stores them as they are.
	Secrets *keyring.Keyring

	// wake holds at most one pending request to notify the dispatchers; notifierDone
	// is closed when the notifier has stopped.
	wake, stop, notifierDone chan struct{}
}

// Open connects to the database at dsn and checks that it answers.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := sqlx.Open("postgres", ConnectionURL(dsn))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Sized for a 2-core machine: enough for the API, the dispatcher and the activities
	// to overlap without making PostgreSQL juggle idle backends.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	// Microseconds are what PostgreSQL keeps; truncating here makes a payload's timestamp
	// equal the stored created_at.
	s := &DB{db: db, hot: &statements{db: db}, Now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		wake: make(chan struct{}, 1), stop: make(chan struct{}), notifierDone: make(chan struct{})}
	go s.notifyDispatchers()
	return s, nil
}

// wakeDispatchers asks for a NOTIFY on DispatchChannel, sent soon and off the caller's
// path. Every store method that commits new deliveries calls it after the commit. Requests
// that arrive while a NOTIFY is being sent fold into the next one, so a burst of ingests
// costs a few notifications rather than one per transaction; the notification carries
// nothing, it only says "look".
func (s *DB) wakeDispatchers() {
	select {
	case s.wake <- struct{}{}:
	default: // one is already pending
	}
}

func (s *DB) notifyDispatchers() {
	defer close(s.notifierDone)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// A notification lost here (the database is down) only delays dispatch until
		// the dispatchers' next sweep.
		_, _ = s.db.ExecContext(ctx, `SELECT pg_notify($1, '')`, DispatchChannel)
		cancel()
	}
}

// ConnectionURL is dsn with what every connection of hookflow's needs and dsn does not set
// itself: connect_timeout=5, so a database host that does not answer fails a connection
// attempt in seconds instead of hanging on TCP; and binary_parameters=yes, so lib/pq sends
// a query with arguments in one round trip (parse, bind and execute together) instead of
// two. With it, []byte arguments travel as binary, which only bytea columns accept: JSON
// goes as text (string). The store's pool uses it, and so do connections made outside the
// store, such as the dispatcher's LISTEN.
func ConnectionURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn
	}
	q := u.Query()
	for name, value := range map[string]string{"connect_timeout": "5", "binary_parameters": "yes"} {
		if q.Get(name) == "" {
			q.Set(name, value)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Close closes the connection pool.
func (s *DB) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.notifierDone
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SQL exposes the pool to tests that check rows directly.
func (s *DB) SQL() *sqlx.DB { return s.db }

// Migrate applies the embedded migrations that have not been applied yet.
func (s *DB) Migrate(ctx context.Context) error {
	// The session lock lets several replicas start at once: one migrates, the others
	// wait for it instead of racing.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, s.db.DB, schema.Migrations,
		goose.WithLogger(goose.NopLogger()), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		slog.Info("migration applied", "version", r.Source.Version, "path", r.Source.Path)
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return wrap(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return wrap(err)
	}
	return wrap(tx.Commit())
}

// wrap turns database outages into EUNAVAILABLE so the API answers 503 and callers know to
// retry, and keeps application errors as they are.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var appErr *hookflow.Error
	if errors.As(err, &appErr) {
		return err
	}
	if Unavailable(err) {
		return &hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the database is unavailable, retry later"}
	}
	return err
}

// Unavailable reports whether err means the database cannot be reached right now.
func Unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			return true
		}
	}
	return false
}

func notFound(what string) error {
	return hookflow.Errorf(hookflow.ENOTFOUND, "%s not found", what)
}
