package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

// SubscriptionHandler serves an account's subscriptions.
type SubscriptionHandler struct {
	subs       hookflow.SubscriptionService
	deliveries hookflow.DeliveryService
	urls       URLChecker
}

// subscriptionView is a subscription as the API shows it: the secret only appears when it
// is created or rotated.
type subscriptionView struct {
	hookflow.Subscription
	SecretKey string `json:"secret_key,omitempty"`
}

func (h *SubscriptionHandler) check(c *gin.Context, s *hookflow.Subscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if h.urls != nil {
		return h.urls.CheckURL(c.Request.Context(), s.URL)
	}
	return nil
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
	if in.URL == nil {
		writeError(c, hookflow.Invalid("url", "is required"))
		return
	}
	sub := hookflow.NewSubscription(in)
	if err := h.check(c, &sub); err != nil {
		writeError(c, err)
		return
	}
	secret, err := signing.NewSecret()
	if err != nil {
		writeError(c, err)
		return
	}
	sub.SecretKey = secret
	if err := h.subs.CreateSubscription(c.Request.Context(), account(c).ID, &sub); err != nil {
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

// Update applies the given fields; the result is validated as a whole.
func (h *SubscriptionHandler) Update(c *gin.Context) {
	var in hookflow.SubscriptionUpdate
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	ctx, accountID, id := c.Request.Context(), account(c).ID, c.Param("id")
	// Another account's id is a 404 whatever the body says.
	if _, err := h.subs.FindSubscription(ctx, accountID, id); err != nil {
		writeError(c, err)
		return
	}
	if err := CheckNewURL(ctx, h.urls, in); err != nil {
		writeError(c, err)
		return
	}
	sub, err := h.subs.UpdateSubscription(ctx, accountID, id, in, (*hookflow.Subscription).Validate)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionView{Subscription: sub})
}

// Delete answers 204; the subscription gets no new deliveries.
func (h *SubscriptionHandler) Delete(c *gin.Context) {
	if err := h.subs.DeleteSubscription(c.Request.Context(), account(c).ID, c.Param("id")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RotateSecret answers the new secret; the old one signs too for 24 hours.
func (h *SubscriptionHandler) RotateSecret(c *gin.Context) {
	secret, err := signing.NewSecret()
	if err != nil {
		writeError(c, err)
		return
	}
	sub, err := h.subs.RotateSecret(c.Request.Context(), account(c).ID, c.Param("id"), secret, hookflow.SecretRotationGrace)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"secret_key": sub.SecretKey, "previous_secret_expires_at": sub.PreviousSecretExpiresAt})
}

// Test sends a test delivery, {"test": true}, signed like any other.
func (h *SubscriptionHandler) Test(c *gin.Context) {
	d, err := h.deliveries.CreateTestDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, d)
}
