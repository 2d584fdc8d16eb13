package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// operationalTypes lists the event types of the deliveries a subscription got.
func operationalTypes(t *testing.T, db *store.DB, accountID, subscriptionID string) []string {
	t.Helper()
	page, err := db.ListDeliveries(ctx, accountID, hookflow.DeliveryFilter{SubscriptionID: subscriptionID})
	require.NoError(t, err)
	var types []string
	for i := len(page.Data) - 1; i >= 0; i-- {
		types = append(types, page.Data[i].EventType)
	}
	return types
}

func failAttempt(t *testing.T, db *store.DB, key string, number, code int, status hookflow.Status) {
	t.Helper()
	rec := hookflow.AttemptRecord{DeliveryID: key, Status: status, At: db.Now(),
		Attempt: hookflow.Attempt{Number: number, StartedAt: db.Now(), ResponseCode: &code, Error: "endpoint answered", Trigger: hookflow.TriggerAutomatic}}
	if code == 410 {
		rec.PauseReason = hookflow.PausedByGone
	}
	if status == hookflow.StatusRetrying {
		next := db.Now().Add(time.Minute)
		rec.NextAttemptAt = &next
	}
	require.NoError(t, db.RecordAttempt(ctx, rec))
}

// Pausing and resuming are each harmless twice; each real change is told to the
// subscriptions that name it ("*" does not), and a resume turns held deliveries into
// waiters for a slot, oldest first.
func TestPauseAndResumeTellOnlyThoseWhoAsked(t *testing.T) {
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Now().UTC())
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	everything := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"*"}})
	ops := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"hookflow.*"}})
	exact := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{hookflow.EventSubscriptionResumed}})

	paused, err := db.PauseSubscription(ctx, acc.ID, sub.ID, "maintenance")
	require.NoError(t, err)
	require.True(t, paused.Paused)
	require.Equal(t, "maintenance", paused.PausedReason)
	again, err := db.PauseSubscription(ctx, acc.ID, sub.ID, "another reason")
	require.NoError(t, err)
	require.Equal(t, paused.PausedAt, again.PausedAt, "a second pause changes nothing")
	require.Equal(t, "maintenance", again.PausedReason)

	keys := ingestN(t, db, acc.ID, 3, "a.b")
	for _, k := range keys {
		req, err := db.SendRequest(ctx, k)
		require.NoError(t, err)
		if req.SubscriptionID == sub.ID {
			require.True(t, req.Paused)
			require.NoError(t, db.MarkWaiting(ctx, k, hookflow.WaitPaused, db.Now().Add(time.Hour)))
		}
	}
	n, err := db.CountHeld(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	resumed, err := db.ResumeSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.False(t, resumed.Paused)
	require.Nil(t, resumed.PausedAt)
	_, err = db.ResumeSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	woken, err := db.TakeWaiters(ctx, sub.ID, 10)
	require.NoError(t, err)
	require.Len(t, woken, 3, "the held deliveries wait for a slot now")

	require.Equal(t, []string{"a.b", "a.b", "a.b"}, operationalTypes(t, db, acc.ID, everything.ID), `"*" gets no operational event`)
	require.Equal(t, []string{hookflow.EventSubscriptionPaused, hookflow.EventSubscriptionResumed},
		operationalTypes(t, db, acc.ID, ops.ID))
	require.Equal(t, []string{hookflow.EventSubscriptionResumed}, operationalTypes(t, db, acc.ID, exact.ID))

	// The event says what happened to which subscription.
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: exact.ID})
	require.NoError(t, err)
	var payload struct {
		EventType  string         `json:"event_type"`
		EntityType string         `json:"entity_type"`
		EntityID   string         `json:"entity_id"`
		Data       map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(page.Data[0].Payload, &payload))
	require.Equal(t, "subscription", payload.EntityType)
	require.Equal(t, sub.ID, payload.EntityID)
	require.Equal(t, sub.ID, payload.Data["subscription_id"])
	require.Equal(t, sub.URL, payload.Data["url"])
	require.Equal(t, "maintenance", payload.Data["paused_reason"])
	require.EqualValues(t, 3, payload.Data["held_deliveries"])

	// Another account's subscription is not found.
	other := newAccount(t, db, "other")
	_, err = db.PauseSubscription(ctx, other.ID, sub.ID, "x")
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.ResumeSubscription(ctx, other.ID, sub.ID)
	requireCode(t, err, hookflow.ENOTFOUND)
}

