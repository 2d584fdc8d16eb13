package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

type subscriptionRow struct {
	ID             string         `db:"id"`
	AccountID      string         `db:"account_id"`
	URL            string         `db:"url"`
	EventTypes     pq.StringArray `db:"event_types"`
	CampaignIDs    pq.StringArray `db:"campaign_ids"`
	Description    string         `db:"description"`
	Active         bool           `db:"active"`
	Timeout        int            `db:"timeout_seconds"`
	MaxRetries     int            `db:"max_retries"`
	Headers        []byte         `db:"headers"`
	RateLimit      int            `db:"rate_limit"`
	Ordering       string         `db:"ordering"`
	SecretKey      string         `db:"secret_key"`
	Scheme         string         `db:"signature_scheme"`
	RetiredSecrets []byte         `db:"retired_secrets"`
	DisabledReason string         `db:"disabled_reason"`
	PausedAt       *time.Time     `db:"paused_at"`
	PausedReason   string         `db:"paused_reason"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const subscriptionColumns = `id, account_id, url, event_types, campaign_ids, description, active,
	timeout_seconds, max_retries, headers, rate_limit, ordering, secret_key, retired_secrets,
	disabled_reason, paused_at, paused_reason, created_at, updated_at, signature_scheme`

func (r subscriptionRow) subscription() hookflow.Subscription {
	s := hookflow.Subscription{
		ID: r.ID, AccountID: r.AccountID, URL: r.URL,
		EventTypes: []string(r.EventTypes), CampaignIDs: []string(r.CampaignIDs),
		Description: r.Description, Active: r.Active, Timeout: r.Timeout, MaxRetries: r.MaxRetries,
		RateLimit: r.RateLimit, Ordering: hookflow.Ordering(r.Ordering), SecretKey: r.SecretKey, DisabledReason: r.DisabledReason,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Paused: r.PausedAt != nil, PausedAt: utc(r.PausedAt), PausedReason: r.PausedReason,
		SignatureScheme: hookflow.SignatureScheme(r.Scheme),
	}
	_ = json.Unmarshal(r.Headers, &s.Headers)
	_ = json.Unmarshal(r.RetiredSecrets, &s.RetiredSecrets)
	if len(s.RetiredSecrets) > 0 {
		// Newest first: the last replaced key is the last to stop signing.
		last := s.RetiredSecrets[0].ExpiresAt.UTC()
		s.PreviousSecretExpiresAt = &last
	}
	if s.Headers == nil {
		s.Headers = map[string]string{}
	}
	if s.EventTypes == nil {
		s.EventTypes = []string{}
	}
	if s.CampaignIDs == nil {
		s.CampaignIDs = []string{}
	}
	return s
}

// CreateSubscription stores a validated subscription, assigning its id and timestamps.
func (s *DB) CreateSubscription(ctx context.Context, accountID string, sub *hookflow.Subscription) error {
	sub.ID = uuid.NewString()
	sub.AccountID = accountID
	sub.CreatedAt = s.Now()
	sub.UpdatedAt = sub.CreatedAt
	sub.SignatureScheme = hookflow.SchemeOfKey(sub.SecretKey)
	headers, err := json.Marshal(sub.Headers)
	if err != nil {
		return err
	}
	// The count and the insert are one statement; two creates racing at the limit may both
	// pass, which the limit's purpose (a bounded fan-out per event) easily absorbs.
	res, err := s.db.ExecContext(ctx, `
		INSERT INTO subscriptions (id, account_id, url, event_types, campaign_ids, description, active,
			timeout_seconds, max_retries, headers, secret_key, created_at, updated_at, rate_limit, ordering, signature_scheme)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $14, $15, $16
		WHERE (SELECT count(*) FROM subscriptions WHERE account_id = $2 AND deleted_at IS NULL) < $13`,
		sub.ID, accountID, sub.URL, pq.StringArray(sub.EventTypes), pq.StringArray(sub.CampaignIDs),
		sub.Description, sub.Active, sub.Timeout, sub.MaxRetries, string(headers), s.seal(sub.SecretKey), sub.CreatedAt,
		hookflow.MaxSubscriptionsPerAccount, sub.RateLimit, string(sub.Ordering), string(sub.SignatureScheme))
	if err != nil {
		return wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hookflow.Errorf(hookflow.ECONFLICT, "an account has at most %d subscriptions: delete one first", hookflow.MaxSubscriptionsPerAccount)
	}
	sub.PublicKey, err = publicKeyOf(sub.SecretKey)
	return err
}

// FindSubscription returns one of the account's subscriptions.
func (s *DB) FindSubscription(ctx context.Context, accountID, id string) (hookflow.Subscription, error) {
	return s.opened(findSubscription(ctx, s.db, accountID, id, false))
}

func findSubscription(ctx context.Context, q sqlx.QueryerContext, accountID, id string, forUpdate bool) (hookflow.Subscription, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Subscription{}, notFound("subscription")
	}
	query := `SELECT ` + subscriptionColumns + ` FROM subscriptions
		WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL`
	if forUpdate {
		// Not FOR UPDATE: deliveries and attempts referencing the row take key-share locks,
		// which this one must not wait on (nor they on it) while the row is changed.
		query += ` FOR NO KEY UPDATE`
	}
	var row subscriptionRow
	err := sqlx.GetContext(ctx, q, &row, query, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Subscription{}, notFound("subscription")
	}
	if err != nil {
		return hookflow.Subscription{}, wrap(err)
	}
	return row.subscription(), nil
}

// ListSubscriptions returns the account's subscriptions, oldest first.
func (s *DB) ListSubscriptions(ctx context.Context, accountID string) ([]hookflow.Subscription, error) {
	var rows []subscriptionRow
	err := s.db.SelectContext(ctx, &rows, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE account_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, wrap(err)
	}
	subs := make([]hookflow.Subscription, len(rows))
	for i, r := range rows {
		if subs[i], err = s.opened(r.subscription(), nil); err != nil {
			return nil, err
		}
	}
	return subs, nil
}

// UpdateSubscription applies update to the subscription under a row lock; check validates
// the result (and may look the URL up) before it is written. A change of signature scheme
// is a rotation: a key of the new scheme is minted, and the replaced one signs beside it
// for hookflow.SecretRotationGrace.
func (s *DB) UpdateSubscription(ctx context.Context, accountID, id string, update hookflow.SubscriptionUpdate, check func(*hookflow.Subscription) error) (hookflow.Subscription, error) {
	var sub hookflow.Subscription
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		sub, err = findSubscription(ctx, tx, accountID, id, true)
		if err != nil {
			return err
		}
		// The key is still sealed here: the stored scheme says what it is.
		scheme := sub.SignatureScheme
		update.Apply(&sub)
		if err := check(&sub); err != nil {
			return err
		}
		sub.UpdatedAt = s.Now()
		rekeyed := sub.SignatureScheme != scheme
		if rekeyed {
			key, err := signing.NewKey(signing.Scheme(sub.SignatureScheme))
			if err != nil {
				return err
			}
			sub.Rotate(key, sub.UpdatedAt, hookflow.SecretRotationGrace)
		}
		headers, err := json.Marshal(sub.Headers)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE subscriptions SET url = $3, event_types = $4, campaign_ids = $5, description = $6,
				active = $7, timeout_seconds = $8, max_retries = $9, headers = $10,
				disabled_reason = $11, updated_at = $12, rate_limit = $13, ordering = $14
			WHERE id = $1 AND account_id = $2`,
			id, accountID, sub.URL, pq.StringArray(sub.EventTypes), pq.StringArray(sub.CampaignIDs),
			sub.Description, sub.Active, sub.Timeout, sub.MaxRetries, string(headers), sub.DisabledReason, sub.UpdatedAt,
			sub.RateLimit, string(sub.Ordering))
		if err != nil || !rekeyed {
			return err
		}
		return s.writeKeys(ctx, tx, sub)
	})
	return s.opened(sub, err)
}

