package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// CreateCampaign creates a campaign with no webhook URLs; secret signs its legacy webhooks.
func (s *DB) CreateCampaign(ctx context.Context, accountID, name, secret string) (hookflow.Campaign, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return hookflow.Campaign{}, hookflow.Invalid("name", "is required")
	}
	if utf8.RuneCountInString(name) > 200 || !hookflow.ValidText(name) {
		return hookflow.Campaign{}, hookflow.Invalid("name", "at most 200 characters of text")
	}
	c := hookflow.Campaign{ID: uuid.NewString(), AccountID: accountID, Name: name, SecretKey: secret,
		Webhooks: []hookflow.CampaignWebhook{}, CreatedAt: s.Now()}
	_, err := s.db.ExecContext(ctx, `INSERT INTO campaigns (id, account_id, name, secret_key, created_at)
		VALUES ($1, $2, $3, $4, $5)`, c.ID, accountID, c.Name, secret, c.CreatedAt)
	return c, wrap(err)
}

// FindCampaign returns one of the account's campaigns with its webhook URLs.
func (s *DB) FindCampaign(ctx context.Context, accountID, id string) (hookflow.Campaign, error) {
	return findCampaign(ctx, s.db, accountID, id, false)
}

func findCampaign(ctx context.Context, q sqlx.QueryerContext, accountID, id string, forUpdate bool) (hookflow.Campaign, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Campaign{}, notFound("campaign")
	}
	query := `SELECT id, name, secret_key, created_at FROM campaigns WHERE id = $1 AND account_id = $2`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	var c hookflow.Campaign
	err := q.QueryRowxContext(ctx, query, id, accountID).Scan(&c.ID, &c.Name, &c.SecretKey, &c.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Campaign{}, notFound("campaign")
	}
	if err != nil {
		return hookflow.Campaign{}, wrap(err)
	}
	c.AccountID, c.CreatedAt = accountID, c.CreatedAt.UTC()
	c.Webhooks = []hookflow.CampaignWebhook{}
	rows, err := q.QueryxContext(ctx, `SELECT id, kind, url FROM campaign_webhooks
		WHERE campaign_id = $1 AND removed_at IS NULL ORDER BY created_at, id`, id)
	if err != nil {
		return hookflow.Campaign{}, wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h hookflow.CampaignWebhook
		if err := rows.Scan(&h.ID, &h.Kind, &h.URL); err != nil {
			return hookflow.Campaign{}, wrap(err)
		}
		c.Webhooks = append(c.Webhooks, h)
	}
	return c, wrap(rows.Err())
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
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_webhooks (id, campaign_id, kind, url, created_at)
				VALUES ($1, $2, $3, $4, $5)`, newID, id, h.Kind, h.URL, now); err != nil {
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
	return c, err
}