// A 410 pauses the subscription (the delivery keeps retrying, held); a delivery that ends
// failed is told as hookflow.delivery.failed; neither happens for deliveries of
// operational events, so they never cause one another.
func TestGoneAndFinalFailuresAreTold(t *testing.T) {
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Now().UTC())
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"a.b"}})
	ops := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"hookflow.*"}})

	keys := ingestN(t, db, acc.ID, 2, "a.b")
	failAttempt(t, db, keys[0], 1, 410, hookflow.StatusRetrying)
	got, err := db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.True(t, got.Paused)
	require.True(t, got.Active, "410 pauses, it does not turn the subscription off")
	require.Equal(t, hookflow.PausedByGone, got.PausedReason)

	// Recording the same attempt again (a retried step) tells nobody twice.
	failAttempt(t, db, keys[1], 1, 500, hookflow.StatusFailed)
	failAttempt(t, db, keys[1], 1, 500, hookflow.StatusFailed)
	require.Equal(t, []string{hookflow.EventSubscriptionPaused, hookflow.EventDeliveryFailed}, operationalTypes(t, db, acc.ID, ops.ID))
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: ops.ID, EventType: hookflow.EventDeliveryFailed})
	require.NoError(t, err)
	var failed struct {
		EntityType string         `json:"entity_type"`
		EntityID   json.Number    `json:"entity_id"`
		Data       map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(page.Data[0].Payload, &failed))
	d, err := db.FindDelivery(ctx, acc.ID, keys[1])
	require.NoError(t, err)
	require.Equal(t, "delivery", failed.EntityType)
	require.Equal(t, json.Number(jsonNumber(d.ID)), failed.EntityID)
	require.EqualValues(t, d.ID, failed.Data["delivery_id"])
	require.Equal(t, d.EventID, failed.Data["event_id"])
	require.EqualValues(t, 1, failed.Data["attempts"])
	require.EqualValues(t, 500, failed.Data["response_code"])
	require.Equal(t, "endpoint answered", failed.Data["last_error"])

	// The operational deliveries fail for good, with a 410 even: nothing more is told, and
	// the listening subscription is not paused.
	for _, od := range page.Data {
		failAttempt(t, db, od.Key, 1, 410, hookflow.StatusFailed)
	}
	all, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: ops.ID})
	require.NoError(t, err)
	for _, od := range all.Data {
		failAttempt(t, db, od.Key, 1, 500, hookflow.StatusFailed)
	}
	require.Len(t, operationalTypes(t, db, acc.ID, ops.ID), 2)
	opsNow, err := db.FindSubscription(ctx, acc.ID, ops.ID)
	require.NoError(t, err)
	require.False(t, opsNow.Paused)
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A success ends the run of failures: only failures since the last success count.
func TestFailureStreakPausesOnlyAfterTheWindow(t *testing.T) {
	db := storetest.MustOpen(t)
	start := time.Now().UTC()
	now := start
	db.Now = func() time.Time { return now }
	db.PauseAfter = time.Hour
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	keys := ingestN(t, db, acc.ID, 6, "a.b")
	paused := func() bool {
		got, err := db.FindSubscription(ctx, acc.ID, sub.ID)
		require.NoError(t, err)
		return got.Paused
	}
	failAttempt(t, db, keys[0], 1, 500, hookflow.StatusRetrying)
	now = start.Add(50 * time.Minute)
	failAttempt(t, db, keys[1], 1, 500, hookflow.StatusRetrying)
	now = start.Add(59 * time.Minute)
	failAttempt(t, db, keys[2], 1, 500, hookflow.StatusRetrying)
	require.False(t, paused(), "three failures within the hour")
	code := 200
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: keys[3], Status: hookflow.StatusDelivered, At: now,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: now, ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}))
	now = start.Add(61 * time.Minute)
	failAttempt(t, db, keys[4], 1, 500, hookflow.StatusRetrying)
	require.False(t, paused(), "the success began a new run")
	now = start.Add(2 * time.Hour)
	failAttempt(t, db, keys[5], 1, 500, hookflow.StatusRetrying)
	require.False(t, paused(), "two failures are not enough")
	now = start.Add(121 * time.Minute)
	failAttempt(t, db, keys[0], 2, 500, hookflow.StatusRetrying)
	require.True(t, paused(), "three failures over the hour since the success")
}

