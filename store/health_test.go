package store_test

import (
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/schema"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// healthAttempt is an attempt to record: code 0 is no answer.
type healthAttempt struct {
	number  int
	started time.Time
	ms      int64
	code    int
	err     string
}

func (h healthAttempt) attempt() hookflow.Attempt {
	a := hookflow.Attempt{Number: h.number, StartedAt: h.started, DurationMS: h.ms, Error: h.err, Trigger: hookflow.TriggerAutomatic}
	if h.code != 0 {
		code := h.code
		a.ResponseCode = &code
	}
	if h.err == "" && (h.code < 200 || h.code > 299) {
		a.Error = fmt.Sprintf("endpoint answered %d", h.code)
		if h.code == 0 {
			a.Error = "connection refused"
		}
	}
	return a
}

func recordHealthAttempt(t *testing.T, db *store.DB, deliveryKey string, h healthAttempt) {
	t.Helper()
	a := h.attempt()
	rec := hookflow.AttemptRecord{DeliveryID: deliveryKey, Attempt: a, Status: hookflow.StatusDelivered, At: h.started}
	if !a.Succeeded() {
		rec.Status = hookflow.StatusFailed
	}
	require.NoError(t, db.RecordAttempt(ctx, rec))
}

func healthRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.SQL().Get(&n, `SELECT count(*) FROM endpoint_health`))
	return n
}

