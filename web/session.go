package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
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
// page. On a POST it also checks the form's CSRF token against the session's.
func (h *handler) requireSession(c *gin.Context) {
	token, _ := c.Cookie(sessionCookie)
	acc, csrf, err := h.Sessions.Session(c.Request.Context(), token)
	if hookflow.ErrorCode(err) == hookflow.EUNAUTHORIZED {
		if token != "" {
			setCookie(c, sessionCookie, "", "/", -1)
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
	c.Set(accountKey, acc)
	c.Set(csrfKey, csrf)
	c.Set(tokenKey, token)
	if c.Request.Method == http.MethodPost {
		if err := parseForm(c); err != nil {
			h.fail(c, err)
			return
		}
		if !tokensEqual(c.Request.PostForm.Get("csrf"), csrf) {
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
		if _, _, err := h.Sessions.Session(c.Request.Context(), token); err == nil {
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
	token, _, err := h.Sessions.CreateSession(c.Request.Context(), acc.ID, SessionTTL)
	if err != nil {
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