// A replay makes new deliveries of the same event with the body first sent; a named
// subscription gets it whatever its filters say, another account's event or subscription
// is not found.
func TestReplayEvent(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"a.b"}})
	other := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"c.d"}})
	in := hookflow.EventInput{EventType: "a.b", Data: json.RawMessage(`{"z": 1, "a": [1, 2]}`)}
	require.NoError(t, in.Validate())
	first, err := db.IngestEvent(ctx, acc.ID, in, "")
	require.NoError(t, err)
	original, err := db.FindDelivery(ctx, acc.ID, first.Deliveries[0].Key)
	require.NoError(t, err)

	replayed, err := db.ReplayEvent(ctx, acc.ID, first.EventID, "")
	require.NoError(t, err)
	require.Len(t, replayed, 1)
	require.Equal(t, sub.ID, replayed[0].SubscriptionID)
	require.Greater(t, replayed[0].ID, original.ID)
	again, err := db.FindDelivery(ctx, acc.ID, replayed[0].Key)
	require.NoError(t, err)
	require.Equal(t, first.EventID, again.EventID)
	require.Equal(t, string(original.Payload), string(again.Payload), "the same bytes as first sent")
	require.Equal(t, hookflow.StatusPending, again.Status)

	named, err := db.ReplayEvent(ctx, acc.ID, first.EventID, other.ID)
	require.NoError(t, err)
	require.Len(t, named, 1)
	require.Equal(t, other.ID, named[0].SubscriptionID)

	stranger := newAccount(t, db, "stranger")
	_, err = db.ReplayEvent(ctx, stranger.ID, first.EventID, "")
	requireCode(t, err, hookflow.ENOTFOUND)
	strangerSub := newSubscription(t, db, stranger.ID, hookflow.SubscriptionUpdate{})
	_, err = db.ReplayEvent(ctx, acc.ID, first.EventID, strangerSub.ID)
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.ReplayEvent(ctx, acc.ID, "not-a-uuid", "")
	requireCode(t, err, hookflow.ENOTFOUND)
}

// A recovery takes the failed deliveries of its window oldest first, a window at a time,
// and is completed when each has had its attempt; deliveries outside the window, of
// another subscription or not failed are not taken.
func TestRecoveryStepsThroughItsWindow(t *testing.T) {
	db := storetest.MustOpen(t)
	start := time.Now().UTC().Add(-time.Hour)
	now := start
	db.Now = func() time.Time { now = now.Add(time.Second); return now }
	db.Retention = 24 * time.Hour
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"a.b"}})
	keys := ingestN(t, db, acc.ID, 6, "a.b")
	for _, k := range keys[:5] {
		failAttempt(t, db, k, 1, 500, hookflow.StatusFailed)
	}
	// keys[0] is before the window, keys[5] is not failed.
	first, err := db.FindDelivery(ctx, acc.ID, keys[1])
	require.NoError(t, err)
	r, err := db.CreateRecovery(ctx, acc.ID, sub.ID, hookflow.RecoveryRequest{Since: first.CreatedAt})
	require.NoError(t, err)
	require.Equal(t, 4, r.Total)
	require.Equal(t, hookflow.RecoveryRunning, r.Status)

	step, err := db.NextRecoveryStep(ctx, r.ID, 3)
	require.NoError(t, err)
	require.False(t, step.Done)
	require.Equal(t, keys[1:4], itemKeys(step.Start))
	// Asked again before any attempt: the same three, nothing more.
	step, err = db.NextRecoveryStep(ctx, r.ID, 3)
	require.NoError(t, err)
	require.Equal(t, keys[1:4], itemKeys(step.Start))

	recordRecovered(t, db, keys[1], r.ID)
	step, err = db.NextRecoveryStep(ctx, r.ID, 3)
	require.NoError(t, err)
	require.Equal(t, []string{keys[2], keys[3], keys[4]}, itemKeys(step.Start))
	for _, k := range keys[2:5] {
		recordRecovered(t, db, k, r.ID)
	}
	step, err = db.NextRecoveryStep(ctx, r.ID, 3)
	require.NoError(t, err)
	require.True(t, step.Done)
	got, err := db.FindRecovery(ctx, acc.ID, r.ID)
	require.NoError(t, err)
	require.Equal(t, hookflow.RecoveryCompleted, got.Status)
	require.Equal(t, 4, got.Retried)
	require.NotNil(t, got.CompletedAt)

	_, err = db.FindRecovery(ctx, newAccount(t, db, "other").ID, r.ID)
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.CreateRecovery(ctx, acc.ID, sub.ID, hookflow.RecoveryRequest{Since: now.Add(-48 * time.Hour)})
	requireCode(t, err, hookflow.EINVALID)
	until := first.CreatedAt.Add(-time.Second)
	_, err = db.CreateRecovery(ctx, acc.ID, sub.ID, hookflow.RecoveryRequest{Since: first.CreatedAt, Until: &until})
	requireCode(t, err, hookflow.EINVALID)
}

