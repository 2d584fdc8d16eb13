package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// summaryColumns count one event's deliveries by status; the statuses are the table's
// check constraint, so the four add up to the total.
const summaryColumns = `count(*) AS total,
	count(*) FILTER (WHERE d.status = 'pending') AS pending,
	count(*) FILTER (WHERE d.status = 'retrying') AS retrying,
	count(*) FILTER (WHERE d.status = 'delivered') AS delivered,
	count(*) FILTER (WHERE d.status = 'failed') AS failed`

// summaryColumnNames are summaryColumns read from a subquery named o.
const summaryColumnNames = `o.total, o.pending, o.retrying, o.delivered, o.failed`

type summaryRow struct {
	Total     int `db:"total"`
	Pending   int `db:"pending"`
	Retrying  int `db:"retrying"`
	Delivered int `db:"delivered"`
	Failed    int `db:"failed"`
}

func (r summaryRow) summary() hookflow.DeliverySummary {
	return hookflow.DeliverySummary{Total: r.Total, Pending: r.Pending, Retrying: r.Retrying,
		Delivered: r.Delivered, Failed: r.Failed}
}

func summarizeDeliveries(ctx context.Context, q sqlx.QueryerContext, eventID string) (hookflow.DeliverySummary, error) {
	var row summaryRow
	err := sqlx.GetContext(ctx, q, &row, `SELECT `+summaryColumns+` FROM deliveries d WHERE d.event_id = $1`, eventID)
	return row.summary(), err
}

type eventListRow struct {
	eventRow
	summaryRow
}

// ListEvents returns the account's events newest first, keyset-paginated, each with the
// summary of its deliveries. Every event of the account is listed: those it posted and
// those hookflow made for it (tests, fulfilment_pending, and operational events, which
// exist only when one of its subscriptions takes them).
func (s *DB) ListEvents(ctx context.Context, accountID string, f hookflow.EventFilter) (hookflow.EventPage, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return hookflow.EventPage{}, err
	}
	if f.EventType != "" && !hookflow.ValidEventType(f.EventType) {
		return hookflow.EventPage{}, hookflow.Invalid("event_type", "is not an event type")
	}
	if err := checkSharedFilters(f.EntityID, 0, f.Created); err != nil {
		return hookflow.EventPage{}, err
	}
	q := newConditions("e.account_id = $1", accountID)
	if f.EventType != "" {
		q.add("e.event_type = $%d", f.EventType)
	}
	if f.EntityID != "" {
		q.add("e.entity_id = $%d", f.EntityID)
	}
	if err := q.newestFirst("e", f.Created, f.Cursor); err != nil {
		return hookflow.EventPage{}, err
	}
	q.args = append(q.args, limit+1)
	args := q.args
	// The page is chosen first and its deliveries counted after, so only the events shown
	// are counted.
	query := `SELECT e.*, ` + summaryColumnNames + ` FROM (
			SELECT e.id, e.account_id, e.event_type, e.action, e.entity_type, e.entity_id, e.entity_id_number,
				e.campaign_id, e.ordering_key, e.data, e.changes, e.created_at
			FROM events e WHERE ` + q.clause() +
		fmt.Sprintf(` ORDER BY e.created_at DESC, e.id DESC LIMIT $%d`, len(args)) + `) e
		CROSS JOIN LATERAL (SELECT ` + summaryColumns + ` FROM deliveries d WHERE d.event_id = e.id) o
		ORDER BY e.created_at DESC, e.id DESC`
	var rows []eventListRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return hookflow.EventPage{}, wrap(err)
	}
	page := hookflow.EventPage{Data: []hookflow.EventRecord{}}
	for i, r := range rows {
		if i == limit {
			last := rows[limit-1]
			c := encodeCursor(last.CreatedAt, last.ID)
			page.NextCursor = &c
			break
		}
		page.Data = append(page.Data, hookflow.EventRecord{Event: r.event(), Deliveries: r.summary()})
	}
	return page, nil
}
