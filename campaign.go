package hookflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Campaign webhook kinds.
const (
	// WebhookDefault receives the standard legacy events.
	WebhookDefault = "default"
	// WebhookFulfilment receives fulfilment_pending only.
	WebhookFulfilment = "fulfilment"
	// MaxCampaignWebhooks is how many webhook URLs a campaign may have.
	MaxCampaignWebhooks = 3
)

// FulfilmentPending is the event fired for a fulfilment waiting to be paid out.
const FulfilmentPending = "fulfilment_pending"

// StandardLegacyEvents are the events a campaign's default webhook URLs receive.
var StandardLegacyEvents = []string{"lead_signup", "lead_becomes_referral", "new_customer",
	"lead_cancelled", "promoter_signed_up", "promoter_accepted", "reward_created"}

// IsStandardLegacyEvent reports whether t is one of StandardLegacyEvents.
func IsStandardLegacyEvent(t string) bool {
	for _, e := range StandardLegacyEvents {
		if e == t {
			return true
		}
	}
	return false
}

// Campaign is a campaign of an account with its legacy webhook URLs.
type Campaign struct {
	// ID is the id the API client's own system gives the campaign, or the one hookflow
	// assigned when it gave none; events and subscriptions name the campaign by it.
	ID string `json:"id"`
	// Key is the campaign's internal id.
	Key       string            `json:"-"`
	AccountID string            `json:"-"`
	Name      string            `json:"name"`
	Webhooks  []CampaignWebhook `json:"webhooks"`
	// SignatureScheme is the scheme of SecretKey, hmac-sha256 (the default) or ed25519.
	SignatureScheme SignatureScheme `json:"signature_scheme"`
	// SecretKey signs the campaign's legacy webhooks; like a subscription's, a whsk_ one is
	// never shown (see MarshalJSON).
	SecretKey string `json:"secret_key,omitempty"`
	// PublicKey is the whpk_ key of an ed25519 campaign, derived by the store.
	PublicKey string `json:"public_key,omitempty"`
	// RetiredSecrets are replaced keys that still sign, newest first.
	RetiredSecrets []RetiredSecret `json:"-"`
	// PreviousSecretExpiresAt is when the last replaced key stops signing.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt               time.Time  `json:"created_at"`
}

// Campaign limits.
const (
	MaxCampaignNameLength = 200
	// MaxCampaignIDChars bounds a campaign id the API client gives.
	MaxCampaignIDChars = 128
)

// NewCampaign is the body of POST /v1/campaigns.
type NewCampaign struct {
	// ID is the API client's own id for the campaign; nil (absent) lets hookflow assign
	// one.
	ID   *CampaignRef `json:"id"`
	Name string       `json:"name"`
	// SignatureScheme is the scheme of the key minted for the campaign; nil is
	// hmac-sha256.
	SignatureScheme *SignatureScheme `json:"signature_scheme"`
}

// Validate checks the name, the id and the signature scheme.
func (in *NewCampaign) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return Invalid("name", "is required")
	}
	if utf8.RuneCountInString(in.Name) > MaxCampaignNameLength || !ValidText(in.Name) {
		return Invalid("name", "at most %d characters of text", MaxCampaignNameLength)
	}
	if err := ValidateSignatureScheme(in.Scheme()); err != nil {
		return err
	}
	if in.ID == nil {
		return nil
	}
	return ValidateCampaignRef("id", *in.ID)
}

// Scheme is the signature scheme the campaign is created with.
func (in NewCampaign) Scheme() SignatureScheme {
	if in.SignatureScheme == nil {
		return SignatureHMACSHA256
	}
	return *in.SignatureScheme
}

// OwnID is the client's id for the campaign, "" when it gave none.
func (in NewCampaign) OwnID() string {
	if in.ID == nil {
		return ""
	}
	return string(*in.ID)
}

// ValidateCampaignRef checks a campaign id as a client may write it: a positive integer
// or a string of at most MaxCampaignIDChars characters of text, not blank.
func ValidateCampaignRef(field string, ref CampaignRef) error {
	if strings.TrimSpace(string(ref)) == "" || utf8.RuneCountInString(string(ref)) > MaxCampaignIDChars || hasControl(string(ref)) {
		return Invalid(field, "must be a positive integer or a string of 1 to %d characters", MaxCampaignIDChars)
	}
	// A URL path cannot name "." or ".." (clients and browsers remove such segments).
	if ref == "." || ref == ".." {
		return Invalid(field, `cannot be "." or ".."`)
	}
	return nil
}

