package client

import (
	"net/http"
	"time"

	"github.com/hookflow/hookflow/signing"
)

// A receiver checks each webhook request with the subscription's key before trusting its
// body. These are the signing package's, so a receiver needs only this package.

// Verifier checks webhook requests against a receiver's keys, parsed once: "whsec_…"
// secrets check v1 (HMAC-SHA256) signatures, "whpk_…" public keys check v1a (Ed25519)
// ones. Its Verify takes the headers and the body exactly as received.
type Verifier = signing.Verifier

// DefaultTolerance is how far webhook-timestamp may lie from the receiver's clock, in
// either direction, before a request is refused as a possible replay.
const DefaultTolerance = signing.DefaultTolerance

// The errors of Verify and Verifier.Verify, to test with errors.Is.
var (
	ErrMissingHeaders      = signing.ErrMissingHeaders
	ErrMalformedHeader     = signing.ErrMalformedHeader
	ErrTimestamp           = signing.ErrTimestamp
	ErrNoMatchingSignature = signing.ErrNoMatchingSignature
	ErrInvalidKey          = signing.ErrInvalidKey
)

// NewVerifier returns a Verifier accepting requests signed under any of keys (several
// during a rotation the receiver does itself), with DefaultTolerance. A "whsk_" signing
// key is refused: it stays with hookflow, and the receiver verifies with its "whpk_"
// public key.
func NewVerifier(keys ...string) (*Verifier, error) {
	return signing.NewVerifier(keys...)
}

// Verify checks the Standard Webhooks headers in h against body, the request body
// exactly as received, with keys as NewVerifier takes them, refusing timestamps more than
// tolerance away from now. A receiver checking many requests parses its keys once with
// NewVerifier instead.
func Verify(h http.Header, body []byte, keys []string, now time.Time, tolerance time.Duration) error {
	return signing.Verify(h, body, keys, now, tolerance)
}
