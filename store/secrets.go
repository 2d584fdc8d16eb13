package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/keyring"
	"github.com/hookflow/hookflow/signing"
)

// Signing secrets (subscriptions', campaigns', and the retired keys that still sign) are
// sealed by the keyring on every write and opened where they leave the store: by the
// methods that answer a subscription or a campaign, and by SendRequest. Inside the store
// they may travel sealed: sealing a sealed value leaves it as it is, so a rotation moving
// the current key to the retired ones keeps it sealed.

// seal encrypts a secret for storage; without a keyring it is stored as it is.
func (s *DB) seal(secret string) string {
	if s.Secrets == nil || secret == "" {
		return secret
	}
	return s.Secrets.Seal(secret)
}

// open decrypts a stored secret. A sealed value without a keyring to open it is an
// internal error: the process was started without the key (CheckSecrets refuses that at
// start, so this is a key removed from the ring while values sealed under it remain).
func (s *DB) open(stored string) (string, error) {
	if !keyring.IsSealed(stored) {
		return stored, nil
	}
	if s.Secrets == nil {
		return "", errors.New("a signing secret is encrypted but HOOKFLOW_SECRETS_KEY is not set")
	}
	return s.Secrets.Open(stored)
}

func (s *DB) sealRetired(retired []hookflow.RetiredSecret) (string, error) {
	sealed := make([]hookflow.RetiredSecret, len(retired))
	for i, r := range retired {
		sealed[i] = hookflow.RetiredSecret{Key: s.seal(r.Key), ExpiresAt: r.ExpiresAt}
	}
	b, err := json.Marshal(sealed)
	return string(b), err
}

func (s *DB) openRetired(retired []hookflow.RetiredSecret) error {
	for i := range retired {
		key, err := s.open(retired[i].Key)
		if err != nil {
			return err
		}
		retired[i].Key = key
	}
	return nil
}

// opened opens the secrets of a subscription on its way out of the store, and gives an
// ed25519 one the public key of its signing key.
func (s *DB) opened(sub hookflow.Subscription, err error) (hookflow.Subscription, error) {
	if err != nil {
		return sub, err
	}
	if err := s.openKeys(&sub.SecretKey, sub.RetiredSecrets); err != nil {
		return hookflow.Subscription{}, err
	}
	if sub.PublicKey, err = publicKeyOf(sub.SecretKey); err != nil {
		return hookflow.Subscription{}, err
	}
	return sub, nil
}

// openKeys opens a current signing key and the retired ones in place: what an attempt
// signs with, without the public key people are shown.
func (s *DB) openKeys(current *string, retired []hookflow.RetiredSecret) error {
	opened, err := s.open(*current)
	if err != nil {
		return err
	}
	*current = opened
	return s.openRetired(retired)
}

// openedCampaign opens the secrets of a campaign on its way out of the store, as opened
// does a subscription's.
func (s *DB) openedCampaign(c hookflow.Campaign, err error) (hookflow.Campaign, error) {
	if err != nil {
		return c, err
	}
	if err := s.openKeys(&c.SecretKey, c.RetiredSecrets); err != nil {
		return hookflow.Campaign{}, err
	}
	if c.PublicKey, err = publicKeyOf(c.SecretKey); err != nil {
		return hookflow.Campaign{}, err
	}
	return c, nil
}

// publicKeyOf is the whpk_ public key of an opened whsk_ signing key, what receivers of an
// ed25519 subscription or campaign verify with; an HMAC secret has none.
func publicKeyOf(key string) (string, error) {
	if hookflow.SchemeOfKey(key) != hookflow.SignatureEd25519 {
		return "", nil
	}
	return signing.PublicKey(key)
}

// secretTables are the tables whose rows carry signing secrets.
var secretTables = []string{"subscriptions", "campaigns"}

// CheckSecrets refuses to go on when the database holds secrets sealed under a key this
// process does not have (or when it has no keyring at all): every delivery would fail to
// sign, so the process stops at start with a message saying which key is missing.
func (s *DB) CheckSecrets(ctx context.Context) error {
	var ids []string
	for _, table := range secretTables {
		var found []string
		err := s.db.SelectContext(ctx, &found, `
			SELECT DISTINCT split_part(v, ':', 3) FROM (
				SELECT secret_key AS v FROM `+table+`
				UNION ALL SELECT e->>'key' FROM `+table+`, jsonb_array_elements(retired_secrets) e) secrets
			WHERE v LIKE 'sealed:%'`)
		if err != nil {
			return wrap(err)
		}
		ids = append(ids, found...)
	}
	for _, id := range ids {
		if s.Secrets == nil {
			return errors.New("the database holds encrypted signing secrets: set HOOKFLOW_SECRETS_KEY to the key(s) they were encrypted with")
		}
		if !s.Secrets.Has(id) {
			return fmt.Errorf("the database holds signing secrets encrypted with a key that is not in HOOKFLOW_SECRETS_KEY (key id %s): add that key after the current one", id)
		}
	}
	return nil
}

// SealSecrets encrypts stored secrets under the keyring's current key: with all false only
// those still in plaintext (what a start does after migrating, so a database of an
// earlier build is encrypted), with all true also those sealed under an older key (after a
// new key was put first). Rows are taken in batches, each locked for its transaction, so
// a rotation running at the same time is not overwritten. It answers how many rows
// changed.
func (s *DB) SealSecrets(ctx context.Context, all bool) (int, error) {
	if s.Secrets == nil {
		return 0, nil
	}
	pattern := "sealed:%"
	if all {
		pattern = "sealed:v1:" + s.Secrets.CurrentID() + ":%"
	}
	total := 0
	for _, table := range secretTables {
		// The compatibility copy of the newest retired key that subscriptions kept for
		// replicas of older builds is cleared: the retired keys carry it, sealed.
		clear := ""
		stale := ""
		if table == "subscriptions" {
			clear = ", previous_secret_key = NULL"
			stale = " OR previous_secret_key IS NOT NULL"
		}
		last := "00000000-0000-0000-0000-000000000000"
		for {
			var n int
			err := s.inTx(ctx, func(tx *sqlx.Tx) error {
				var rows []struct {
					ID      string `db:"id"`
					Secret  string `db:"secret_key"`
					Retired []byte `db:"retired_secrets"`
				}
				err := tx.SelectContext(ctx, &rows, `SELECT id, secret_key, retired_secrets FROM `+table+`
					WHERE id > $1 AND (secret_key NOT LIKE $2`+stale+`
						OR EXISTS (SELECT 1 FROM jsonb_array_elements(retired_secrets) e WHERE e->>'key' NOT LIKE $2))
					ORDER BY id LIMIT 500 FOR UPDATE`, last, pattern)
				if err != nil {
					return err
				}
				for _, r := range rows {
					secret, err := s.open(r.Secret)
					if err != nil {
						return err
					}
					var retired []hookflow.RetiredSecret
					if err := json.Unmarshal(r.Retired, &retired); err != nil {
						return err
					}
					if err := s.openRetired(retired); err != nil {
						return err
					}
					sealedRetired, err := s.sealRetired(retired)
					if err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET secret_key = $2, retired_secrets = $3`+clear+` WHERE id = $1`,
						r.ID, s.Secrets.Seal(secret), sealedRetired); err != nil {
						return err
					}
					last = r.ID
				}
				n = len(rows)
				return nil
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < 500 {
				break
			}
		}
	}
	return total, nil
}
