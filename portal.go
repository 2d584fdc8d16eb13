package hookflow

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a portal's branding.
const (
	MaxBrandNameChars = 100
	MaxLogoURLChars   = 2048
)

// PortalLinkInput is what a portal link is minted from: the account it opens and how the
// portal looks to the API client's customer.
type PortalLinkInput struct {
	AccountID string
	// APIKeyID is the key that minted the link (none for the admin's): revoking it ends
	// the link and the sessions it opened, as it ends the key's own.
	APIKeyID string
	// ReadOnly portals show no action and refuse every change.
	ReadOnly bool
	// BrandName and LogoURL are the API client's, shown in the portal's header.
	BrandName string
	LogoURL   string
}

// Validate checks the branding. The account is the store's to find.
func (in *PortalLinkInput) Validate() error {
	if utf8.RuneCountInString(in.BrandName) > MaxBrandNameChars || hasControl(in.BrandName) {
		return Invalid("brand_name", "at most %d characters of text, without control characters", MaxBrandNameChars)
	}
	if in.LogoURL != "" {
		if len(in.LogoURL) > MaxLogoURLChars {
			return Invalid("logo_url", "at most %d characters", MaxLogoURLChars)
		}
		if LogoOrigin(in.LogoURL) == "" {
			return Invalid("logo_url", "must be an https URL with a host name, such as https://cdn.example.com/logo.png")
		}
	}
	return nil
}

// LogoOrigin is the origin a logo URL is loaded from ("https://host[:port]"), which the
// portal's pages let images come from; empty when the URL is not an https URL whose host
// is a plain name or address. The host is checked character by character because the
// origin goes into a Content-Security-Policy header, where a ';' or a space would start
// another directive.
func LogoOrigin(raw string) string {
	if hasControl(raw) || strings.ContainsAny(raw, " \\") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.User != nil || u.Opaque != "" {
		return ""
	}
	if !ValidOriginHost(u.Hostname(), false) {
		return ""
	}
	if strings.HasSuffix(u.Host, ":") {
		return ""
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return ""
		}
	}
	return "https://" + strings.ToLower(u.Host)
}

// ValidOriginHost reports whether host is a DNS name or an IPv4 address, made only of
// letters, digits, '-' and '.', or an IPv6 address in brackets; with wildcard, a leading
// "*." (any subdomain, as Content-Security-Policy sources allow) is accepted too.
func ValidOriginHost(host string, wildcard bool) bool {
	if wildcard {
		host = strings.TrimPrefix(host, "*.")
	}
	if strings.HasPrefix(host, "[") || strings.Contains(host, ":") {
		inner := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return inner != "" && !strings.ContainsFunc(inner, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == ':' || r == '.')
		})
	}
	if host == "" || len(host) > 253 || strings.HasPrefix(host, ".") || strings.HasPrefix(host, "-") || strings.Contains(host, "..") {
		return false
	}
	return !strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	})
}

// PortalLink is a minted link's secret part, shown once: whoever holds it may open the
// portal, once, until ExpiresAt.
type PortalLink struct {
	Token     string
	ExpiresAt time.Time
}

// Portal is what a redeemed link opens.
type Portal struct {
	AccountID string
	APIKeyID  string
	ReadOnly  bool
	BrandName string
	LogoURL   string
}

// PortalService mints portal links and redeems them.
type PortalService interface {
	// CreatePortalLink mints a link valid for ttl; ENOTFOUND when the account does not
	// exist.
	CreatePortalLink(ctx context.Context, in PortalLinkInput, ttl time.Duration) (PortalLink, error)
	// RedeemPortalLink uses a link up and returns what it opens. It succeeds once per
	// link, however many ask at the same moment; an unknown, used or expired token is
	// ENOTFOUND.
	RedeemPortalLink(ctx context.Context, token string) (Portal, error)
}

// SessionInput is a new dashboard sign-in.
type SessionInput struct {
	AccountID string
	// APIKeyID is the key signed in with, if any: revoking that key ends the session.
	APIKeyID string
	// ReadOnly sessions see no action and may change nothing.
	ReadOnly bool
	// Portal is set for the sessions portal links open; their BrandName and LogoURL are
	// the portal's header.
	Portal    bool
	BrandName string
	LogoURL   string
	TTL       time.Duration
}

// Session is a dashboard sign-in as its pages need it.
type Session struct {
	// Account is the signed-in account; its KeyID and Scope are those of the key the
	// session was signed in with, if any.
	Account Account
	// CSRF is the token every form of the session carries.
	CSRF      string
	ReadOnly  bool
	Portal    bool
	BrandName string
	LogoURL   string
}
