package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

// deliveriesPerPage keeps a subscription page short enough to scan and to refresh every
// two seconds.
const deliveriesPerPage = 25

// notices are the messages a redirect after an action may show, by code: a query string
// can pick one but never put its own text on the page.
var notices = map[string]string{
	"created":         "Subscription created. Receivers verify its requests with the key shown below.",
	"updated":         "Changes saved.",
	"deleted":         "Subscription deleted.",
	"test-sent":       "Test delivery queued. It appears below, and this page updates by itself until it is done.",
	"rotated":         fmt.Sprintf("Secret rotated. The previous secret keeps signing requests for %d hours, so receivers can switch without missing a delivery.", int(hookflow.SecretRotationGrace.Hours())),
	"scheme-changed":  fmt.Sprintf("Changes saved. The new signature scheme came with a new key, shown below; the previous key keeps signing requests for %d hours, so receivers can switch without missing a delivery.", int(hookflow.SecretRotationGrace.Hours())),
	"retry-requested": "Retry requested: a new attempt is on its way.",
	"paused":          "Subscription paused. Its deliveries are held, none is sent, until you resume it.",
	"resumed":         "Subscription resumed. Its held deliveries go out now, oldest first.",
	"recovery-started": "Recovery started: each failed delivery of the window gets one new attempt. " +
		"Its progress is under “Recent recoveries”.",
	"replayed": "Event replayed: this is its new delivery, with the same webhook-id as the first.",
}

func notice(c *gin.Context) string { return notices[c.Query("notice")] }

// subscriptionList is the home page: every subscription of the account.
func (h *handler) subscriptionList(c *gin.Context) {
	subs, err := h.Subscriptions.ListSubscriptions(c.Request.Context(), account(c).ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	rows, err := h.subscriptionRows(c, subs)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "subscriptions", view{Title: "Subscriptions", Nav: "subscriptions",
		Notice: notice(c), Data: rows})
}

// formPage is the data of the create and edit forms.
type formPage struct {
	Form   subscriptionForm
	Sub    *hookflow.Subscription
	Action string
}

func (h *handler) newSubscription(c *gin.Context) {
	h.render(c, http.StatusOK, "subscription_form", view{Title: "New subscription", Nav: "subscriptions",
		Data: formPage{Form: newSubscriptionForm(), Action: "/subscriptions"}})
}

// subscriptionEditor changes subscriptions exactly as the API does.
func (h *handler) subscriptionEditor() api.SubscriptionEditor {
	return api.SubscriptionEditor{Store: h.Subscriptions, URLs: h.URLs}
}

func (h *handler) createSubscription(c *gin.Context) {
	form := formFromValues(c.Request.PostForm)
	u, err := form.update()
	var sub hookflow.Subscription
	if err == nil {
		sub, err = h.subscriptionEditor().Create(c.Request.Context(), account(c).ID, u)
	}
	if hookflow.ErrorCode(err) == hookflow.EINVALID {
		form.setError(err)
		h.render(c, http.StatusUnprocessableEntity, "subscription_form", view{Title: "New subscription",
			Nav: "subscriptions", Data: formPage{Form: form, Action: "/subscriptions"}})
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=created")
}

func (h *handler) editSubscription(c *gin.Context) {
	sub, err := h.Subscriptions.FindSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "subscription_form", view{Title: "Edit subscription", Nav: "subscriptions",
		Data: formPage{Form: formFromSubscription(sub), Sub: &sub, Action: "/subscriptions/" + sub.ID + "/edit"}})
}

