// Package webhook is the HTTP webhook sender: it signs a delivery's payload per Standard
// Webhooks, POSTs it through the egress guard, and describes the outcome as an attempt.
// Every outcome, a timeout or a refused connection included, is data for the workflow to
// decide on; nothing here retries.
package webhook

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
	"github.com/hookflow/hookflow/outbound"
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

// Sender POSTs webhooks. Client must refuse forbidden addresses and never follow
// redirects (egress.Guard.Client does both).
type Sender struct {
	Client *http.Client
	Now    func() time.Time
}

var _ outbound.Sender = (*Sender)(nil)

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now().UTC()
}

// Send makes one request and describes its outcome.
func (s *Sender) Send(ctx context.Context, req hookflow.SendRequest) outbound.Outcome {
	started := s.now()
	attempt := hookflow.Attempt{StartedAt: started}
	var retryAfter time.Duration
	finish := func(errText string) outbound.Outcome {
		attempt.DurationMS = s.now().Sub(started).Milliseconds()
		attempt.Error = hookflow.Excerpt(errText, hookflow.MaxErrorChars)
		return outbound.Outcome{Attempt: attempt, RetryAfter: retryAfter}
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

	resp, err := s.Client.Do(httpReq)
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
	if outbound.Throttling(code) {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.now())
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
		if secs > int64(outbound.MaxRetryAfter/time.Second) {
			return outbound.MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), outbound.MaxRetryAfter)
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
