// Package web is hookflow's dashboard: server-rendered pages where the people of an
// account see every delivery and act on it. Templates, the stylesheet and a few lines of
// optional script are embedded, so the binary serves the dashboard with no build step and
// no files beside it, and every page works without JavaScript.
package web

import (
	"context"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

// SessionTTL is how long a dashboard sign-in lasts: a working day, after which the API key
// is asked for again.
const SessionTTL = 12 * time.Hour

// Sessions keeps dashboard sign-ins server-side, so signing out or an expiry really ends
// them.
type Sessions interface {
	// CreateSession returns the cookie token of a new session and the CSRF token its forms
	// carry.
	CreateSession(ctx context.Context, in hookflow.SessionInput) (token, csrf string, err error)
	// Session returns the session of a token: the signed-in account, the CSRF token and
	// what the session may do; an unknown or expired token, or one whose API key has been
	// revoked, is EUNAUTHORIZED.
	Session(ctx context.Context, token string) (hookflow.Session, error)
	DeleteSession(ctx context.Context, token string) error
}

// Deps are the dashboard's dependencies.
type Deps struct {
	Accounts      hookflow.AccountService
	Subscriptions hookflow.SubscriptionService
	Deliveries    hookflow.DeliveryService
	Events        hookflow.EventService
	Fulfilments   hookflow.FulfilmentService
	Campaigns     hookflow.CampaignService
	// Outages pauses and resumes subscriptions, recovers their failed deliveries and
	// replays events (the service the API uses too).
	Outages hookflow.OutageService
	// Health reads endpoint health for the subscription pages; nil leaves it out.
	Health   hookflow.HealthService
	Sessions Sessions
	// Retrier asks a delivery for an attempt now.
	Retrier interface {
		RetryDelivery(ctx context.Context, d hookflow.Delivery) error
	}
	// URLs decides whether an endpoint URL may be used (egress policy).
	URLs interface {
		CheckURL(ctx context.Context, rawURL string) error
	}
	// TemporalUIURL is the Temporal Web UI each delivery page links its workflow in; empty
	// leaves the link out.
	TemporalUIURL string
	// Namespace is the Temporal namespace of the delivery workflows.
	Namespace string
	// Portals redeems portal links, each into a session of PortalSessionTTL.
	Portals          hookflow.PortalService
	PortalSessionTTL time.Duration
	// PortalFrameAncestors are the origins whose pages may frame a portal's pages, as
	// Content-Security-Policy writes them; without any, no site may.
	PortalFrameAncestors []string
}

// Register adds the dashboard's routes. The JSON API owns /v1 and the probes; every
// dashboard route is registered here by name, and a path nothing serves gets the
// dashboard's "not found" page when a browser asks for it outside /v1, the API's JSON
// error otherwise.
func Register(r *gin.Engine, d Deps) {
	h := newHandler(d)
	r.NoRoute(func(c *gin.Context) {
		if strings.HasPrefix(c.Request.URL.Path, "/v1/") || !strings.Contains(c.GetHeader("Accept"), "text/html") {
			api.NotFound(c)
			return
		}
		h.notFound(c)
	})

	r.GET("/static/*file", h.static)
	r.GET("/login", h.loginPage)
	r.POST("/login", h.sameOrigin, h.login)
	r.GET("/portal/:token", h.openPortal)

	signedIn := r.Group("", h.sameOrigin, h.requireSession)
	signedIn.POST("/logout", h.logout)

	signedIn.GET("/", h.subscriptionList)
	signedIn.GET("/subscriptions", h.subscriptionList)
	signedIn.GET("/subscriptions/new", h.writable, h.newSubscription)
	signedIn.POST("/subscriptions", h.createSubscription)
	signedIn.GET("/subscriptions/:id", h.subscription)
	signedIn.GET("/subscriptions/:id/edit", h.writable, h.editSubscription)
	signedIn.POST("/subscriptions/:id/edit", h.updateSubscription)
	signedIn.POST("/subscriptions/:id/test", h.sendTest)
	signedIn.POST("/subscriptions/:id/rotate-secret", h.rotateSecret)
	signedIn.GET("/subscriptions/:id/delete", h.writable, h.confirmDelete)
	signedIn.POST("/subscriptions/:id/delete", h.deleteSubscription)
	signedIn.POST("/subscriptions/:id/pause", h.pauseSubscription)
	signedIn.POST("/subscriptions/:id/resume", h.resumeSubscription)
	signedIn.POST("/subscriptions/:id/recover", h.recoverDeliveries)

	signedIn.GET("/deliveries/:id", h.delivery)
	signedIn.POST("/deliveries/:id/retry", h.retryDelivery)
	signedIn.POST("/deliveries/:id/replay", h.replayDelivery)

	signedIn.GET("/events", h.eventList)
	signedIn.GET("/events/:id", h.event)

	signedIn.GET("/fulfilments", h.fulfilmentList)
	signedIn.GET("/fulfilments/:id", h.fulfilment)

	signedIn.GET("/campaigns", h.campaignList)
	signedIn.POST("/campaigns", h.createCampaign)
	signedIn.GET("/campaigns/:id", h.campaign)
	signedIn.POST("/campaigns/:id/webhooks", h.saveWebhooks)
	signedIn.POST("/campaigns/:id/webhooks/:webhook_id/test", h.testWebhook)
	signedIn.POST("/campaigns/:id/rotate-secret", h.rotateCampaignSecret)
	signedIn.GET("/campaigns/:id/delete", h.writable, h.confirmCampaignDelete)
	signedIn.POST("/campaigns/:id/delete", h.deleteCampaign)
}
