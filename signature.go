package hookflow

import (
	"encoding/json"
	"strings"
	"time"
)

// SignatureScheme is how the requests of a subscription or a campaign are signed, per
// Standard Webhooks: the scheme of its current key.
type SignatureScheme string

const (
	// SignatureHMACSHA256, the default, signs v1 entries with a whsec_ secret that hookflow
	// and the receiver share.
	SignatureHMACSHA256 SignatureScheme = "hmac-sha256"
	// SignatureEd25519 signs v1a entries with a whsk_ signing key that never leaves
	// hookflow; receivers verify them with its whpk_ public key.
	SignatureEd25519 SignatureScheme = "ed25519"
)

// ValidSignatureScheme reports whether s is one of the schemes.
func ValidSignatureScheme(s SignatureScheme) bool {
	return s == SignatureHMACSHA256 || s == SignatureEd25519
}

// ValidateSignatureScheme is an EINVALID error naming signature_scheme unless s is one of
// the schemes.
func ValidateSignatureScheme(s SignatureScheme) error {
	if !ValidSignatureScheme(s) {
		return Invalid("signature_scheme", `must be "hmac-sha256" (the default) or "ed25519"`)
	}
	return nil
}

// signingKeyPrefix starts an Ed25519 signing key: the signing package's
// SigningKeyPrefix, spelt again here because the domain imports the standard library only.
const signingKeyPrefix = "whsk_"

// SchemeOfKey is the scheme a signing key signs in: a whsk_ key Ed25519, any other (a
// whsec_ secret) HMAC-SHA256.
func SchemeOfKey(key string) SignatureScheme {
	if strings.HasPrefix(key, signingKeyPrefix) {
		return SignatureEd25519
	}
	return SignatureHMACSHA256
}

// shownKey is what an answer may carry of a current key: a whsec_ secret, which the
// receiver needs, and never a whsk_ signing key, whose public key is all a receiver needs.
// Every JSON form of a subscription, a campaign or a rotation goes through it, so no
// route can forget to leave the signing key out.
func shownKey(key string) string {
	if SchemeOfKey(key) == SignatureEd25519 {
		return ""
	}
	return key
}

// MarshalJSON writes the subscription without an Ed25519 signing key: an ed25519
// subscription shows its public_key and has no secret_key at all.
func (s Subscription) MarshalJSON() ([]byte, error) {
	type fields Subscription
	f := fields(s)
	f.SecretKey = shownKey(f.SecretKey)
	return json.Marshal(f)
}

// MarshalJSON writes the campaign without an Ed25519 signing key, as a subscription.
func (c Campaign) MarshalJSON() ([]byte, error) {
	type fields Campaign
	f := fields(c)
	f.SecretKey = shownKey(f.SecretKey)
	return json.Marshal(f)
}

// KeyRotation is the answer to a rotation: the new key as its receiver needs it (the
// whsec_ secret, or the whpk_ public key of a whsk_ signing key) and when the key it
// replaced stops signing.
type KeyRotation struct {
	SecretKey               string     `json:"secret_key,omitempty"`
	PublicKey               string     `json:"public_key,omitempty"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// MarshalJSON writes the rotation without an Ed25519 signing key.
func (r KeyRotation) MarshalJSON() ([]byte, error) {
	type fields KeyRotation
	f := fields(r)
	f.SecretKey = shownKey(f.SecretKey)
	return json.Marshal(f)
}

// KeyRotation is the subscription's answer to its rotation.
func (s Subscription) KeyRotation() KeyRotation {
	return KeyRotation{SecretKey: s.SecretKey, PublicKey: s.PublicKey, PreviousSecretExpiresAt: s.PreviousSecretExpiresAt}
}

// KeyRotation is the campaign's answer to its rotation.
func (c Campaign) KeyRotation() KeyRotation {
	return KeyRotation{SecretKey: c.SecretKey, PublicKey: c.PublicKey, PreviousSecretExpiresAt: c.PreviousSecretExpiresAt}
}