// Rotate makes newSecret the campaign's signing key, as a subscription rotates.
func (c *Campaign) Rotate(newSecret string, now time.Time, grace time.Duration) {
	c.RetiredSecrets = RetireKey(c.SecretKey, c.RetiredSecrets, now, grace)
	c.SecretKey, c.PreviousSecretExpiresAt = newSecret, &c.RetiredSecrets[0].ExpiresAt
	c.SignatureScheme = SchemeOfKey(newSecret)
}

// CampaignFilter pages through an account's campaigns.
type CampaignFilter struct {
	Limit  int
	Cursor string
}

// CampaignPage is one page of campaigns, oldest first.
type CampaignPage struct {
	Data       []Campaign `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

// CampaignWebhook is one legacy webhook URL of a campaign.
type CampaignWebhook struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	URL  string `json:"url"`
}

// CampaignWebhookInfo is a campaign webhook URL with the campaign it belongs to.
type CampaignWebhookInfo struct {
	CampaignWebhook
	CampaignID   string
	CampaignName string
	// Removed is true once the URL was replaced or its campaign deleted.
	Removed bool
}

// ValidateCampaignWebhooks checks a full set of webhook URLs.
func ValidateCampaignWebhooks(hooks []CampaignWebhook) error {
	if len(hooks) > MaxCampaignWebhooks {
		return Invalid("webhooks", "a campaign has at most %d webhook URLs", MaxCampaignWebhooks)
	}
	for i := range hooks {
		h := &hooks[i]
		h.URL = strings.TrimSpace(h.URL)
		if h.Kind != WebhookDefault && h.Kind != WebhookFulfilment {
			return Invalid("webhooks", `kind must be "default" or "fulfilment", got %q`, Truncate(h.Kind, 32))
		}
		if err := ValidateEndpointURL("webhooks", h.URL); err != nil {
			return err
		}
	}
	return nil
}

// LegacyPayload is the body a campaign webhook URL receives.
type LegacyPayload struct {
	Event LegacyEvent     `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// LegacyEvent is the envelope of a legacy payload.
type LegacyEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
}

// RenderLegacyPayload returns the exact bytes sent to a campaign webhook URL.
func RenderLegacyPayload(e Event) ([]byte, error) {
	data := e.Data
	if isNull(data) {
		data = json.RawMessage(`{}`)
	}
	return json.Marshal(LegacyPayload{
		Event: LegacyEvent{ID: e.ID, Type: e.EventType, CreatedAt: e.CreatedAt.UTC().Format(time.RFC3339Nano)},
		Data:  data,
	})
}

// Fulfilment statuses.
const (
	FulfilmentStatusPending   = "pending"
	FulfilmentStatusCompleted = "completed"
)

