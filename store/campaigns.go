package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// CreateCampaign creates a campaign with no webhook URLs; secret signs its legacy webhooks,
// in the scheme of its kind of key. Its id is the client's own (in.ID) or, without one, its
// internal id.
func (s *DB) CreateCampaign(ctx context.Context, accountID string, in hookflow.NewCampaign, secret string) (hookflow.Campaign, error) {
	if err := in.Validate(); err != nil {
		return hookflow.Campaign{}, err
	}
	key := uuid.NewString()
	c := hookflow.Campaign{ID: in.OwnID(), Key: key, AccountID: accountID, Name: in.Name, SecretKey: secret,
		SignatureScheme: hookflow.SchemeOfKey(secret), Webhooks: []hookflow.CampaignWebhook{}, CreatedAt: s.Now()}
	if c.ID == "" {
		c.ID = key
	}
	publicKey, err := publicKeyOf(secret)
	if err != nil {
		return hookflow.Campaign{}, err
	}
	c.PublicKey = publicKey
	res, err := s.db.ExecContext(ctx, `INSERT INTO campaigns (id, account_id, public_id, name, secret_key, created_at, signature_scheme)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id, public_id) WHERE deleted_at IS NULL DO NOTHING`,
		key, accountID, c.ID, c.Name, s.seal(secret), c.CreatedAt, string(c.SignatureScheme))
	if err != nil {
		return hookflow.Campaign{}, wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hookflow.Campaign{}, &hookflow.Error{Code: hookflow.ECONFLICT, Field: "id",
			Message: fmt.Sprintf("id: the account already has a campaign %q", hookflow.Truncate(c.ID, 64))}
	}
	return c, nil
}

// FindCampaign returns one of the account's campaigns with its webhook URLs.
func (s *DB) FindCampaign(ctx context.Context, accountID, id string) (hookflow.Campaign, error) {
	return s.openedCampaign(findCampaign(ctx, s.db, accountID, id, false))
}

type campaignRow struct {
	Key            string    `db:"id"`
	ID             string    `db:"public_id"`
	Name           string    `db:"name"`
	SecretKey      string    `db:"secret_key"`
	Scheme         string    `db:"signature_scheme"`
	RetiredSecrets []byte    `db:"retired_secrets"`
	CreatedAt      time.Time `db:"created_at"`
}

const campaignColumns = `id, public_id, name, secret_key, signature_scheme, retired_secrets, created_at`

func (r campaignRow) campaign(accountID string) hookflow.Campaign {
	c := hookflow.Campaign{ID: r.ID, Key: r.Key, AccountID: accountID, Name: r.Name, SecretKey: r.SecretKey,
		SignatureScheme: hookflow.SignatureScheme(r.Scheme), CreatedAt: r.CreatedAt.UTC(), Webhooks: []hookflow.CampaignWebhook{}}
	if json.Unmarshal(r.RetiredSecrets, &c.RetiredSecrets) == nil && len(c.RetiredSecrets) > 0 {
		last := c.RetiredSecrets[0].ExpiresAt.UTC()
		c.PreviousSecretExpiresAt = &last
	}
	return c
}

func findCampaign(ctx context.Context, q sqlx.QueryerContext, accountID, id string, forUpdate bool) (hookflow.Campaign, error) {
	if !storableText(id) {
		return hookflow.Campaign{}, notFound("campaign")
	}
	query := `SELECT ` + campaignColumns + ` FROM campaigns WHERE public_id = $1 AND account_id = $2 AND deleted_at IS NULL`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	var row campaignRow
	err := sqlx.GetContext(ctx, q, &row, query, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Campaign{}, notFound("campaign")
	}
	if err != nil {
		return hookflow.Campaign{}, wrap(err)
	}
	c := row.campaign(accountID)
	hooks, err := campaignWebhooks(ctx, q, []string{c.Key})
	if err != nil {
		return hookflow.Campaign{}, err
	}
	c.Webhooks = append(c.Webhooks, hooks[c.Key]...)
	return c, nil
}

