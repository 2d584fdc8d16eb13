package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hookflow/hookflow"
)

// callTimeout bounds a Temporal call made while a person waits (the API, the dashboard):
// with Temporal down, the answer is a quick 503 rather than a hung request.
const callTimeout = 5 * time.Second

// Unavailable reports whether a Temporal error means "down or too slow, try again later"
// rather than a fault (a missing namespace, an unregistered search attribute, a refused
// permission), which retrying does not fix.
func Unavailable(err error) bool {
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var exhausted *serviceerror.ResourceExhausted
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &exhausted) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}

// temporalError turns a failed Temporal call into the error a person is answered with,
// logging its cause once, with what the call was for (attrs name the delivery or the
// recovery): unavailable is a 503 to retry later; anything else is an internal error,
// whose detail stays in the log.
func temporalError(logger *slog.Logger, err error, what string, attrs ...any) error {
	if err == nil {
		return nil
	}
	attrs = append(attrs, "error", err)
	if Unavailable(err) {
		logger.Warn(what+": Temporal is unavailable", attrs...)
		return &hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the workflow service is unavailable, retry later"}
	}
	logger.Error(what+": Temporal refused the call", attrs...)
	return &hookflow.Error{Code: hookflow.EINTERNAL, Message: "internal error"}
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l != nil {
		return l
	}
	return slog.Default()
}