// Fulfilment is the pending payout of one non-monetary reward.
type Fulfilment struct {
	ID         string          `json:"id"`
	AccountID  string          `json:"-"`
	CampaignID string          `json:"campaign_id"`
	RewardID   string          `json:"reward_id"`
	Amount     float64         `json:"amount"`
	Unit       string          `json:"unit"`
	Promoter   json.RawMessage `json:"promoter"`
	Status     string          `json:"status"`
	DatePaid   *time.Time      `json:"date_paid"`
	HasIssues  bool            `json:"has_issues"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// FulfilmentInput is the body of POST /v1/fulfilments.
type FulfilmentInput struct {
	CampaignID CampaignRef     `json:"campaign_id"`
	RewardID   string          `json:"reward_id"`
	Amount     *float64        `json:"amount"`
	Unit       string          `json:"unit"`
	Promoter   json.RawMessage `json:"promoter"`
}

// Validate checks a fulfilment; whether the campaign exists is the store's to say.
func (in *FulfilmentInput) Validate() error {
	if in.CampaignID == "" {
		return Invalid("campaign_id", "is required")
	}
	if strings.TrimSpace(in.RewardID) == "" || utf8.RuneCountInString(in.RewardID) > MaxEntityFieldLength || hasControl(in.RewardID) {
		return Invalid("reward_id", "is required, at most %d characters", MaxEntityFieldLength)
	}
	if in.Amount == nil {
		return Invalid("amount", "is required")
	}
	if *in.Amount <= 0 || *in.Amount > 1e12 {
		return Invalid("amount", "must be a positive number")
	}
	if !validUnit(in.Unit) {
		return Invalid("unit", "must be a unit name such as credits, free_months or cash (lowercase letters, digits, '_')")
	}
	if !isObject(in.Promoter) {
		return Invalid("promoter", "must be an object with at least an id")
	}
	if !storableJSON(in.Promoter) {
		return Invalid("promoter", "must be UTF-8 JSON without \\u0000")
	}
	var p map[string]json.RawMessage
	if err := json.Unmarshal(in.Promoter, &p); err != nil {
		return Invalid("promoter", "must be an object with at least an id")
	}
	if id, ok := p["id"]; !ok || isNull(id) {
		return Invalid("promoter", "id is required")
	}
	return nil
}

func validUnit(u string) bool {
	if u == "" || len(u) > 32 {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// FulfilmentData is the data of a fulfilment_pending event.
type FulfilmentData struct {
	ID        string             `json:"id"`
	Status    string             `json:"status"`
	DatePaid  *time.Time         `json:"date_paid"`
	Amount    float64            `json:"amount"`
	Unit      string             `json:"unit"`
	RewardID  string             `json:"reward_id"`
	HasIssues bool               `json:"has_issues"`
	Campaign  FulfilmentCampaign `json:"campaign"`
	Promoter  json.RawMessage    `json:"promoter"`
}

// FulfilmentCampaign names the campaign inside a fulfilment_pending event.
type FulfilmentCampaign struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// FulfilmentFilter selects fulfilments in a listing.
type FulfilmentFilter struct {
	Status    string
	HasIssues *bool
	Limit     int
	Cursor    string
}

// FulfilmentPage is one page of fulfilments, newest first.
type FulfilmentPage struct {
	Data       []Fulfilment `json:"data"`
	NextCursor *string      `json:"next_cursor"`
}

// CampaignService manages campaigns and their legacy webhooks. Campaigns are named by
// their id (Campaign.ID); another account's is ENOTFOUND.
type CampaignService interface {
	// CreateCampaign stores a validated campaign; a second one with the same id is
	// ECONFLICT.
	CreateCampaign(ctx context.Context, accountID string, in NewCampaign, secret string) (Campaign, error)
	FindCampaign(ctx context.Context, accountID, id string) (Campaign, error)
	ListCampaigns(ctx context.Context, accountID string, filter CampaignFilter) (CampaignPage, error)
	// DeleteCampaign removes the campaign and its webhook URLs; their deliveries stay.
	DeleteCampaign(ctx context.Context, accountID, id string) error
	SetCampaignWebhooks(ctx context.Context, accountID, id string, hooks []CampaignWebhook) (Campaign, error)
	// RotateCampaignSecret replaces the signing key, keeping the old one valid for grace;
	// the campaign signs in the scheme of newSecret from then on.
	RotateCampaignSecret(ctx context.Context, accountID, id, newSecret string, grace time.Duration) (Campaign, error)
	// FindCampaignWebhook returns one of the account's campaign webhook URLs by its id,
	// removed ones included (their deliveries still name them).
	FindCampaignWebhook(ctx context.Context, accountID, webhookID string) (CampaignWebhookInfo, error)
	// CreateCampaignTestDelivery sends a test event ({"test": true}, legacy shape) to one
	// of the campaign's webhook URLs.
	CreateCampaignTestDelivery(ctx context.Context, accountID, campaignID, webhookID string) (Delivery, error)
}

// FulfilmentService manages fulfilments.
type FulfilmentService interface {
	// CreateFulfilment stores a pending fulfilment and fires fulfilment_pending, in one
	// transaction.
	CreateFulfilment(ctx context.Context, accountID string, in FulfilmentInput) (Fulfilment, error)
	FindFulfilment(ctx context.Context, accountID, id string) (Fulfilment, error)
	ListFulfilments(ctx context.Context, accountID string, filter FulfilmentFilter) (FulfilmentPage, error)
}
