package hookflow

import (
	"context"
	"math"
	"sort"
	"time"
)

// Endpoint health is what a subscription's recent attempts say about its endpoint: how
// many were answered 2xx, 4xx, 5xx or not at all, hour by hour, how long they took, and
// the last success and failure. It is read from an hourly rollup kept as attempts are
// recorded, never from the attempts themselves, so a busy endpoint's week costs as much to
// show as a quiet one's.

// HealthWindow is a span of endpoint health, ending with the current hour.
type HealthWindow string

const (
	HealthDay  HealthWindow = "24h"
	HealthWeek HealthWindow = "7d"
)

// HealthWindows are the windows offered, shortest first.
var HealthWindows = []HealthWindow{HealthDay, HealthWeek}

// HealthKept is how long the hourly rollup is kept at least, whatever the retention: the
// longest window.
const HealthKept = 7 * 24 * time.Hour

// ParseHealthWindow reads a window as the API and the dashboard take it; empty is 24h.
func ParseHealthWindow(s string) (HealthWindow, error) {
	switch w := HealthWindow(s); w {
	case "":
		return HealthDay, nil
	case HealthDay, HealthWeek:
		return w, nil
	}
	return "", Invalid("window", "must be 24h or 7d")
}

// Hours is how many hours the window shows.
func (w HealthWindow) Hours() int {
	if w == HealthWeek {
		return 7 * 24
	}
	return 24
}

// Span is the window seen at now: whole UTC hours, the last of them the one now falls in.
func (w HealthWindow) Span(now time.Time) (from, to time.Time) {
	to = now.UTC().Truncate(time.Hour).Add(time.Hour)
	return to.Add(-time.Duration(w.Hours()) * time.Hour), to
}

// Outcome is the class an attempt is counted in.
type Outcome int

const (
	// OutcomeSucceeded: a 2xx answer.
	OutcomeSucceeded Outcome = iota
	// OutcomeClientError: a 4xx answer, or any other answer that is neither 2xx nor 5xx
	// (1xx, 3xx: redirects are not followed).
	OutcomeClientError
	// OutcomeServerError: a 5xx answer.
	OutcomeServerError
	// OutcomeNoAnswer: no answer at all, a timeout or a network error.
	OutcomeNoAnswer
)

// AttemptOutcome classifies an attempt.
func AttemptOutcome(a Attempt) Outcome {
	switch {
	case a.Succeeded():
		return OutcomeSucceeded
	case a.ResponseCode == nil:
		return OutcomeNoAnswer
	case *a.ResponseCode >= 500:
		return OutcomeServerError
	}
	return OutcomeClientError
}

// OutcomeCounts counts attempts by outcome.
type OutcomeCounts struct {
	Succeeded    int64 `json:"succeeded"`
	ClientErrors int64 `json:"client_errors"`
	ServerErrors int64 `json:"server_errors"`
	NoAnswer     int64 `json:"no_answer"`
}

// Attempts is every attempt counted.
func (c OutcomeCounts) Attempts() int64 {
	return c.Succeeded + c.ClientErrors + c.ServerErrors + c.NoAnswer
}

// Failed is every attempt that did not succeed.
func (c OutcomeCounts) Failed() int64 { return c.Attempts() - c.Succeeded }

// SuccessRate is the share of attempts that succeeded, from 0 to 1; nil without attempts.
func (c OutcomeCounts) SuccessRate() *float64 {
	n := c.Attempts()
	if n == 0 {
		return nil
	}
	rate := float64(c.Succeeded) / float64(n)
	return &rate
}

func (c *OutcomeCounts) add(o OutcomeCounts) {
	c.Succeeded += o.Succeeded
	c.ClientErrors += o.ClientErrors
	c.ServerErrors += o.ServerErrors
	c.NoAnswer += o.NoAnswer
}

// LatencyRatio is the widest ratio between the shortest and the longest duration one
// latency bucket holds. A quantile is estimated as its bucket's geometric middle, so the
// estimate is off by less than √LatencyRatio − 1 (under 10%) of the true value.
const LatencyRatio = 1.2

// LatencyBounds are the lower bounds, in whole milliseconds, of the latency histogram's
// buckets after the first, which holds attempts shorter than a millisecond: bucket i + 1
// holds durations from LatencyBounds[i] up to the next bound, the last bucket everything
// from the last bound on (beyond the longest timeout). The rollup stores counts by
// position, so these bounds are fixed: other bounds would need another column.
var LatencyBounds = latencyBounds()

