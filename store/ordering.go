package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/outbound"
)

// A fifo subscription's delivery carries its event's ordering key and its place in the
// key's order (ordering_seq, taken at ingest). It is attempted only when no earlier
// delivery of the key is still open: SendRequest names the latest such one (it waits for
// that one, which waits in turn for those before it), and a delivery that ends wakes the
// next open one of its key (NextInOrder).

// predecessorColumn is the latest earlier open delivery of the delivery's ordering key.
// The outer condition on d.ordering_seq is evaluated once, so unordered deliveries (the
// common case) pay no lookup.
const predecessorColumn = `COALESCE((SELECT p.id::text FROM deliveries p
		WHERE d.ordering_seq IS NOT NULL AND p.subscription_id = d.subscription_id AND p.ordering_key = d.ordering_key
			AND p.ordering_seq IS NOT NULL AND p.status IN ('pending', 'retrying') AND p.ordering_seq < d.ordering_seq
		ORDER BY p.ordering_seq DESC LIMIT 1), '') AS predecessor`

// MarkWaitingForTurn shows that a delivery waits for an earlier one of its ordering key,
// and which.
func (s *DB) MarkWaitingForTurn(ctx context.Context, deliveryID, predecessorID string, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET waiting_reason = $2,
		waiting_since = CASE WHEN waiting_reason = $2 THEN waiting_since ELSE $3 END, waiting_until = $4, waiting_for = $5
		WHERE id = $1 AND status IN ('pending', 'retrying', 'failed')`,
		deliveryID, string(hookflow.WaitOrdering), s.Now(), until, predecessorID)
	return wrap(err)
}

// NextInOrder returns the open delivery that comes next after deliveryID in its ordering
// key, if there is one: the one to wake when deliveryID has ended.
func (s *DB) NextInOrder(ctx context.Context, deliveryID string) (outbound.Waiter, bool, error) {
	var w outbound.Waiter
	err := sqlx.GetContext(ctx, s.db, &w, `SELECT n.id, n.workflow_id FROM deliveries d
		JOIN LATERAL (SELECT x.id, `+workflowIDColumnOf("x")+` FROM deliveries x
			WHERE x.subscription_id = d.subscription_id AND x.ordering_key = d.ordering_key
				AND x.ordering_seq IS NOT NULL AND x.status IN ('pending', 'retrying') AND x.ordering_seq > d.ordering_seq
			ORDER BY x.ordering_seq LIMIT 1) n ON true
		WHERE d.id = $1 AND d.ordering_seq IS NOT NULL`, deliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return outbound.Waiter{}, false, nil
	}
	if err != nil {
		return outbound.Waiter{}, false, wrap(err)
	}
	return w, true, nil
}

// workflowIDColumnOf is workflowIDColumn for a delivery under another alias.
func workflowIDColumnOf(alias string) string {
	return `COALESCE(` + alias + `.workflow_id, 'delivery-' || ` + alias + `.number) AS workflow_id`
}
