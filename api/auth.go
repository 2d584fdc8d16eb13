package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

const accountKey = "hookflow.account"

// bearer is the key of an Authorization header with the Bearer scheme (in any case, as
// HTTP's schemes are), around which only HTTP's own whitespace (spaces and tabs) is
// ignored: any other character, a Unicode space included, is part of what is compared,
// so a key followed by one is not the key.
func bearer(c *gin.Context) string {
	header := strings.Trim(c.GetHeader("Authorization"), httpWhitespace)
	i := strings.IndexAny(header, httpWhitespace)
	if i < 0 || !strings.EqualFold(header[:i], "Bearer") {
		return ""
	}
	return strings.Trim(header[i:], httpWhitespace)
}

// httpWhitespace is HTTP's optional whitespace (RFC 9110, section 5.6.3).
const httpWhitespace = " \t"

// requireAccount authenticates an account API key, checks that its scope allows the
// route, and puts the account in the context.
func requireAccount(accounts hookflow.AccountService) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := bearer(c)
		if key == "" {
			writeError(c, hookflow.Errorf(hookflow.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		enterAccount(c, accounts, key)
	}
}

// enterAccount authenticates an account's key, checks that its scope allows the route,
// and goes on with the account in the context (or answers the refusal).
func enterAccount(c *gin.Context, accounts hookflow.AccountService, key string) {
	acc, err := accounts.AuthenticateKey(c.Request.Context(), key)
	if err != nil {
		writeError(c, err)
		return
	}
	if need := RequiredScope(c.Request.Method, c.FullPath()); !acc.Scope.Allows(need) {
		writeError(c, hookflow.Errorf(hookflow.EFORBIDDEN,
			"this API key has the %s scope; this call needs a key with the %s scope", acc.Scope, need))
		return
	}
	c.Set(accountKey, acc)
	c.Next()
}

// requireAdmin checks the admin key. Both sides are hashed first so the comparison is
// constant-time whatever the lengths.
func requireAdmin(adminKey string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(adminKey))
	return func(c *gin.Context) {
		key := bearer(c)
		if key == "" {
			writeError(c, hookflow.Errorf(hookflow.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <admin key>"))
			return
		}
		got := sha256.Sum256([]byte(key))
		if adminKey == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(c, hookflow.Errorf(hookflow.EUNAUTHORIZED, "invalid admin key"))
			return
		}
		c.Next()
	}
}

func account(c *gin.Context) hookflow.Account {
	return c.MustGet(accountKey).(hookflow.Account)
}

// RequiredScope is the scope an account's call needs: posting events and fulfilments is
// ingest, reading is read, and everything else (and reading the account's keys) is full.
// It is decided by route, so a route added later is full unless it only reads.
func RequiredScope(method, route string) hookflow.Scope {
	switch {
	case method == http.MethodPost && (route == "/v1/events" || route == "/v1/fulfilments"):
		return hookflow.ScopeIngest
	case strings.HasPrefix(route, "/v1/api-keys"):
		return hookflow.ScopeFull
	case method == http.MethodGet || method == http.MethodHead:
		return hookflow.ScopeRead
	}
	return hookflow.ScopeFull
}
