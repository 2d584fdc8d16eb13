package api

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hookflow/hookflow"
)

// KeyCache remembers recently authenticated API keys for a short time, so a client
// posting events steadily costs one database read per key per TTL instead of one per
// request. Only successes are cached, under the key's SHA-256, never the key itself. The
// TTL is also how long another replica may still accept a key after it is revoked.
type KeyCache struct {
	hookflow.AccountService
	TTL time.Duration
	// MaxEntries bounds memory; when full the cache starts over.
	MaxEntries int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedAccount
}

type cachedAccount struct {
	account hookflow.Account
	expires time.Time
}

// AuthenticateKey answers from the cache or asks the wrapped service.
func (k *KeyCache) AuthenticateKey(ctx context.Context, key string) (hookflow.Account, error) {
	sum := sha256.Sum256([]byte(key))
	now := time.Now()
	k.mu.Lock()
	if e, ok := k.entries[sum]; ok && now.Before(e.expires) {
		k.mu.Unlock()
		return e.account, nil
	}
	k.mu.Unlock()
	acc, err := k.AccountService.AuthenticateKey(ctx, key)
	if err != nil {
		return acc, err
	}
	k.mu.Lock()
	if k.entries == nil || len(k.entries) >= max(k.MaxEntries, 1) {
		k.entries = map[[sha256.Size]byte]cachedAccount{}
	}
	k.entries[sum] = cachedAccount{account: acc, expires: now.Add(k.TTL)}
	k.mu.Unlock()
	return acc, nil
}

// KeyCacheTTL bounds how long a revoked key can still be accepted by a replica other than
// the one that revoked it.
const KeyCacheTTL = 10 * time.Second

// Forget drops a key from the cache, so this replica refuses it from now on.
func (k *KeyCache) Forget(keyID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for sum, e := range k.entries {
		if e.account.KeyID == keyID {
			delete(k.entries, sum)
		}
	}
}