// storableText reports whether PostgreSQL's text can hold s (a path or query parameter
// can carry anything): valid UTF-8 without NUL.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// campaignWebhooks returns the current webhook URLs of the campaigns, by internal id.
func campaignWebhooks(ctx context.Context, q sqlx.QueryerContext, keys []string) (map[string][]hookflow.CampaignWebhook, error) {
	var rows []struct {
		Campaign string `db:"campaign_id"`
		hookflow.CampaignWebhook
	}
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT campaign_id, id, kind, url FROM campaign_webhooks
		WHERE campaign_id = ANY($1::uuid[]) AND removed_at IS NULL ORDER BY created_at, id`, stringArray(keys))
	if err != nil {
		return nil, wrap(err)
	}
	out := map[string][]hookflow.CampaignWebhook{}
	for _, r := range rows {
		out[r.Campaign] = append(out[r.Campaign], r.CampaignWebhook)
	}
	return out, nil
}

// ListCampaigns returns the account's campaigns, oldest first, keyset-paginated.
func (s *DB) ListCampaigns(ctx context.Context, accountID string, f hookflow.CampaignFilter) (hookflow.CampaignPage, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return hookflow.CampaignPage{}, err
	}
	args := []any{accountID, limit + 1}
	where := `account_id = $1 AND deleted_at IS NULL`
	if f.Cursor != "" {
		at, key, err := decodeCursor(f.Cursor)
		if err != nil {
			return hookflow.CampaignPage{}, hookflow.Invalid("cursor", "is not a cursor returned by this listing")
		}
		args = append(args, at, key)
		where += ` AND (created_at, id) > ($3, $4)`
	}
	var rows []campaignRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+campaignColumns+` FROM campaigns WHERE `+where+
		` ORDER BY created_at, id LIMIT $2`, args...); err != nil {
		return hookflow.CampaignPage{}, wrap(err)
	}
	page := hookflow.CampaignPage{Data: []hookflow.Campaign{}}
	if len(rows) > limit {
		last := rows[limit-1]
		c := encodeCursor(last.CreatedAt, last.Key)
		page.NextCursor, rows = &c, rows[:limit]
	}
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	hooks, err := campaignWebhooks(ctx, s.db, keys)
	if err != nil {
		return hookflow.CampaignPage{}, err
	}
	for _, r := range rows {
		c, err := s.openedCampaign(r.campaign(accountID), nil)
		if err != nil {
			return hookflow.CampaignPage{}, err
		}
		c.Webhooks = append(c.Webhooks, hooks[c.Key]...)
		page.Data = append(page.Data, c)
	}
	return page, nil
}

// DeleteCampaign removes a campaign from the account and retires its webhook URLs: no new
// delivery goes to them, and those waiting to be attempted end with a reason. The rows
// stay for the history of their deliveries, and the id may be used again.
func (s *DB) DeleteCampaign(ctx context.Context, accountID, id string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		c, err := findCampaign(ctx, tx, accountID, id, true)
		if err != nil {
			return err
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE campaigns SET deleted_at = $2 WHERE id = $1`, c.Key, now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaign_webhooks SET removed_at = $2 WHERE campaign_id = $1 AND removed_at IS NULL`, c.Key, now)
		return err
	})
}

// RotateCampaignSecret makes newSecret the campaign's signing key and keeps the current
// one (and those replaced before it) signing for their grace periods. The campaign signs
// in the scheme of newSecret from then on.
func (s *DB) RotateCampaignSecret(ctx context.Context, accountID, id, newSecret string, grace time.Duration) (hookflow.Campaign, error) {
	var c hookflow.Campaign
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if c, err = findCampaign(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		c.Rotate(newSecret, s.Now(), grace)
		retired, err := s.sealRetired(c.RetiredSecrets)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE campaigns SET secret_key = $2, retired_secrets = $3, signature_scheme = $4 WHERE id = $1`,
			c.Key, s.seal(c.SecretKey), retired, string(c.SignatureScheme))
		return err
	})
	return s.openedCampaign(c, err)
}

