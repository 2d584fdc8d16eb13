package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
)

// portalTokenPrefix marks portal link tokens so secret scanners and people can recognise
// them in a URL.
const portalTokenPrefix = "hfp_"

// CreatePortalLink mints a single-use link to the account's dashboard, valid for ttl. Only
// the token's hash is stored: the token is in the answer and nowhere else.
func (s *DB) CreatePortalLink(ctx context.Context, in hookflow.PortalLinkInput, ttl time.Duration) (hookflow.PortalLink, error) {
	if err := in.Validate(); err != nil {
		return hookflow.PortalLink{}, err
	}
	// An id that is not a UUID names no account; PostgreSQL would refuse it as a uuid.
	if _, err := uuid.Parse(in.AccountID); err != nil {
		return hookflow.PortalLink{}, notFound("account")
	}
	now := s.Now()
	link := hookflow.PortalLink{Token: portalTokenPrefix + randomToken(), ExpiresAt: now.Add(ttl).UTC()}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		// Sweeping here bounds the table by the links of one ttl without a janitor.
		if _, err := tx.ExecContext(ctx, `DELETE FROM portal_links WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO portal_links (id, account_id, read_only, brand_name, logo_url, created_at, expires_at, api_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''))`, sessionID(link.Token), in.AccountID, in.ReadOnly, in.BrandName, in.LogoURL,
			now, link.ExpiresAt, in.APIKeyID)
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "23503" {
			return notFound("account")
		}
		return err
	})
	if err != nil {
		return hookflow.PortalLink{}, err
	}
	return link, nil
}

// RedeemPortalLink uses a link up. The one UPDATE both checks and marks it: of any number
// of redemptions at once, on any number of API replicas, PostgreSQL lets exactly one find
// the row still unused, and the others find nothing.
func (s *DB) RedeemPortalLink(ctx context.Context, token string) (hookflow.Portal, error) {
	invalid := hookflow.Errorf(hookflow.ENOTFOUND, "this portal link is unknown, used already or expired")
	if token == "" {
		return hookflow.Portal{}, invalid
	}
	now := s.Now()
	var p hookflow.Portal
	err := s.db.QueryRowxContext(ctx, `
		UPDATE portal_links l SET used_at = $2
		WHERE l.id = $1 AND l.used_at IS NULL AND l.expires_at > $2
			AND (l.api_key_id IS NULL OR EXISTS (SELECT 1 FROM api_keys k WHERE k.id = l.api_key_id AND k.revoked_at IS NULL))
		RETURNING l.account_id, l.read_only, l.brand_name, l.logo_url, COALESCE(l.api_key_id, '')`, sessionID(token), now).
		Scan(&p.AccountID, &p.ReadOnly, &p.BrandName, &p.LogoURL, &p.APIKeyID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Portal{}, invalid
	}
	if err != nil {
		return hookflow.Portal{}, wrap(err)
	}
	return p, nil
}
