// Package metrics defines hookflow's Prometheus metrics and bridges the Temporal SDK's own
// metrics into the same registry, so one /metrics shows both.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/hookflow/hookflow"
)

// Metrics holds the registry and hookflow's own instruments.
type Metrics struct {
	Registry *prometheus.Registry

	deliveries      *prometheus.CounterVec
	attemptDuration prometheus.Histogram
	responses       *prometheus.CounterVec
	dispatchLag     prometheus.Histogram
	throttling      *prometheus.CounterVec
	temporalUp      prometheus.Gauge
}

// New creates a registry with hookflow's metrics and the Go runtime's.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_delivery_outcomes_total",
			Help: "Recorded delivery outcomes after each attempt, by resulting status (delivered, retrying, failed).",
		}, []string{"status"}),
		attemptDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookflow_attempt_duration_seconds",
			Help:    "Duration of webhook attempts, from request start to the end of the answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_attempt_responses_total",
			Help: "Webhook attempts by response class: 2xx, 3xx, 4xx, 5xx, or error (timeout, network).",
		}, []string{"class"}),
		dispatchLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookflow_dispatch_lag_seconds",
			Help:    "Time from a delivery's commit to the start of its workflow.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		throttling: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_throttling_answers_total",
			Help: "Answers that slowed a destination down (429, 502, 503, 504), by code.",
		}, []string{"code"}),
		temporalUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hookflow_temporal_reachable",
			Help: "1 while the Temporal frontend answers this process's health checks, 0 while it does not.",
		}),
	}
	reg.MustRegister(m.deliveries, m.attemptDuration, m.responses, m.dispatchLag, m.throttling, m.temporalUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// SetTemporalReachable records whether Temporal answered the last health check.
func (m *Metrics) SetTemporalReachable(up bool) {
	if up {
		m.temporalUp.Set(1)
	} else {
		m.temporalUp.Set(0)
	}
}

// ObserveAttempt counts an attempt's answer and its duration.
func (m *Metrics) ObserveAttempt(a hookflow.Attempt) {
	m.attemptDuration.Observe(float64(a.DurationMS) / 1000)
	m.responses.WithLabelValues(ResponseClass(a)).Inc()
}

// ObserveOutcome counts the status a delivery was left in after an attempt.
func (m *Metrics) ObserveOutcome(status hookflow.Status) {
	m.deliveries.WithLabelValues(string(status)).Inc()
}

// ObserveDispatch records how long a delivery waited between commit and workflow start.
func (m *Metrics) ObserveDispatch(lag time.Duration) {
	m.dispatchLag.Observe(lag.Seconds())
}

// ObserveThrottlingAnswer counts an answer that slowed its destination down.
func (m *Metrics) ObserveThrottlingAnswer(code int) {
	m.throttling.WithLabelValues(strconv.Itoa(code)).Inc()
}

// ResponseClass is "2xx" … "5xx" for an answer, "error" for none.
func ResponseClass(a hookflow.Attempt) string {
	if a.ResponseCode == nil {
		return "error"
	}
	c := *a.ResponseCode / 100
	if c < 1 || c > 5 {
		return "other"
	}
	return strconv.Itoa(c) + "xx"
}

// Counter reads the open and waiting deliveries for the gauges.
type Counter interface {
	CountOpenDeliveries(ctx context.Context) (map[hookflow.Status]int64, error)
	CountWaiting(ctx context.Context) (map[hookflow.WaitReason]int64, error)
}

// RegisterOpenDeliveries adds gauges of pending and retrying deliveries, and of deliveries
// waiting for their endpoint by reason, read from the database at most every refresh so
// frequent scrapes cost two queries.
func (m *Metrics) RegisterOpenDeliveries(counter Counter, refresh time.Duration) {
	open := cachedCounts(refresh, "count open deliveries", counter.CountOpenDeliveries)
	for _, status := range []hookflow.Status{hookflow.StatusPending, hookflow.StatusRetrying} {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hookflow_open_deliveries",
			Help:        "Deliveries not finished yet, by status.",
			ConstLabels: prometheus.Labels{"status": string(status)},
		}, func() float64 { return float64(open()[status]) }))
	}
	waiting := cachedCounts(refresh, "count waiting deliveries", counter.CountWaiting)
	for _, reason := range []hookflow.WaitReason{hookflow.WaitThrottled, hookflow.WaitRateLimited, hookflow.WaitInFlightCap} {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "hookflow_waiting_deliveries",
			Help:        "Deliveries waiting for their endpoint (no attempt spent), by reason.",
			ConstLabels: prometheus.Labels{"reason": string(reason)},
		}, func() float64 { return float64(waiting()[reason]) }))
	}
}

// cachedCounts reads counts at most every refresh; a failed read keeps the last counts.
func cachedCounts[K comparable](refresh time.Duration, what string, count func(context.Context) (map[K]int64, error)) func() map[K]int64 {
	var (
		mu     sync.Mutex
		last   time.Time
		counts map[K]int64
	)
	return func() map[K]int64 {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) > refresh {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if c, err := count(ctx); err == nil {
				counts, last = c, time.Now()
			} else {
				slog.Warn(what, "error", err)
			}
		}
		return counts
	}
}

// TemporalHandler returns a metrics handler for the Temporal SDK that reports into the
// registry, and a function that flushes and stops it.
func (m *Metrics) TemporalHandler() (client.MetricsHandler, func()) {
	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: m.Registry})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       "_",
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	scope = sdktally.NewPrometheusNamingScope(scope)
	return sdktally.NewMetricsHandler(scope), func() { _ = closer.Close() }
}
