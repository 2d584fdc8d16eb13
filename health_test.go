package hookflow_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

func TestLatencyBucketsStayWithinTheirRatio(t *testing.T) {
	t.Parallel()
	bounds := hookflow.LatencyBounds
	require.Equal(t, int64(1), bounds[0])
	assert.Greater(t, bounds[len(bounds)-1], int64(hookflow.MaxTimeoutSeconds*1000), "a timed-out attempt has a bucket of its own")
	for i := 1; i < len(bounds); i++ {
		shortest, longest := bounds[i-1], bounds[i]-1
		require.GreaterOrEqual(t, longest, shortest, "bucket %d holds a duration", i)
		assert.Less(t, float64(longest)/float64(shortest), hookflow.LatencyRatio, "bucket %d: %d–%d ms", i, shortest, longest)
	}
	assert.Equal(t, len(bounds)+1, hookflow.LatencyBuckets)
	for ms, want := range map[int64]int{-5: 0, 0: 0, 1: 1, 2: 2, 7: 6, 8: 7, 100: 19, 101: 20, 1 << 40: len(bounds)} {
		assert.Equal(t, want, hookflow.LatencyBucket(ms), "%d ms", ms)
	}
}

// The quantiles read from the histogram are within √1.2 of the exact ones, whatever the
// durations.
func TestLatencyQuantilesAreWithinTheStatedError(t *testing.T) {
	t.Parallel()
	bound := math.Sqrt(hookflow.LatencyRatio) - 1
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(2000)
		durations := make([]int64, n)
		h := make(hookflow.LatencyHistogram, hookflow.LatencyBuckets)
		for i := range durations {
			// Log-uniform from 1 ms to 120 s, the range of real attempts.
			durations[i] = int64(math.Exp(rng.Float64() * math.Log(120000)))
			h[hookflow.LatencyBucket(durations[i])]++
		}
		slices.Sort(durations)
		for _, q := range []float64{0.5, 0.95, 0.99, 1} {
			exact := float64(durations[int(math.Ceil(q*float64(n)))-1])
			got, ok := h.Quantile(q)
			require.True(t, ok)
			assert.LessOrEqual(t, math.Abs(got-exact)/exact, bound, "round %d, q %.2f: %.1f ms for %.0f ms", round, q, got, exact)
		}
	}
	_, ok := make(hookflow.LatencyHistogram, hookflow.LatencyBuckets).Quantile(0.5)
	assert.False(t, ok, "no attempts, no quantile")
}

func TestHealthWindows(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]hookflow.HealthWindow{"": hookflow.HealthDay, "24h": hookflow.HealthDay, "7d": hookflow.HealthWeek} {
		w, err := hookflow.ParseHealthWindow(in)
		require.NoError(t, err)
		assert.Equal(t, want, w)
	}
	for _, in := range []string{"1h", "7D", "168h", " 24h", "week"} {
		_, err := hookflow.ParseHealthWindow(in)
		require.Error(t, err, in)
		assert.Equal(t, "window", hookflow.ErrorField(err))
		assert.Equal(t, hookflow.EINVALID, hookflow.ErrorCode(err))
	}
	// A zone that is not a whole number of hours from UTC still gets UTC hours.
	kolkata := time.FixedZone("IST", 5*3600+1800)
	from, to := hookflow.HealthWeek.Span(time.Date(2030, 3, 10, 14, 20, 0, 0, kolkata))
	assert.Equal(t, time.Date(2030, 3, 10, 9, 0, 0, 0, time.UTC), to)
	assert.Equal(t, to.Add(-168*time.Hour), from)
}

func TestAttemptOutcome(t *testing.T) {
	t.Parallel()
	code := func(c int) *int { return &c }
	for _, tc := range []struct {
		attempt hookflow.Attempt
		want    hookflow.Outcome
	}{
		{hookflow.Attempt{ResponseCode: code(200)}, hookflow.OutcomeSucceeded},
		{hookflow.Attempt{ResponseCode: code(204)}, hookflow.OutcomeSucceeded},
		{hookflow.Attempt{ResponseCode: code(404), Error: "endpoint answered 404 Not Found"}, hookflow.OutcomeClientError},
		{hookflow.Attempt{ResponseCode: code(307), Error: "endpoint answered 307"}, hookflow.OutcomeClientError},
		{hookflow.Attempt{ResponseCode: code(101), Error: "endpoint answered 101"}, hookflow.OutcomeClientError},
		{hookflow.Attempt{ResponseCode: code(500), Error: "endpoint answered 500"}, hookflow.OutcomeServerError},
		{hookflow.Attempt{ResponseCode: code(503), Error: "endpoint answered 503"}, hookflow.OutcomeServerError},
		{hookflow.Attempt{Error: "timed out: no complete answer within 1s"}, hookflow.OutcomeNoAnswer},
		{hookflow.Attempt{Error: "connection refused"}, hookflow.OutcomeNoAnswer},
	} {
		assert.Equal(t, tc.want, hookflow.AttemptOutcome(tc.attempt), "%+v", tc.attempt)
	}
}

