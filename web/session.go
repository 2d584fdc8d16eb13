package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

const (
	sessionCookie = "hookflow_session"
	// loginCookie carries the token of the sign-in form, which comes before any session:
	// a form on another site cannot read it, so it cannot sign a browser in to an account
	// of the attacker's choosing.
	loginCookie = "hookflow_login"
	accountKey  = "web.account"
	csrfKey     = "web.csrf"
	tokenKey    = "web.session"
	// sessionInfoKey holds the request's hookflow.Session.
	sessionInfoKey = "web.session.info"
	// maxFormBytes bounds a form body; the largest form, a subscription, is far smaller.
	maxFormBytes = 64 << 10
)

// secureRequest reports whether the browser reached us over TLS, directly or through a
// proxy that says so, in which case cookies must not travel over plain HTTP.
func secureRequest(c *gin.Context) bool {
	return c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https")
}

func setCookie(c *gin.Context, name, value, path string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: secureRequest(c), SameSite: http.SameSiteLaxMode})
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokensEqual compares in constant time, so response timing tells nothing about how much
// of a guessed token was right.
func tokensEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// parseForm reads a bounded form body.
func parseForm(c *gin.Context) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		return hookflow.Errorf(hookflow.ETOOLARGE, "the form is too large")
	}
	return nil
}

