package activities

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/egress"
	"github.com/hookflow/hookflow/signing"
)

// Bounds on what an attempt reads of an answer. The record keeps 1,000 characters; a little
// more is read so multi-byte text is not cut short, and the rest is drained up to a limit
// so the connection can be reused without an endless body holding the worker.
const (
	responseExcerptBytes = 4 << 10
	responseDrainBytes   = 64 << 10
)

// UserAgent identifies hookflow to receivers.
const UserAgent = "hookflow/1 (+webhooks)"

// SendInput names one attempt of a delivery.
type SendInput struct {
	DeliveryID string
	// First marks a run's first attempt: its number and the run's start come from the
	// stored state, read by the same query as the request (Number is then ignored).
	First   bool
	Number  int
	Trigger hookflow.Trigger
}

// Resolve fixes the number and trigger of the attempt a Send call makes, and answers false
// when there is nothing to attempt (the delivery was delivered). A run's first attempt
// follows those already recorded; on a delivery that had already failed it is manual,
// since only a manual retry starts such a run.
func (in SendInput) Resolve(start StartResult) (number int, trigger hookflow.Trigger, ok bool) {
	if !in.First {
		return in.Number, in.Trigger, true
	}
	if start.Status == hookflow.StatusDelivered {
		return 0, in.Trigger, false
	}
	if start.Status == hookflow.StatusFailed {
		return start.Attempts + 1, hookflow.TriggerManual, true
	}
	return start.Attempts + 1, in.Trigger, true
}

// SendResult is the outcome of one attempt; Skipped says why none was made.
type SendResult struct {
	// Start is set on a run's first call: where the delivery stood and its retry policy.
	// When its status is delivered, no attempt was made.
	Start   *StartResult
	Attempt hookflow.Attempt
	Skipped string
	// RetryAfter is how long a 429 or 503 answer asked the sender to wait (0 if it did
	// not say), capped at MaxRetryAfter.
	RetryAfter time.Duration
}

// MaxRetryAfter caps how long an endpoint's Retry-After can push a retry back, so a
// hostile or mistaken header cannot park a delivery for months.
const MaxRetryAfter = 24 * time.Hour

// Send makes one attempt: it signs the stored payload and POSTs it. Every HTTP outcome,
// including timeouts and refused connections, is returned as data, so Temporal never
// repeats a request on its own; only a failure to read the request from the database is
// an error.
func (a *Activities) Send(ctx context.Context, in SendInput) (SendResult, error) {
	req, err := a.Store.SendRequest(ctx, in.DeliveryID)
	if err != nil {
		return SendResult{}, classify(err)
	}
	var res SendResult
	var start StartResult
	if in.First {
		start = a.startResult(req.State)
		res.Start = &start
	}
	number, trigger, ok := in.Resolve(start)
	if !ok {
		return res, nil
	}
	if req.Skip != "" {
		res.Skipped = req.Skip
		return res, nil
	}
	attempt, retryAfter := a.post(ctx, req)
	if err := ctx.Err(); err != nil {
		// The worker is stopping (or lost the task): this is not the endpoint's failure, so
		// it is not recorded as one; the step runs again on a worker that is up.
		return SendResult{}, err
	}
	attempt.Number, attempt.Trigger = number, trigger
	if a.Metrics != nil {
		a.Metrics.ObserveAttempt(attempt)
	}
	code := 0
	if attempt.ResponseCode != nil {
		code = *attempt.ResponseCode
	}
	a.logger().Info("attempt", "delivery_id", in.DeliveryID, "event_id", req.MessageID,
		"subscription_id", req.SubscriptionID, "campaign_webhook_id", req.CampaignWebhookID, "attempt", number,
		"response_code", code, "duration_ms", attempt.DurationMS, "error", attempt.Error)
	res.Attempt, res.RetryAfter = attempt, retryAfter
	return res, nil
}

func (a *Activities) post(ctx context.Context, req hookflow.SendRequest) (hookflow.Attempt, time.Duration) {
	started := a.now()
	attempt := hookflow.Attempt{StartedAt: started}
	var retryAfter time.Duration
	finish := func(errText string) (hookflow.Attempt, time.Duration) {
		attempt.DurationMS = time.Since(started).Milliseconds()
		attempt.Error = hookflow.Excerpt(errText, hookflow.MaxErrorChars)
		return attempt, retryAfter
	}

	ctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Payload))
	if err != nil {
		return finish("invalid endpoint URL")
	}
	for name, value := range req.Headers {
		httpReq.Header.Set(name, value)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("User-Agent", UserAgent)
	if err := signing.Headers(httpReq.Header, req.MessageID, started, req.Payload, req.Secrets); err != nil {
		return finish("could not sign the request: the subscription's secret is invalid")
	}

	resp, err := a.HTTP.Do(httpReq)
	if err != nil {
		return finish(describeSendError(err, req.Timeout))
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	attempt.ResponseCode = &code
	excerpt, readErr := io.ReadAll(io.LimitReader(resp.Body, responseExcerptBytes))
	attempt.ResponseBody = hookflow.Excerpt(string(excerpt), hookflow.MaxResponseBodyChars)
	if readErr == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseDrainBytes))
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), a.now())
	}
	if code < 200 || code > 299 {
		return finish(fmt.Sprintf("endpoint answered %d %s", code, http.StatusText(code)))
	}
	return finish("")
}

// describeSendError turns a transport error into a sentence for the delivery record. It
// leaves out the URL, which the reader already knows.
func describeSendError(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var refused *egress.RefusedDial
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timed out: no complete answer within %s", timeout)
	case errors.As(err, &refused):
		return refused.Error()
	case strings.Contains(err.Error(), "server response headers exceeded"):
		// net/http has no error value for it, only this text.
		return fmt.Sprintf("the endpoint's response headers are larger than %d KiB", egress.MaxResponseHeaderBytes>>10)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a response was received"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("DNS: host %s not found", dnsErr.Name)
		}
		return fmt.Sprintf("DNS lookup of %s failed", dnsErr.Name)
	case errors.As(err, &certErr):
		return "TLS: the endpoint's certificate is not valid: " + certErr.Err.Error()
	case errors.As(err, &recordErr):
		return "TLS: the endpoint did not answer with TLS (is it http rather than https?)"
	}
	return unwrapURLError(err)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

func unwrapURLError(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}
