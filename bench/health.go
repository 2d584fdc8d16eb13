package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
)

// HealthResult is (i): how long the subscription page of an endpoint with many attempts
// in its window takes to serve, its endpoint health read from the hourly rollup.
type HealthResult struct {
	// Attempts were recorded for one subscription over the last 23 hours, through
	// store.RecordAttempt (the statement the worker records every attempt with, which
	// keeps the rollup).
	Attempts        int     `json:"attempts"`
	RecordWorkers   int     `json:"record_workers"`
	InsertSeconds   float64 `json:"insert_seconds"`
	RecordSeconds   float64 `json:"record_seconds"`
	RecordPerSecond float64 `json:"record_per_second"`
	RollupRows      int     `json:"rollup_rows"`
	Requests        int     `json:"requests"`
	PageDay         Timing  `json:"page_24h"`
	PageWeek        Timing  `json:"page_7d"`
	APIWeek         Timing  `json:"api_7d"`
	PageBytes       int     `json:"page_7d_bytes"`
	ScanMS          float64 `json:"scan_ms"`
	SuccessRate     float64 `json:"success_rate"`
	ShownAttempts   int64   `json:"shown_attempts"`
}

// Timing summarizes repeated requests, in milliseconds as the harness saw them (over
// loopback, so the server's time and a little more).
type Timing struct {
	MedianMS float64 `json:"median_ms"`
	P95MS    float64 `json:"p95_ms"`
	MaxMS    float64 `json:"max_ms"`
}

func timing(ms []float64) Timing {
	s := slices.Clone(ms)
	slices.Sort(s)
	return Timing{MedianMS: percentile(s, 50), P95MS: percentile(s, 95), MaxMS: s[len(s)-1]}
}

const (
	namespaceHealth = "bench-health"
	// healthWorkers record attempts side by side, as a worker's in-flight attempts do.
	healthWorkers  = 8
	healthRequests = 40
	goalHealthMS   = 200
	goalHealthSize = 100000
)

