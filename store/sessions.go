package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// sessionID is what the sessions table keys a token by: its SHA-256, so the table alone
// does not let anyone sign in.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CreateSession signs an account in to the dashboard for in.TTL. It returns the token for
// the cookie, of which only a hash is stored, and the CSRF token the session's forms carry,
// stored as is because every page renders it.
func (s *DB) CreateSession(ctx context.Context, in hookflow.SessionInput) (token, csrf string, err error) {
	token, csrf = randomToken(), randomToken()
	now := s.Now()
	kind := sessionKindKey
	if in.Portal {
		kind = sessionKindPortal
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Sweeping here bounds the table by the sign-ins of one ttl without a janitor.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, account_id, csrf_token, created_at, expires_at,
				kind, read_only, brand_name, logo_url, api_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, ''))`, sessionID(token), in.AccountID, csrf, now,
			now.Add(in.TTL), kind, in.ReadOnly, in.BrandName, in.LogoURL, in.APIKeyID)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return token, csrf, nil
}

// The kinds of session, as the sessions table names them.
const (
	sessionKindKey    = "key"
	sessionKindPortal = "portal"
)

// Session returns the session of token: its account, its CSRF token and what it may
// do. An unknown or expired token is EUNAUTHORIZED, and so is the token of a session
// signed in with a key that has been revoked since.
func (s *DB) Session(ctx context.Context, token string) (hookflow.Session, error) {
	unauthorized := hookflow.Errorf(hookflow.EUNAUTHORIZED, "not signed in")
	if token == "" {
		return hookflow.Session{}, unauthorized
	}
	var row struct {
		CSRF      string    `db:"csrf_token"`
		Kind      string    `db:"kind"`
		ReadOnly  bool      `db:"read_only"`
		BrandName string    `db:"brand_name"`
		LogoURL   string    `db:"logo_url"`
		KeyID     string    `db:"key_id"`
		Scope     string    `db:"scope"`
		AccountID string    `db:"account_id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT s.csrf_token, s.kind, s.read_only, s.brand_name, s.logo_url,
			coalesce(k.id, '') AS key_id, coalesce(k.scope, '') AS scope,
			a.id AS account_id, a.name, a.created_at
		FROM sessions s JOIN accounts a ON a.id = s.account_id
		LEFT JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.id = $1 AND s.expires_at > $2 AND (s.api_key_id IS NULL OR k.revoked_at IS NULL)`,
		sessionID(token), s.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Session{}, unauthorized
	}
	if err != nil {
		return hookflow.Session{}, wrap(err)
	}
	return hookflow.Session{
		Account: hookflow.Account{ID: row.AccountID, Name: row.Name, CreatedAt: row.CreatedAt.UTC(),
			KeyID: row.KeyID, Scope: hookflow.Scope(row.Scope)},
		CSRF: row.CSRF, ReadOnly: row.ReadOnly, Portal: row.Kind == sessionKindPortal,
		BrandName: row.BrandName, LogoURL: row.LogoURL,
	}, nil
}

// DeleteSession signs a session out. Deleting an unknown session is not an error: the
// outcome, no session, is the same.
func (s *DB) DeleteSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1`, sessionID(token))
	return wrap(err)
}
