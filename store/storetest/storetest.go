// Package storetest gives tests a fresh, migrated PostgreSQL database of their own.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/hookflow/hookflow/keyring"
	"github.com/hookflow/hookflow/store"
)

// AdminURL is the server the test databases are created on: TEST_DATABASE_URL, or the
// local PostgreSQL with trust auth.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// CreateDatabase creates an empty database with a random name and returns its URL and a
// function that drops it.
func CreateDatabase(tb testing.TB) (dsn string, drop func()) {
	tb.Helper()
	admin, err := sql.Open("postgres", AdminURL())
	if err != nil {
		tb.Fatalf("open admin connection: %v", err)
	}
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "hookflow_test_" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		tb.Fatalf("create test database (is PostgreSQL running? scripts/ensure-postgres.sh starts it): %v", err)
	}
	u, _ := url.Parse(AdminURL())
	u.Path = "/" + name
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
}

// MustOpen returns a store on a fresh migrated database, dropped when the test ends.
func MustOpen(tb testing.TB) *store.DB {
	tb.Helper()
	dsn, drop := CreateDatabase(tb)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		drop()
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		db.Close()
		drop()
	})
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	// Every store test runs with secrets sealed, as a deployment does.
	db.Secrets = TestKeyring
	return db
}

// TestKeyring is the keyring of the stores MustOpen returns.
var TestKeyring = func() *keyring.Keyring {
	k, err := keyring.Parse(keyring.Generate())
	if err != nil {
		panic(err)
	}
	return k
}()
