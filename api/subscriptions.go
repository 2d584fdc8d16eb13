package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// SubscriptionHandler serves an account's subscriptions.
type SubscriptionHandler struct {
	subs       hookflow.SubscriptionService
	deliveries hookflow.DeliveryService
	urls       URLChecker
}

// subscriptionView is a subscription as the API shows it: the secret only appears when it
// is created or rotated, and a whsk_ signing key never (hookflow.Subscription.MarshalJSON).
type subscriptionView struct {
	hookflow.Subscription
	SecretKey string `json:"secret_key,omitempty"`
}

// MarshalJSON writes the subscription with the view's secret, through the subscription's
// own MarshalJSON, which would otherwise be promoted and write the secret it holds.
func (v subscriptionView) MarshalJSON() ([]byte, error) {
	sub := v.Subscription
	sub.SecretKey = v.SecretKey
	return json.Marshal(sub)
}

func (h *SubscriptionHandler) editor() SubscriptionEditor {
	return SubscriptionEditor{Store: h.subs, URLs: h.urls}
}

// CheckNewURL looks up the URL an update sets, if it sets one, before the update's
// transaction begins: that transaction holds a row lock and a pooled database connection,
// which a slow or silent DNS server must not keep. A URL of the wrong form is left to
// the subscription's validation, which names it along with the other fields.
func CheckNewURL(ctx context.Context, urls URLChecker, update hookflow.SubscriptionUpdate) error {
	if update.URL == nil || urls == nil {
		return nil
	}
	url := strings.TrimSpace(*update.URL)
	if hookflow.ValidateEndpointURL("url", url) != nil {
		return nil
	}
	return urls.CheckURL(ctx, url)
}

// Create answers 201 with the new subscription and its secret.
func (h *SubscriptionHandler) Create(c *gin.Context) {
	var in hookflow.SubscriptionUpdate
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	sub, err := h.editor().Create(c.Request.Context(), account(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, subscriptionView{Subscription: sub, SecretKey: sub.SecretKey})
}

// List answers the account's subscriptions.
func (h *SubscriptionHandler) List(c *gin.Context) {
	subs, err := h.subs.ListSubscriptions(c.Request.Context(), account(c).ID)
	if err != nil {
		writeError(c, err)
		return
	}
	views := make([]subscriptionView, len(subs))
	for i, s := range subs {
		views[i] = subscriptionView{Subscription: s}
	}
	c.JSON(http.StatusOK, gin.H{"data": views})
}

// Get answers one subscription.
func (h *SubscriptionHandler) Get(c *gin.Context) {
	sub, err := h.subs.FindSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionView{Subscription: sub})
}

// Update applies the given fields; the result is validated as a whole. Another account's
// id is a 404 whatever the body says. A new signature_scheme is a rotation, and the answer
// shows its new key as a rotation does: a whsec_ secret, or the public key.
func (h *SubscriptionHandler) Update(c *gin.Context) {
	var in hookflow.SubscriptionUpdate
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	sub, rekeyed, err := h.editor().Update(c.Request.Context(), account(c).ID, c.Param("id"), in)
	if err != nil {
		writeError(c, err)
		return
	}
	view := subscriptionView{Subscription: sub}
	if rekeyed {
		view.SecretKey = sub.SecretKey
	}
	c.JSON(http.StatusOK, view)
}

// Delete answers 204; the subscription gets no new deliveries.
func (h *SubscriptionHandler) Delete(c *gin.Context) {
	if err := h.subs.DeleteSubscription(c.Request.Context(), account(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RotateSecret answers the new key in the subscription's scheme (the secret, or the public
// key of a new signing key); the old one signs too for 24 hours.
func (h *SubscriptionHandler) RotateSecret(c *gin.Context) {
	sub, err := h.editor().RotateSecret(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, sub.KeyRotation())
}

// Test sends a test delivery, {"test": true}, signed like any other.
func (h *SubscriptionHandler) Test(c *gin.Context) {
	d, err := h.deliveries.CreateTestDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	// The answer is the delivery as accepted; its attempt may already have been made by
	// the time it was read, and is the record's to show (GET /v1/deliveries/{id}).
	d.AttemptLog = nil
	c.JSON(http.StatusAccepted, d)
}
