package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// Deadline gives every request's context a deadline; store calls past it fail as
// "unavailable" (503).
func Deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// RequestLog logs one structured line per request: method, route, status, duration and
// the account. It never logs headers or bodies, so keys and secrets stay out of logs.
func RequestLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		attrs := []any{"method", c.Request.Method, "route", c.FullPath(), "status", c.Writer.Status(),
			"duration_ms", time.Since(start).Milliseconds()}
		if acc, ok := c.Get(accountKey); ok {
			attrs = append(attrs, "account_id", acc.(hookflow.Account).ID)
		}
		level := slog.LevelDebug
		if c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
		logger.Log(c.Request.Context(), level, "request", attrs...)
	}
}
