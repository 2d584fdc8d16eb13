package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

const (
	// portalCookie carries a portal's session. It is not the sign-in's cookie: a portal
	// opens inside another site's frame, where only a cookie sent cross-site and kept in
	// that site's partition works, and a browser that keeps it after the session ended
	// tells the dashboard to say so rather than ask for a key the portal's user never had.
	portalCookie = "hookflow_portal"
	// portalKey holds the portalBrand of a portal's pages.
	portalKey = "web.portal"
)

// portalBrand is the API client's branding, which a portal's pages show in their header.
type portalBrand struct {
	BrandName string
	LogoURL   string
}

// setPortalCookie sets the portal's session cookie. It has no expiry of its own: it lasts
// as long as the browser does, so a page asked for after the session ended knows it came
// from a portal. Inside another site's frame a cookie is sent only when it is
// SameSite=None, which browsers take over HTTPS only (Secure), and Partitioned keeps it
// in the jar of the site that embeds the portal, so it cannot be sent to hookflow from
// anywhere else. Over plain HTTP it falls back to Lax: the portal works on its own, not
// framed.
func setPortalCookie(c *gin.Context, value string, maxAge int) {
	cookie := &http.Cookie{Name: portalCookie, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode}
	if secureRequest(c) {
		cookie.Secure, cookie.SameSite, cookie.Partitioned = true, http.SameSiteNoneMode, true
	}
	http.SetCookie(c.Writer, cookie)
}

// openPortal redeems a portal link into a session of its own and moves on to the
// dashboard, so the link's token leaves the address bar (and, with no referrer sent, is
// not told to anyone).
func (h *handler) openPortal(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Set(portalKey, portalBrand{})
	ctx := c.Request.Context()
	if !framed(c) && h.keySession(c) {
		// Opened in a tab signed in with a key, a link would silently put that tab in
		// another account (a link anyone can mint for their own): what the person then
		// creates would land there. The link is left unused.
		h.portalNotice(c, http.StatusConflict, "You are signed in with an API key",
			"This browser is signed in to the dashboard with an API key. Sign out first, then open the portal link again.")
		return
	}
	p, err := h.Portals.RedeemPortalLink(ctx, c.Param("token"))
	if hookflow.ErrorCode(err) == hookflow.ENOTFOUND {
		h.portalNotice(c, http.StatusNotFound, "This link cannot be opened",
			"A portal link opens once, for a short time. This one has been used already, has expired or does not exist. "+
				"Go back to the page you came from and open the portal again.")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	// A portal this browser was in before ends: its cookie is about to be replaced.
	if err := h.leavePortal(c); err != nil {
		h.fail(c, err)
		return
	}
	token, _, err := h.Sessions.CreateSession(ctx, hookflow.SessionInput{AccountID: p.AccountID, APIKeyID: p.APIKeyID, ReadOnly: p.ReadOnly,
		Portal: true, BrandName: p.BrandName, LogoURL: p.LogoURL, TTL: h.PortalSessionTTL})
	if err != nil {
		h.fail(c, err)
		return
	}
	setPortalCookie(c, token, 0)
	h.setPageHeaders(c, &portalBrand{BrandName: p.BrandName, LogoURL: p.LogoURL})
	c.Redirect(http.StatusSeeOther, "/")
}

// framed reports whether the browser asks for the page inside a frame.
func framed(c *gin.Context) bool { return c.GetHeader("Sec-Fetch-Dest") == "iframe" }

// keySession reports whether the request carries a live sign-in made with an API key.
func (h *handler) keySession(c *gin.Context) bool {
	token, _ := c.Cookie(sessionCookie)
	if token == "" {
		return false
	}
	s, err := h.Sessions.Session(c.Request.Context(), token)
	return err == nil && !s.Portal
}

// leavePortal ends the portal session of the request's cookie, if any, and drops the
// cookie.
func (h *handler) leavePortal(c *gin.Context) error {
	token, _ := c.Cookie(portalCookie)
	if token == "" {
		return nil
	}
	if err := h.Sessions.DeleteSession(c.Request.Context(), token); err != nil {
		return err
	}
	setPortalCookie(c, "", -1)
	return nil
}

// portalPage is the body of a page of a portal that has no session.
type portalPage struct {
	Heading string
	Message string
}

func (h *handler) portalNotice(c *gin.Context, status int, heading, message string) {
	if _, ok := c.Get(portalKey); !ok {
		c.Set(portalKey, portalBrand{})
	}
	h.render(c, status, "portal", view{Title: heading, Data: portalPage{Heading: heading, Message: message}})
	c.Abort()
}

// portalEnded answers a portal's page asked for without a live session.
func (h *handler) portalEnded(c *gin.Context) {
	h.portalNotice(c, http.StatusUnauthorized, "This session has ended",
		"Portal sessions last a limited time, and this browser may not have kept this one's cookie "+
			"(some browsers refuse cookies inside embedded pages). Go back to the page you came from and open the portal again.")
}

// portalSignedOut ends a portal's sign-out: the brand stays on its last page, the
// account and its navigation do not.
func (h *handler) portalSignedOut(c *gin.Context) {
	setPortalCookie(c, "", -1)
	c.Set(accountKey, nil)
	c.Set(sessionInfoKey, nil)
	h.portalNotice(c, http.StatusOK, "Signed out",
		"You are signed out of this portal. Open it again from the page you came from to see your webhooks.")
}

// portalPolicy is the Content-Security-Policy of a portal's pages: framed by the sites
// configured to embed it, with the API client's logo.
func (h *handler) portalPolicy(logoURL string) string {
	images := "'self' data:"
	if origin := hookflow.LogoOrigin(logoURL); origin != "" {
		images += " " + origin
	}
	ancestors := "'none'"
	if len(h.PortalFrameAncestors) > 0 {
		ancestors = strings.Join(h.PortalFrameAncestors, " ")
	}
	return pagePolicy(images, ancestors)
}

// writable keeps read-only sessions off the pages that exist only to change something
// (the forms that create, edit and delete).
func (h *handler) writable(c *gin.Context) {
	if s, ok := c.Value(sessionInfoKey).(hookflow.Session); ok && s.ReadOnly {
		h.refuseReadOnly(c)
		return
	}
	c.Next()
}

// refuseReadOnly answers a change asked for by a read-only session.
func (h *handler) refuseReadOnly(c *gin.Context) {
	p := errorPage{Status: http.StatusForbidden, Heading: "Read-only",
		Message: "This session can see everything but change nothing: it was opened read-only. Nothing was changed."}
	h.render(c, http.StatusForbidden, "error", view{Title: p.Heading, Data: p})
	c.Abort()
}
