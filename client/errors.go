package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an answer of the API other than a 2xx: every call of a Client returns one for
// it, whatever the operation. Code is the API's code for machines (CodeNotFound,
// CodeConflict …), Message its text for people, which names the field of a CodeInvalid.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error's code; empty when the answer was not the API's error body (a
	// proxy's page, for one).
	Code Code
	// Message says what went wrong.
	Message string
	// RetryAfter is how long the API asked to wait before trying again (on CodeRateLimited
	// and CodeUnavailable); zero when it did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("hookflow API: HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("hookflow API: %s (HTTP %d, %s)", e.Message, e.Status, e.Code)
}

// HasCode reports whether err is, or wraps, an *Error with the code.
func HasCode(err error, code Code) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) && apiErr.Code == code
}

// IsNotFound reports whether err says there is no such resource (or it is another
// account's).
func IsNotFound(err error) bool { return HasCode(err, CodeNotFound) }

// IsUnauthorized reports whether err says the key is missing or wrong.
func IsUnauthorized(err error) bool { return HasCode(err, CodeUnauthorized) }

// IsConflict reports whether err says the request contradicts the current state, such as
// retrying a delivered delivery or reusing an Idempotency-Key with another body.
func IsConflict(err error) bool { return HasCode(err, CodeConflict) }

// IsInvalid reports whether err says a field is missing or invalid; the message names it.
func IsInvalid(err error) bool { return HasCode(err, CodeInvalid) }

// maxErrorBody bounds what is read of an error answer: the API's are small, and another
// server's page needs only its start to be recognised.
const maxErrorBody = 64 << 10

// errorDoer turns every answer other than a 2xx into an *Error before the generated code
// sees it, so each operation, including those added to the document later, fails the
// same way.
type errorDoer struct {
	next HttpRequestDoer
}

func (d errorDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.next.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return nil, parseError(resp, raw)
}

func parseError(resp *http.Response, raw []byte) *Error {
	apiErr := &Error{Status: resp.StatusCode}
	if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && seconds >= 0 {
		apiErr.RetryAfter = time.Duration(seconds) * time.Second
	}
	var body ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		apiErr.Code, apiErr.Message = body.Error.Code, body.Error.Message
		return apiErr
	}
	apiErr.Message = strings.TrimSpace(string(raw))
	if len(apiErr.Message) > 200 {
		apiErr.Message = strings.ToValidUTF8(apiErr.Message[:200], "") + "…"
	}
	if apiErr.Message == "" {
		apiErr.Message = http.StatusText(resp.StatusCode)
	}
	return apiErr
}