// sameOrigin refuses a POST whose Origin names another site. Browsers send Origin on
// cross-site form posts, so this stops them even before the CSRF token is looked at.
func (h *handler) sameOrigin(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	origin := c.GetHeader("Origin")
	if origin == "" {
		c.Next()
		return
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !(strings.EqualFold(u.Host, c.Request.Host) ||
		strings.EqualFold(u.Host, c.GetHeader("X-Forwarded-Host"))) {
		h.refuse(c)
		return
	}
	c.Next()
}

// requireSession lets signed-in people through and sends everyone else to the sign-in
// page, or, inside a portal, to a page saying the portal's session has ended (a portal
// has no key to sign in with). On a POST it also checks the form's CSRF token against the
// session's, and it refuses every change a read-only session asks for but signing out.
func (h *handler) requireSession(c *gin.Context) {
	ctx := c.Request.Context()
	// A portal's cookie comes first: a browser that has both was handed the portal last.
	if token, _ := c.Cookie(portalCookie); token != "" {
		s, err := h.Sessions.Session(ctx, token)
		if err == nil && !s.Portal {
			err = hookflow.Errorf(hookflow.EUNAUTHORIZED, "not a portal session")
		}
		switch {
		case hookflow.ErrorCode(err) == hookflow.EUNAUTHORIZED && !framed(c) && h.keySession(c):
			// An ended portal in a tab that is also signed in with a key: the key's
			// session goes on, rather than a page that could not be left.
			setPortalCookie(c, "", -1)
		case hookflow.ErrorCode(err) == hookflow.EUNAUTHORIZED:
			h.portalEnded(c)
			return
		case err != nil:
			h.fail(c, err)
			return
		default:
			h.enterSession(c, s, token)
			return
		}
	}
	token, _ := c.Cookie(sessionCookie)
	s, err := h.Sessions.Session(ctx, token)
	if err == nil && s.Portal {
		err = hookflow.Errorf(hookflow.EUNAUTHORIZED, "a portal session in a sign-in's cookie")
	}
	if hookflow.ErrorCode(err) == hookflow.EUNAUTHORIZED {
		if token != "" {
			setCookie(c, sessionCookie, "", "/", -1)
		}
		// Only a portal's pages may be framed, so a page asked for inside a frame without
		// a session is a portal's whose cookie is gone.
		if framed(c) {
			h.portalEnded(c)
			return
		}
		target := "/login"
		if c.Request.Method == http.MethodGet && c.Request.URL.RequestURI() != "/" {
			target += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		c.Redirect(http.StatusSeeOther, target)
		c.Abort()
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.enterSession(c, s, token)
}

// enterSession puts the session in the context and checks the request against it.
func (h *handler) enterSession(c *gin.Context, s hookflow.Session, token string) {
	c.Set(accountKey, s.Account)
	c.Set(csrfKey, s.CSRF)
	c.Set(tokenKey, token)
	c.Set(sessionInfoKey, s)
	if s.Portal {
		c.Set(portalKey, portalBrand{BrandName: s.BrandName, LogoURL: s.LogoURL})
	}
	changes := c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead
	// Whatever the form says: the server, not the page, decides what a session may do.
	if changes && s.ReadOnly && c.FullPath() != "/logout" {
		h.refuseReadOnly(c)
		return
	}
	if c.Request.Method == http.MethodPost {
		if err := parseForm(c); err != nil {
			h.fail(c, err)
			return
		}
		if !tokensEqual(c.Request.PostForm.Get("csrf"), s.CSRF) {
			h.refuse(c)
			return
		}
	}
	c.Next()
}

func account(c *gin.Context) hookflow.Account {
	return c.MustGet(accountKey).(hookflow.Account)
}

// loginPage is the sign-in form's data.
type loginPage struct {
	Token string
	Next  string
	Error string
}

func (h *handler) loginPage(c *gin.Context) {
	if token, _ := c.Cookie(sessionCookie); token != "" {
		if s, err := h.Sessions.Session(c.Request.Context(), token); err == nil && !s.Portal {
			c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
			return
		}
	}
	h.showLogin(c, http.StatusOK, "")
}

func (h *handler) showLogin(c *gin.Context, status int, message string) {
	token, _ := c.Cookie(loginCookie)
	if token == "" {
		token = newToken()
		setCookie(c, loginCookie, token, "/login", 3600)
	}
	next := c.Query("next")
	if c.Request.Method == http.MethodPost {
		next = c.Request.PostForm.Get("next")
	}
	h.render(c, status, "login", view{Title: "Sign in", Data: loginPage{Token: token, Next: safeNext(next), Error: message}})
}

func (h *handler) login(c *gin.Context) {
	if err := parseForm(c); err != nil {
		h.fail(c, err)
		return
	}
	want, _ := c.Cookie(loginCookie)
	if !tokensEqual(c.Request.PostForm.Get("csrf"), want) {
		h.refuse(c)
		return
	}
	// A pasted key may bring a line break or spaces with it; anything else around it (a
	// Unicode space) is part of what is compared, as in the API's Authorization header.
	key := strings.Trim(c.Request.PostForm.Get("api_key"), " \t\r\n")
	if key == "" {
		h.showLogin(c, http.StatusUnprocessableEntity, "Enter your account's API key.")
		return
	}
	acc, err := h.Accounts.AuthenticateKey(c.Request.Context(), key)
	if hookflow.ErrorCode(err) == hookflow.EUNAUTHORIZED {
		h.showLogin(c, http.StatusUnauthorized, "That API key is not valid. Check it and try again.")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	// A read key looks without changing anything; an ingest key only posts events.
	readOnly := acc.Scope == hookflow.ScopeRead
	if !readOnly && !acc.Scope.Allows(hookflow.ScopeFull) {
		h.showLogin(c, http.StatusForbidden, fmt.Sprintf("This key has the %s scope: it may post events but not open the dashboard. "+
			"Sign in with a key whose scope is full or read.", acc.Scope))
		return
	}
	token, _, err := h.Sessions.CreateSession(c.Request.Context(), hookflow.SessionInput{AccountID: acc.ID,
		APIKeyID: acc.KeyID, ReadOnly: readOnly, TTL: SessionTTL})
	if err != nil {
		h.fail(c, err)
		return
	}
	// Signing in with a key leaves any portal this browser was in.
	if err := h.leavePortal(c); err != nil {
		h.fail(c, err)
		return
	}
	setCookie(c, sessionCookie, token, "/", int(SessionTTL.Seconds()))
	setCookie(c, loginCookie, "", "/login", -1)
	c.Redirect(http.StatusSeeOther, safeNext(c.Request.PostForm.Get("next")))
}

func (h *handler) logout(c *gin.Context) {
	if err := h.Sessions.DeleteSession(c.Request.Context(), c.GetString(tokenKey)); err != nil {
		h.fail(c, err)
		return
	}
	if _, portal := c.Get(portalKey); portal {
		h.portalSignedOut(c)
		return
	}
	setCookie(c, sessionCookie, "", "/", -1)
	c.Redirect(http.StatusSeeOther, "/login")
}

// safeNext keeps the after-sign-in redirect on this site: only a local path is followed,
// never "//host" or "/\host", which browsers treat as another site.
func safeNext(next string) string {
	// Browsers drop tabs and line breaks from a Location and read a backslash as a slash,
	// so "/\t/evil.example" would leave the site: a path of this site has none of them.
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}
