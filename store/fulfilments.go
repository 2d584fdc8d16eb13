package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

type fulfilmentRow struct {
	ID           string     `db:"id"`
	AccountID    string     `db:"account_id"`
	CampaignID   string     `db:"campaign_id"`
	CampaignName string     `db:"campaign_name"`
	RewardID     string     `db:"reward_id"`
	Amount       float64    `db:"amount"`
	Unit         string     `db:"unit"`
	Promoter     []byte     `db:"promoter"`
	Status       string     `db:"status"`
	DatePaid     *time.Time `db:"date_paid"`
	HasIssues    bool       `db:"has_issues"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
}

const fulfilmentSelect = `SELECT f.id, f.account_id, c.public_id AS campaign_id, c.name AS campaign_name, f.reward_id, f.amount,
	f.unit, f.promoter, f.status, f.date_paid, f.has_issues, f.created_at, f.updated_at
	FROM fulfilments f JOIN campaigns c ON c.id = f.campaign_id`

func (r fulfilmentRow) fulfilment() hookflow.Fulfilment {
	return hookflow.Fulfilment{ID: r.ID, AccountID: r.AccountID, CampaignID: r.CampaignID, RewardID: r.RewardID,
		Amount: r.Amount, Unit: r.Unit, Promoter: json.RawMessage(r.Promoter), Status: r.Status,
		DatePaid: utc(r.DatePaid), HasIssues: r.HasIssues, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// data is the fulfilment as a fulfilment_pending event carries it.
func (r fulfilmentRow) data() ([]byte, error) {
	return json.Marshal(hookflow.FulfilmentData{ID: r.ID, Status: r.Status, DatePaid: utc(r.DatePaid), Amount: r.Amount,
		Unit: r.Unit, RewardID: r.RewardID, HasIssues: r.HasIssues,
		Campaign: hookflow.FulfilmentCampaign{ID: r.CampaignID, Name: r.CampaignName}, Promoter: json.RawMessage(r.Promoter)})
}

// CreateFulfilment stores a pending fulfilment and fires fulfilment_pending to the
// campaign's fulfilment URLs and the matching subscriptions, in one transaction.
func (s *DB) CreateFulfilment(ctx context.Context, accountID string, in hookflow.FulfilmentInput) (hookflow.Fulfilment, error) {
	var f hookflow.Fulfilment
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		campaign, err := findCampaign(ctx, tx, accountID, string(in.CampaignID), false)
		if err != nil {
			if hookflow.ErrorCode(err) == hookflow.ENOTFOUND {
				return hookflow.Invalid("campaign_id", "no such campaign")
			}
			return err
		}
		id, now := uuid.NewString(), s.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO fulfilments (id, account_id, campaign_id, reward_id, amount,
			unit, promoter, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
			id, accountID, campaign.Key, in.RewardID, *in.Amount, in.Unit, string(in.Promoter), now); err != nil {
			return err
		}
		var row fulfilmentRow
		if err := tx.GetContext(ctx, &row, fulfilmentSelect+` WHERE f.id = $1`, id); err != nil {
			return err
		}
		if _, err := firePending(ctx, tx, row, now, false); err != nil {
			return err
		}
		f = row.fulfilment()
		return nil
	})
	if err == nil {
		s.wakeDispatchers()
	}
	return f, err
}

// firePending records a fulfilment_pending event for the fulfilment and fans it out, and
// answers how many deliveries it created. With onlyIfSent, a fulfilment that would reach
// no endpoint (its campaign has no fulfilment URL and no subscription matches) gets no
// event either: a periodic check would otherwise write an empty event for it every time.
func firePending(ctx context.Context, tx *sqlx.Tx, row fulfilmentRow, now time.Time, onlyIfSent bool) (int, error) {
	data, err := row.data()
	if err != nil {
		return 0, err
	}
	e := hookflow.Event{ID: uuid.NewString(), AccountID: row.AccountID, EventType: hookflow.FulfilmentPending,
		Action: "created", EntityType: "fulfilment", EntityID: hookflow.EntityID{Value: row.ID}, CampaignID: row.CampaignID,
		Data: data, CreatedAt: now}
	deliveries, err := planFanOut(ctx, tx, e, row.ID)
	if err != nil || (onlyIfSent && len(deliveries) == 0) {
		return 0, err
	}
	if err := insertEvent(ctx, tx, e); err != nil {
		return 0, err
	}
	return len(deliveries), insertDeliveries(ctx, tx, deliveries...)
}

// fulfilmentCheckLock is the advisory lock every fulfilment check holds while it picks and
// fires a batch. Checks are rare, so running them one at a time costs nothing, and it is
// what makes "never two in flight": the query that picks a batch starts after the lock
// is taken, so it sees the deliveries another check committed a moment earlier (a row
// lock alone would not: under READ COMMITTED the in-flight test reads the snapshot taken
// before the row lock was waited for).
const fulfilmentCheckLock = 0x686f6f6b_66756c66 // "hookfulf"

// refireBatch is how many fulfilments one transaction of a check fires; a check goes
// through all of them, batch after batch.
const refireBatch = 500

// RefirePendingFulfilments fires fulfilment_pending again for every fulfilment that is
// pending, without issues, with no delivery in flight and somewhere to go; accountID ""
// means all accounts. It answers how many it fired.
func (s *DB) RefirePendingFulfilments(ctx context.Context, accountID string) (int, error) {
	fired := 0
	var afterAt time.Time
	afterID := uuid.Nil.String()
	for {
		var rows []fulfilmentRow
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(fulfilmentCheckLock)); err != nil {
				return err
			}
			// SKIP LOCKED passes over a fulfilment whose completion is being written now.
			err := tx.SelectContext(ctx, &rows, fulfilmentSelect+`
				WHERE f.status = 'pending' AND NOT f.has_issues AND ($1 = '' OR f.account_id = NULLIF($1, '')::uuid)
				AND c.deleted_at IS NULL
				AND (f.created_at, f.id) > ($2, $3)
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.fulfilment_id = f.id AND d.status IN ('pending', 'retrying'))
				ORDER BY f.created_at, f.id LIMIT $4 FOR UPDATE OF f SKIP LOCKED`, accountID, afterAt, afterID, refireBatch)
			if err != nil {
				return err
			}
			now := s.Now()
			for _, row := range rows {
				n, err := firePending(ctx, tx, row, now, true)
				if err != nil {
					return err
				}
				if n > 0 {
					fired++
				}
			}
			return nil
		})
		if err != nil {
			return fired, err
		}
		if fired > 0 {
			s.wakeDispatchers()
		}
		if len(rows) < refireBatch {
			return fired, nil
		}
		last := rows[len(rows)-1]
		afterAt, afterID = last.CreatedAt, last.ID
	}
}

// FindFulfilment returns one of the account's fulfilments.
func (s *DB) FindFulfilment(ctx context.Context, accountID, id string) (hookflow.Fulfilment, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Fulfilment{}, notFound("fulfilment")
	}
	var row fulfilmentRow
	err := s.db.GetContext(ctx, &row, fulfilmentSelect+` WHERE f.id = $1 AND f.account_id = $2`, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Fulfilment{}, notFound("fulfilment")
	}
	if err != nil {
		return hookflow.Fulfilment{}, wrap(err)
	}
	return row.fulfilment(), nil
}

// ListFulfilments returns the account's fulfilments newest first.
func (s *DB) ListFulfilments(ctx context.Context, accountID string, f hookflow.FulfilmentFilter) (hookflow.FulfilmentPage, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return hookflow.FulfilmentPage{}, err
	}
	where := []string{"f.account_id = $1"}
	args := []any{accountID}
	if f.Status != "" {
		if f.Status != hookflow.FulfilmentStatusPending && f.Status != hookflow.FulfilmentStatusCompleted {
			return hookflow.FulfilmentPage{}, hookflow.Invalid("status", "must be pending or completed")
		}
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf("f.status = $%d", len(args)))
	}
	if f.HasIssues != nil {
		args = append(args, *f.HasIssues)
		where = append(where, fmt.Sprintf("f.has_issues = $%d", len(args)))
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return hookflow.FulfilmentPage{}, hookflow.Invalid("cursor", "is not a cursor returned by this listing")
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(f.created_at, f.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, limit+1)
	var rows []fulfilmentRow
	err = s.db.SelectContext(ctx, &rows, fulfilmentSelect+` WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY f.created_at DESC, f.id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return hookflow.FulfilmentPage{}, wrap(err)
	}
	page := hookflow.FulfilmentPage{Data: []hookflow.Fulfilment{}}
	for i, r := range rows {
		if i == limit {
			c := encodeCursor(rows[limit-1].CreatedAt, rows[limit-1].ID)
			page.NextCursor = &c
			break
		}
		page.Data = append(page.Data, r.fulfilment())
	}
	return page, nil
}
