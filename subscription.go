package hookflow

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Subscription limits and defaults.
const (
	DefaultTimeoutSeconds = 30
	MinTimeoutSeconds     = 1
	MaxTimeoutSeconds     = 120
	DefaultMaxRetries     = 3
	MaxMaxRetries         = 10
	MaxURLLength          = 2048
	MaxEventTypes         = 50
	MaxEventTypeLength    = 128
	MaxCampaignIDs        = 100
	MaxCampaignIDLength   = 128
	MaxDescriptionLength  = 1000
	MaxHeaders            = 20
	MaxHeaderValueLength  = 1024
	// MaxRateLimit bounds rate_limit (requests per second): beyond it a limit protects no
	// endpoint and is more likely a mistake.
	MaxRateLimit = 10000
	// MaxSubscriptionsPerAccount bounds an event's fan-out: every matching subscription is
	// a delivery written with the event and a request sent for it.
	MaxSubscriptionsPerAccount = 1000
	// SecretRotationGrace is how long a rotated-out secret keeps signing requests, so
	// receivers can switch keys without dropping a delivery.
	SecretRotationGrace = 24 * time.Hour
)

// Subscription is an endpoint of an account and the events it wants.
type Subscription struct {
	ID          string            `json:"id"`
	AccountID   string            `json:"-"`
	URL         string            `json:"url"`
	EventTypes  []string          `json:"event_types"`
	CampaignIDs []string          `json:"campaign_ids"`
	Description string            `json:"description"`
	Active      bool              `json:"active"`
	Timeout     int               `json:"timeout"`
	MaxRetries  int               `json:"max_retries"`
	Headers     map[string]string `json:"headers"`
	// RateLimit is the most requests per second hookflow sends to the endpoint, across
	// every worker; 0 means no limit.
	RateLimit int `json:"rate_limit"`
	// Ordering is none (the default) or fifo: see Ordering.
	Ordering Ordering `json:"ordering"`
	// SignatureScheme is the scheme of SecretKey, hmac-sha256 (the default) or ed25519.
	SignatureScheme SignatureScheme `json:"signature_scheme"`
	// SecretKey signs the requests: a whsec_ secret, which answers show when it is created
	// or rotated, or a whsk_ signing key, which no answer shows (see MarshalJSON).
	SecretKey string `json:"secret_key,omitempty"`
	// PublicKey is the whpk_ key receivers verify an ed25519 subscription's requests with;
	// the store derives it from SecretKey.
	PublicKey string `json:"public_key,omitempty"`
	// RetiredSecrets are replaced keys that still sign requests until they expire, newest
	// first.
	RetiredSecrets []RetiredSecret `json:"-"`
	// PreviousSecretExpiresAt is when the last replaced key stops signing.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	DisabledReason          string     `json:"disabled_reason,omitempty"`
	// Paused is set while the subscription holds its deliveries instead of sending them
	// (paused by hand, after a 410 Gone, or after failing for HOOKFLOW_PAUSE_AFTER).
	Paused       bool       `json:"paused"`
	PausedAt     *time.Time `json:"paused_at"`
	PausedReason string     `json:"paused_reason"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// SubscriptionUpdate carries the fields of a create or a partial update; nil means
// "not given".
type SubscriptionUpdate struct {
	URL         *string            `json:"url"`
	EventTypes  *[]string          `json:"event_types"`
	CampaignIDs *[]CampaignRef     `json:"campaign_ids"`
	Description *string            `json:"description"`
	Active      *bool              `json:"active"`
	Timeout     *int               `json:"timeout"`
	MaxRetries  *int               `json:"max_retries"`
	Headers     *map[string]string `json:"headers"`
	RateLimit   *int               `json:"rate_limit"`
	Ordering    *Ordering          `json:"ordering"`
	// SignatureScheme changed is a rotation: a new key of the new scheme signs, beside the
	// replaced one for SecretRotationGrace.
	SignatureScheme *SignatureScheme `json:"signature_scheme"`
}

// NewSubscription returns a subscription with the defaults, updated by u. It is not
// validated.
func NewSubscription(u SubscriptionUpdate) Subscription {
	s := Subscription{
		EventTypes:      []string{"*"},
		CampaignIDs:     []string{},
		Active:          true,
		Timeout:         DefaultTimeoutSeconds,
		MaxRetries:      DefaultMaxRetries,
		Headers:         map[string]string{},
		Ordering:        OrderingNone,
		SignatureScheme: SignatureHMACSHA256,
	}
	u.Apply(&s)
	return s
}

// Apply writes the given fields of u into s.
func (u SubscriptionUpdate) Apply(s *Subscription) {
	if u.URL != nil {
		s.URL = strings.TrimSpace(*u.URL)
	}
	if u.EventTypes != nil {
		s.EventTypes = *u.EventTypes
	}
	if u.CampaignIDs != nil {
		s.CampaignIDs = CampaignRefs(*u.CampaignIDs)
	}
	if u.Description != nil {
		s.Description = *u.Description
	}
	if u.Active != nil {
		s.Active = *u.Active
		if s.Active {
			s.DisabledReason = ""
		}
	}
	if u.Timeout != nil {
		s.Timeout = *u.Timeout
	}
	if u.MaxRetries != nil {
		s.MaxRetries = *u.MaxRetries
	}
	if u.Headers != nil {
		s.Headers = *u.Headers
	}
	if u.RateLimit != nil {
		s.RateLimit = *u.RateLimit
	}
	if u.Ordering != nil {
		s.Ordering = *u.Ordering
	}
	if u.SignatureScheme != nil {
		s.SignatureScheme = *u.SignatureScheme
	}
	if s.EventTypes == nil {
		s.EventTypes = []string{}
	}
	if s.CampaignIDs == nil {
		s.CampaignIDs = []string{}
	}
	if s.Headers == nil {
		s.Headers = map[string]string{}
	}
}

// Validate checks every field and returns an EINVALID error naming the first bad one.
// Whether the URL's host may be dialled is egress policy, checked separately.
func (s *Subscription) Validate() error {
	if err := ValidateEndpointURL("url", s.URL); err != nil {
		return err
	}
	if len(s.EventTypes) == 0 {
		return Invalid("event_types", `must name at least one event type (use "*" for all)`)
	}
	if len(s.EventTypes) > MaxEventTypes {
		return Invalid("event_types", "at most %d entries", MaxEventTypes)
	}
	for _, p := range s.EventTypes {
		if !ValidEventTypePattern(p) {
			return Invalid("event_types", "%q is not an event type or pattern (letters, digits, '_', '-', '.'; a trailing \".*\" or \"*\" alone)", Truncate(p, 64))
		}
	}
	if len(s.CampaignIDs) > MaxCampaignIDs {
		return Invalid("campaign_ids", "at most %d entries", MaxCampaignIDs)
	}
	for _, id := range s.CampaignIDs {
		if strings.TrimSpace(id) == "" || utf8.RuneCountInString(id) > MaxCampaignIDLength || hasControl(id) {
			return Invalid("campaign_ids", "entries must be non-empty strings of at most %d characters", MaxCampaignIDLength)
		}
	}
	if utf8.RuneCountInString(s.Description) > MaxDescriptionLength || !ValidText(s.Description) {
		return Invalid("description", "at most %d characters of text", MaxDescriptionLength)
	}
	if s.Timeout < MinTimeoutSeconds || s.Timeout > MaxTimeoutSeconds {
		return Invalid("timeout", "must be between %d and %d seconds", MinTimeoutSeconds, MaxTimeoutSeconds)
	}
	if s.MaxRetries < 0 || s.MaxRetries > MaxMaxRetries {
		return Invalid("max_retries", "must be between 0 and %d", MaxMaxRetries)
	}
	if s.RateLimit < 0 || s.RateLimit > MaxRateLimit {
		return Invalid("rate_limit", "must be between 0 (no limit) and %d requests per second", MaxRateLimit)
	}
	if !ValidOrdering(s.Ordering) {
		return Invalid("ordering", `must be "none" or "fifo"`)
	}
	if err := ValidateSignatureScheme(s.SignatureScheme); err != nil {
		return err
	}
	if len(s.Headers) > MaxHeaders {
		return Invalid("headers", "at most %d headers", MaxHeaders)
	}
	// Sorted, so a subscription with several bad headers is always told about the same one.
	seen := make(map[string]bool, len(s.Headers))
	for _, name := range slices.Sorted(maps.Keys(s.Headers)) {
		value := s.Headers[name]
		if !validHeaderName(name) {
			return Invalid("headers", "%q is not a valid header name", Truncate(name, 64))
		}
		// Header names ignore case: which of two spellings would be sent is not for chance
		// to decide.
		canonical := http.CanonicalHeaderKey(name)
		if seen[canonical] {
			return Invalid("headers", "%q is given twice (header names ignore case)", name)
		}
		seen[canonical] = true
		if reservedHeader(name) {
			return Invalid("headers", "%q is set by hookflow and cannot be overridden", name)
		}
		if utf8.RuneCountInString(value) > MaxHeaderValueLength || hasControl(value) {
			return Invalid("headers", "the value of %q must be at most %d characters without line breaks", name, MaxHeaderValueLength)
		}
	}
	return nil
}

// ValidateEndpointURL checks the form of an endpoint URL: absolute http or https, a host,
// no credentials, no fragment.
func ValidateEndpointURL(field, raw string) error {
	if raw == "" {
		return Invalid(field, "is required")
	}
	if utf8.RuneCountInString(raw) > MaxURLLength {
		return Invalid(field, "at most %d characters", MaxURLLength)
	}
	if hasControl(raw) || strings.ContainsAny(raw, " ") {
		return Invalid(field, "must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Invalid(field, "is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Invalid(field, "must be an http or https URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return Invalid(field, "must have a host")
	}
	if u.User != nil {
		return Invalid(field, "must not contain credentials; use headers instead")
	}
	if u.Fragment != "" {
		return Invalid(field, "must not contain a fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return Invalid(field, "has an invalid port (1–65535)")
		}
	}
	return nil
}

// ValidEventTypePattern reports whether p is an event type ("promoter.created"), a prefix
// pattern ("promoter.*") or the wildcard ("*").
func ValidEventTypePattern(p string) bool {
	if p == "*" {
		return true
	}
	name := strings.TrimSuffix(p, ".*")
	return ValidEventType(name)
}

// ValidEventType reports whether t is a concrete event type name: dot-separated segments
// of letters, digits, '_' and '-'.
func ValidEventType(t string) bool {
	if t == "" || len(t) > MaxEventTypeLength {
		return false
	}
	for _, seg := range strings.Split(t, ".") {
		if seg == "" {
			return false
		}
		for _, c := range seg {
			ok := c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
			if !ok {
				return false
			}
		}
	}
	return true
}

// MatchEventType reports whether the event type t matches pattern p: "*" matches every
// type but hookflow's own (operational) ones, "a.*" every type below "a." at any depth, anything else only itself.
func MatchEventType(p, t string) bool {
	if p == "*" {
		// hookflow's own events go only to subscriptions that name them, so a subscription
		// made before they existed receives nothing new.
		return !IsOperational(t)
	}
	if prefix, ok := strings.CutSuffix(p, ".*"); ok {
		return strings.HasPrefix(t, prefix+".") && len(t) > len(prefix)+1
	}
	return p == t
}

// Matches reports whether the subscription wants the event: it is active, one of its
// event types matches and its campaign filter (empty = all campaigns) admits the event.
func (s *Subscription) Matches(eventType, campaignID string) bool {
	if !s.Active {
		return false
	}
	typeOK := false
	for _, p := range s.EventTypes {
		if MatchEventType(p, eventType) {
			typeOK = true
			break
		}
	}
	if !typeOK {
		return false
	}
	if len(s.CampaignIDs) == 0 {
		return true
	}
	for _, id := range s.CampaignIDs {
		if id == campaignID {
			return true
		}
	}
	return false
}

// RetiredSecret is a replaced signing key; it keeps signing until ExpiresAt so receivers
// have time to switch to the new one.
type RetiredSecret struct {
	Key       string    `json:"key"`
	ExpiresAt time.Time `json:"expires_at"`
}

// MaxRetiredSecrets bounds how many replaced keys sign alongside the current one when a
// secret is rotated again and again within a grace period; beyond it the oldest go.
const MaxRetiredSecrets = 5

// Rotate makes newSecret the signing key; the current one keeps signing for grace, and
// keys replaced earlier keep signing until their own grace periods end.
func (s *Subscription) Rotate(newSecret string, now time.Time, grace time.Duration) {
	s.RetiredSecrets = RetireKey(s.SecretKey, s.RetiredSecrets, now, grace)
	s.SecretKey, s.PreviousSecretExpiresAt = newSecret, &s.RetiredSecrets[0].ExpiresAt
	s.SignatureScheme = SchemeOfKey(newSecret)
}

// Secrets returns the keys that sign a request at time now: the current one first, then
// every replaced one whose grace period lasts.
func (s *Subscription) Secrets(now time.Time) []string {
	return SigningKeys(s.SecretKey, s.RetiredSecrets, now)
}

// RetireKey returns the retired keys after current is replaced at now: current first,
// signing for grace, then the earlier ones whose own grace periods last (at most
// MaxRetiredSecrets in all). Subscriptions and campaigns rotate the same way.
func RetireKey(current string, retired []RetiredSecret, now time.Time, grace time.Duration) []RetiredSecret {
	out := []RetiredSecret{{Key: current, ExpiresAt: now.Add(grace)}}
	for _, r := range retired {
		if now.Before(r.ExpiresAt) && len(out) < MaxRetiredSecrets {
			out = append(out, r)
		}
	}
	return out
}

// SigningKeys are the keys that sign a request at now: current, then the retired ones
// still in their grace period.
func SigningKeys(current string, retired []RetiredSecret, now time.Time) []string {
	keys := []string{current}
	for _, r := range retired {
		if now.Before(r.ExpiresAt) {
			keys = append(keys, r.Key)
		}
	}
	return keys
}

func validHeaderName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for _, c := range name {
		// RFC 9110 token characters.
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// reservedHeader names headers that hookflow sets itself or that the HTTP client owns;
// letting a subscription set them would break signatures or framing.
func reservedHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection",
		"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature", "Te", "Trailer", "Upgrade",
		"Keep-Alive", "Proxy-Connection", "Expect":
		return true
	}
	return false
}

// ValidText reports whether s is UTF-8 without NUL, which PostgreSQL text cannot hold.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// hasControl reports control characters, and invalid UTF-8 as well: neither belongs in
// names, ids or header values.
func hasControl(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
