package outbound

import (
	"context"
	"net/http"
	"time"

	"github.com/hookflow/hookflow"
)

// Throttling reports whether an answer asks the sender to slow down. Standard Webhooks
// names these four: too many requests, and a gateway or server that is overloaded.
func Throttling(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// ThrottleBackoff is how long throttling answers hold a destination: the n-th in a row
// holds it for Base × 2^(n-1), at most Max, or for as long as its Retry-After asked (at
// most MaxRetryAfter), whichever is longer.
type ThrottleBackoff struct {
	Base, Max time.Duration
}

// DefaultThrottleBackoff starts at a second and stops doubling at five minutes: short
// enough that an endpoint back on its feet is not kept waiting, long enough that one
// that keeps answering 503 is asked a few times an hour.
var DefaultThrottleBackoff = ThrottleBackoff{Base: time.Second, Max: 5 * time.Minute}

// Hold is the hold after the level-th throttling answer in a row (from 1) without a
// Retry-After.
func (b ThrottleBackoff) Hold(level int) time.Duration {
	d := b.Base
	for i := 1; i < level && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

func (g *Gateway) throttleBackoff() ThrottleBackoff {
	if g.Backoff.Base > 0 && g.Backoff.Max >= g.Backoff.Base {
		return g.Backoff
	}
	return DefaultThrottleBackoff
}

// afterAnswer keeps the destination's throttle in step with its answers: a throttling
// answer holds every delivery of the destination, and the first good answer after one
// lets them go at full speed again. Other failures (a 500, a timeout) say nothing about
// load and change nothing.
func (g *Gateway) afterAnswer(req hookflow.SendRequest, out Outcome) {
	code := 0
	if out.Attempt.ResponseCode != nil {
		code = *out.Attempt.ResponseCode
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case Throttling(code):
		if g.Observer != nil {
			g.Observer.ObserveThrottlingAnswer(code)
		}
		if err := g.Store.Throttle(ctx, req.DestinationID, out.RetryAfter, g.throttleBackoff()); err != nil {
			g.logger().Warn("could not record a throttling answer", "destination_id", req.DestinationID, "error", err)
		}
	case out.Attempt.Succeeded() && req.ThrottleLevel > 0:
		if err := g.Store.Unthrottle(ctx, req.DestinationID); err != nil {
			g.logger().Warn("could not end a throttle", "destination_id", req.DestinationID, "error", err)
		}
	}
}
