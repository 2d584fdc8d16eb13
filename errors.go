package hookflow

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in api/errors.go; the rest of the code
// base speaks only in these codes.
const (
	EMALFORMED    = "malformed"              // the request body is not valid JSON
	EUNAUTHORIZED = "unauthorized"           // missing or wrong API key
	EFORBIDDEN    = "forbidden"              // a valid key whose scope does not allow the call
	ENOTFOUND     = "not_found"              // unknown id, or one that belongs to another account
	ECONFLICT     = "conflict"               // the operation contradicts the current state
	ETOOLARGE     = "too_large"              // body over the limit
	EINVALID      = "invalid"                // a field has a wrong type or value; the message names it
	ERATELIMIT    = "rate_limited"           // too many requests
	EUNAVAILABLE  = "unavailable"            // a dependency (PostgreSQL, Temporal) is down
	EINTERNAL     = "internal_error"         // a bug; details go to the log, never to the client
	EUNSUPPORTED  = "unsupported_media_type" // a body that is not application/json
)

// Error is an application error: a code for machines and a message safe to show to people.
type Error struct {
	Code    string
	Message string
	// Field names the offending field of an EINVALID error, so forms can show the message
	// beside it.
	Field string
}

func (e *Error) Error() string {
	return fmt.Sprintf("hookflow error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming field.
func Invalid(field string, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, or EINTERNAL for anything else.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	}
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of an application error, or a generic message for
// anything else: internal error text never reaches a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the field an EINVALID error names, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