func TestEndpointHealthCountsEachAttemptOnceByHourAndOutcome(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	now := time.Date(2030, 6, 15, 10, 30, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	quiet := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"quiet.*"}})
	theirs := newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{})
	d := ingestN(t, db, acc.ID, 9, "promoter.created")
	require.Len(t, d, 9)
	at := func(hoursAgo, minute int) time.Time {
		return now.Truncate(time.Hour).Add(-time.Duration(hoursAgo)*time.Hour + time.Duration(minute)*time.Minute)
	}
	longError := "timed out: " + strings.Repeat("é", 600)
	for i, a := range []healthAttempt{
		{1, at(0, 5), 40, 200, ""},
		{1, at(0, 10), 60, 200, ""},
		{1, at(0, 15), 120, 500, ""},
		{1, at(0, 20), 30, 404, "endpoint answered 404 Not Found"},
		{1, at(1, 59), 1000, 0, longError},
		// Older than the hour's last failure: the hour keeps the later one.
		{1, at(1, 30), 8, 302, ""},
		{1, at(1, 0), 15, 204, ""},
		{1, at(3*24, 0), 20, 200, ""},
		{1, at(8*24, 0), 20, 200, ""},
	} {
		recordHealthAttempt(t, db, d[i], a)
	}
	// The failed delivery's manual retry succeeds.
	recordHealthAttempt(t, db, d[2], healthAttempt{2, at(0, 25), 50, 200, ""})
	// Records repeated by a retried step are not counted again, even with another outcome.
	recordHealthAttempt(t, db, d[0], healthAttempt{1, at(0, 5), 40, 200, ""})
	recordHealthAttempt(t, db, d[3], healthAttempt{1, at(0, 20), 30, 503, ""})

	day, err := db.EndpointHealth(ctx, acc.ID, sub.ID, hookflow.HealthDay)
	require.NoError(t, err)
	assert.Equal(t, sub.ID, day.SubscriptionID)
	assert.Equal(t, hookflow.HealthDay, day.Window)
	assert.Equal(t, time.Date(2030, 6, 14, 11, 0, 0, 0, time.UTC), day.From)
	assert.Equal(t, time.Date(2030, 6, 15, 11, 0, 0, 0, time.UTC), day.To)
	require.Len(t, day.Hours, 24)
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 3, ClientErrors: 1, ServerErrors: 1}, day.Hours[23].OutcomeCounts, "10:00")
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 1, ClientErrors: 1, NoAnswer: 1}, day.Hours[22].OutcomeCounts, "09:00: the 302 counts with 4xx")
	for i := range 22 {
		assert.Zero(t, day.Hours[i].Attempts(), "hour %d", i)
	}
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 4, ClientErrors: 2, ServerErrors: 1, NoAnswer: 1}, day.OutcomeCounts)
	assert.Equal(t, int64(8), day.Attempts)
	require.NotNil(t, day.SuccessRate)
	assert.Equal(t, 0.5, *day.SuccessRate)
	// Durations 8, 15, 30, 40, 50, 60, 120, 1000: the median (rank 4) is 40, p95 (rank 8) 1000.
	within := math.Sqrt(hookflow.LatencyRatio) - 1
	require.NotNil(t, day.LatencyP50MS)
	assert.InEpsilon(t, 40, *day.LatencyP50MS, within)
	assert.InEpsilon(t, 1000, *day.LatencyP95MS, within)
	assert.Equal(t, 1323.0/8, *day.LatencyMeanMS)
	require.NotNil(t, day.LastSuccessAt)
	assert.Equal(t, at(0, 25), *day.LastSuccessAt)
	require.NotNil(t, day.LastFailure)
	assert.Equal(t, at(0, 20), day.LastFailure.At)
	require.NotNil(t, day.LastFailure.ResponseCode)
	assert.Equal(t, 404, *day.LastFailure.ResponseCode, "the first record of the attempt is the one counted")
	assert.Equal(t, "endpoint answered 404 Not Found", day.LastFailure.Error)

	var nineOClock struct {
		At    time.Time `db:"last_failure_at"`
		Code  *int      `db:"last_failure_code"`
		Error string    `db:"last_failure_error"`
	}
	require.NoError(t, db.SQL().Get(&nineOClock, `SELECT last_failure_at, last_failure_code, last_failure_error
		FROM endpoint_health WHERE subscription_id = $1 AND hour = $2`, sub.ID, at(1, 0)))
	assert.Equal(t, at(1, 59), nineOClock.At.UTC())
	assert.Nil(t, nineOClock.Code, "a timeout has no answer")
	assert.Equal(t, hookflow.MaxHealthErrorChars, utf8.RuneCountInString(nineOClock.Error))
	assert.True(t, strings.HasPrefix(longError, nineOClock.Error))

	week, err := db.EndpointHealth(ctx, acc.ID, sub.ID, hookflow.HealthWeek)
	require.NoError(t, err)
	require.Len(t, week.Hours, 168)
	assert.Equal(t, int64(9), week.Attempts, "three days ago counts, eight days ago does not")
	assert.Equal(t, int64(1), week.Hours[167-72].Succeeded)
	assert.InDelta(t, 5.0/9, *week.SuccessRate, 1e-12)

	none, err := db.EndpointHealth(ctx, acc.ID, quiet.ID, hookflow.HealthWeek)
	require.NoError(t, err)
	assert.Zero(t, none.Attempts)
	assert.Len(t, none.Hours, 168)
	assert.Nil(t, none.SuccessRate)
	assert.Nil(t, none.LastFailure)

	for _, id := range []string{theirs.ID, "not-a-uuid", "00000000-0000-0000-0000-000000000000"} {
		_, err := db.EndpointHealth(ctx, acc.ID, id, hookflow.HealthDay)
		requireCode(t, err, hookflow.ENOTFOUND)
	}

	summaries, err := db.HealthSummaries(ctx, acc.ID, []string{sub.ID, quiet.ID, theirs.ID, "nope"})
	require.NoError(t, err)
	require.Len(t, summaries, 2, "another account's subscription is left out")
	s := summaries[sub.ID]
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 4, ClientErrors: 2, ServerErrors: 1, NoAnswer: 1}, s.OutcomeCounts)
	assert.Equal(t, 0.5, *s.SuccessRate)
	require.Len(t, s.Hours, 24)
	assert.Equal(t, int64(5), s.Hours[23].Attempts())
	assert.Equal(t, int64(3), s.Hours[22].Attempts())
	assert.Zero(t, summaries[quiet.ID].Attempts())
	assert.Len(t, summaries[quiet.ID].Hours, 24)

	require.NoError(t, db.DeleteSubscription(ctx, acc.ID, sub.ID))
	_, err = db.EndpointHealth(ctx, acc.ID, sub.ID, hookflow.HealthDay)
	requireCode(t, err, hookflow.ENOTFOUND)
}

func TestEndpointHealthLeavesCampaignWebhooksOut(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	camp, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, "whsec_"+strings.Repeat("A", 44))
	require.NoError(t, err)
	camp, err = db.SetCampaignWebhooks(ctx, acc.ID, camp.ID, []hookflow.CampaignWebhook{{Kind: "fulfilment", URL: "http://127.0.0.1:9/f"}})
	require.NoError(t, err)
	amount := 1.0
	_, err = db.CreateFulfilment(ctx, acc.ID, hookflow.FulfilmentInput{CampaignID: hookflow.CampaignRef(camp.ID), RewardID: "r1",
		Amount: &amount, Unit: "credits", Promoter: []byte(`{"id":1}`)})
	require.NoError(t, err)
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	require.NotEmpty(t, page.Data[0].CampaignWebhookID)
	recordHealthAttempt(t, db, page.Data[0].Key, healthAttempt{1, db.Now(), 10, 500, ""})
	assert.Zero(t, healthRows(t, db))
}