// DeleteSubscription removes a subscription from the account's list. Its row stays, so
// the history of its deliveries keeps its subject; no new delivery matches it.
func (s *DB) DeleteSubscription(ctx context.Context, accountID, id string) error {
	if uuid.Validate(id) != nil {
		return notFound("subscription")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE subscriptions SET deleted_at = $3, active = false
		WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL`, id, accountID, s.Now())
	if err != nil {
		return wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("subscription")
	}
	return nil
}

// RotateSecret makes newSecret the signing key and keeps the current one valid for grace.
func (s *DB) RotateSecret(ctx context.Context, accountID, id, newSecret string, grace time.Duration) (hookflow.Subscription, error) {
	var sub hookflow.Subscription
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		sub, err = findSubscription(ctx, tx, accountID, id, true)
		if err != nil {
			return err
		}
		now := s.Now()
		sub.Rotate(newSecret, now, grace)
		sub.UpdatedAt = now
		return s.writeKeys(ctx, tx, sub)
	})
	return s.opened(sub, err)
}

// writeKeys stores a rotated subscription's keys, sealed, and the scheme its new key signs
// in.
func (s *DB) writeKeys(ctx context.Context, tx *sqlx.Tx, sub hookflow.Subscription) error {
	retired, err := s.sealRetired(sub.RetiredSecrets)
	if err != nil {
		return err
	}
	// previous_secret_key was a plaintext copy of the newest retired key for replicas
	// of builds before retired_secrets; the retired keys carry it, sealed.
	_, err = tx.ExecContext(ctx, `UPDATE subscriptions SET secret_key = $3, retired_secrets = $4, signature_scheme = $5,
		previous_secret_key = NULL, previous_secret_expires_at = $6, updated_at = $7 WHERE id = $1 AND account_id = $2`,
		sub.ID, sub.AccountID, s.seal(sub.SecretKey), retired, string(sub.SignatureScheme), sub.RetiredSecrets[0].ExpiresAt, sub.UpdatedAt)
	return err
}