func (h *handler) updateSubscription(c *gin.Context) {
	ctx := c.Request.Context()
	accountID, id := account(c).ID, c.Param("id")
	form := formFromValues(c.Request.PostForm)
	u, err := form.update()
	var sub hookflow.Subscription
	rekeyed := false
	if err == nil {
		// Another account's id is a 404 whatever the form says.
		sub, rekeyed, err = h.subscriptionEditor().Update(ctx, accountID, id, u)
	}
	if hookflow.ErrorCode(err) == hookflow.EINVALID {
		// The form is shown again for the subscription as stored, which must still be
		// the account's: another account's id stays a 404 even with a bad form.
		current, findErr := h.Subscriptions.FindSubscription(ctx, accountID, id)
		if findErr != nil {
			h.fail(c, findErr)
			return
		}
		form.setError(err)
		h.render(c, http.StatusUnprocessableEntity, "subscription_form", view{Title: "Edit subscription",
			Nav: "subscriptions", Data: formPage{Form: form, Sub: &current, Action: "/subscriptions/" + id + "/edit"}})
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	if rekeyed {
		c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=scheme-changed#secret")
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=updated")
}

// subscriptionPage is a subscription with one page of its deliveries.
type subscriptionPage struct {
	Sub        hookflow.Subscription
	Headers    []header
	Deliveries []hookflow.Delivery
	Status     string
	EventType  string
	Find       findFilters
	Statuses   []hookflow.Status
	// OlderURL continues the listing; NewestURL goes back to its first page.
	OlderURL   string
	NewestURL  string
	ShowSecret bool
	// Held counts the deliveries held by the pause (only looked up while paused).
	Held       int
	Recoveries []recoveryRow
	Outage     outageForms
	// Health is the endpoint's health over the window the page asks for.
	Health *healthPanel
}

var allStatuses = []hookflow.Status{hookflow.StatusPending, hookflow.StatusRetrying,
	hookflow.StatusDelivered, hookflow.StatusFailed}

func (h *handler) subscription(c *gin.Context) {
	sub, err := h.Subscriptions.FindSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderSubscription(c, http.StatusOK, sub, outageForms{}, "")
}

// renderSubscription shows the subscription page, with the pause and recover forms as
// given (typed values and errors kept when a form is shown again).
func (h *handler) renderSubscription(c *gin.Context, status int, sub hookflow.Subscription, forms outageForms, alert string) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	p := subscriptionPage{Sub: sub, Headers: sortedHeaders(sub.Headers), Statuses: allStatuses,
		Status: c.Query("status"), EventType: c.Query("event_type"), Find: findFiltersOf(c), ShowSecret: c.Query("notice") == "rotated" || c.Query("notice") == "scheme-changed",
		Outage: forms}
	v := view{Title: sub.URL, Nav: "subscriptions", Notice: notice(c), Alert: alert}
	filter := hookflow.DeliveryFilter{SubscriptionID: sub.ID, Status: hookflow.Status(p.Status),
		EventType: p.EventType, Cursor: c.Query("cursor"), Limit: deliveriesPerPage}
	page, err := h.listDeliveries(ctx, accountID, filter, &p.Find)
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		// A mistyped or hand-edited filter or cursor: say so above an empty list rather
		// than fail the whole page.
		status = http.StatusBadRequest
		v.Alert = hookflow.ErrorMessage(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	if sub.Paused {
		if p.Held, err = h.Outages.CountHeld(ctx, accountID, sub.ID); err != nil {
			h.fail(c, err)
			return
		}
	}
	if h.Health != nil {
		var alert string
		if p.Health, alert, err = h.readHealth(c, sub); err != nil {
			h.fail(c, err)
			return
		}
		if alert != "" && v.Alert == "" {
			status, v.Alert = http.StatusBadRequest, alert
		}
	}
	recoveries, err := h.Outages.ListRecoveries(ctx, accountID, sub.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	for _, r := range recoveries {
		p.Recoveries = append(p.Recoveries, recoveryRow{Recovery: r, WorkflowURL: h.workflowURL(c, r.WorkflowID)})
		// A paused subscription's recovery waits for the resume: nothing to watch.
		if r.Status == hookflow.RecoveryRunning && !sub.Paused {
			v.Refresh = true
		}
	}
	p.Deliveries = page.Data
	for _, d := range p.Deliveries {
		if refreshes(d) {
			v.Refresh = true
		}
	}
	// A form shown again with its errors is not refreshed away.
	v.Refresh = v.Refresh && status == http.StatusOK
	base := url.Values{}
	if p.Status != "" {
		base.Set("status", p.Status)
	}
	if p.EventType != "" {
		base.Set("event_type", p.EventType)
	}
	p.Find.addTo(base)
	if page.NextCursor != nil {
		older := url.Values{"cursor": {*page.NextCursor}}
		for k, vs := range base {
			older[k] = vs
		}
		p.OlderURL = "/subscriptions/" + sub.ID + "?" + older.Encode()
	}
	if filter.Cursor != "" {
		p.NewestURL = "/subscriptions/" + sub.ID
		if len(base) > 0 {
			p.NewestURL += "?" + base.Encode()
		}
	}
	v.Data = p
	h.render(c, status, "subscription", v)
}

func (h *handler) sendTest(c *gin.Context) {
	id := c.Param("id")
	if _, err := h.Deliveries.CreateTestDelivery(c.Request.Context(), account(c).ID, id); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+id+"?notice=test-sent")
}

func (h *handler) rotateSecret(c *gin.Context) {
	sub, err := h.subscriptionEditor().RotateSecret(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/subscriptions/"+sub.ID+"?notice=rotated#secret")
}

// confirmDelete asks before deleting, so the button works the same with or without
// JavaScript.
func (h *handler) confirmDelete(c *gin.Context) {
	sub, err := h.Subscriptions.FindSubscription(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "subscription_delete", view{Title: "Delete subscription", Nav: "subscriptions", Data: sub})
}

func (h *handler) deleteSubscription(c *gin.Context) {
	if err := h.Subscriptions.DeleteSubscription(c.Request.Context(), account(c).ID, c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/?notice=deleted")
}

// deliveryPage is one delivery with everything known about it.
type deliveryPage struct {
	D hookflow.Delivery
	// Sub is the subscription it goes to, nil for a deleted one or a campaign webhook.
	Sub *hookflow.Subscription
	// Hook is the campaign webhook URL it goes to, nil for a subscription's.
	Hook        *hookflow.CampaignWebhookInfo
	WorkflowURL string
}

func (h *handler) delivery(c *gin.Context) {
	d, err := h.Deliveries.FindDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	v := h.deliveryView(c, d)
	v.Notice = notice(c)
	// After a retry the delivery may be failed, not in flight, until the new attempt is
	// recorded: keep refreshing until the attempt count passes the one at the request.
	if after, err := strconv.Atoi(c.Query("after")); err == nil && d.Attempts <= after {
		v.Refresh = true
	}
	h.render(c, http.StatusOK, "delivery", v)
}

func (h *handler) deliveryView(c *gin.Context, d hookflow.Delivery) view {
	p := deliveryPage{D: d}
	if d.SubscriptionID != "" {
		// Only for the endpoint's URL: a deleted subscription leaves the page without it.
		if sub, err := h.Subscriptions.FindSubscription(c.Request.Context(), account(c).ID, d.SubscriptionID); err == nil {
			p.Sub = &sub
		}
	}
	nav := "subscriptions"
	if d.CampaignWebhookID != "" {
		nav = "campaigns"
		if w, err := h.Campaigns.FindCampaignWebhook(c.Request.Context(), account(c).ID, d.CampaignWebhookID); err == nil {
			p.Hook = &w
		}
	}
	p.WorkflowURL = h.workflowURL(c, d.WorkflowID)
	return view{Title: d.EventType + " delivery", Nav: nav, Refresh: refreshes(d), Data: p}
}

// workflowURL is a workflow's page in the Temporal Web UI, empty when there is no UI to
// link to. A portal's pages have none: the Temporal UI is the operator's, not the API
// client's customers'.
func (h *handler) workflowURL(c *gin.Context, workflowID string) string {
	if _, portal := c.Get(portalKey); h.TemporalUIURL == "" || portal {
		return ""
	}
	return h.TemporalUIURL + "/namespaces/" + url.PathEscape(h.Namespace) + "/workflows/" + url.PathEscape(workflowID)
}

func (h *handler) retryDelivery(c *gin.Context) {
	d, err := h.Deliveries.FindDelivery(c.Request.Context(), account(c).ID, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	if d.Status == hookflow.StatusDelivered {
		v := h.deliveryView(c, d)
		v.Alert = "This delivery was already delivered: there is nothing to retry."
		h.render(c, http.StatusConflict, "delivery", v)
		return
	}
	if err := h.Retrier.RetryDelivery(c.Request.Context(), d); err != nil {
		if hookflow.ErrorCode(err) == hookflow.EINTERNAL {
			h.fail(c, err)
			return
		}
		v := h.deliveryView(c, d)
		v.Alert = hookflow.ErrorMessage(err)
		h.render(c, api.HTTPStatus(err), "delivery", v)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/deliveries/%d?notice=retry-requested&after=%d", d.ID, d.Attempts))
}

// fulfilmentsPage is one page of the account's fulfilments.
type fulfilmentsPage struct {
	Fulfilments []hookflow.Fulfilment
	Issues      string
	Status      string
	OlderURL    string
	NewestURL   string
}

func (h *handler) fulfilmentList(c *gin.Context) {
	p := fulfilmentsPage{Issues: c.Query("issues"), Status: c.Query("status")}
	filter := hookflow.FulfilmentFilter{Status: p.Status, Cursor: c.Query("cursor")}
	switch p.Issues {
	case "yes", "no":
		hasIssues := p.Issues == "yes"
		filter.HasIssues = &hasIssues
	default:
		p.Issues = ""
	}
	v := view{Title: "Fulfilments", Nav: "fulfilments"}
	status := http.StatusOK
	page, err := h.Fulfilments.ListFulfilments(c.Request.Context(), account(c).ID, filter)
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		status = http.StatusBadRequest
		v.Alert = hookflow.ErrorMessage(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	p.Fulfilments = page.Data
	base := url.Values{}
	if p.Issues != "" {
		base.Set("issues", p.Issues)
	}
	if p.Status != "" {
		base.Set("status", p.Status)
	}
	if page.NextCursor != nil {
		older := url.Values{"cursor": {*page.NextCursor}}
		for k, vs := range base {
			older[k] = vs
		}
		p.OlderURL = "/fulfilments?" + older.Encode()
	}
	if filter.Cursor != "" {
		p.NewestURL = "/fulfilments"
		if len(base) > 0 {
			p.NewestURL += "?" + base.Encode()
		}
	}
	v.Data = p
	h.render(c, status, "fulfilments", v)
}
