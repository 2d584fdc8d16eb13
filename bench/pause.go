package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/workflows"
)

// PauseResult is (h): K deliveries held by a paused subscription and drained by its
// resume, then a retention run deleting old rows while events are ingested.
type PauseResult struct {
	Held int `json:"held"`
	// EndpointConcurrency is hookflow's in-flight cap per endpoint, which bounds the drain.
	EndpointConcurrency int     `json:"endpoint_concurrency"`
	Posters             int     `json:"posters"`
	PostSeconds         float64 `json:"post_seconds"`
	// HoldSeconds runs from the first post to the moment every delivery was marked
	// waiting_reason = 'paused'.
	HoldSeconds float64 `json:"hold_seconds"`
	// SentWhilePaused counts attempts made while the subscription was paused; it must be 0.
	SentWhilePaused int `json:"sent_while_paused"`
	// DrainSeconds runs from the resume request to the last delivery recorded delivered.
	DrainSeconds   float64 `json:"drain_seconds"`
	DrainPerSecond float64 `json:"drain_deliveries_per_second"`
	Delivered      int     `json:"delivered"`
	// DrainOverEndToEnd is the drain rate over (b)'s deliveries/s of the same run.
	DrainOverEndToEnd float64         `json:"drain_over_b"`
	Retention         RetentionResult `json:"retention"`
}

// RetentionResult is the retention half of (h).
type RetentionResult struct {
	RetentionSeconds float64 `json:"retention_seconds"`
	OldAgeSeconds    float64 `json:"old_age_seconds"`
	OldEvents        int     `json:"old_events"`
	OldDeliveries    int     `json:"old_deliveries"`
	OldAttempts      int     `json:"old_attempts"`
	InsertSeconds    float64 `json:"insert_seconds"`
	// Before is taken once the old rows are in (and vacuumed, as a settled table would be);
	// After once the retention run has finished; AfterVacuum after a plain VACUUM of the
	// three tables, which is what autovacuum would do next.
	Before      StorageSnapshot `json:"before"`
	After       StorageSnapshot `json:"after"`
	AfterVacuum StorageSnapshot `json:"after_vacuum"`
	// DeletedEvents is what the retention workflow reports; the deliveries and attempts
	// went with them by cascade, counted from the rows left.
	DeletedEvents     int     `json:"deleted_events"`
	DeletedDeliveries int     `json:"deleted_deliveries"`
	DeletedAttempts   int     `json:"deleted_attempts"`
	DeleteSeconds     float64 `json:"delete_seconds"`
	// The ingest figures are (c)'s measurement, taken in this process: alone, then while
	// the retention run deletes.
	IngestPosters         int     `json:"ingest_posters"`
	IngestSubscriptions   int     `json:"ingest_subscriptions"`
	IngestAloneSeconds    float64 `json:"ingest_alone_seconds"`
	IngestAlonePerSecond  float64 `json:"ingest_alone_events_per_second"`
	IngestDuringSeconds   float64 `json:"ingest_during_seconds"`
	IngestDuringPerSecond float64 `json:"ingest_during_events_per_second"`
	IngestRejected        int     `json:"ingest_rejected"`
	// IngestedEvents is every event the retention half posted, its warm-up included.
	IngestedEvents        int     `json:"ingested_events"`
	IngestDuringOverAlone float64 `json:"ingest_during_over_alone"`
}

// StorageSnapshot is what events, deliveries and attempts take in PostgreSQL.
type StorageSnapshot struct {
	// TableBytes is pg_total_relation_size of the three tables: heap, indexes, TOAST and
	// whatever free space they hold.
	TableBytes int64 `json:"table_bytes"`
	// LiveRowBytes is pg_column_size of every live row: what the rows themselves need,
	// without indexes, page overhead or the space of deleted rows.
	LiveRowBytes         int64   `json:"live_row_bytes"`
	Deliveries           int     `json:"deliveries"`
	BytesPerDelivery     float64 `json:"bytes_per_delivery"`
	LiveBytesPerDelivery float64 `json:"live_row_bytes_per_delivery"`
}