// (i): a subscription with cfg.HealthAttempts attempts in the last day; its page and its
// health API, each GET repeated.
func (b *bench) health(ctx context.Context) error {
	n := b.cfg.HealthAttempts
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (i)", Binary: b.binary, TemporalAddress: b.temporal,
		Namespace: namespaceHealth, RetryUnit: time.Hour})
	if err != nil {
		return err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := api.newAccount(ctx, "busy")
	if err != nil {
		return err
	}
	var sub struct {
		ID string `json:"id"`
	}
	if err := api.do(ctx, http.MethodPost, "/v1/subscriptions", key,
		map[string]any{"url": b.receiver.URL + okPath + "health", "event_types": []string{"*"}, "description": "busy endpoint"},
		http.StatusCreated, &sub); err != nil {
		return err
	}
	res := HealthResult{Attempts: n, RecordWorkers: healthWorkers, Requests: healthRequests}

	// The deliveries are born dispatched, so the worker leaves them alone: their attempts
	// are the harness's to record.
	b.logf("(i) inserting %d deliveries of one subscription", n)
	started := time.Now()
	if _, err := hf.DB.ExecContext(ctx, `ALTER TABLE deliveries ALTER COLUMN dispatched_at SET DEFAULT now()`); err != nil {
		return err
	}
	if _, err := hf.DB.ExecContext(ctx, `WITH e AS (
			INSERT INTO events (id, account_id, event_type, action, entity_type, entity_id, data, created_at)
			SELECT gen_random_uuid(), s.account_id, 'promoter.created', 'created', 'promoter', g::text,
				'{"email":"promoter@example.com"}', now() - interval '23 hours' + g * (interval '23 hours' / $2::int)
			FROM subscriptions s, generate_series(1, $2::int) AS g WHERE s.id = $1
			RETURNING id, account_id, created_at)
		INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, payload, created_at)
		SELECT gen_random_uuid(), e.account_id, e.id, $1, 'promoter.created', '{"event_type":"promoter.created"}', e.created_at FROM e`,
		sub.ID, n); err != nil {
		return fmt.Errorf("(i) insert deliveries: %w", err)
	}
	res.InsertSeconds = time.Since(started).Seconds()

	// The harness's own connections commit without waiting for the WAL to reach the disk:
	// the statement is still RecordAttempt's, but 100,000 of them take a fraction of the
	// time on a loaded machine (a commit no longer waits on the disk, and neither does the
	// next attempt of the subscription, which waits for the hour's row).
	dsn, err := url.Parse(hf.DSN)
	if err != nil {
		return err
	}
	q := dsn.Query()
	q.Set("synchronous_commit", "off")
	dsn.RawQuery = q.Encode()
	db, err := store.Open(ctx, dsn.String())
	if err != nil {
		return err
	}
	defer db.Close()
	var deliveries []struct {
		ID        string    `db:"id"`
		CreatedAt time.Time `db:"created_at"`
	}
	if err := db.SQL().SelectContext(ctx, &deliveries, `SELECT id, created_at FROM deliveries WHERE subscription_id = $1`, sub.ID); err != nil {
		return err
	}
	b.logf("(i) recording %d attempts through RecordAttempt, %d at a time", len(deliveries), healthWorkers)
	started = time.Now()
	if err := recordAttempts(ctx, db, len(deliveries), func(i int) hookflow.AttemptRecord {
		d := deliveries[i]
		return benchAttempt(d.ID, d.CreatedAt.Add(10*time.Millisecond), rand.New(rand.NewPCG(uint64(i), 7)))
	}); err != nil {
		return fmt.Errorf("(i) record attempts: %w", err)
	}
	res.RecordSeconds = time.Since(started).Seconds()
	res.RecordPerSecond = float64(n) / res.RecordSeconds
	if err := hf.DB.GetContext(ctx, &res.RollupRows, `SELECT count(*) FROM endpoint_health`); err != nil {
		return err
	}
	if _, err := hf.DB.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		return err
	}
	b.logf("(i) %d attempts recorded in %.1fs (%.0f/s) into %d rollup rows", n, res.RecordSeconds, res.RecordPerSecond, res.RollupRows)

	var shown struct {
		Attempts    int64   `json:"attempts"`
		SuccessRate float64 `json:"success_rate"`
	}
	if err := api.do(ctx, http.MethodGet, "/v1/subscriptions/"+sub.ID+"/health?window=7d", key, nil, http.StatusOK, &shown); err != nil {
		return err
	}
	if shown.Attempts != int64(n) {
		return fmt.Errorf("(i) the health API shows %d attempts of the %d recorded", shown.Attempts, n)
	}
	res.ShownAttempts, res.SuccessRate = shown.Attempts, shown.SuccessRate

	dash, err := signInDashboard(ctx, hf.URL, key)
	if err != nil {
		return err
	}
	pageDay, pageWeek := "/subscriptions/"+sub.ID, "/subscriptions/"+sub.ID+"?window=7d"
	healthAPI := "/v1/subscriptions/" + sub.ID + "/health?window=7d"
	get := func(path string, bearer bool) (float64, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, hf.URL+path, nil)
		if err != nil {
			return 0, 0, err
		}
		client := dash
		if bearer {
			req.Header.Set("Authorization", "Bearer "+key)
			client = api.http
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ms := float64(time.Since(start).Microseconds()) / 1000
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		return ms, len(body), err
	}
	// The first requests prepare the connections and the statements.
	for range 3 {
		for _, p := range []string{pageDay, pageWeek} {
			if _, _, err := get(p, false); err != nil {
				return err
			}
		}
		if _, _, err := get(healthAPI, true); err != nil {
			return err
		}
	}
	var day, week, apiWeek []float64
	for range healthRequests {
		ms, _, err := get(pageDay, false)
		if err != nil {
			return err
		}
		day = append(day, ms)
		ms, size, err := get(pageWeek, false)
		if err != nil {
			return err
		}
		week, res.PageBytes = append(week, ms), size
		if ms, _, err = get(healthAPI, true); err != nil {
			return err
		}
		apiWeek = append(apiWeek, ms)
	}
	res.PageDay, res.PageWeek, res.APIWeek = timing(day), timing(week), timing(apiWeek)

	// What the same figures cost read from the attempts themselves, for comparison.
	var scans []float64
	for range 5 {
		start := time.Now()
		if _, err := hf.DB.ExecContext(ctx, `SELECT date_trunc('hour', a.started_at, 'UTC') AS hour,
				count(*) FILTER (WHERE a.error = '' AND a.response_code BETWEEN 200 AND 299),
				count(*) FILTER (WHERE a.response_code >= 500), count(*) FILTER (WHERE a.response_code IS NULL),
				percentile_disc(0.5) WITHIN GROUP (ORDER BY a.duration_ms),
				percentile_disc(0.95) WITHIN GROUP (ORDER BY a.duration_ms), max(a.started_at)
			FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
			WHERE d.subscription_id = $1 AND a.started_at >= now() - interval '7 days' GROUP BY 1`, sub.ID); err != nil {
			return err
		}
		scans = append(scans, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(scans)
	res.ScanMS = percentile(scans, 50)
	b.report.Health = res
	b.logf("(i) page 24h median %.1f ms p95 %.1f ms; 7d median %.1f ms p95 %.1f ms; API 7d median %.1f ms; a scan of the attempts %.0f ms",
		res.PageDay.MedianMS, res.PageDay.P95MS, res.PageWeek.MedianMS, res.PageWeek.P95MS, res.APIWeek.MedianMS, res.ScanMS)
	return nil
}

// benchAttempt is a plausible attempt: mostly 2xx in tens of milliseconds, some 4xx and
// 5xx, a few timeouts.
func benchAttempt(deliveryID string, started time.Time, rng *rand.Rand) hookflow.AttemptRecord {
	ms := int64(20 + rng.ExpFloat64()*80)
	code := http.StatusOK
	roll := rng.IntN(100)
	switch {
	case roll < 3:
		code = http.StatusNotFound
	case roll < 7:
		code = http.StatusInternalServerError
	case roll < 8:
		code, ms = 0, 30000
	}
	a := hookflow.Attempt{Number: 1, StartedAt: started, DurationMS: ms, Trigger: hookflow.TriggerAutomatic}
	rec := hookflow.AttemptRecord{DeliveryID: deliveryID, Status: hookflow.StatusDelivered, At: started}
	if code != 0 {
		a.ResponseCode = &code
	}
	if code != http.StatusOK {
		a.Error = fmt.Sprintf("endpoint answered %d %s", code, http.StatusText(code))
		if code == 0 {
			a.Error = "timed out: no complete answer within 30s"
		}
		next := started.Add(time.Hour)
		rec.Status, rec.NextAttemptAt = hookflow.StatusRetrying, &next
	}
	rec.Attempt = a
	return rec
}

// recordAttempts records n attempts, healthWorkers at a time.
func recordAttempts(ctx context.Context, db *store.DB, n int, attempt func(i int) hookflow.AttemptRecord) error {
	return postConcurrently(ctx, n, healthWorkers, func(i int) error { return db.RecordAttempt(ctx, attempt(i)) })
}

var loginCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInDashboard returns a client holding a dashboard session of the key's account.
func signInDashboard(ctx context.Context, base, key string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/login", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginCSRF.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("(i) the sign-in page has no CSRF token")
	}
	form := url.Values{"api_key": {key}, "csrf": {string(m[1])}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("(i) sign in: status %d", resp.StatusCode)
	}
	return client, nil
}

