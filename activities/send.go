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
	Number     int
	Trigger    hookflow.Trigger
}

// SendResult is the outcome of one attempt; Skipped says why none was made.
type SendResult struct {
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
	if req.Skip != "" {
		return SendResult{Skipped: req.Skip}, nil
	}
	attempt, retryAfter := a.post(ctx, req)
	attempt.Number, attempt.Trigger = in.Number, in.Trigger
	if a.Metrics != nil {
		a.Metrics.ObserveAttempt(attempt)
	}
	a.logger().Info("attempt", "delivery_id", in.DeliveryID, "event_id", req.MessageID,
		"subscription_id", req.SubscriptionID, "campaign_webhook_id", req.CampaignWebhookID, "attempt", in.Number,
		"response_code", attempt.ResponseCode, "duration_ms", attempt.DurationMS, "error", attempt.Error)
	return SendResult{Attempt: attempt, RetryAfter: retryAfter}, nil
}

func (a *Activities) post(ctx context.Context, req hookflow.SendRequest) (hookflow.Attempt, time.Duration) {
	started := a.now()
	attempt := hookflow.Attempt{StartedAt: started}
	var retryAfter time.Duration
	finish := func(errText string) (hookflow.Attempt, time.Duration) {
		attempt.DurationMS = time.Since(started).Milliseconds()
		attempt.Error = hookflow.Truncate(errText, hookflow.MaxErrorChars)
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
	attempt.ResponseBody = hookflow.Truncate(string(bytes.ToValidUTF8(excerpt, []byte("\uFFFD"))), hookflow.MaxResponseBodyChars)
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
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timed out: no complete answer within %s", timeout)
	case errors.Is(err, egress.ErrForbiddenAddress):
		return unwrapURLError(err)
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
