package hookflow

import (
	"context"
	"time"
)

// Scope is what an API key may do.
type Scope string

const (
	// ScopeFull may do everything an account can.
	ScopeFull Scope = "full"
	// ScopeIngest may only post events and fulfilments: the key a backend that produces
	// events holds.
	ScopeIngest Scope = "ingest"
	// ScopeRead may only read (GET): the key of a reporting job or a support tool.
	ScopeRead Scope = "read"
)

// ValidScope reports whether s is one of the scopes.
func ValidScope(s Scope) bool {
	return s == ScopeFull || s == ScopeIngest || s == ScopeRead
}

// Allows reports whether a key of scope s may make a call that needs scope need: a full
// key may make every call; an ingest or read key only the calls of its own scope.
func (s Scope) Allows(need Scope) bool {
	return s == ScopeFull || s == need
}

// APIKey describes an account's API key; its secret is shown once, when it is created.
type APIKey struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scope     Scope     `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
}

// NewAPIKey is the answer to creating a key: the only time the key itself is shown.
type NewAPIKey struct {
	APIKey
	Key string `json:"api_key"`
}

// APIKeyInput is what a new key is made from.
type APIKeyInput struct {
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
}

// MaxAPIKeyNameChars bounds a key's name.
const MaxAPIKeyNameChars = 200

// Validate checks a new key's name and scope.
func (in *APIKeyInput) Validate() error {
	if in.Name == "" {
		return Invalid("name", "is required")
	}
	if len([]rune(in.Name)) > MaxAPIKeyNameChars || !ValidText(in.Name) {
		return Invalid("name", "at most 200 characters of text")
	}
	if !ValidScope(in.Scope) {
		return Invalid("scope", "must be one of full, ingest, read")
	}
	return nil
}

// APIKeyService manages an account's API keys. Another account's key id is ENOTFOUND.
type APIKeyService interface {
	ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error)
	// CreateAPIKey mints a key; ENOTFOUND when the account does not exist.
	CreateAPIKey(ctx context.Context, accountID string, in APIKeyInput) (NewAPIKey, error)
	// RevokeAPIKey revokes a key at once; revoking the account's last full key is
	// ECONFLICT, so an account cannot lock itself out.
	RevokeAPIKey(ctx context.Context, accountID, keyID string) error
	// ListAccounts lists every account (for the admin).
	ListAccounts(ctx context.Context) ([]Account, error)
}
