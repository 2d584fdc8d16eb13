// Package api is hookflow's HTTP API: a gin router, handlers built as structs over narrow
// interfaces, the auth middleware and the single mapping from error codes to statuses.
package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = hookflow.MaxEventBodyBytes

// Retrier asks a delivery for an attempt now (a Temporal signal-with-start).
type Retrier interface {
	RetryDelivery(ctx context.Context, d hookflow.Delivery) error
}

// URLChecker decides whether an endpoint URL may be used (egress policy).
type URLChecker interface {
	CheckURL(ctx context.Context, rawURL string) error
}

// Deps are the router's dependencies.
type Deps struct {
	Accounts      hookflow.AccountService
	APIKeys       hookflow.APIKeyService
	Subscriptions hookflow.SubscriptionService
	Events        hookflow.EventService
	Deliveries    hookflow.DeliveryService
	Campaigns     hookflow.CampaignService
	Fulfilments   hookflow.FulfilmentService
	Outages       hookflow.OutageService
	Health        hookflow.HealthService
	Retrier       Retrier
	Checker       FulfilmentChecker
	URLs          URLChecker
	AdminKey      string
	// Portals mints portal links, each opening until PortalLinkTTL has passed; PublicURL,
	// when set, is where browsers reach hookflow, which the links start with.
	Portals       hookflow.PortalService
	PortalLinkTTL time.Duration
	PublicURL     string
	// Ready reports whether this process can do its work: PostgreSQL for the API (ingest
	// never needs Temporal), PostgreSQL and Temporal for a worker.
	Ready func(ctx context.Context) error
	// TemporalReachable, when set, says whether Temporal answered the last health check;
	// /readyz shows it whether or not readiness depends on it.
	TemporalReachable func() bool
	// Metrics serves /metrics; nil leaves it out.
	Metrics http.Handler
	// Extra adds routes to the engine (the dashboard).
	Extra func(*gin.Engine)
	// Middleware runs before every route (metrics, rate limits).
	Middleware []gin.HandlerFunc
	// IngestLimiter bounds each account's event rate; nil is unlimited.
	IngestLimiter *IngestLimiter
	// Probes serves only /healthz, /readyz and /metrics (a worker without the API).
	Probes bool
}

// NotFound answers a request for a path nothing serves, as a JSON error.
func NotFound(c *gin.Context) { writeError(c, hookflow.Errorf(hookflow.ENOTFOUND, "no such route")) }