// Settings of (h). The concurrency is hookflow's default, passed explicitly so the report
// states what ran. The retention interval is long enough that the schedule never fires by
// itself during the phase: only the harness's trigger runs it.
const (
	pauseConcurrency       = 10
	pauseRetention         = time.Hour
	pauseRetentionInterval = 365 * 24 * time.Hour
	oldRowsAge             = 48 * time.Hour
	goalDrainShare         = 0.8
	goalIngestDuringShare  = 0.8
	// shortEndToEndEvents is (b)'s N when (h) runs alone and needs a (b) to compare with.
	shortEndToEndEvents = 500
)

// (h): a pause holds K deliveries, a resume drains them; then a retention run.
func (b *bench) pause(ctx context.Context) error {
	cfg := b.cfg
	k := cfg.Held
	rate := b.report.EndToEnd.PerSecond
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (h)", Binary: b.binary, TemporalAddress: b.temporal,
		Namespace: namespacePause, RetryUnit: time.Minute, Env: []string{
			fmt.Sprintf("HOOKFLOW_ENDPOINT_CONCURRENCY=%d", pauseConcurrency),
			"HOOKFLOW_RETENTION=" + pauseRetention.String(),
			"HOOKFLOW_RETENTION_INTERVAL=" + pauseRetentionInterval.String(),
		}})
	if err != nil {
		return err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := api.newAccount(ctx, "paused")
	if err != nil {
		return err
	}
	var sub struct {
		ID     string `json:"id"`
		Paused bool   `json:"paused"`
	}
	if err := api.do(ctx, http.MethodPost, "/v1/subscriptions", key,
		map[string]any{"url": b.receiver.URL + okPath + "pause-0", "event_types": []string{"*"}}, http.StatusCreated, &sub); err != nil {
		return err
	}
	// One delivery outside the clock, so the worker is polling and the pools are full.
	if _, err := api.publish(ctx, key, -1); err != nil {
		return err
	}
	if _, err := hf.waitStatus(ctx, "delivered", 1, time.Minute); err != nil {
		return fmt.Errorf("(h) warm-up delivery: %w", err)
	}

	if err := api.do(ctx, http.MethodPost, "/v1/subscriptions/"+sub.ID+"/pause", key,
		map[string]any{"reason": "benchmark"}, http.StatusOK, &sub); err != nil {
		return err
	}
	if !sub.Paused {
		return errors.New("(h) the pause answered a subscription that is not paused")
	}
	res := PauseResult{Held: k, EndpointConcurrency: pauseConcurrency, Posters: cfg.Posters}
	b.logf("(h) holding %d deliveries on a paused subscription", k)
	start := time.Now()
	if _, err := api.publishAll(ctx, key, k, cfg.Posters); err != nil {
		return err
	}
	res.PostSeconds = time.Since(start).Seconds()
	held, err := waitCount(ctx, hf, `SELECT count(*) FROM deliveries WHERE waiting_reason = 'paused'`, k, patience(k, rate))
	if err != nil {
		return fmt.Errorf("(h) holding: %w", err)
	}
	res.HoldSeconds = held.Sub(start).Seconds()
	if err := hf.DB.GetContext(ctx, &res.SentWhilePaused, `SELECT count(*) - 1 FROM attempts`); err != nil {
		return err
	}
	b.logf("(h) %d held %.1fs after the first post; resuming", k, res.HoldSeconds)

	resumed := time.Now()
	if err := api.do(ctx, http.MethodPost, "/v1/subscriptions/"+sub.ID+"/resume", key, map[string]any{}, http.StatusOK, &sub); err != nil {
		return err
	}
	drained, err := hf.waitStatus(ctx, "delivered", 1+k, patience(k, rate))
	if err != nil {
		return fmt.Errorf("(h) drain: %w", err)
	}
	res.DrainSeconds = drained.Sub(resumed).Seconds()
	res.DrainPerSecond = float64(k) / res.DrainSeconds
	if res.Delivered, err = hf.countStatus(ctx, "delivered"); err != nil {
		return err
	}
	res.Delivered--
	res.DrainOverEndToEnd = res.DrainPerSecond / rate
	b.logf("(h) drained in %.1fs: %.1f deliveries/s, %.2f × (b)", res.DrainSeconds, res.DrainPerSecond, res.DrainOverEndToEnd)

	if res.Retention, err = b.retention(ctx, hf, api); err != nil {
		return err
	}
	b.report.Pause = res
	return nil
}

