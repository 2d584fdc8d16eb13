package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/tracing"
)

// EventHandler ingests events.
type EventHandler struct {
	events hookflow.EventService
}

// Create answers 202 once the event and its deliveries are committed.
func (h *EventHandler) Create(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if !utf8.ValidString(key) || utf8.RuneCountInString(key) > hookflow.MaxIdempotencyKeyChars || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		writeError(c, hookflow.Invalid("Idempotency-Key", "must be at most %d printable characters", hookflow.MaxIdempotencyKeyChars))
		return
	}
	var in hookflow.EventInput
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeError(c, err)
		return
	}
	// The ingest span is where a delivery's trace begins: the store keeps its traceparent
	// with each delivery, and the dispatcher's span joins it.
	ctx, span := tracing.Tracer().Start(c.Request.Context(), "hookflow.ingest", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("hookflow.event_type", in.EventType), attribute.String("hookflow.account_id", account(c).ID)))
	defer span.End()
	out, err := h.events.IngestEvent(ctx, account(c).ID, in, key)
	if err != nil {
		span.SetStatus(codes.Error, hookflow.ErrorCode(err))
		writeError(c, err)
		return
	}
	span.SetAttributes(attribute.String("hookflow.event_id", out.EventID), attribute.Int("hookflow.deliveries", len(out.Deliveries)))
	if out.Replayed {
		// Tells a client that retried after a lost answer that nothing new was created.
		c.Header(IdempotentReplayedHeader, "true")
	}
	c.JSON(http.StatusAccepted, out)
}

// IdempotentReplayedHeader marks an answer repeated for a reused Idempotency-Key.
const IdempotentReplayedHeader = "Idempotent-Replayed"

// List answers the account's events newest first, each with the summary of its
// deliveries, with filters and a cursor.
func (h *EventHandler) List(c *gin.Context) {
	f := hookflow.EventFilter{
		EventType: c.Query("event_type"),
		EntityID:  c.Query("entity_id"),
		Cursor:    c.Query("cursor"),
	}
	var err error
	if f.Created, err = queryCreatedWindow(c); err != nil {
		writeError(c, err)
		return
	}
	if f.Limit, err = queryLimit(c); err != nil {
		writeError(c, err)
		return
	}
	page, err := h.events.ListEvents(c.Request.Context(), account(c).ID, f)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// Get answers one event.
func (h *EventHandler) Get(c *gin.Context) {
	e, err := h.events.FindEvent(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

// DeliveryHandler serves deliveries.
type DeliveryHandler struct {
	deliveries hookflow.DeliveryService
	retrier    Retrier
}

// List answers deliveries newest first, with filters and a cursor.
func (h *DeliveryHandler) List(c *gin.Context) {
	f := hookflow.DeliveryFilter{
		SubscriptionID:    c.Query("subscription_id"),
		CampaignID:        c.Query("campaign_id"),
		CampaignWebhookID: c.Query("campaign_webhook_id"),
		Status:            hookflow.Status(c.Query("status")),
		EventType:         c.Query("event_type"),
		EventID:           c.Query("event_id"),
		EntityID:          c.Query("entity_id"),
		Cursor:            c.Query("cursor"),
	}
	if f.EventType != "" && !hookflow.ValidEventType(f.EventType) {
		writeError(c, hookflow.Invalid("event_type", "is not an event type"))
		return
	}
	var err error
	if f.ResponseCode, err = hookflow.ParseResponseCode(c.Query("response_code")); err != nil {
		writeError(c, err)
		return
	}
	if f.Created, err = queryCreatedWindow(c); err != nil {
		writeError(c, err)
		return
	}
	if f.Limit, err = queryLimit(c); err != nil {
		writeError(c, err)
		return
	}
	page, err := h.deliveries.ListDeliveries(c.Request.Context(), account(c).ID, f)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// Get answers one delivery with its attempt log.
func (h *DeliveryHandler) Get(c *gin.Context) {
	d, err := h.deliveries.FindDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	log := d.AttemptLog
	if log == nil {
		log = []hookflow.Attempt{}
	}
	c.JSON(http.StatusOK, deliveryView{Delivery: d, AttemptLog: log})
}

// queryLimit reads the limit of a listing: absent is 0 (the store's default); the store
// checks the upper bound.
func queryLimit(c *gin.Context) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, hookflow.Invalid("limit", "must be an integer between 1 and 100")
	}
	return n, nil
}

// queryCreatedWindow reads created_after and created_before, RFC 3339 times (in a URL a
// zone's "+" must be escaped as %2B, or it arrives as a space); the store checks their
// order.
func queryCreatedWindow(c *gin.Context) (hookflow.CreatedWindow, error) {
	var w hookflow.CreatedWindow
	for _, p := range []struct {
		name string
		at   **time.Time
	}{{"created_after", &w.After}, {"created_before", &w.Before}} {
		raw := c.Query(p.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return hookflow.CreatedWindow{}, hookflow.Invalid(p.name, "must be an RFC 3339 time, such as 2026-11-23T17:00:00Z")
		}
		*p.at = &t
	}
	return w, nil
}

// deliveryView always shows the attempt log, empty or not; listings leave it out.
type deliveryView struct {
	hookflow.Delivery
	AttemptLog []hookflow.Attempt `json:"attempt_log"`
}

// Retry asks for an attempt now: 202, or 409 when the delivery already succeeded.
func (h *DeliveryHandler) Retry(c *gin.Context) {
	d, err := h.deliveries.FindDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if d.Status == hookflow.StatusDelivered {
		writeError(c, hookflow.Errorf(hookflow.ECONFLICT, "the delivery was already delivered"))
		return
	}
	if err := h.retrier.RetryDelivery(c.Request.Context(), d); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": d.ID, "status": d.Status, "retry": "requested"})
}
