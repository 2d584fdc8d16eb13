package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

// campaignNotices are the campaign pages' messages after an action, by code.
var campaignNotices = map[string]string{
	"created":   "Campaign created. Receivers verify its requests with the key shown below.",
	"deleted":   "Campaign deleted.",
	"saved":     "Webhook URLs saved.",
	"test-sent": "Test webhook queued. It appears under “Deliveries”, and this page updates by itself until it is done.",
	"rotated":   notices["rotated"],
}

// campaignsPage is the account's campaigns and the create form.
type campaignsPage struct {
	Campaigns []hookflow.Campaign
	Form      campaignForm
	OlderURL  string
}

// campaignForm is the create form as typed.
type campaignForm struct {
	ID, Name, SignatureScheme string
	Errors                    map[string]string
}

func (h *handler) campaignList(c *gin.Context) {
	h.renderCampaigns(c, http.StatusOK, campaignForm{}, c.Query("cursor"))
}

func (h *handler) renderCampaigns(c *gin.Context, status int, form campaignForm, cursor string) {
	v := view{Title: "Campaigns", Nav: "campaigns", Notice: campaignNotices[c.Query("notice")]}
	page, err := h.Campaigns.ListCampaigns(c.Request.Context(), account(c).ID, hookflow.CampaignFilter{Cursor: cursor})
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		status, v.Alert = http.StatusBadRequest, hookflow.ErrorMessage(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	p := campaignsPage{Campaigns: page.Data, Form: form}
	if page.NextCursor != nil {
		p.OlderURL = "/campaigns?" + url.Values{"cursor": {*page.NextCursor}}.Encode()
	}
	v.Data = p
	h.render(c, status, "campaigns", v)
}

func (h *handler) createCampaign(c *gin.Context) {
	form := campaignForm{ID: strings.TrimSpace(c.PostForm("id")), Name: c.PostForm("name"), SignatureScheme: c.PostForm("signature_scheme")}
	in := hookflow.NewCampaign{Name: form.Name}
	if form.ID != "" {
		id := hookflow.CampaignRef(form.ID)
		in.ID = &id
	}
	if form.SignatureScheme != "" {
		in.SignatureScheme = (*hookflow.SignatureScheme)(&form.SignatureScheme)
	}
	campaign, err := api.CampaignEditor{Store: h.Campaigns}.Create(c.Request.Context(), account(c).ID, in)
	if code := hookflow.ErrorCode(err); code == hookflow.EINVALID || code == hookflow.ECONFLICT {
		form.Errors = map[string]string{}
		field := hookflow.ErrorField(err)
		if field != "id" && field != "signature_scheme" {
			field = "name"
		}
		form.Errors[field] = strings.TrimPrefix(hookflow.ErrorMessage(err), field+": ")
		status := http.StatusUnprocessableEntity
		if code == hookflow.ECONFLICT {
			status = http.StatusConflict
		}
		h.renderCampaigns(c, status, form, "")
		return
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, campaignPath(campaign.ID)+"?notice=created")
}

// campaignPath is a campaign's page; its id is the client's, so it is escaped.
func campaignPath(id string) string { return "/campaigns/" + url.PathEscape(id) }

// campaignPage is a campaign, the form of its webhook URLs and their deliveries.
type campaignPage struct {
	Campaign   hookflow.Campaign
	Path       string
	Rows       []webhookRow
	ShowSecret bool
	Deliveries []hookflow.Delivery
	// Webhook and Status filter the deliveries.
	Webhook  string
	Status   string
	Statuses []hookflow.Status
	OlderURL string
	// URLs names the campaign's webhook URLs by id, for the deliveries table.
	URLs map[string]string
}

// webhookRow is one row of the webhook form: an existing URL (ID set) or an empty slot.
type webhookRow struct {
	Index int
	ID    string
	Kind  string
	URL   string
	Error string
}

func webhookRows(hooks []hookflow.CampaignWebhook) []webhookRow {
	rows := make([]webhookRow, hookflow.MaxCampaignWebhooks)
	for i := range rows {
		rows[i] = webhookRow{Index: i, Kind: hookflow.WebhookDefault}
		if i < len(hooks) {
			rows[i].ID, rows[i].Kind, rows[i].URL = hooks[i].ID, hooks[i].Kind, hooks[i].URL
		}
	}
	return rows
}

func (h *handler) campaign(c *gin.Context) {
	campaign, err := h.Campaigns.FindCampaign(c.Request.Context(), account(c).ID, api.PathParam(c, "id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderCampaign(c, http.StatusOK, campaign, webhookRows(campaign.Webhooks), "")
}

func (h *handler) renderCampaign(c *gin.Context, status int, campaign hookflow.Campaign, rows []webhookRow, alert string) {
	ctx := c.Request.Context()
	p := campaignPage{Campaign: campaign, Path: campaignPath(campaign.ID), Rows: rows, Statuses: allStatuses,
		ShowSecret: c.Query("notice") == "rotated" || c.Query("notice") == "created",
		Webhook:    c.Query("webhook"), Status: c.Query("status"), URLs: map[string]string{}}
	for _, hook := range campaign.Webhooks {
		p.URLs[hook.ID] = hook.URL
	}
	v := view{Title: campaign.Name, Nav: "campaigns", Notice: campaignNotices[c.Query("notice")], Alert: alert}
	filter := hookflow.DeliveryFilter{CampaignID: campaign.ID, CampaignWebhookID: p.Webhook,
		Status: hookflow.Status(p.Status), Cursor: c.Query("cursor"), Limit: deliveriesPerPage}
	page, err := h.Deliveries.ListDeliveries(ctx, account(c).ID, filter)
	switch {
	case hookflow.ErrorCode(err) == hookflow.EINVALID:
		status, v.Alert = http.StatusBadRequest, hookflow.ErrorMessage(err)
	case err != nil:
		h.fail(c, err)
		return
	}
	p.Deliveries = page.Data
	for _, d := range p.Deliveries {
		v.Refresh = v.Refresh || inFlight(d.Status)
	}
	if page.NextCursor != nil {
		q := url.Values{"cursor": {*page.NextCursor}}
		if p.Webhook != "" {
			q.Set("webhook", p.Webhook)
		}
		if p.Status != "" {
			q.Set("status", p.Status)
		}
		p.OlderURL = p.Path + "?" + q.Encode()
	}
	// A form with errors is not refreshed away.
	v.Refresh = v.Refresh && status == http.StatusOK
	v.Data = p
	h.render(c, status, "campaign", v)
}

// saveWebhooks replaces the campaign's webhook URLs with the form's rows; a row with an
// empty URL is removed. An invalid URL is shown beside its row and nothing is saved.
func (h *handler) saveWebhooks(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	campaign, err := h.Campaigns.FindCampaign(ctx, accountID, api.PathParam(c, "id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	rows := make([]webhookRow, hookflow.MaxCampaignWebhooks)
	var hooks []hookflow.CampaignWebhook
	bad := false
	for i := range rows {
		n := strconv.Itoa(i)
		rows[i] = webhookRow{Index: i, Kind: c.PostForm("kind_" + n), URL: strings.TrimSpace(c.PostForm("url_" + n))}
		if rows[i].URL == "" {
			rows[i].Kind = hookflow.WebhookDefault
			continue
		}
		hook := []hookflow.CampaignWebhook{{Kind: rows[i].Kind, URL: rows[i].URL}}
		err := hookflow.ValidateCampaignWebhooks(hook)
		if err == nil {
			err = h.URLs.CheckURL(ctx, rows[i].URL)
		}
		if err != nil {
			if hookflow.ErrorCode(err) != hookflow.EINVALID {
				h.fail(c, err)
				return
			}
			rows[i].Error = strings.TrimPrefix(strings.TrimPrefix(hookflow.ErrorMessage(err), "webhooks: "), "url: ")
			bad = true
			continue
		}
		hooks = append(hooks, hook[0])
	}
	if bad {
		h.renderCampaign(c, http.StatusUnprocessableEntity, campaign, rows, "Nothing was saved: correct the URL marked below.")
		return
	}
	if _, err := h.Campaigns.SetCampaignWebhooks(ctx, accountID, campaign.ID, hooks); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, campaignPath(campaign.ID)+"?notice=saved")
}

func (h *handler) testWebhook(c *gin.Context) {
	d, err := h.Campaigns.CreateCampaignTestDelivery(c.Request.Context(), account(c).ID, api.PathParam(c, "id"), api.PathParam(c, "webhook_id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, campaignPath(api.PathParam(c, "id"))+"?notice=test-sent&webhook="+url.QueryEscape(d.CampaignWebhookID))
}

// rotateCampaignSecret gives the campaign a new key of the scheme the form chose, its
// current one when the form sent none.
func (h *handler) rotateCampaignSecret(c *gin.Context) {
	var scheme *hookflow.SignatureScheme
	if chosen := hookflow.SignatureScheme(c.PostForm("signature_scheme")); chosen != "" {
		scheme = &chosen
	}
	campaign, err := api.CampaignEditor{Store: h.Campaigns}.RotateSecret(c.Request.Context(), account(c).ID, api.PathParam(c, "id"), scheme)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, campaignPath(campaign.ID)+"?notice=rotated#secret")
}

func (h *handler) confirmCampaignDelete(c *gin.Context) {
	campaign, err := h.Campaigns.FindCampaign(c.Request.Context(), account(c).ID, api.PathParam(c, "id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.render(c, http.StatusOK, "campaign_delete", view{Title: "Delete campaign", Nav: "campaigns",
		Data: campaignPage{Campaign: campaign, Path: campaignPath(campaign.ID)}})
}

func (h *handler) deleteCampaign(c *gin.Context) {
	if err := h.Campaigns.DeleteCampaign(c.Request.Context(), account(c).ID, api.PathParam(c, "id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/campaigns?notice=deleted")
}

// fulfilmentPage is one fulfilment and the deliveries of its fulfilment_pending events.
type fulfilmentPage struct {
	F          hookflow.Fulfilment
	Deliveries []hookflow.Delivery
	URLs       map[string]string
}

func (h *handler) fulfilment(c *gin.Context) {
	ctx := c.Request.Context()
	accountID := account(c).ID
	f, err := h.Fulfilments.FindFulfilment(ctx, accountID, api.PathParam(c, "id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	page, err := h.Deliveries.ListDeliveries(ctx, accountID, hookflow.DeliveryFilter{FulfilmentID: f.ID, Limit: deliveriesPerPage})
	if err != nil {
		h.fail(c, err)
		return
	}
	p := fulfilmentPage{F: f, Deliveries: page.Data, URLs: map[string]string{}}
	v := view{Title: "Fulfilment " + f.RewardID, Nav: "fulfilments"}
	for _, d := range page.Data {
		v.Refresh = v.Refresh || inFlight(d.Status)
		if d.CampaignWebhookID != "" {
			if w, err := h.Campaigns.FindCampaignWebhook(ctx, accountID, d.CampaignWebhookID); err == nil {
				p.URLs[d.CampaignWebhookID] = w.URL
			}
		}
	}
	v.Data = p
	h.render(c, http.StatusOK, "fulfilment", v)
}
