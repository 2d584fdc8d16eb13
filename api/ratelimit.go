package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/hookflow/hookflow"
)

// IngestLimiter bounds how fast each account may post events, so one tenant's burst cannot
// starve the others. Limits are per API replica.
type IngestLimiter struct {
	limit rate.Limit
	burst int

	mu       sync.Mutex
	accounts map[string]*rate.Limiter
}

// NewIngestLimiter allows perSecond events per account with bursts of twice that; zero or
// less means no limit (nil).
func NewIngestLimiter(perSecond float64) *IngestLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &IngestLimiter{limit: rate.Limit(perSecond), burst: max(1, int(2*perSecond)), accounts: map[string]*rate.Limiter{}}
}

// allow takes one token for the account, or says how long until one is free.
func (l *IngestLimiter) allow(accountID string) (bool, time.Duration) {
	l.mu.Lock()
	lim, ok := l.accounts[accountID]
	if !ok {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.accounts[accountID] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if delay := r.Delay(); delay > 0 {
		r.Cancel()
		return false, delay
	}
	return true, 0
}

// limitIngest answers 429 with Retry-After when the account is over its rate.
func limitIngest(l *IngestLimiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if l == nil {
			c.Next()
			return
		}
		if ok, wait := l.allow(account(c).ID); !ok {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(c, hookflow.Errorf(hookflow.ERATELIMIT, "too many events: this account may post %g per second; retry after the Retry-After delay", float64(l.limit)))
			return
		}
		c.Next()
	}
}
