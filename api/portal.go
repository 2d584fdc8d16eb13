package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// adminCaller marks a request made with the admin key in the context.
const adminCaller = "hookflow.admin"

// PortalHandler mints portal links: single-use URLs that open an account's dashboard
// without an API key, for the API client to hand to its own customers.
type PortalHandler struct {
	portals  hookflow.PortalService
	accounts hookflow.AccountService
	adminKey string
	// ttl is how long a link may wait to be opened.
	ttl time.Duration
	// publicURL is where browsers reach hookflow; empty takes it from the request.
	publicURL string
	limiter   *IngestLimiter
}

// authenticate lets in the admin key, which may mint links for any account, and account
// keys whose scope allows the call, which mint links to their own account.
func (h *PortalHandler) authenticate(c *gin.Context) {
	key := bearer(c)
	if key == "" {
		writeError(c, hookflow.Errorf(hookflow.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>"))
		return
	}
	if h.isAdminKey(key) {
		c.Set(adminCaller, true)
		c.Next()
		return
	}
	enterAccount(c, h.accounts, key)
}

// isAdminKey compares hashes, so the comparison takes the same time whatever the lengths,
// as requireAdmin's does.
func (h *PortalHandler) isAdminKey(key string) bool {
	if h.adminKey == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(key)), sha256.Sum256([]byte(h.adminKey))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// portalLinkBody is what a link is minted from; every field may be left out.
type portalLinkBody struct {
	AccountID *string `json:"account_id"`
	ReadOnly  bool    `json:"read_only"`
	BrandName string  `json:"brand_name"`
	LogoURL   string  `json:"logo_url"`
}

// portalLinkAnswer is the minted link.
type portalLinkAnswer struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Create answers 201 with the link's URL and when it stops opening.
func (h *PortalHandler) Create(c *gin.Context) {
	var body portalLinkBody
	if err := decodeOptionalJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	in := hookflow.PortalLinkInput{ReadOnly: body.ReadOnly, BrandName: body.BrandName, LogoURL: body.LogoURL}
	if c.GetBool(adminCaller) {
		if body.AccountID == nil || *body.AccountID == "" {
			writeError(c, hookflow.Invalid("account_id", "is required with the admin key: name the account the link opens"))
			return
		}
		in.AccountID = *body.AccountID
	} else {
		if body.AccountID != nil {
			writeError(c, hookflow.Invalid("account_id", "is for the admin key only: an account's key mints links to its own account"))
			return
		}
		in.AccountID, in.APIKeyID = account(c).ID, account(c).KeyID
	}
	if err := in.Validate(); err != nil {
		writeError(c, err)
		return
	}
	// Minting writes a row: it counts against the account's rate like every other write.
	if h.limiter != nil {
		if ok, wait := h.limiter.allow(in.AccountID); !ok {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeError(c, hookflow.Errorf(hookflow.ERATELIMIT, "too many requests: this account may make %g per second; retry after the Retry-After delay", float64(h.limiter.limit)))
			return
		}
	}
	link, err := h.portals.CreatePortalLink(c.Request.Context(), in, h.ttl)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, portalLinkAnswer{URL: h.baseURL(c) + "/portal/" + link.Token, ExpiresAt: link.ExpiresAt})
}

// baseURL is where the browser that opens the link reaches hookflow: the configured
// public URL, else the scheme and host this request came to, as its proxy reports them.
func (h *PortalHandler) baseURL(c *gin.Context) string {
	if h.publicURL != "" {
		return strings.TrimSuffix(h.publicURL, "/")
	}
	scheme := "http"
	if c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	host := c.Request.Host
	if forwarded := c.GetHeader("X-Forwarded-Host"); forwarded != "" {
		// A proxy chain lists every host it passed; the first is the one the client named.
		host = strings.TrimSpace(strings.Split(forwarded, ",")[0])
	}
	return scheme + "://" + host
}
