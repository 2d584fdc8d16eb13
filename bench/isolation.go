package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// IsolationResult is (g): a healthy subscription's ingest → first-request latency alone,
// and again while another account's endpoint holds many hung attempts.
type IsolationResult struct {
	NoisySubscriptions int     `json:"noisy_subscriptions"`
	NoisyEvents        int     `json:"noisy_events"`
	TimeoutSeconds     int     `json:"timeout_seconds"`
	EventsPerSecond    float64 `json:"events_per_second"`
	// AloneSeconds and Seconds are how long the healthy subscription was measured alone
	// and beside the hung attempts.
	AloneSeconds float64 `json:"alone_seconds"`
	Seconds      float64 `json:"seconds"`
	// HungMin and HungMax are the hung attempts in flight at the endpoint, sampled while
	// the second measurement ran.
	HungMin  int64          `json:"hung_min"`
	HungMax  int64          `json:"hung_max"`
	Alone    LatencySummary `json:"alone"`
	WithHung LatencySummary `json:"with_hung"`
	// ThroughTimeouts is measured while the hung attempts time out (all at once: they
	// were posted together) and the deliveries waiting behind them go out.
	ThroughTimeouts LatencySummary `json:"through_timeouts"`
	// P99Ratio is the p99 with the hung attempts over the p99 without them.
	P99Ratio float64 `json:"p99_ratio"`
	// SettleSeconds is how long after the hung count was reached every other noisy
	// delivery was marked waiting.
	SettleSeconds float64 `json:"settle_seconds"`
}