func itemKeys(items []hookflow.DispatchItem) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.DeliveryID
	}
	return keys
}

func recordRecovered(t *testing.T, db *store.DB, key, recoveryID string) {
	t.Helper()
	code := 200
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: key, Status: hookflow.StatusDelivered, RecoveryID: recoveryID,
		Attempt: hookflow.Attempt{Number: 2, StartedAt: db.Now(), ResponseCode: &code, Trigger: hookflow.TriggerRecovery}}))
}

// Retention deletes old events with their deliveries and attempts, and keeps an old event
// whose delivery is still open or was made since (a replay).
func TestPurgeKeepsWhatIsInProgress(t *testing.T) {
	db := storetest.MustOpen(t)
	old := time.Now().UTC().Add(-48 * time.Hour)
	db.Now = func() time.Time { return old }
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	keys := ingestN(t, db, acc.ID, 4, "a.b")
	failAttempt(t, db, keys[0], 1, 500, hookflow.StatusFailed)
	failAttempt(t, db, keys[1], 1, 500, hookflow.StatusRetrying)
	failAttempt(t, db, keys[2], 1, 500, hookflow.StatusFailed)
	code := 200
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: keys[3], Status: hookflow.StatusDelivered,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: old, ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}))
	d2, err := db.FindDelivery(ctx, acc.ID, keys[2])
	require.NoError(t, err)
	db.Now = func() time.Time { return time.Now().UTC() }
	_, err = db.ReplayEvent(ctx, acc.ID, d2.EventID, "")
	require.NoError(t, err)
	fresh := ingestN(t, db, acc.ID, 1, "a.b")

	deleted, err := db.PurgeBatch(ctx, time.Now().Add(-24*time.Hour), 1)
	require.NoError(t, err)
	require.Equal(t, 1, deleted, "a batch deletes at most its limit")
	deleted, err = db.PurgeBatch(ctx, time.Now().Add(-24*time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 1, deleted)
	for i, k := range keys {
		_, err := db.FindDelivery(ctx, acc.ID, k)
		if i == 0 || i == 3 {
			requireCode(t, err, hookflow.ENOTFOUND)
		} else {
			require.NoError(t, err, "delivery %d is kept", i)
		}
	}
	_, err = db.FindDelivery(ctx, acc.ID, fresh[0])
	require.NoError(t, err)
	var attempts int
	require.NoError(t, db.SQL().Get(&attempts, `SELECT count(*) FROM attempts WHERE delivery_id = $1`, keys[0]))
	require.Zero(t, attempts)
}