// finishHealth adds (i)'s target.
func (r *Report) finishHealth() {
	h := r.Health
	t := atMost("(i) subscription page with 100,000 attempts in its window", "p95 ≤ 200 ms (7-day page, signed in)", "ms", h.PageWeek.P95MS, goalHealthMS)
	if h.Attempts < goalHealthSize {
		t.Status = "not measured at 100,000"
		t.Measured = fmt.Sprintf("%s ms with %d attempts", num(h.PageWeek.P95MS), h.Attempts)
	}
	r.Targets = append(r.Targets, t)
	r.Notes = append(r.Notes, fmt.Sprintf("(i) times GETs made by the harness over loopback (the server's time and a little more), "+
		"interleaved: the page for 24 hours, the page for 7 days, the health API for 7 days, %d of each after 3 warm-ups. "+
		"Its attempts were written through store.RecordAttempt from the harness, %d at a time, on deliveries inserted by SQL; "+
		"the harness's connections commit with synchronous_commit=off, so the writing does not wait on the disk (what is written is the same).", h.Requests, h.RecordWorkers))
}

// healthSection is (i)'s part of the Markdown report.
func (r Report) healthSection(p func(format string, args ...any)) {
	h := r.Health
	p("## (i) Endpoint health of a busy subscription")
	p("")
	p("One subscription with %d attempts over the last 23 hours (92%% 2xx, 3%% 404, 4%% 500, 1%% timeouts), each recorded by `store.RecordAttempt`, which counts it in the hourly rollup in the statement that writes it. The subscription page (signed in, with its endpoint health, the first page of deliveries and the rest of the page) and `GET /v1/subscriptions/{id}/health` read the rollup.", h.Attempts)
	p("")
	p("| figure | value |")
	p("|---|---|")
	p("| inserting the deliveries by SQL | %.1f s |", h.InsertSeconds)
	p("| recording the attempts (RecordAttempt, %d at a time) | %.1f s: %s attempts/s, into %d rollup rows |", h.RecordWorkers, h.RecordSeconds, num(h.RecordPerSecond), h.RollupRows)
	p("| attempts the health API shows for 7 days | %d (success rate %.3f) |", h.ShownAttempts, h.SuccessRate)
	p("| subscription page, 24 hours | median **%s ms**, p95 %s ms, max %s ms |", num(h.PageDay.MedianMS), num(h.PageDay.P95MS), num(h.PageDay.MaxMS))
	p("| subscription page, 7 days | median **%s ms**, p95 **%s ms**, max %s ms (%d bytes) |", num(h.PageWeek.MedianMS), num(h.PageWeek.P95MS), num(h.PageWeek.MaxMS), h.PageBytes)
	p("| health API, 7 days | median %s ms, p95 %s ms, max %s ms |", num(h.APIWeek.MedianMS), num(h.APIWeek.P95MS), num(h.APIWeek.MaxMS))
	p("| the same figures by a scan of the attempts (not what the page does) | %s ms |", num(h.ScanMS))
	p("")
	p("| target | goal | measured | status | by |")
	p("|---|---|---|---|---|")
	for _, t := range r.Targets {
		if strings.HasPrefix(t.Name, "(i)") {
			p("| %s | %s | %s | **%s** | %s |", t.Name, t.Goal, t.Measured, t.Status, t.By)
		}
	}
	p("")
}