// Attempts of one subscription recorded at once, successes and failures mixed while a
// run of failures is open, are each counted once and none waits on another for ever.
func TestEndpointHealthUnderConcurrentAttempts(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	now := time.Date(2030, 6, 15, 10, 30, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	const workers, each = 8, 25
	keys := ingestN(t, db, acc.ID, workers*each, "promoter.created")
	started := now.Add(time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				code := 200
				if n%3 == 0 {
					code = 503
				}
				a := healthAttempt{1, started.Add(time.Duration(n) * time.Millisecond), int64(n), code, ""}.attempt()
				rec := hookflow.AttemptRecord{DeliveryID: keys[n], Attempt: a, Status: hookflow.StatusDelivered}
				if !a.Succeeded() {
					rec.Status = hookflow.StatusRetrying
					next := started.Add(time.Hour)
					rec.NextAttemptAt = &next
				}
				errs <- db.RecordAttempt(ctx, rec)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	h, err := db.EndpointHealth(ctx, acc.ID, sub.ID, hookflow.HealthDay)
	require.NoError(t, err)
	failed := int64((workers*each + 2) / 3)
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: workers*each - failed, ServerErrors: failed}, h.OutcomeCounts)
	assert.Equal(t, int64(workers*each), h.Hours[23].Attempts())
}

func TestRetentionPurgesEndpointHealthAfterTheLongerOfRetentionAndAWeek(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	now := time.Date(2030, 6, 15, 10, 30, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	keys := ingestN(t, db, acc.ID, 3, "promoter.created")
	for i, daysAgo := range []int{6, 8, 40} {
		recordHealthAttempt(t, db, keys[i], healthAttempt{1, now.Add(-time.Duration(daysAgo) * 24 * time.Hour), 10, 200, ""})
	}
	hours := func() []time.Time {
		var hs []time.Time
		require.NoError(t, db.SQL().Select(&hs, `SELECT hour FROM endpoint_health ORDER BY hour DESC`))
		for i := range hs {
			hs[i] = hs[i].UTC()
		}
		return hs
	}
	sixDays, eightDays := now.Truncate(time.Hour).Add(-6*24*time.Hour), now.Truncate(time.Hour).Add(-8*24*time.Hour)

	// A 30-day retention keeps what is younger than 30 days.
	_, err := db.PurgeBatch(ctx, now.Add(-30*24*time.Hour), 100)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{sixDays, eightDays}, hours())
	// A one-day retention still keeps the week the windows show.
	_, err = db.PurgeBatch(ctx, now.Add(-24*time.Hour), 100)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{sixDays}, hours())
}