// retention inserts old delivered rows, measures ingest alone, then ingest while a
// triggered retention run deletes them, with the tables' size before and after.
func (b *bench) retention(ctx context.Context, hf *hookflowProc, api *apiClient) (RetentionResult, error) {
	cfg := b.cfg
	res := RetentionResult{RetentionSeconds: pauseRetention.Seconds(), OldAgeSeconds: oldRowsAge.Seconds(),
		IngestPosters: cfg.IngestPosters, IngestSubscriptions: cfg.Subscriptions}
	// The ingest measured here must cost what (c)'s does, PostgreSQL alone, yet this
	// process's worker must reach Temporal to run the retention. Deliveries that are born
	// dispatched are never handed to Temporal, so the dispatcher leaves them alone. This
	// is the benchmark's own database and dies with the phase.
	if _, err := hf.DB.ExecContext(ctx, `ALTER TABLE deliveries ALTER COLUMN dispatched_at SET DEFAULT now()`); err != nil {
		return res, err
	}
	prefix := b.receiver.URL + okPath + "retention-"
	key, err := setUp(ctx, api, prefix, cfg.Subscriptions)
	if err != nil {
		return res, err
	}
	var account string
	var subs []string
	if err := hf.DB.SelectContext(ctx, &subs, `SELECT id FROM subscriptions WHERE starts_with(url, $1) ORDER BY url`, prefix); err != nil {
		return res, err
	}
	if err := hf.DB.GetContext(ctx, &account, `SELECT account_id FROM subscriptions WHERE id = $1`, subs[0]); err != nil {
		return res, err
	}

	res.OldEvents = (cfg.RetentionRows + cfg.Subscriptions - 1) / cfg.Subscriptions
	b.logf("(h) inserting %d old events with %d deliveries each and their attempts", res.OldEvents, cfg.Subscriptions)
	started := time.Now()
	oldFrom := started.Add(-oldRowsAge)
	// Every old row is older than this and every row the phase writes younger, with a
	// margin for the clocks of the harness and PostgreSQL.
	oldBefore := oldFrom.Add(time.Hour)
	if err := insertOldRows(ctx, hf.DB, account, subs, res.OldEvents, oldFrom, oldBefore); err != nil {
		return res, fmt.Errorf("(h) insert the old rows: %w", err)
	}
	res.InsertSeconds = time.Since(started).Seconds()
	if err := hf.DB.QueryRowxContext(ctx, `SELECT (SELECT count(*) FROM deliveries WHERE created_at < $1),
		(SELECT count(*) FROM attempts WHERE started_at < $1)`, oldBefore).Scan(&res.OldDeliveries, &res.OldAttempts); err != nil {
		return res, err
	}
	if _, err := hf.DB.ExecContext(ctx, `VACUUM ANALYZE events, deliveries, attempts`); err != nil {
		return res, err
	}
	if res.Before, err = storage(ctx, hf.DB); err != nil {
		return res, err
	}

	sc, err := b.dial(namespacePause)
	if err != nil {
		return res, err
	}
	defer sc.Close()
	schedule := sc.ScheduleClient().GetHandle(ctx, workflows.RetentionScheduleID)
	desc, err := schedule.Describe(ctx)
	if err != nil {
		return res, fmt.Errorf("(h) the retention schedule: %w", err)
	}
	actionsBefore := len(desc.Info.RecentActions)

	if _, err := api.publishAll(ctx, key, cfg.IngestPosters, cfg.IngestPosters); err != nil {
		return res, fmt.Errorf("(h) ingest warm-up: %w", err)
	}
	b.logf("(h) ingest alone: %d posters for %s", cfg.IngestPosters, cfg.IngestDuration)
	load := startIngestLoad(ctx, api, key, cfg.IngestPosters)
	aloneFrom, acceptedFrom := time.Now(), load.accepted.Load()
	select {
	case <-time.After(cfg.IngestDuration):
	case <-ctx.Done():
		load.stop()
		return res, ctx.Err()
	}
	triggered, acceptedAlone := time.Now(), load.accepted.Load()
	b.logf("(h) ingest while a retention run deletes the old rows")
	deleted, err := runRetention(ctx, sc, schedule, actionsBefore)
	finished, acceptedDuring := time.Now(), load.accepted.Load()
	load.stop()
	if err != nil {
		return res, fmt.Errorf("(h) the retention run: %w\n%s", err, hf.logs.Tail(2000))
	}
	res.DeletedEvents = deleted
	res.DeleteSeconds = finished.Sub(triggered).Seconds()
	res.IngestAloneSeconds = triggered.Sub(aloneFrom).Seconds()
	res.IngestAlonePerSecond = float64(acceptedAlone-acceptedFrom) / res.IngestAloneSeconds
	res.IngestDuringSeconds = res.DeleteSeconds
	res.IngestDuringPerSecond = float64(acceptedDuring-acceptedAlone) / res.IngestDuringSeconds
	res.IngestDuringOverAlone = res.IngestDuringPerSecond / res.IngestAlonePerSecond
	res.IngestRejected = int(load.rejected.Load())

	var leftDeliveries, leftAttempts, stored int
	if err := hf.DB.QueryRowxContext(ctx, `SELECT (SELECT count(*) FROM deliveries WHERE created_at < $1),
		(SELECT count(*) FROM attempts WHERE started_at < $1),
		(SELECT count(*) FROM events WHERE account_id = $2 AND created_at >= $1)`, oldBefore, account).Scan(&leftDeliveries, &leftAttempts, &stored); err != nil {
		return res, err
	}
	res.DeletedDeliveries, res.DeletedAttempts = res.OldDeliveries-leftDeliveries, res.OldAttempts-leftAttempts
	if deleted != res.OldEvents || leftDeliveries > 0 || leftAttempts > 0 {
		return res, fmt.Errorf("(h) the retention run deleted %d of %d old events; %d old deliveries and %d attempts are left",
			deleted, res.OldEvents, leftDeliveries, leftAttempts)
	}
	res.IngestedEvents = int(load.accepted.Load()) + cfg.IngestPosters
	if stored != res.IngestedEvents {
		return res, fmt.Errorf("(h) %d events answered 202 but %d stored", res.IngestedEvents, stored)
	}
	if res.After, err = storage(ctx, hf.DB); err != nil {
		return res, err
	}
	if _, err := hf.DB.ExecContext(ctx, `VACUUM events, deliveries, attempts`); err != nil {
		return res, err
	}
	if res.AfterVacuum, err = storage(ctx, hf.DB); err != nil {
		return res, err
	}
	b.logf("(h) retention deleted %d events, %d deliveries, %d attempts in %.1fs; ingest %.0f events/s alone, %.0f during (%.2f ×)",
		res.DeletedEvents, res.DeletedDeliveries, res.DeletedAttempts, res.DeleteSeconds, res.IngestAlonePerSecond, res.IngestDuringPerSecond, res.IngestDuringOverAlone)
	return res, nil
}

