package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

type apiKeyRow struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	Scope     string    `db:"scope"`
	CreatedAt time.Time `db:"created_at"`
}

func (r apiKeyRow) key() hookflow.APIKey {
	return hookflow.APIKey{ID: r.ID, Name: r.Name, Scope: hookflow.Scope(r.Scope), CreatedAt: r.CreatedAt.UTC()}
}

// ListAPIKeys lists an account's keys that are not revoked, oldest first.
func (s *DB) ListAPIKeys(ctx context.Context, accountID string) ([]hookflow.APIKey, error) {
	var rows []apiKeyRow
	err := s.db.SelectContext(ctx, &rows, `SELECT id, name, scope, created_at FROM api_keys
		WHERE account_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, wrap(err)
	}
	keys := make([]hookflow.APIKey, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, r.key())
	}
	return keys, nil
}

// CreateAPIKey mints a key for an account; only the hash of its secret is stored.
func (s *DB) CreateAPIKey(ctx context.Context, accountID string, in hookflow.APIKeyInput) (hookflow.NewAPIKey, error) {
	if err := in.Validate(); err != nil {
		return hookflow.NewAPIKey{}, err
	}
	if uuid.Validate(accountID) != nil {
		return hookflow.NewAPIKey{}, notFound("account")
	}
	var out hookflow.NewAPIKey
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var exists bool
		if err := tx.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, accountID); err != nil {
			return err
		}
		if !exists {
			return notFound("account")
		}
		var err error
		out, err = insertAPIKey(ctx, tx, accountID, in, s.Now())
		return err
	})
	return out, err
}

func insertAPIKey(ctx context.Context, tx *sqlx.Tx, accountID string, in hookflow.APIKeyInput, now time.Time) (hookflow.NewAPIKey, error) {
	keyID, secret, key := newAPIKey()
	hash := sha256.Sum256([]byte(secret))
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, account_id, secret_hash, name, scope, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, keyID, accountID, hash[:], in.Name, string(in.Scope), now)
	if err != nil {
		return hookflow.NewAPIKey{}, err
	}
	return hookflow.NewAPIKey{APIKey: hookflow.APIKey{ID: keyID, Name: in.Name, Scope: in.Scope, CreatedAt: now.UTC()}, Key: key}, nil
}

// RevokeAPIKey revokes a key. The account row is locked first, so two revocations at
// once cannot both see the other's key as the remaining full one and lock the account
// out.
func (s *DB) RevokeAPIKey(ctx context.Context, accountID, keyID string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, accountID); err != nil {
			return err
		}
		var scope string
		err := tx.GetContext(ctx, &scope, `SELECT scope FROM api_keys
			WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL`, keyID, accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("API key")
		}
		if err != nil {
			return err
		}
		if hookflow.Scope(scope) == hookflow.ScopeFull {
			var others int
			if err := tx.GetContext(ctx, &others, `SELECT count(*) FROM api_keys
				WHERE account_id = $1 AND id <> $2 AND scope = 'full' AND revoked_at IS NULL`, accountID, keyID); err != nil {
				return err
			}
			if others == 0 {
				return hookflow.Errorf(hookflow.ECONFLICT, "this is the account's last full key: create another full key before revoking it")
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, keyID, s.Now())
		return err
	})
}

// ListAccounts lists every account, oldest first.
func (s *DB) ListAccounts(ctx context.Context) ([]hookflow.Account, error) {
	var rows []struct {
		ID        string    `db:"id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, name, created_at FROM accounts ORDER BY created_at, id`); err != nil {
		return nil, wrap(err)
	}
	accounts := make([]hookflow.Account, 0, len(rows))
	for _, r := range rows {
		accounts = append(accounts, hookflow.Account{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt.UTC()})
	}
	return accounts, nil
}