// The migration counts the attempts already recorded exactly as RecordAttempt counts new
// ones, and its fixed histogram bounds are the domain's.
func TestEndpointHealthMigrationCountsExistingAttemptsAsRecordAttemptDoes(t *testing.T) {
	t.Parallel()
	migration, err := schema.Migrations.ReadFile("00016_endpoint_health.sql")
	require.NoError(t, err)
	bounds := regexp.MustCompile(`'\{([0-9,]+)\}'::bigint\[\]`).FindSubmatch(migration)
	require.NotNil(t, bounds)
	var literal []string
	for _, b := range hookflow.LatencyBounds {
		literal = append(literal, strconv.FormatInt(b, 10))
	}
	assert.Equal(t, strings.Join(literal, ","), string(bounds[1]))
	assert.Contains(t, string(migration), fmt.Sprintf("generate_series(1, %d)", hookflow.LatencyBuckets))
	assert.Contains(t, string(migration), fmt.Sprintf("left(error, %d)", hookflow.MaxHealthErrorChars))

	now := time.Now().UTC()
	attempts := []healthAttempt{
		{1, now.Add(-time.Minute), 40, 200, ""},
		{2, now.Add(-2 * time.Minute), 0, 500, ""},
		{3, now.Add(-3 * time.Minute), 130000, 0, "timed out: no complete answer within 2m0s"},
		{4, now.Add(-3 * time.Hour), 9, 404, "endpoint answered 404 Not Found " + strings.Repeat("ü", 400)},
		{5, now.Add(-3 * time.Hour).Add(time.Second), 700, 301, ""},
		{6, now.Add(-3 * time.Hour).Add(2 * time.Second), 25, 204, ""},
		{7, now.Add(-6 * 24 * time.Hour), 3000, 502, ""},
	}
	const tooOld = 8 * 24 * time.Hour

	// Before: the previous schema, with attempts written as the previous build wrote them.
	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	raw, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer raw.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, raw, schema.Migrations, goose.WithLogger(goose.NopLogger()))
	require.NoError(t, err)
	_, err = provider.UpTo(ctx, 15)
	require.NoError(t, err)
	const (
		account  = "11111111-1111-4111-8111-111111111111"
		sub      = "22222222-2222-4222-8222-222222222222"
		campaign = "33333333-3333-4333-8333-333333333333"
		hook     = "44444444-4444-4444-8444-444444444444"
		event    = "55555555-5555-4555-8555-555555555555"
		delivery = "66666666-6666-4666-8666-666666666666"
		toHook   = "77777777-7777-4777-8777-777777777777"
	)
	for _, stmt := range []string{
		`INSERT INTO accounts (id, name) VALUES ('` + account + `', 'acme')`,
		`INSERT INTO subscriptions (id, account_id, url, event_types, secret_key, timeout_seconds, max_retries)
			VALUES ('` + sub + `', '` + account + `', 'http://127.0.0.1:9/h', '{*}', 'whsec_AAAA', 120, 10)`,
		`INSERT INTO campaigns (id, public_id, account_id, name, secret_key) VALUES ('` + campaign + `', 'spring', '` + account + `', 'Spring', 'whsec_BBBB')`,
		`INSERT INTO campaign_webhooks (id, campaign_id, kind, url) VALUES ('` + hook + `', '` + campaign + `', 'default', 'http://127.0.0.1:9/c')`,
		`INSERT INTO events (id, account_id, event_type) VALUES ('` + event + `', '` + account + `', 'a.b')`,
		`INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, payload)
			VALUES ('` + delivery + `', '` + account + `', '` + event + `', '` + sub + `', 'a.b', '{}')`,
		`INSERT INTO deliveries (id, account_id, event_id, campaign_webhook_id, event_type, payload)
			VALUES ('` + toHook + `', '` + account + `', '` + event + `', '` + hook + `', 'a.b', '{}')`,
	} {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	insert := func(deliveryID string, h healthAttempt) {
		a := h.attempt()
		_, err := raw.ExecContext(ctx, `INSERT INTO attempts (delivery_id, number, started_at, duration_ms, response_code, error, trigger)
			VALUES ($1, $2, $3, $4, $5, $6, 'automatic')`, deliveryID, a.Number, a.StartedAt, a.DurationMS, a.ResponseCode, a.Error)
		require.NoError(t, err)
	}
	for _, a := range attempts {
		insert(delivery, a)
	}
	insert(delivery, healthAttempt{8, now.Add(-tooOld), 10, 200, ""})
	insert(toHook, healthAttempt{1, now.Add(-time.Minute), 10, 500, ""})
	migrated, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	defer migrated.Close()
	started := time.Now()
	require.NoError(t, migrated.Migrate(ctx))
	t.Logf("migrated in %s", time.Since(started))

	// After: the same attempts recorded by this build.
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	key := ingestN(t, db, acc.ID, 1, "a.b")[0]
	for _, a := range attempts {
		recordHealthAttempt(t, db, key, a)
	}

	type row struct {
		Hour             time.Time     `db:"hour"`
		Succeeded        int           `db:"succeeded"`
		ClientErrors     int           `db:"client_errors"`
		ServerErrors     int           `db:"server_errors"`
		NoAnswer         int           `db:"no_answer"`
		DurationMS       int64         `db:"duration_ms"`
		Latency          pq.Int64Array `db:"latency"`
		LastSuccessAt    *time.Time    `db:"last_success_at"`
		LastFailureAt    *time.Time    `db:"last_failure_at"`
		LastFailureCode  *int          `db:"last_failure_code"`
		LastFailureError string        `db:"last_failure_error"`
	}
	read := func(db *store.DB) []row {
		var rows []row
		require.NoError(t, db.SQL().Select(&rows, `SELECT hour, succeeded, client_errors, server_errors, no_answer, duration_ms,
			latency, last_success_at, last_failure_at, last_failure_code, last_failure_error FROM endpoint_health ORDER BY hour`))
		for i := range rows {
			rows[i].Hour = rows[i].Hour.UTC()
			for _, t := range []**time.Time{&rows[i].LastSuccessAt, &rows[i].LastFailureAt} {
				if *t != nil {
					utc := (*t).UTC()
					*t = &utc
				}
			}
		}
		return rows
	}
	want := read(db)
	require.NotEmpty(t, want)
	assert.Equal(t, want, read(migrated))

	h, err := migrated.EndpointHealth(ctx, account, sub, hookflow.HealthWeek)
	require.NoError(t, err)
	assert.Equal(t, int64(len(attempts)), h.Attempts, "neither the attempt older than a week nor the campaign webhook's")
}
