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
// and which. When that one is still held by a pause that has ended, it is taken from the
// hold here and returned, to be woken (or, with no workflow yet, started by the
// dispatchers, which this wakes): a resume releases its held deliveries oldest first by
// creation time, which two ingests racing for one key may have taken in the other order
// than their places, and the later one must not wait on an earlier one nobody releases.
func (s *DB) MarkWaitingForTurn(ctx context.Context, deliveryID, predecessorID string, until time.Time) (outbound.Waiter, bool, error) {
	var pulled []outbound.Waiter
	err := sqlx.SelectContext(ctx, s.db, &pulled, `WITH pulled AS (
			UPDATE deliveries p SET waiting_until = NULL,
				waiting_reason = CASE WHEN p.dispatched_at IS NULL THEN 'in_flight_cap' ELSE p.waiting_reason END
			WHERE p.id = $5 AND p.waiting_reason = 'paused' AND p.waiting_until IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM subscriptions ps WHERE ps.id = p.subscription_id AND ps.paused_at IS NOT NULL)
			RETURNING p.id, `+workflowIDColumnOf("p")+`, (p.dispatched_at IS NULL) AS undispatched),
		marked AS (
			UPDATE deliveries SET waiting_reason = $2,
				waiting_since = CASE WHEN waiting_reason = $2 THEN waiting_since ELSE $3 END, waiting_until = $4, waiting_for = $5
			WHERE id = $1 AND status IN ('pending', 'retrying', 'failed'))
		SELECT id, workflow_id, undispatched FROM pulled`,
		deliveryID, string(hookflow.WaitOrdering), s.Now(), until, predecessorID)
	if err != nil || len(pulled) == 0 {
		return outbound.Waiter{}, false, wrap(err)
	}
	if pulled[0].Undispatched {
		s.wakeDispatchers()
	}
	return pulled[0], true, nil
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