// LatencyBuckets is the length of a latency histogram.
var LatencyBuckets = len(LatencyBounds) + 1

func latencyBounds() []int64 {
	// Past the longest timeout, with room for the time an attempt takes to give up.
	last := int64(MaxTimeoutSeconds*1000) * 5 / 4
	bounds := []int64{1}
	for b := int64(1); b <= last; {
		// The next bound is the smallest integer at least 1.2 × b: the durations of a bucket,
		// b up to next − 1, then stay within the ratio.
		next := max(b+1, (b*6+4)/5)
		bounds = append(bounds, next)
		b = next
	}
	return bounds
}

// LatencyBucket is the histogram position of a duration in milliseconds.
func LatencyBucket(ms int64) int {
	return sort.Search(len(LatencyBounds), func(i int) bool { return LatencyBounds[i] > ms })
}

// LatencyHistogram counts attempts by latency bucket (LatencyBuckets long).
type LatencyHistogram []int64

func (h *LatencyHistogram) add(o LatencyHistogram) {
	if len(*h) < len(o) {
		*h = append(*h, make([]int64, len(o)-len(*h))...)
	}
	for i, n := range o {
		(*h)[i] += n
	}
}

// Quantile estimates the q-quantile (0 < q ≤ 1) in milliseconds: the duration at rank
// ⌈q·n⌉ of the n counted, as its bucket's geometric middle (within √LatencyRatio of the
// true duration). Durations beyond the last bound are given as that bound. ok is false
// when nothing was counted.
func (h LatencyHistogram) Quantile(q float64) (ms float64, ok bool) {
	var n int64
	for _, c := range h {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	rank := max(int64(math.Ceil(q*float64(n))), 1)
	var seen int64
	for i, c := range h {
		seen += c
		if seen >= rank {
			return bucketMiddle(i), true
		}
	}
	return bucketMiddle(len(h) - 1), true
}

// bucketMiddle is the duration a bucket's attempts are estimated at: the geometric middle
// of the whole milliseconds it holds.
func bucketMiddle(i int) float64 {
	switch {
	case i <= 0:
		return 0
	case i >= len(LatencyBounds):
		return float64(LatencyBounds[len(LatencyBounds)-1])
	}
	shortest, longest := LatencyBounds[i-1], LatencyBounds[i]-1
	return math.Sqrt(float64(shortest) * float64(longest))
}

// AttemptFailure is an attempt that failed, as endpoint health remembers it.
type AttemptFailure struct {
	At           time.Time `json:"at"`
	ResponseCode *int      `json:"response_code"`
	// Error is the start of the attempt's error (MaxHealthErrorChars).
	Error string `json:"error"`
}

// MaxHealthErrorChars is how much of a failure's error endpoint health keeps: the reason,
// not the whole record (the delivery has that).
const MaxHealthErrorChars = 300

// HourRollup is one hour of one subscription's attempts, as the store keeps it.
type HourRollup struct {
	Hour time.Time
	OutcomeCounts
	// DurationMS is the sum of the attempts' durations.
	DurationMS    int64
	Latency       LatencyHistogram
	LastSuccessAt *time.Time
	LastFailure   *AttemptFailure
}

// HourHealth is one hour of a window: its attempts by outcome.
type HourHealth struct {
	// Hour is when the hour starts (UTC).
	Hour time.Time `json:"hour"`
	OutcomeCounts
}

// EndpointHealth is a subscription's endpoint health over a window.
type EndpointHealth struct {
	SubscriptionID string       `json:"subscription_id"`
	Window         HealthWindow `json:"window"`
	// From and To bound the window's hours: [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	OutcomeCounts
	Attempts int64 `json:"attempts"`
	// SuccessRate is Succeeded / Attempts, from 0 to 1; null without attempts.
	SuccessRate *float64 `json:"success_rate"`
	// The latency quantiles are estimates (see LatencyRatio); the mean is exact. All are
	// null without attempts; timeouts count with the time they waited.
	LatencyP50MS  *float64        `json:"latency_p50_ms"`
	LatencyP95MS  *float64        `json:"latency_p95_ms"`
	LatencyMeanMS *float64        `json:"latency_mean_ms"`
	LastSuccessAt *time.Time      `json:"last_success_at"`
	LastFailure   *AttemptFailure `json:"last_failure"`
	// Hours is every hour of the window, oldest first, those without attempts included.
	Hours []HourHealth `json:"hours"`
}

// NewEndpointHealth sums a window's hourly rollups (rows outside [from, from + window)
// are left out).
func NewEndpointHealth(subscriptionID string, w HealthWindow, from time.Time, rollups []HourRollup) EndpointHealth {
	from = from.UTC()
	h := EndpointHealth{SubscriptionID: subscriptionID, Window: w, From: from,
		To: from.Add(time.Duration(w.Hours()) * time.Hour), Hours: emptyHours(from, w.Hours())}
	var latency LatencyHistogram
	var duration int64
	for _, r := range rollups {
		i := hourIndex(from, r.Hour, len(h.Hours))
		if i < 0 {
			continue
		}
		h.Hours[i].OutcomeCounts.add(r.OutcomeCounts)
		h.OutcomeCounts.add(r.OutcomeCounts)
		latency.add(r.Latency)
		duration += r.DurationMS
		if r.LastSuccessAt != nil && (h.LastSuccessAt == nil || r.LastSuccessAt.After(*h.LastSuccessAt)) {
			at := r.LastSuccessAt.UTC()
			h.LastSuccessAt = &at
		}
		if f := r.LastFailure; f != nil && (h.LastFailure == nil || f.At.After(h.LastFailure.At)) {
			last := *f
			last.At = last.At.UTC()
			h.LastFailure = &last
		}
	}
	h.Attempts = h.OutcomeCounts.Attempts()
	h.SuccessRate = h.OutcomeCounts.SuccessRate()
	if h.Attempts > 0 {
		mean := float64(duration) / float64(h.Attempts)
		h.LatencyMeanMS = &mean
	}
	if p50, ok := latency.Quantile(0.5); ok {
		p95, _ := latency.Quantile(0.95)
		h.LatencyP50MS, h.LatencyP95MS = &p50, &p95
	}
	return h
}

// HealthSummary is a subscription's last 24 hours in brief, for a list.
type HealthSummary struct {
	SubscriptionID string `json:"subscription_id"`
	OutcomeCounts
	SuccessRate *float64 `json:"success_rate"`
	// Hours is every hour of the day, oldest first.
	Hours []HourHealth `json:"hours"`
}

// NewHealthSummary sums the hours of a day starting at from.
func NewHealthSummary(subscriptionID string, from time.Time, hours []HourHealth) HealthSummary {
	from = from.UTC()
	s := HealthSummary{SubscriptionID: subscriptionID, Hours: emptyHours(from, HealthDay.Hours())}
	for _, hour := range hours {
		if i := hourIndex(from, hour.Hour, len(s.Hours)); i >= 0 {
			s.Hours[i].OutcomeCounts.add(hour.OutcomeCounts)
			s.OutcomeCounts.add(hour.OutcomeCounts)
		}
	}
	s.SuccessRate = s.OutcomeCounts.SuccessRate()
	return s
}

func emptyHours(from time.Time, n int) []HourHealth {
	hours := make([]HourHealth, n)
	for i := range hours {
		hours[i].Hour = from.Add(time.Duration(i) * time.Hour)
	}
	return hours
}

// hourIndex is the position of hour in n hours from from, or -1 outside them.
func hourIndex(from, hour time.Time, n int) int {
	d := hour.Sub(from)
	if d < 0 {
		return -1
	}
	if i := int(d / time.Hour); i < n {
		return i
	}
	return -1
}

// HealthService reads endpoint health. Every method is scoped to the account: another
// account's subscription is ENOTFOUND, or left out of a list.
type HealthService interface {
	// EndpointHealth is a subscription's health over the window ending with the current
	// hour.
	EndpointHealth(ctx context.Context, accountID, subscriptionID string, window HealthWindow) (EndpointHealth, error)
	// HealthSummaries are the last 24 hours of the subscriptions named, by id; one without
	// attempts in that time has a summary with none.
	HealthSummaries(ctx context.Context, accountID string, subscriptionIDs []string) (map[string]HealthSummary, error)
}
