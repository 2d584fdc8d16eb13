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

// Throttle backoff: the n-th throttling answer in a row holds the destination for
// ThrottleBase × 2^(n-1), at most ThrottleMax, or for as long as its Retry-After asked
// (at most MaxRetryAfter).
const (
	ThrottleBase = time.Second
	ThrottleMax  = 5 * time.Minute
)

// ThrottleBackoff is the hold after the level-th throttling answer in a row (from 1).
func ThrottleBackoff(level int) time.Duration {
	d := ThrottleBase
	for i := 1; i < level && d < ThrottleMax; i++ {
		d *= 2
	}
	return min(d, ThrottleMax)
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
		if err := g.Store.Throttle(ctx, req.DestinationID, out.RetryAfter); err != nil {
			g.logger().Warn("could not record a throttling answer", "destination_id", req.DestinationID, "error", err)
		}
	case out.Attempt.Succeeded() && req.ThrottleLevel > 0:
		if err := g.Store.Unthrottle(ctx, req.DestinationID); err != nil {
			g.logger().Warn("could not end a throttle", "destination_id", req.DestinationID, "error", err)
		}
	}
}