func TestEndpointHealthSumsItsWindow(t *testing.T) {
	t.Parallel()
	from := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int, m int) *time.Time {
		t := from.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		return &t
	}
	hist := func(ms ...int64) hookflow.LatencyHistogram {
		h := make(hookflow.LatencyHistogram, hookflow.LatencyBuckets)
		for _, d := range ms {
			h[hookflow.LatencyBucket(d)]++
		}
		return h
	}
	c404 := 404
	rollups := []hookflow.HourRollup{
		{Hour: from.Add(-time.Hour), OutcomeCounts: hookflow.OutcomeCounts{Succeeded: 50}, DurationMS: 500, Latency: hist(10)},
		{Hour: from, OutcomeCounts: hookflow.OutcomeCounts{Succeeded: 3, ServerErrors: 1}, DurationMS: 100, Latency: hist(10, 20, 30, 40),
			LastSuccessAt: at(0, 50), LastFailure: &hookflow.AttemptFailure{At: *at(0, 10), Error: "endpoint answered 500"}},
		{Hour: from.Add(5 * time.Hour), OutcomeCounts: hookflow.OutcomeCounts{ClientErrors: 1, NoAnswer: 1}, DurationMS: 1100, Latency: hist(100, 1000),
			LastFailure: &hookflow.AttemptFailure{At: *at(5, 30), ResponseCode: &c404, Error: "endpoint answered 404 Not Found"}},
		{Hour: from.Add(24 * time.Hour), OutcomeCounts: hookflow.OutcomeCounts{Succeeded: 7}},
	}
	h := hookflow.NewEndpointHealth("sub", hookflow.HealthDay, from, rollups)
	require.Len(t, h.Hours, 24)
	assert.Equal(t, from, h.Hours[0].Hour)
	assert.Equal(t, from.Add(23*time.Hour), h.Hours[23].Hour)
	assert.Equal(t, from.Add(24*time.Hour), h.To)
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 3, ServerErrors: 1}, h.Hours[0].OutcomeCounts)
	assert.Equal(t, hookflow.OutcomeCounts{ClientErrors: 1, NoAnswer: 1}, h.Hours[5].OutcomeCounts)
	assert.Equal(t, hookflow.OutcomeCounts{Succeeded: 3, ClientErrors: 1, ServerErrors: 1, NoAnswer: 1}, h.OutcomeCounts)
	assert.Equal(t, int64(6), h.Attempts)
	require.NotNil(t, h.SuccessRate)
	assert.InDelta(t, 0.5, *h.SuccessRate, 1e-9)
	require.NotNil(t, h.LatencyMeanMS)
	assert.InDelta(t, 200, *h.LatencyMeanMS, 1e-9)
	require.NotNil(t, h.LatencyP50MS)
	assert.InDelta(t, 30, *h.LatencyP50MS, 30*0.1, "rank 3 of 10, 20, 30, 40, 100, 1000")
	assert.InDelta(t, 1000, *h.LatencyP95MS, 1000*0.1)
	assert.Equal(t, at(0, 50), h.LastSuccessAt)
	require.NotNil(t, h.LastFailure)
	assert.Equal(t, 404, *h.LastFailure.ResponseCode)
	assert.Equal(t, *at(5, 30), h.LastFailure.At)

	empty := hookflow.NewEndpointHealth("sub", hookflow.HealthWeek, from, nil)
	assert.Len(t, empty.Hours, 168)
	assert.Zero(t, empty.Attempts)
	assert.Nil(t, empty.SuccessRate)
	assert.Nil(t, empty.LatencyP50MS)
	assert.Nil(t, empty.LatencyMeanMS)
}
