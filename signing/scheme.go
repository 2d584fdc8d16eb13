package signing

import "fmt"

// Scheme names a signature scheme as a sender chooses it for an endpoint; the key it
// mints decides which entries webhook-signature carries.
type Scheme string

const (
	// SchemeHMACSHA256 signs v1 entries with a "whsec_" secret shared with the receiver.
	SchemeHMACSHA256 Scheme = "hmac-sha256"
	// SchemeEd25519 signs v1a entries with a "whsk_" signing key; the receiver holds only
	// its "whpk_" public key.
	SchemeEd25519 Scheme = "ed25519"
)

// NewKey returns a fresh key of scheme: a "whsec_" secret (NewSecret) or a "whsk_" signing
// key (NewKeyPair; PublicKey gives its public key back). It is the one place a sender's
// keys come from, so a key always has the scheme asked for.
func NewKey(scheme Scheme) (string, error) {
	switch scheme {
	case SchemeHMACSHA256:
		return NewSecret()
	case SchemeEd25519:
		signingKey, _, err := NewKeyPair()
		return signingKey, err
	}
	return "", fmt.Errorf("%w: no signature scheme %q (%s or %s)", ErrInvalidKey, scheme, SchemeHMACSHA256, SchemeEd25519)
}