// LatencySummary are the percentiles of one measurement.
type LatencySummary struct {
	Deliveries int     `json:"deliveries"`
	P50MS      float64 `json:"p50_ms"`
	P95MS      float64 `json:"p95_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
}

// Sizes of (g): hung attempts in flight at least goalHung, each noisy subscription holding
// the in-flight cap (hookflow's default, 10) plus as many again waiting behind it.
const (
	goalHung            = 500
	isolationTimeout    = 30
	isolationCap        = 10
	isolationRate       = 40.0
	goalIsolationFactor = 2.0
)

// (g): the noisy neighbour.
func (b *bench) isolation(ctx context.Context) error {
	hung := goalHung
	measure := 15 * time.Second
	if b.cfg.Smoke {
		hung, measure = 50, 3*time.Second
	}
	subs := hung/isolationCap + hung/isolationCap/10
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (g)", Binary: b.binary, TemporalAddress: b.temporal,
		Namespace: namespaceIsolation, RetryUnit: time.Minute})
	if err != nil {
		return err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	healthyKey, err := api.newAccount(ctx, "healthy")
	if err != nil {
		return err
	}
	healthyPath := okPath + "isolation-healthy"
	if err := api.do(ctx, "POST", "/v1/subscriptions", healthyKey, map[string]any{"url": b.receiver.URL + healthyPath}, 201, nil); err != nil {
		return err
	}
	noisyKey, err := api.newAccount(ctx, "noisy")
	if err != nil {
		return err
	}
	for i := range subs {
		if err := api.do(ctx, "POST", "/v1/subscriptions", noisyKey, map[string]any{
			"url": fmt.Sprintf("%s%s%d", b.receiver.URL, hangPath, i), "event_types": []string{fmt.Sprintf("noisy.s%d", i)},
			"timeout": isolationTimeout, "max_retries": 0}, 201, nil); err != nil {
			return err
		}
	}
	res := IsolationResult{NoisySubscriptions: subs, TimeoutSeconds: isolationTimeout, EventsPerSecond: isolationRate,
		AloneSeconds: measure.Seconds(), Seconds: measure.Seconds()}

	// Warm-up, then the healthy subscription alone.
	if _, err := b.healthyLatencies(ctx, hf, api, healthyKey, healthyPath, isolationRate, time.Second); err != nil {
		return err
	}
	b.logf("(g) healthy alone: %.0f events/s for %s", isolationRate, measure)
	alone, err := b.healthyLatencies(ctx, hf, api, healthyKey, healthyPath, isolationRate, measure)
	if err != nil {
		return err
	}
	res.Alone = summarize(alone)

	// The noisy account: every subscription gets twice the cap, so its endpoint holds the
	// cap's worth of hung attempts and as many wait behind them.
	perSub := 2 * isolationCap
	res.NoisyEvents = perSub * subs
	b.logf("(g) noisy account: %d events to %d hanging subscriptions", res.NoisyEvents, subs)
	posted := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, subs)
	for i := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perSub {
				if err := api.do(ctx, "POST", "/v1/events", noisyKey, map[string]any{"event_type": fmt.Sprintf("noisy.s%d", i), "data": map[string]any{}}, 202, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	// The first hung attempts time out this long after they were posted; the second
	// window ends before that, so it measures beside hung attempts only.
	firstTimeout := posted.Add(isolationTimeout * time.Second)
	deadline := time.Now().Add(isolationTimeout * time.Second / 2)
	for b.receiver.hanging.Load() < int64(hung) {
		if time.Now().After(deadline) {
			return fmt.Errorf("(g) only %d attempts hung at the endpoint, want %d", b.receiver.hanging.Load(), hung)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The burst settles when every noisy delivery is either hanging at the endpoint or
	// waiting behind its in-flight cap: from then on the hung attempts are what is
	// measured beside, not the burst that made them.
	settleStart := time.Now()
	for {
		var waiting int64
		if err := hf.DB.GetContext(ctx, &waiting, `SELECT count(*) FROM deliveries WHERE waiting_reason IS NOT NULL`); err != nil {
			return err
		}
		if waiting+b.receiver.hanging.Load() >= int64(res.NoisyEvents) {
			break
		}
		if time.Now().After(deadline) {
			var unsettled []struct {
				Status     string `db:"status"`
				Dispatched bool   `db:"dispatched"`
				Attempts   int    `db:"attempts"`
				N          int    `db:"n"`
			}
			_ = hf.DB.SelectContext(ctx, &unsettled, `SELECT status, dispatched_at IS NOT NULL AS dispatched, attempts, count(*) AS n
				FROM deliveries WHERE waiting_reason IS NULL GROUP BY 1, 2, 3`)
			return fmt.Errorf("(g) the noisy burst did not settle: %d hung, %d waiting of %d; not waiting: %+v\n%s",
				b.receiver.hanging.Load(), waiting, res.NoisyEvents, unsettled, hf.logs.Tail(3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.SettleSeconds = time.Since(settleStart).Seconds()
	b.logf("(g) %d attempts hung; healthy again for %s", b.receiver.hanging.Load(), measure)
	sampleDone := make(chan struct{})
	res.HungMin = b.receiver.hanging.Load()
	res.HungMax = res.HungMin
	var sampling sync.WaitGroup
	sampling.Add(1)
	go func() {
		defer sampling.Done()
		for {
			select {
			case <-sampleDone:
				return
			case <-time.After(100 * time.Millisecond):
				n := b.receiver.hanging.Load()
				res.HungMin, res.HungMax = min(res.HungMin, n), max(res.HungMax, n)
			}
		}
	}()
	window := min(measure, time.Until(firstTimeout)-2*time.Second)
	if window < measure/3 {
		close(sampleDone)
		sampling.Wait()
		return fmt.Errorf("(g) the burst settled too late to measure before the first timeouts (%s left)", window)
	}
	res.Seconds = window.Seconds()
	with, err := b.healthyLatencies(ctx, hf, api, healthyKey, healthyPath, isolationRate, window)
	close(sampleDone)
	sampling.Wait()
	if err != nil {
		return err
	}
	res.WithHung = summarize(with)
	res.P99Ratio = res.WithHung.P99MS / res.Alone.P99MS

	// Then through the moment the hung attempts time out together and the waiting ones
	// take their slots: the noisy account's churn at its worst, reported beside the target.
	b.logf("(g) healthy through the hung attempts' timeouts for %s", measure)
	through, err := b.healthyLatencies(ctx, hf, api, healthyKey, healthyPath, isolationRate, measure)
	if err != nil {
		return err
	}
	res.ThroughTimeouts = summarize(through)
	b.report.Isolation = res
	b.logf("(g) p99 alone %.1f ms, with %d–%d hung %.1f ms (%.2f×)", res.Alone.P99MS, res.HungMin, res.HungMax, res.WithHung.P99MS, res.P99Ratio)
	return nil
}

// healthyLatencies posts events to the healthy account open loop at rate for d and
// returns each one's ingest → first-request latency, in ms.
func (b *bench) healthyLatencies(ctx context.Context, hf *hookflowProc, api *apiClient, key, path string, rate float64, d time.Duration) ([]float64, error) {
	count := max(1, int(rate*d.Seconds()))
	interval := time.Duration(float64(time.Second) / rate)
	type sent struct {
		id string
		at time.Time
	}
	sends := make([]sent, count)
	errs := make(chan error, count)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range count {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := time.Now()
			var out struct {
				EventID string `json:"event_id"`
			}
			if err := api.do(ctx, "POST", "/v1/events", key, map[string]any{"event_type": "healthy.ping", "data": map[string]any{"i": i}}, 202, &out); err != nil {
				errs <- err
				return
			}
			sends[i] = sent{out.EventID, at}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	var latencies []float64
	deadline := time.Now().Add(time.Minute)
	for _, s := range sends {
		for {
			if at, ok := b.receiver.arrival(s.id, path); ok {
				latencies = append(latencies, float64(at.Sub(s.at))/float64(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("(g) a healthy delivery did not arrive within a minute:\n%s", hf.logs.Tail(2000))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	slices.Sort(latencies)
	return latencies, nil
}

func summarize(sorted []float64) LatencySummary {
	return LatencySummary{Deliveries: len(sorted), P50MS: percentile(sorted, 50), P95MS: percentile(sorted, 95),
		P99MS: percentile(sorted, 99), MaxMS: sorted[len(sorted)-1]}
}