// insertOldRows writes events created from `from` on and delivered to every subscription
// given, each delivery with one attempt: copies of the first delivered delivery (so the
// payloads, statuses and attempt records are what hookflow writes), with new ids and old
// times. before bounds them all and nothing else.
func insertOldRows(ctx context.Context, db *sqlx.DB, account string, subs []string, events int, from, before time.Time) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, account_id, event_type, action, entity_type, entity_id, campaign_id, data, created_at)
		SELECT gen_random_uuid(), $1, t.event_type, t.action, t.entity_type, g::text, t.campaign_id, t.data,
			$2::timestamptz + g * (interval '1 minute' / $3::int)
		FROM generate_series(1, $3::int) AS g,
			(SELECT e.* FROM events e JOIN deliveries d ON d.event_id = e.id WHERE d.status = 'delivered' ORDER BY d.number LIMIT 1) AS t`,
		account, from, events); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, status, attempts,
			response_code, response_body, last_error, payload, policy, delivered_at, dispatched_at, created_at)
		SELECT gen_random_uuid(), e.account_id, e.id, s.id, e.event_type, t.status, t.attempts,
			t.response_code, t.response_body, t.last_error, t.payload, t.policy,
			e.created_at + interval '40 ms', e.created_at + interval '5 ms', e.created_at
		FROM events e CROSS JOIN unnest($2::uuid[]) AS s(id),
			(SELECT * FROM deliveries WHERE status = 'delivered' ORDER BY number LIMIT 1) AS t
		WHERE e.account_id = $1 AND e.created_at < $3`, account, pq.StringArray(subs), before); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (delivery_id, number, started_at, duration_ms, response_code, response_body, error, trigger)
		SELECT d.id, 1, d.created_at + interval '10 ms', t.duration_ms, t.response_code, t.response_body, t.error, t.trigger
		FROM deliveries d, (SELECT * FROM attempts ORDER BY started_at LIMIT 1) AS t
		WHERE d.created_at < $1`, before); err != nil {
		return err
	}
	return tx.Commit()
}

// runRetention triggers the retention schedule and waits for the run it started,
// returning the events it deleted.
func runRetention(ctx context.Context, c client.Client, schedule client.ScheduleHandle, actionsBefore int) (int, error) {
	if err := schedule.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(time.Minute)
	var run *client.ScheduleWorkflowExecution
	for run == nil {
		desc, err := schedule.Describe(ctx)
		if err != nil {
			return 0, err
		}
		if actions := desc.Info.RecentActions; len(actions) > actionsBefore {
			run = actions[len(actions)-1].StartWorkflowResult
		}
		if run == nil && time.Now().After(deadline) {
			return 0, errors.New("the triggered run did not start within a minute")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
	var deleted int
	err := c.GetWorkflow(ctx, run.WorkflowID, run.FirstExecutionRunID).Get(ctx, &deleted)
	return deleted, err
}

// ingestLoad posts events from a fixed number of posters until stopped, counting the
// answers as they come, so a window's rate is the difference of two readings.
type ingestLoad struct {
	accepted, rejected atomic.Int64
	done               chan struct{}
	wg                 sync.WaitGroup
}

func startIngestLoad(ctx context.Context, api *apiClient, key string, posters int) *ingestLoad {
	l := &ingestLoad{done: make(chan struct{})}
	for p := range posters {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := p; ctx.Err() == nil; i += posters {
				select {
				case <-l.done:
					return
				default:
				}
				if _, err := api.publish(ctx, key, i); err != nil {
					l.rejected.Add(1)
					continue
				}
				l.accepted.Add(1)
			}
		}()
	}
	return l
}

func (l *ingestLoad) stop() {
	close(l.done)
	l.wg.Wait()
}

// storage measures the three tables and their live rows.
func storage(ctx context.Context, db *sqlx.DB) (StorageSnapshot, error) {
	var s StorageSnapshot
	err := db.QueryRowxContext(ctx, `SELECT
		pg_total_relation_size('events') + pg_total_relation_size('deliveries') + pg_total_relation_size('attempts'),
		(SELECT COALESCE(sum(pg_column_size(e.*)), 0) FROM events e) + (SELECT COALESCE(sum(pg_column_size(d.*)), 0) FROM deliveries d)
			+ (SELECT COALESCE(sum(pg_column_size(a.*)), 0) FROM attempts a),
		(SELECT count(*) FROM deliveries)`).Scan(&s.TableBytes, &s.LiveRowBytes, &s.Deliveries)
	if s.Deliveries > 0 {
		s.BytesPerDelivery = float64(s.TableBytes) / float64(s.Deliveries)
		s.LiveBytesPerDelivery = float64(s.LiveRowBytes) / float64(s.Deliveries)
	}
	return s, err
}

// waitCount polls a count until it reaches want and returns when the poll saw it.
func waitCount(ctx context.Context, hf *hookflowProc, query string, want int, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		var n int
		if err := hf.DB.GetContext(ctx, &n, query); err != nil {
			return time.Time{}, err
		}
		if n >= want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: %d of %d after %s:\n%s", hf.Name, n, want, within, hf.logs.Tail(2000))
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-hf.exited:
			return time.Time{}, fmt.Errorf("%s exited:\n%s", hf.Name, hf.logs.Tail(3000))
		case <-time.After(pollInterval):
		}
	}
}
