package signing

import (
	"crypto/ed25519"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Verifier checks webhook requests against a receiver's keys, parsed once. It is safe for
// concurrent use once Tolerance is set.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may lie from now, in either direction.
	// NewVerifier sets DefaultTolerance.
	Tolerance time.Duration

	keys []verifyingKey
}

// NewVerifier returns a Verifier accepting requests signed under any of keys: "whsec_…"
// secrets check v1 entries, "whpk_…" public keys check v1a entries. Holding several keys
// lets a receiver accept both sides of a rotation it does itself. A "whsk_" signing key is
// refused: it belongs with the sender, and the receiver needs only its public key.
func NewVerifier(keys ...string) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key to verify with", ErrInvalidKey)
	}
	v := &Verifier{Tolerance: DefaultTolerance, keys: make([]verifyingKey, 0, len(keys))}
	for _, key := range keys {
		k, err := parseVerifyingKey(key)
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// Verify checks the Standard Webhooks headers in h against body, the request body exactly
// as received, at the current time. Errors are those of the package's Verify.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyAt(h, body, time.Now())
}

// VerifyAt is Verify with the receiver's clock reading now, for tests and for requests
// checked after they were received.
func (v *Verifier) VerifyAt(h http.Header, body []byte, now time.Time) error {
	req, err := readHeaders(h, now, v.Tolerance)
	if err != nil {
		return err
	}
	return req.match(v.keys, body)
}

// verifyingKey is one key a receiver holds: an HMAC secret or an Ed25519 public key.
type verifyingKey struct {
	secret []byte
	public ed25519.PublicKey
}

func parseVerifyingKey(key string) (verifyingKey, error) {
	switch {
	case strings.HasPrefix(key, PublicKeyPrefix):
		public, err := ParsePublicKey(key)
		return verifyingKey{public: public}, err
	case strings.HasPrefix(key, SigningKeyPrefix):
		return verifyingKey{}, fmt.Errorf("%w: a %s signing key stays with the sender; verify with its %s public key",
			ErrInvalidKey, SigningKeyPrefix, PublicKeyPrefix)
	}
	secret, err := decodeSecret(key)
	return verifyingKey{secret: secret}, err
}

// signedRequest is what the Standard Webhooks headers of a request claim.
type signedRequest struct {
	msgID       string
	unixSeconds int64
	entries     []string
}

// readHeaders parses the three headers and checks the timestamp against now, which needs
// no key: a stale request is refused before any signature is computed.
func readHeaders(h http.Header, now time.Time, tolerance time.Duration) (signedRequest, error) {
	msgID := h.Get(HeaderID)
	rawTimestamp := h.Get(HeaderTimestamp)
	rawSignatures := h.Get(HeaderSignature)
	var missing []string
	for _, header := range []struct{ name, value string }{
		{HeaderID, msgID}, {HeaderTimestamp, rawTimestamp}, {HeaderSignature, rawSignatures},
	} {
		if header.value == "" {
			missing = append(missing, header.name)
		}
	}
	if len(missing) > 0 {
		return signedRequest{}, fmt.Errorf("%w: %s absent", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	unixSeconds, err := strconv.ParseInt(rawTimestamp, 10, 64)
	if err != nil {
		return signedRequest{}, fmt.Errorf("%w: %w: %s %q is not a Unix time in seconds",
			ErrMalformedHeader, ErrTimestamp, HeaderTimestamp, truncate(rawTimestamp))
	}
	// Sub saturates instead of overflowing, so absurd timestamps are simply far away.
	skew := now.Sub(time.Unix(unixSeconds, 0))
	if skew > tolerance {
		return signedRequest{}, fmt.Errorf("%w: %s %d is %s old, more than the %s tolerance",
			ErrTimestampTooOld, HeaderTimestamp, unixSeconds, skew, tolerance)
	}
	if skew < -tolerance {
		return signedRequest{}, fmt.Errorf("%w: %s %d is %s ahead, more than the %s tolerance",
			ErrTimestampTooNew, HeaderTimestamp, unixSeconds, skew.Abs(), tolerance)
	}

	entries := strings.Fields(rawSignatures)
	if len(entries) > maxSignatureEntries {
		return signedRequest{}, fmt.Errorf("%w: %s has %d entries, more than the %d accepted",
			ErrMalformedHeader, HeaderSignature, len(entries), maxSignatureEntries)
	}
	wellFormed := false
	for _, entry := range entries {
		version, sig, _ := strings.Cut(entry, ",")
		wellFormed = wellFormed || (version != "" && sig != "")
	}
	if !wellFormed {
		return signedRequest{}, fmt.Errorf("%w: %s %q has no \"version,signature\" entry",
			ErrMalformedHeader, HeaderSignature, truncate(rawSignatures))
	}
	return signedRequest{msgID: msgID, unixSeconds: unixSeconds, entries: entries}, nil
}

// match succeeds when an entry is the signature of the request under one of keys. Entries
// of other versions, or of a version no key checks, are skipped rather than refused: a
// sender may offer several schemes and the receiver picks the one it knows.
func (r signedRequest) match(keys []verifyingKey, body []byte) error {
	content := signedContent(r.msgID, r.unixSeconds, body)
	var expected [][]byte
	var publicKeys []ed25519.PublicKey
	for _, key := range keys {
		if key.public != nil {
			publicKeys = append(publicKeys, key.public)
		} else {
			expected = append(expected, hmacSignature(key.secret, content))
		}
	}

	var symmetric, asymmetric int
	for _, entry := range r.entries {
		version, sig, _ := strings.Cut(entry, ",")
		switch version {
		case symmetricVersion:
			symmetric++
			for _, want := range expected {
				// Constant-time, so response timing does not reveal how much of a guess
				// was right.
				if hmac.Equal([]byte(sig), want) {
					return nil
				}
			}
		case asymmetricVersion:
			asymmetric++
			if len(publicKeys) == 0 || len(sig) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
				continue
			}
			signature, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				continue
			}
			for _, public := range publicKeys {
				if ed25519.Verify(public, content, signature) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: none of the %s entries (%d v1, %d v1a) matches the %d %s secrets or the %d %s public keys",
		ErrNoMatchingSignature, HeaderSignature, symmetric, asymmetric,
		len(expected), SecretPrefix, len(publicKeys), PublicKeyPrefix)
}

// truncate keeps an attacker's oversized header from filling the receiver's logs through
// the error that quotes it.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