// SetCampaignWebhooks replaces the campaign's webhook URLs. A URL kept with the same kind
// keeps its id; the others are retired (their rows stay for the delivery history).
func (s *DB) SetCampaignWebhooks(ctx context.Context, accountID, id string, hooks []hookflow.CampaignWebhook) (hookflow.Campaign, error) {
	var c hookflow.Campaign
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		current, err := findCampaign(ctx, tx, accountID, id, true)
		if err != nil {
			return err
		}
		now := s.Now()
		keep := map[string]bool{}
		for _, h := range hooks {
			found := ""
			for _, cur := range current.Webhooks {
				if cur.Kind == h.Kind && cur.URL == h.URL && !keep[cur.ID] {
					found = cur.ID
					break
				}
			}
			if found != "" {
				keep[found] = true
				continue
			}
			newID := uuid.NewString()
			keep[newID] = true
			// A microsecond apart, so the URLs list in the order they were given.
			at := now.Add(time.Duration(len(keep)) * time.Microsecond)
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_webhooks (id, campaign_id, kind, url, created_at)
				VALUES ($1, $2, $3, $4, $5)`, newID, current.Key, h.Kind, h.URL, at); err != nil {
				return err
			}
		}
		for _, cur := range current.Webhooks {
			if !keep[cur.ID] {
				if _, err := tx.ExecContext(ctx, `UPDATE campaign_webhooks SET removed_at = $2 WHERE id = $1`, cur.ID, now); err != nil {
					return err
				}
			}
		}
		c, err = findCampaign(ctx, tx, accountID, id, false)
		return err
	})
	return s.openedCampaign(c, err)
}

// FindCampaignWebhook returns a campaign webhook URL of the account by id, removed or not.
func (s *DB) FindCampaignWebhook(ctx context.Context, accountID, webhookID string) (hookflow.CampaignWebhookInfo, error) {
	if uuid.Validate(webhookID) != nil {
		return hookflow.CampaignWebhookInfo{}, notFound("campaign webhook")
	}
	var w hookflow.CampaignWebhookInfo
	err := s.db.QueryRowxContext(ctx, `SELECT w.id, w.kind, w.url, c.public_id, c.name,
		(w.removed_at IS NOT NULL OR c.deleted_at IS NOT NULL)
		FROM campaign_webhooks w JOIN campaigns c ON c.id = w.campaign_id WHERE w.id = $1 AND c.account_id = $2`,
		webhookID, accountID).Scan(&w.ID, &w.Kind, &w.URL, &w.CampaignID, &w.CampaignName, &w.Removed)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.CampaignWebhookInfo{}, notFound("campaign webhook")
	}
	return w, wrap(err)
}

// CreateCampaignTestDelivery records a test event of the campaign ({"test": true}) and one
// delivery of it, in the legacy shape, to one of the campaign's webhook URLs, and wakes
// the dispatchers. Like a standard legacy event it is attempted once.
func (s *DB) CreateCampaignTestDelivery(ctx context.Context, accountID, campaignID, webhookID string) (hookflow.Delivery, error) {
	var key string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		c, err := findCampaign(ctx, tx, accountID, campaignID, false)
		if err != nil {
			return err
		}
		found := false
		for _, h := range c.Webhooks {
			found = found || h.ID == webhookID
		}
		if !found {
			return notFound("campaign webhook")
		}
		e := hookflow.Event{ID: uuid.NewString(), AccountID: accountID, EventType: hookflow.TestEventType,
			Action: "created", EntityType: "campaign", EntityID: hookflow.EntityID{Value: c.ID}, CampaignID: c.ID,
			Data: json.RawMessage(`{"test":true}`), CreatedAt: s.Now()}
		if err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
		payload, err := hookflow.RenderLegacyPayload(e)
		if err != nil {
			return err
		}
		key = uuid.NewString()
		return insertDeliveries(ctx, tx, deliveryInsert{ID: key, Event: e, CampaignWebhookID: webhookID, Payload: payload,
			Test: true, Policy: hookflow.PolicyNone})
	})
	if err != nil {
		return hookflow.Delivery{}, err
	}
	s.wakeDispatchers()
	return s.findDelivery(ctx, accountID, `d.id = $1`, key)
}