// A hold is not taken once the pause has ended (the resume came while the delivery's
// request was read), and the deliveries a pause held are waiters for a slot after its
// resume without being rewritten.
func TestHoldAfterResumeLetsTheDeliveryGo(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	_, err := db.PauseSubscription(ctx, acc.ID, sub.ID, "x")
	require.NoError(t, err)
	keys := ingestN(t, db, acc.ID, 2, "a.b")
	held, err := db.HoldWaiting(ctx, keys[0], time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, held)
	woken, err := db.TakeWaiters(ctx, sub.ID, 10)
	require.NoError(t, err)
	require.Empty(t, woken, "a paused subscription's held deliveries are not released")
	_, err = db.ResumeSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	held, err = db.HoldWaiting(ctx, keys[1], time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.False(t, held, "no hold after the resume")
	// Both were held from their ingest on, without a workflow; keys[0] then took its hold
	// in a workflow too (a manual retry started one).
	claimed, err := db.ClaimUndispatched(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Empty(t, claimed, "held deliveries are not dispatched before they are released")
	woken, err = db.TakeWaiters(ctx, sub.ID, 1)
	require.NoError(t, err)
	require.Len(t, woken, 1)
	require.Equal(t, keys[0], woken[0].DeliveryID)
	require.False(t, woken[0].Undispatched, "held by its workflow: it is woken, not dispatched")
	woken, err = db.TakeWaiters(ctx, sub.ID, 1)
	require.NoError(t, err)
	require.Len(t, woken, 1)
	require.Equal(t, keys[1], woken[0].DeliveryID)
	require.True(t, woken[0].Undispatched)
	claimed, err = db.ClaimUndispatched(ctx, 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, claimed, 1, "a released one without a workflow is the dispatcher's")
	require.Equal(t, keys[1], claimed[0].DeliveryID)
	// A wake that failed puts it back for the next release.
	require.NoError(t, db.RequeueWaiter(ctx, keys[0]))
	again, err := db.TakeWaiters(ctx, sub.ID, 10)
	require.NoError(t, err)
	require.Len(t, again, 1)
}

// A recovery is refused for an inactive subscription and while another of the same
// subscription runs; a delivery that is skipped (no attempt will come) stops holding its
// recovery, which then completes.
func TestRecoveryConflictsAndSkippedDeliveries(t *testing.T) {
	db := storetest.MustOpen(t)
	start := time.Now().UTC().Add(-time.Hour)
	now := start
	db.Now = func() time.Time { now = now.Add(time.Second); return now }
	db.Retention = 24 * time.Hour
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	keys := ingestN(t, db, acc.ID, 2, "a.b")
	for _, k := range keys {
		failAttempt(t, db, k, 1, 500, hookflow.StatusFailed)
	}
	r, err := db.CreateRecovery(ctx, acc.ID, sub.ID, hookflow.RecoveryRequest{Since: start})
	require.NoError(t, err)
	_, err = db.CreateRecovery(ctx, acc.ID, sub.ID, hookflow.RecoveryRequest{Since: start})
	requireCode(t, err, hookflow.ECONFLICT)
	step, err := db.NextRecoveryStep(ctx, r.ID, 10)
	require.NoError(t, err)
	require.Len(t, step.Start, 2)
	recordRecovered(t, db, keys[0], r.ID)
	require.NoError(t, db.FailWithoutAttempt(ctx, keys[1], "the subscription is disabled"))
	step, err = db.NextRecoveryStep(ctx, r.ID, 10)
	require.NoError(t, err)
	require.True(t, step.Done)

	off := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{Active: ptr(false)})
	_, err = db.CreateRecovery(ctx, acc.ID, off.ID, hookflow.RecoveryRequest{Since: start})
	requireCode(t, err, hookflow.ECONFLICT)
}

// Retention keeps a failed delivery a manual retry or a recovery is still working on.
func TestPurgeKeepsFailedDeliveriesInUse(t *testing.T) {
	db := storetest.MustOpen(t)
	old := time.Now().UTC().Add(-48 * time.Hour)
	db.Now = func() time.Time { return old }
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	keys := ingestN(t, db, acc.ID, 3, "a.b")
	for _, k := range keys {
		failAttempt(t, db, k, 1, 500, hookflow.StatusFailed)
	}
	db.Now = func() time.Time { return time.Now().UTC() }
	_, err := db.PauseSubscription(ctx, acc.ID, sub.ID, "x")
	require.NoError(t, err)
	held, err := db.HoldWaiting(ctx, keys[0], time.Now().Add(time.Hour)) // a manual retry, held
	require.NoError(t, err)
	require.True(t, held)
	_, err = db.SQL().Exec(`UPDATE deliveries SET recovery_pending = true WHERE id = $1`, keys[1])
	require.NoError(t, err)
	deleted, err := db.PurgeBatch(ctx, time.Now().Add(-24*time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 1, deleted)
	for i, k := range keys {
		_, err := db.FindDelivery(ctx, acc.ID, k)
		if i == 2 {
			requireCode(t, err, hookflow.ENOTFOUND)
		} else {
			require.NoError(t, err)
		}
	}
	// An attempt recorded for a delivery deleted meanwhile is not found, not retried.
	code := 500
	err = db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: keys[2], Status: hookflow.StatusFailed,
		Attempt: hookflow.Attempt{Number: 2, StartedAt: time.Now(), ResponseCode: &code, Error: "x", Trigger: hookflow.TriggerManual}})
	requireCode(t, err, hookflow.ENOTFOUND)
}