// NewRouter builds the HTTP handler.
func NewRouter(d Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Ids in paths may be the API client's own (a campaign's), so a "/" in one arrives
	// escaped as %2F: routes match the path as sent, and handlers of such ids unescape
	// them with PathParam (gin's own unescaping would turn "+" into a space).
	r.UseRawPath, r.UnescapePathValues = true, false
	r.Use(gin.Recovery())
	r.Use(d.Middleware...)
	r.HandleMethodNotAllowed = true
	r.NoRoute(NotFound)
	r.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{Code: "method_not_allowed", Message: "method not allowed on this route"}})
	})

	health := &HealthHandler{ready: d.Ready, temporal: d.TemporalReachable}
	r.GET("/healthz", health.Live)
	r.GET("/readyz", health.Ready)
	if d.Metrics != nil {
		r.GET("/metrics", gin.WrapH(d.Metrics))
	}

	if d.Probes {
		return r
	}
	registerOpenAPI(r)
	v1 := r.Group("/v1")
	admin := v1.Group("", requireAdmin(d.AdminKey))
	accounts := &AccountHandler{accounts: d.Accounts}
	admin.POST("/accounts", accounts.Create)
	keys := &APIKeyHandler{keys: d.APIKeys}
	if cache, ok := d.Accounts.(interface{ Forget(keyID string) }); ok {
		keys.forget = cache.Forget
	}
	admin.GET("/accounts", keys.ListAccounts)
	admin.POST("/accounts/:id/api-keys", keys.CreateForAccount)

	// The admin key mints links to any account, an account's key to its own.
	portals := &PortalHandler{portals: d.Portals, accounts: d.Accounts, adminKey: d.AdminKey, ttl: d.PortalLinkTTL,
		publicURL: d.PublicURL, limiter: d.IngestLimiter}
	v1.POST("/portal-links", portals.authenticate, portals.Create)

	acc := v1.Group("", requireAccount(d.Accounts))
	acc.GET("/api-keys", keys.List)
	acc.POST("/api-keys", keys.Create)
	acc.DELETE("/api-keys/:id", keys.Revoke)
	// Every call that writes, sends a request or looks a host up counts against the
	// account's rate: events are the bulk of it, but tests, retries and fulfilments send
	// too, and one tenant must not be able to use hookflow to flood a host or starve the
	// others.
	limited := limitIngest(d.IngestLimiter)
	subs := &SubscriptionHandler{subs: d.Subscriptions, deliveries: d.Deliveries, urls: d.URLs}
	acc.POST("/subscriptions", limited, subs.Create)
	acc.GET("/subscriptions", subs.List)
	acc.GET("/subscriptions/:id", subs.Get)
	acc.PATCH("/subscriptions/:id", limited, subs.Update)
	acc.DELETE("/subscriptions/:id", subs.Delete)
	acc.POST("/subscriptions/:id/rotate-secret", limited, subs.RotateSecret)
	acc.POST("/subscriptions/:id/test", limited, subs.Test)
	endpointHealth := &EndpointHealthHandler{health: d.Health}
	acc.GET("/subscriptions/:id/health", endpointHealth.Get)

	outages := &OutageHandler{outages: d.Outages}
	acc.POST("/subscriptions/:id/pause", limited, outages.Pause)
	acc.POST("/subscriptions/:id/resume", limited, outages.Resume)
	acc.POST("/subscriptions/:id/recover", limited, outages.Recover)
	acc.GET("/recoveries/:id", outages.GetRecovery)

	events := &EventHandler{events: d.Events}
	acc.POST("/events", limited, events.Create)
	acc.GET("/events", events.List)
	acc.GET("/events/:id", events.Get)
	acc.POST("/events/:id/replay", limited, outages.Replay)

	deliveries := &DeliveryHandler{deliveries: d.Deliveries, retrier: d.Retrier}
	acc.GET("/deliveries", deliveries.List)
	acc.GET("/deliveries/:id", deliveries.Get)
	acc.POST("/deliveries/:id/retry", limited, deliveries.Retry)

	campaigns := &CampaignHandler{campaigns: d.Campaigns, urls: d.URLs}
	acc.POST("/campaigns", limited, campaigns.Create)
	acc.GET("/campaigns", campaigns.List)
	acc.GET("/campaigns/:id", campaigns.Get)
	acc.DELETE("/campaigns/:id", campaigns.Delete)
	acc.PUT("/campaigns/:id/webhooks", limited, campaigns.SetWebhooks)
	acc.POST("/campaigns/:id/rotate-secret", limited, campaigns.RotateSecret)
	acc.POST("/campaigns/:id/webhooks/:webhook_id/test", limited, campaigns.TestWebhook)

	fulfilments := &FulfilmentHandler{fulfilments: d.Fulfilments, checker: d.Checker}
	acc.POST("/fulfilments", limited, fulfilments.Create)
	acc.GET("/fulfilments", fulfilments.List)
	acc.GET("/fulfilments/:id", fulfilments.Get)
	acc.POST("/fulfilment-checks", limited, fulfilments.Check)

	if d.Extra != nil {
		d.Extra(r)
	}
	return r
}

// PathParam is a path parameter, unescaped as a path is: an id the API client chose may
// hold any character. One that does not unescape is returned as sent (and finds nothing).
func PathParam(c *gin.Context, name string) string {
	raw := c.Param(name)
	if v, err := url.PathUnescape(raw); err == nil {
		return v
	}
	return raw
}

// HealthHandler answers liveness and readiness probes.
type HealthHandler struct {
	ready    func(ctx context.Context) error
	temporal func() bool
}

// Live answers 200 while the process serves.
func (h *HealthHandler) Live(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Ready answers 200 when this process can do its work, 503 otherwise; the body also says
// whether Temporal is reachable.
func (h *HealthHandler) Ready(c *gin.Context) {
	body := gin.H{"status": "ready"}
	if h.temporal != nil {
		body["temporal"] = "unreachable"
		if h.temporal() {
			body["temporal"] = "reachable"
		}
	}
	if h.ready != nil {
		if err := h.ready(c.Request.Context()); err != nil {
			body["status"], body["reason"] = "unavailable", hookflow.ErrorMessage(err)
			c.JSON(http.StatusServiceUnavailable, body)
			return
		}
	}
	c.JSON(http.StatusOK, body)
}

// AccountHandler creates accounts (admin only).
type AccountHandler struct {
	accounts hookflow.AccountService
}

// Create answers 201 with the account and its API key, shown this once.
func (h *AccountHandler) Create(c *gin.Context) {
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	acc, err := h.accounts.CreateAccount(c.Request.Context(), body.Name)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, acc)
}
