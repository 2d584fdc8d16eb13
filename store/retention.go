package store

import (
	"context"
	"time"
)

// PurgeBatch deletes up to limit events created before cutoff, with their deliveries and
// attempts, oldest first, and returns how many events it deleted. An event stays while
// one of its deliveries is still open (pending or retrying), waits for its endpoint (a
// manual retry held by a pause), awaits a recovery's attempt, or was created since cutoff
// (a replay): nothing in progress loses its record. Each batch is its own short
// transaction, and rows another transaction holds are skipped, not waited for. The last
// batch (fewer than limit) also deletes the endpoint health older than both cutoff and
// hookflow.HealthKept.
func (s *DB) PurgeBatch(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := s.db.ExecContext(ctx, `WITH doomed AS (
			SELECT e.id FROM events e
			WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id
				AND (d.status IN ('pending', 'retrying') OR d.created_at >= $1
					OR d.waiting_reason IS NOT NULL OR d.recovery_pending))
			ORDER BY e.created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		DELETE FROM events WHERE id IN (SELECT id FROM doomed)`, cutoff, limit)
	if err != nil {
		return 0, wrap(err)
	}
	n, _ := res.RowsAffected()
	if n < int64(limit) {
		// The events are done; recoveries of that age are history too.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM recoveries WHERE created_at < $1 AND status = 'completed'`, cutoff); err != nil {
			return int(n), wrap(err)
		}
		if err := s.purgeHealth(ctx, cutoff); err != nil {
			return int(n), err
		}
		// An ordering key unused since cutoff and without an open delivery is forgotten:
		// its next event starts its order afresh, with nothing before it to wait for.
		// A batch at a time, and keys an ingest holds are skipped, not waited for.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM ordering_keys WHERE (subscription_id, ordering_key) IN (
			SELECT k.subscription_id, k.ordering_key FROM ordering_keys k WHERE k.used_at < $1
				AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = k.subscription_id
					AND d.ordering_key = k.ordering_key AND d.ordering_seq IS NOT NULL AND d.status IN ('pending', 'retrying'))
			LIMIT $2 FOR UPDATE SKIP LOCKED)`, cutoff, limit); err != nil {
			return int(n), wrap(err)
		}
	}
	return int(n), nil
}
