package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// OutageHandler serves what a person does about an endpoint that is down: pause and
// resume, recover, replay.
type OutageHandler struct {
	outages hookflow.OutageService
}

// Pause answers the subscription, paused: its deliveries are held until it is resumed.
func (h *OutageHandler) Pause(c *gin.Context) {
	var body struct {
		Reason *string `json:"reason"`
	}
	if err := decodeOptionalJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	reason := "paused by the API"
	if body.Reason != nil {
		reason = strings.TrimSpace(*body.Reason)
		err := hookflow.ValidatePauseReason(reason)
		if reason == "" {
			err = hookflow.Invalid("reason", "must not be empty (leave it out for the default)")
		}
		if err != nil {
			writeError(c, err)
			return
		}
	}
	sub, err := h.outages.PauseSubscription(c.Request.Context(), account(c).ID, c.Param("id"), reason)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionView{Subscription: sub})
}

// Resume answers the subscription, no longer paused; its held deliveries go out oldest
// first.
func (h *OutageHandler) Resume(c *gin.Context) {
	if err := decodeOptionalJSON(c, MaxBodyBytes, &struct{}{}); err != nil {
		writeError(c, err)
		return
	}
	sub, err := h.outages.ResumeSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionView{Subscription: sub})
}

// Recover answers 202 with a recovery of the subscription's failed deliveries created in
// [since, until).
func (h *OutageHandler) Recover(c *gin.Context) {
	var body struct {
		Since *string `json:"since"`
		Until *string `json:"until"`
	}
	if err := decodeJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	var req hookflow.RecoveryRequest
	if body.Since == nil {
		writeError(c, hookflow.Invalid("since", "is required (an RFC 3339 time)"))
		return
	}
	since, err := parseTime("since", *body.Since)
	if err != nil {
		writeError(c, err)
		return
	}
	req.Since = since
	if body.Until != nil {
		until, err := parseTime("until", *body.Until)
		if err != nil {
			writeError(c, err)
			return
		}
		req.Until = &until
	}
	r, err := h.outages.CreateRecovery(c.Request.Context(), account(c).ID, c.Param("id"), req)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, r)
}

// GetRecovery answers a recovery and its progress.
func (h *OutageHandler) GetRecovery(c *gin.Context) {
	r, err := h.outages.FindRecovery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// Replay answers 202 with new deliveries of the event: to every subscription it matches
// now, or to the one named.
func (h *OutageHandler) Replay(c *gin.Context) {
	var body struct {
		SubscriptionID *string `json:"subscription_id"`
	}
	if err := decodeOptionalJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	subID := ""
	if body.SubscriptionID != nil {
		if subID = *body.SubscriptionID; subID == "" {
			writeError(c, hookflow.Invalid("subscription_id", "must be a subscription id (leave it out for every matching subscription)"))
			return
		}
	}
	ds, err := h.outages.ReplayEvent(c.Request.Context(), account(c).ID, c.Param("id"), subID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"deliveries": ds})
}

// parseTime reads an RFC 3339 time of a request field.
func parseTime(field, raw string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return time.Time{}, hookflow.Invalid(field, "must be an RFC 3339 time such as 2026-12-01T09:00:00Z")
	}
	return t.UTC(), nil
}
