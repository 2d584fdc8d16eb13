package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow"
)

// FulfilmentChecker runs the fulfilment check of an account now.
type FulfilmentChecker interface {
	RunFulfilmentCheck(ctx context.Context, accountID string) (string, error)
}

// CampaignHandler serves campaigns and their legacy webhook URLs.
type CampaignHandler struct {
	campaigns hookflow.CampaignService
	urls      URLChecker
}

// Create answers 201 with the campaign and the secret that signs its webhooks, shown
// this once (rotate-secret shows a new one); an ed25519 campaign shows its public key.
func (h *CampaignHandler) Create(c *gin.Context) {
	var in hookflow.NewCampaign
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	campaign, err := CampaignEditor{Store: h.campaigns}.Create(c.Request.Context(), account(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, campaign)
}

// Get answers one campaign with its webhook URLs; the secret is not shown.
func (h *CampaignHandler) Get(c *gin.Context) {
	campaign, err := h.campaigns.FindCampaign(c.Request.Context(), account(c).ID, PathParam(c, "id"))
	if err != nil {
		writeError(c, err)
		return
	}
	campaign.SecretKey = ""
	c.JSON(http.StatusOK, campaign)
}

// List answers the account's campaigns, oldest first, paged.
func (h *CampaignHandler) List(c *gin.Context) {
	limit, err := queryLimit(c)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := h.campaigns.ListCampaigns(c.Request.Context(), account(c).ID, hookflow.CampaignFilter{Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		writeError(c, err)
		return
	}
	for i := range page.Data {
		page.Data[i].SecretKey = ""
	}
	c.JSON(http.StatusOK, page)
}

// Delete removes the campaign and its webhook URLs: 204.
func (h *CampaignHandler) Delete(c *gin.Context) {
	if err := h.campaigns.DeleteCampaign(c.Request.Context(), account(c).ID, PathParam(c, "id")); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// RotateSecret answers 200 with the campaign's new key (its secret, or the public key of
// a new signing key); the one it replaces keeps signing for 24 h, as a subscription's
// does. The optional body {"signature_scheme"} changes the scheme, which for a campaign
// is always a rotation.
func (h *CampaignHandler) RotateSecret(c *gin.Context) {
	var body struct {
		SignatureScheme *hookflow.SignatureScheme `json:"signature_scheme"`
	}
	if err := decodeOptionalJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	campaign, err := CampaignEditor{Store: h.campaigns}.RotateSecret(c.Request.Context(), account(c).ID, PathParam(c, "id"), body.SignatureScheme)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, campaign.KeyRotation())
}

// TestWebhook answers 202 with a test delivery to one of the campaign's webhook URLs.
func (h *CampaignHandler) TestWebhook(c *gin.Context) {
	d, err := h.campaigns.CreateCampaignTestDelivery(c.Request.Context(), account(c).ID, PathParam(c, "id"), PathParam(c, "webhook_id"))
	if err != nil {
		writeError(c, err)
		return
	}
	d.AttemptLog = nil // as for a subscription's test delivery
	c.JSON(http.StatusAccepted, d)
}

// SetWebhooks replaces the campaign's webhook URLs (at most 3).
func (h *CampaignHandler) SetWebhooks(c *gin.Context) {
	var body struct {
		Webhooks *[]struct {
			Kind string `json:"kind"`
			URL  string `json:"url"`
		} `json:"webhooks"`
	}
	if err := decodeJSON(c, MaxBodyBytes, &body); err != nil {
		writeError(c, err)
		return
	}
	if body.Webhooks == nil {
		writeError(c, hookflow.Invalid("webhooks", "is required (an empty list removes every URL)"))
		return
	}
	hooks := make([]hookflow.CampaignWebhook, len(*body.Webhooks))
	for i, w := range *body.Webhooks {
		hooks[i] = hookflow.CampaignWebhook{Kind: w.Kind, URL: w.URL}
	}
	if err := hookflow.ValidateCampaignWebhooks(hooks); err != nil {
		writeError(c, err)
		return
	}
	for _, hook := range hooks {
		if err := h.urls.CheckURL(c.Request.Context(), hook.URL); err != nil {
			if hookflow.ErrorCode(err) != hookflow.EINVALID {
				writeError(c, err)
				return
			}
			writeError(c, &hookflow.Error{Code: hookflow.EINVALID, Field: "webhooks", Message: "webhooks: " + hookflow.ErrorMessage(err)})
			return
		}
	}
	campaign, err := h.campaigns.SetCampaignWebhooks(c.Request.Context(), account(c).ID, PathParam(c, "id"), hooks)
	if err != nil {
		writeError(c, err)
		return
	}
	campaign.SecretKey = ""
	c.JSON(http.StatusOK, campaign)
}

// FulfilmentHandler serves fulfilments and the on-demand fulfilment check.
type FulfilmentHandler struct {
	fulfilments hookflow.FulfilmentService
	checker     FulfilmentChecker
}

// Create answers 201 with the pending fulfilment; fulfilment_pending is on its way.
func (h *FulfilmentHandler) Create(c *gin.Context) {
	var in hookflow.FulfilmentInput
	if err := decodeJSON(c, MaxBodyBytes, &in); err != nil {
		writeError(c, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeError(c, err)
		return
	}
	f, err := h.fulfilments.CreateFulfilment(c.Request.Context(), account(c).ID, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, f)
}

// Get answers one fulfilment.
func (h *FulfilmentHandler) Get(c *gin.Context) {
	f, err := h.fulfilments.FindFulfilment(c.Request.Context(), account(c).ID, PathParam(c, "id"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, f)
}

// List answers fulfilments newest first, filtered by status and has_issues.
func (h *FulfilmentHandler) List(c *gin.Context) {
	f := hookflow.FulfilmentFilter{Status: c.Query("status"), Cursor: c.Query("cursor")}
	if raw := c.Query("has_issues"); raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			writeError(c, hookflow.Invalid("has_issues", "must be true or false"))
			return
		}
		f.HasIssues = &v
	}
	limit, err := queryLimit(c)
	if err != nil {
		writeError(c, err)
		return
	}
	f.Limit = limit
	page, err := h.fulfilments.ListFulfilments(c.Request.Context(), account(c).ID, f)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

// Check runs the fulfilment check of the account now: 202.
func (h *FulfilmentHandler) Check(c *gin.Context) {
	id, err := h.checker.RunFulfilmentCheck(c.Request.Context(), account(c).ID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"workflow_id": id, "status": "started"})
}
