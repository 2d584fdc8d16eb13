package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

// dashboardPauseReason is what a pause from the dashboard says when no reason is typed,
// so the banner still tells where the pause came from.
const dashboardPauseReason = "paused from the dashboard"

// outageForms are the pause and recover forms of a subscription page as typed, so a
// rejected one comes back as it was sent.
type outageForms struct {
	Reason string
	Since  string
	Until  string
	// Errors holds a message per field name, shown beside that field.
	Errors map[string]string
}

// outageFields are the fields these forms show; an error about any other goes on top.
var outageFields = map[string]bool{"reason": true, "since": true, "until": true}

// setError places an error beside its field and returns "", or returns the message for
// the top of the page when it names no field of the forms.
func (f *outageForms) setError(err error) string {
	field := hookflow.ErrorField(err)
	message := hookflow.ErrorMessage(err)
	if !outageFields[field] {
		return message
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	f.Errors[field] = strings.TrimPrefix(message, field+": ")
	return ""
}

// recoveryRow is a recovery as the subscription page lists it.
type recoveryRow struct {
	hookflow.Recovery
	WorkflowURL string
}

// formTimeLayouts are what a datetime-local input sends (seconds only when the browser
// shows them), and what a person types where the browser offers a plain text box.
var formTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// parseFormTime reads a time of the recover form. The inputs carry no zone, and the
// dashboard shows every time in UTC, so they are read as UTC (their labels say so).
func parseFormTime(field, raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	for _, layout := range formTimeLayouts {
		if t, err := time.ParseInLocation(layout, raw, time.UTC); err == nil && t.Year() >= 2000 {
			return t, nil
		}
	}
	return time.Time{}, hookflow.Invalid(field, "must be a date and time in UTC, such as 2026-12-01T09:00")
}

// recoveryRequest turns the recover form into a request; the window itself is checked by
// the service, which knows the retention.
func (f outageForms) recoveryRequest() (hookflow.RecoveryRequest, error) {
	if strings.TrimSpace(f.Since) == "" {
		return hookflow.RecoveryRequest{}, hookflow.Invalid("since", "is required")
	}
	since, err := parseFormTime("since", f.Since)
	if err != nil {
		return hookflow.RecoveryRequest{}, err
	}
	req := hookflow.RecoveryRequest{Since: since}
	if strings.TrimSpace(f.Until) != "" {
		until, err := parseFormTime("until", f.Until)
		if err != nil {
			return hookflow.RecoveryRequest{}, err
		}
		req.Until = &until
	}
	return req, nil
}

func (h *handler) pauseSubscription(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	// Looked up first, so another account's id is a 404 whatever the form says.
	sub, err := h.Subscriptions.FindSubscription(ctx, accountID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	forms := outageForms{Reason: c.PostForm("reason")}
	reason := strings.TrimSpace(forms.Reason)
	if reason == "" {
		reason = dashboardPauseReason
	}
	if err := hookflow.ValidatePauseReason(reason); err != nil {
		forms.setError(err)
		h.renderSubscription(c, http.StatusUnprocessableEntity, sub, forms, "")
		return
	}
	if _, err := h.Outages.PauseSubscription(ctx, accountID, sub.ID, reason); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=paused")
}

func (h *handler) resumeSubscription(c *gin.Context) {
	sub, err := h.Outages.ResumeSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=resumed")
}

func (h *handler) recoverDeliveries(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	sub, err := h.Subscriptions.FindSubscription(ctx, accountID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	forms := outageForms{Since: c.PostForm("since"), Until: c.PostForm("until")}
	req, err := forms.recoveryRequest()
	if err == nil {
		_, err = h.Outages.CreateRecovery(ctx, accountID, sub.ID, req)
	}
	switch code := hookflow.ErrorCode(err); {
	case err == nil:
		// No #fragment: browsers follow the page's own refresh to a URL with one as a jump
		// within the page, not a reload, and the recovery's progress would never show.
		c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=recovery-started")
	case code == hookflow.EINVALID:
		alert := forms.setError(err)
		h.renderSubscription(c, http.StatusUnprocessableEntity, sub, forms, alert)
	case code == hookflow.EUNAVAILABLE:
		// The workflow service is down: the form comes back as typed, to send again in
		// a moment.
		c.Header("Retry-After", "5")
		h.renderSubscription(c, http.StatusServiceUnavailable, sub, forms, hookflow.ErrorMessage(err))
	default:
		h.fail(c, err)
	}
}

// replayDelivery sends the delivery's event again to its subscription, as a new delivery
// with the same webhook-id, and shows that new delivery.
func (h *handler) replayDelivery(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	d, err := h.Deliveries.FindDelivery(ctx, accountID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	showAlert := func(status int, message string) {
		v := h.deliveryView(c, d)
		v.Alert = message
		v.Refresh = false
		h.render(c, status, "delivery", v)
	}
	if d.SubscriptionID == "" {
		// Replaying to every matching subscription is not what a button on one
		// delivery's page promises.
		showAlert(http.StatusConflict, "Only a subscription's deliveries can be replayed here: this one went to a campaign webhook.")
		return
	}
	replayed, err := h.Outages.ReplayEvent(ctx, accountID, d.EventID, d.SubscriptionID)
	switch code := hookflow.ErrorCode(err); {
	case err == nil && len(replayed) == 0:
		showAlert(http.StatusConflict, "The event was not replayed: its subscription no longer takes it.")
	case err == nil:
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/deliveries/%d?notice=replayed", replayed[0].ID))
	case code == hookflow.ENOTFOUND:
		// The delivery is the account's, so nothing is revealed by saying what is gone.
		showAlert(http.StatusConflict, "This event can no longer be replayed: its subscription was deleted or the event is past the retention.")
	case code == hookflow.EINTERNAL:
		h.fail(c, err)
	default:
		if code == hookflow.EUNAVAILABLE {
			c.Header("Retry-After", "5")
		}
		showAlert(api.HTTPStatus(err), hookflow.ErrorMessage(err))
	}
}
