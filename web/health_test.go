package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
)

// textOf is the text of the element with the id (its first text, tags left out).
func textOf(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>(.*?)</(dd|strong|code|span)>`).FindStringSubmatch(body)
	require.NotNil(t, m, "no element #%s", id)
	return html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[1], ""))
}

func TestSubscriptionPageShowsEndpointHealth(t *testing.T) {
	e := newDashboard(t, func(d *Deps) { d.Health = d.Subscriptions.(*store.DB) })
	acc := e.account("acme")
	busy := e.subscription(acc.ID, "http://127.0.0.1:9/busy")
	quietURL := "http://127.0.0.1:9/quiet"
	quiet := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &quietURL, EventTypes: &[]string{"quiet.*"}})
	quiet.SecretKey = busy.SecretKey
	require.NoError(t, e.db.CreateSubscription(context.Background(), acc.ID, &quiet))

	now := time.Now().UTC()
	record := func(started time.Time, ms int64, code int, errText string) {
		t.Helper()
		out, err := e.db.IngestEvent(context.Background(), acc.ID, hookflow.EventInput{EventType: "lead.created", Data: json.RawMessage(`{}`)}, "")
		require.NoError(t, err)
		require.Len(t, out.Deliveries, 1)
		a := hookflow.Attempt{Number: 1, StartedAt: started, DurationMS: ms, Error: errText, Trigger: hookflow.TriggerAutomatic}
		if code != 0 {
			a.ResponseCode = &code
		}
		status := hookflow.StatusDelivered
		if !a.Succeeded() {
			status = hookflow.StatusFailed
		}
		require.NoError(t, e.db.RecordAttempt(context.Background(), hookflow.AttemptRecord{DeliveryID: out.Deliveries[0].Key,
			Attempt: a, Status: status, At: started}))
	}
	// Whole hours apart, so the four fall in four hours whatever the minute is now.
	for i := range 7 {
		record(now.Add(-time.Duration(i)*time.Millisecond), 100, 200, "")
	}
	record(now.Add(-2*time.Hour), 250, 503, "endpoint answered 503 Service Unavailable")
	record(now.Add(-3*time.Hour), 20, 404, "endpoint answered 404 Not Found")
	record(now.Add(-time.Hour), 1000, 0, "timed out: no complete answer within 1s <script>")
	record(now.Add(-3*24*time.Hour), 100, 200, "")

	b := e.browser()
	b.signIn(acc.APIKey)
	p := b.get("/subscriptions/" + busy.ID)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.NotContains(t, p.body, " style=", "the page's Content-Security-Policy allows no inline style")
	assert.Equal(t, "70.0%", textOf(t, p.body, "health-success-rate"))
	assert.Equal(t, "10", textOf(t, p.body, "health-attempts"))
	for id, want := range map[string]string{"health-ok": "7", "health-4xx": "1", "health-5xx": "1", "health-none": "1"} {
		assert.Equal(t, want, textOf(t, p.body, id), id)
	}
	assert.Contains(t, p.body, "4xx and other answers below 500 (1xx, 3xx)", "the legend says where 1xx and 3xx answers count")
	assert.Equal(t, "timed out: no complete answer within 1s <script>", textOf(t, p.body, "health-last-failure-error"))
	assert.NotContains(t, p.body, "1s <script>")
	assert.Contains(t, textOf(t, p.body, "health-last-failure"), "—", "no answer, no code")
	assert.Contains(t, textOf(t, p.body, "health-last-success"), "just now")
	p95 := regexp.MustCompile(`id="health-p95" data-ms="([0-9.]+)"`).FindStringSubmatch(p.body)
	require.NotNil(t, p95)
	ms, err := strconv.ParseFloat(p95[1], 64)
	require.NoError(t, err)
	assert.InEpsilon(t, 1000, ms, 0.1, "p95 of ten attempts is the slowest")
	// Four hours had attempts: four bars.
	assert.Equal(t, 4, strings.Count(p.body, `<g class="chart-hour">`))
	assert.Contains(t, p.body, `<svg class="health-chart"`)
	assert.Contains(t, p.body, `aria-current="true">24 hours</a>`)

	week := b.get("/subscriptions/" + busy.ID + "?window=7d&status=failed")
	require.Equal(t, http.StatusOK, week.status)
	assert.Equal(t, "11", textOf(t, week.body, "health-attempts"))
	assert.Equal(t, "72.7%", textOf(t, week.body, "health-success-rate"))
	assert.Equal(t, 5, strings.Count(week.body, `<g class="chart-hour">`))
	assert.Contains(t, week.body, `aria-current="true">7 days</a>`)
	assert.Contains(t, week.body, `href="/subscriptions/`+busy.ID+`?status=failed&amp;window=24h#health"`, "the switch keeps the filters")

	bad := b.get("/subscriptions/" + busy.ID + "?window=30d")
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, "window: must be 24h or 7d")
	assert.Equal(t, "10", textOf(t, bad.body, "health-attempts"), "shown for 24 hours")

	none := b.get("/subscriptions/" + quiet.ID)
	require.Equal(t, http.StatusOK, none.status)
	assert.Equal(t, "—", textOf(t, none.body, "health-success-rate"))
	assert.Equal(t, "0", textOf(t, none.body, "health-attempts"))
	assert.NotContains(t, none.body, `id="health-last-failure-error"`)
	assert.Zero(t, strings.Count(none.body, `<g class="chart-hour">`))

	list := b.get("/")
	require.Equal(t, http.StatusOK, list.status)
	assert.NotContains(t, list.body, " style=")
	rows := regexp.MustCompile(`(?s)<tr>.*?</tr>`).FindAllString(list.body, -1)
	var busyRow, quietRow string
	for _, r := range rows {
		switch {
		case strings.Contains(r, busy.ID):
			busyRow = r
		case strings.Contains(r, quiet.ID):
			quietRow = r
		}
	}
	assert.Contains(t, busyRow, `<span class="health-rate">70.0%</span>`)
	assert.Contains(t, busyRow, `<svg class="spark"`)
	assert.Contains(t, busyRow, "last 24 hours: 10, 3 failed")
	assert.Contains(t, quietRow, "no attempts")
	assert.NotContains(t, quietRow, `<svg`)
}

func TestHealthFigures(t *testing.T) {
	for n, want := range map[int64]int64{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 99: 100, 101: 200, 420: 500, 100000: 100000} {
		assert.Equal(t, want, roundUp(n), "%d", n)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567", -4200: "-4,200"} {
		assert.Equal(t, want, thousands(n))
	}
	rate := func(v float64) *float64 { return &v }
	assert.Equal(t, "99.9%", successRate(rate(0.99999)), "rounded down: only no failure at all is 100%")
	assert.Equal(t, "100.0%", successRate(rate(1)))
	assert.Equal(t, "—", successRate(nil))
	assert.Equal(t, "< 1 ms", milliseconds(rate(0)))
	assert.Equal(t, "4.5 ms", milliseconds(rate(4.47)))
	assert.Equal(t, "120 ms", milliseconds(rate(120.4)))
	assert.Equal(t, "1.50 s", milliseconds(rate(1500)))
	assert.Equal(t, "30.0 s", milliseconds(rate(30000)))
}
