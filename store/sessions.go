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

// CreateSession signs an account in to the dashboard for ttl. It returns the token for the
// cookie, of which only a hash is stored, and the CSRF token the session's forms carry,
// stored as is because every page renders it.
func (s *DB) CreateSession(ctx context.Context, accountID string, ttl time.Duration) (token, csrf string, err error) {
	token, csrf = randomToken(), randomToken()
	now := s.Now()
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Sweeping here bounds the table by the sign-ins of one ttl without a janitor.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, account_id, csrf_token, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, sessionID(token), accountID, csrf, now, now.Add(ttl))
		return err
	})
	if err != nil {
		return "", "", err
	}
	return token, csrf, nil
}

// Session returns the account signed in with token and the session's CSRF token. An
// unknown or expired token is EUNAUTHORIZED.
func (s *DB) Session(ctx context.Context, token string) (hookflow.Account, string, error) {
	unauthorized := hookflow.Errorf(hookflow.EUNAUTHORIZED, "not signed in")
	if token == "" {
		return hookflow.Account{}, "", unauthorized
	}
	var row struct {
		CSRF      string    `db:"csrf_token"`
		AccountID string    `db:"account_id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT s.csrf_token, a.id AS account_id, a.name, a.created_at
		FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.id = $1 AND s.expires_at > $2`, sessionID(token), s.Now())
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Account{}, "", unauthorized
	}
	if err != nil {
		return hookflow.Account{}, "", wrap(err)
	}
	return hookflow.Account{ID: row.AccountID, Name: row.Name, CreatedAt: row.CreatedAt.UTC()}, row.CSRF, nil
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
