package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

const accountKey = "hookflow.account"

func bearer(c *gin.Context) string {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// requireAccount authenticates an account API key and puts the account in the context.
func requireAccount(accounts hookflow.AccountService) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := bearer(c)
		if key == "" {
			writeError(c, hookflow.Errorf(hookflow.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		acc, err := accounts.AuthenticateKey(c.Request.Context(), key)
		if err != nil {
			writeError(c, err)
			return
		}
		c.Set(accountKey, acc)
		c.Next()
	}
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
