package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// apiKeyPrefix marks hookflow keys so secret scanners and people can recognise them.
const apiKeyPrefix = "hfk_"

// CreateAccount creates an account and its first API key; the key is returned once and
// only its hash is stored.
func (s *DB) CreateAccount(ctx context.Context, name string) (hookflow.NewAccount, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return hookflow.NewAccount{}, hookflow.Invalid("name", "is required")
	}
	if utf8.RuneCountInString(name) > 200 || !hookflow.ValidText(name) {
		return hookflow.NewAccount{}, hookflow.Invalid("name", "at most 200 characters of text")
	}
	acc := hookflow.Account{ID: uuid.NewString(), Name: name, CreatedAt: s.Now()}
	var key hookflow.NewAPIKey
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)`, acc.ID, acc.Name, acc.CreatedAt); err != nil {
			return err
		}
		var err error
		key, err = insertAPIKey(ctx, tx, acc.ID, hookflow.APIKeyInput{Name: "default", Scope: hookflow.ScopeFull}, acc.CreatedAt)
		return err
	})
	if err != nil {
		return hookflow.NewAccount{}, err
	}
	return hookflow.NewAccount{Account: acc, APIKey: key.Key}, nil
}

// AuthenticateKey finds the account of an API key. The key id selects the row; the secret
// is compared by hash in constant time, so timing tells nothing about a near miss.
func (s *DB) AuthenticateKey(ctx context.Context, key string) (hookflow.Account, error) {
	unauthorized := hookflow.Errorf(hookflow.EUNAUTHORIZED, "invalid API key")
	keyID, secret, ok := parseAPIKey(key)
	if !ok {
		return hookflow.Account{}, unauthorized
	}
	var row struct {
		Hash      []byte    `db:"secret_hash"`
		Scope     string    `db:"scope"`
		AccountID string    `db:"account_id"`
		Name      string    `db:"name"`
		CreatedAt time.Time `db:"created_at"`
	}
	err := s.db.GetContext(ctx, &row, `
		SELECT k.secret_hash, k.scope, a.id AS account_id, a.name, a.created_at
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.id = $1 AND k.revoked_at IS NULL`, keyID)
	hash := sha256.Sum256([]byte(secret))
	if errors.Is(err, sql.ErrNoRows) {
		// Compare anyway so an unknown key id costs the same as a wrong secret.
		subtle.ConstantTimeCompare(hash[:], make([]byte, len(hash)))
		return hookflow.Account{}, unauthorized
	}
	if err != nil {
		return hookflow.Account{}, wrap(err)
	}
	if subtle.ConstantTimeCompare(hash[:], row.Hash) != 1 {
		return hookflow.Account{}, unauthorized
	}
	return hookflow.Account{ID: row.AccountID, Name: row.Name, CreatedAt: row.CreatedAt.UTC(),
		KeyID: keyID, Scope: hookflow.Scope(row.Scope)}, nil
}

func newAPIKey() (keyID, secret, key string) {
	idBytes := make([]byte, 8)
	secretBytes := make([]byte, 32)
	_, _ = rand.Read(idBytes)
	_, _ = rand.Read(secretBytes)
	keyID = hex.EncodeToString(idBytes)
	secret = base64.RawURLEncoding.EncodeToString(secretBytes)
	return keyID, secret, apiKeyPrefix + keyID + "_" + secret
}

func parseAPIKey(key string) (keyID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, apiKeyPrefix)
	if !ok {
		return "", "", false
	}
	keyID, secret, ok = strings.Cut(rest, "_")
	if !ok || len(keyID) != 16 || secret == "" {
		return "", "", false
	}
	if _, err := hex.DecodeString(keyID); err != nil {
		return "", "", false
	}
	return keyID, secret, true
}
