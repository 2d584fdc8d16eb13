// Package signing signs and verifies webhook requests per the Standard Webhooks
// specification (https://www.standardwebhooks.com), so that any receiver using a Standard
// Webhooks library can check that a request came from hookflow and was not altered.
//
// Two schemes exist, chosen by the key:
//
//   - v1, symmetric: HMAC-SHA256 under a "whsec_" secret that hookflow and the receiver
//     share.
//   - v1a, asymmetric: Ed25519 under a "whsk_" signing key that only hookflow holds; the
//     receiver verifies with the matching "whpk_" public key, which need not be kept
//     secret. The key formats are Svix's, so a key pair works with either service.
//
// Both sign the same content, webhook-id + "." + webhook-timestamp + "." + body, and
// webhook-signature carries one space-separated "version,base64" entry per signing key,
// so during a key rotation (even from one scheme to the other) a receiver holding either
// key keeps verifying.
//
// A Go receiver parses its key once with [NewVerifier] and checks every request with
// [Verifier.Verify], passing the body exactly as received.
package signing

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names as the specification spells them. http.Header canonicalises them
// (Webhook-Id …) when set, which is what every receiver sees on the wire anyway, since
// header names are case-insensitive.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a Standard Webhooks secret; the rest of the secret is the key in
// standard base64.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far webhook-timestamp may lie from the receiver's clock, in
// either direction, as the reference libraries accept: enough for clock skew and a slow
// network, too little for a captured request to be replayed much later.
const DefaultTolerance = 5 * time.Minute

// secretKeyBytes is the length of a generated key: the HMAC-SHA256 block is 64 bytes, and
// 32 random bytes (256 bits) is the strength of SHA-256 itself.
const secretKeyBytes = 32

// The signature identifiers of the specification: the version before the comma of every
// webhook-signature entry.
const (
	symmetricVersion  = "v1"
	asymmetricVersion = "v1a"
)

// maxSignatureEntries bounds the webhook-signature entries a request may carry. A sender
// signs with its current key and the few it retired within the last day; without a bound
// a forged header of thousands of v1a entries would cost the receiver an Ed25519
// verification each.
const maxSignatureEntries = 32

var (
	// ErrMissingHeaders means a request lacks webhook-id, webhook-timestamp or
	// webhook-signature.
	ErrMissingHeaders = errors.New("missing Standard Webhooks headers")
	// ErrMalformedHeader means webhook-timestamp is not a Unix time in seconds, or
	// webhook-signature holds no "version,signature" entry or more than a sender would
	// ever send.
	ErrMalformedHeader = errors.New("malformed Standard Webhooks header")
	// ErrTimestamp means webhook-timestamp is not a Unix time or lies outside the accepted
	// tolerance, which is what stops a captured request from being replayed later. The
	// errors for the two directions, ErrTimestampTooOld and ErrTimestampTooNew, wrap it.
	ErrTimestamp = errors.New("webhook timestamp rejected")
	// ErrTimestampTooOld means webhook-timestamp lies further in the past than the
	// tolerance: a replay, or a request that spent too long on its way.
	ErrTimestampTooOld = fmt.Errorf("%w: too old", ErrTimestamp)
	// ErrTimestampTooNew means webhook-timestamp lies further in the future than the
	// tolerance, which a sender with a sound clock never sends.
	ErrTimestampTooNew = fmt.Errorf("%w: in the future", ErrTimestamp)
	// ErrNoMatchingSignature means no v1 entry matched a whsec_ secret and no v1a entry
	// matched a whpk_ public key.
	ErrNoMatchingSignature = errors.New("no matching signature")
	// ErrInvalidKey means a key is malformed ("whsec_" not followed by non-empty standard
	// base64, a "whsk_" or "whpk_" key of the wrong length) or given where it cannot
	// serve: a public key only verifies and a signing key only signs.
	ErrInvalidKey = errors.New("invalid webhook key")
	// ErrInvalidSecret is ErrInvalidKey.
	//
	// Deprecated: use ErrInvalidKey, which covers every kind of key.
	ErrInvalidSecret = ErrInvalidKey
	// ErrInvalidMessageID means a message id is empty or could not travel unchanged in an
	// HTTP header, so a receiver could never verify the signature made over it.
	ErrInvalidMessageID = errors.New("invalid webhook message id")
)

// NewSecret returns a fresh secret: "whsec_" followed by the standard base64 of 32 random
// bytes.
func NewSecret() (string, error) {
	key := make([]byte, secretKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Sign returns the signature of msgID + "." + Unix seconds of ts + "." + body under key:
// "v1,<base64 HMAC-SHA256>" for a "whsec_" secret (the prefix is optional, as in the
// reference libraries) and "v1a,<base64 Ed25519 signature>" for a "whsk_" signing key.
func Sign(key, msgID string, ts time.Time, body []byte) (string, error) {
	return sign(key, signedContent(msgID, ts.Unix(), body))
}

func sign(key string, content []byte) (string, error) {
	switch {
	case strings.HasPrefix(key, SigningKeyPrefix):
		private, err := ParseSigningKey(key)
		if err != nil {
			return "", err
		}
		return asymmetricVersion + "," + base64.StdEncoding.EncodeToString(ed25519.Sign(private, content)), nil
	case strings.HasPrefix(key, PublicKeyPrefix):
		return "", fmt.Errorf("%w: a %s public key only verifies; sign with its %s signing key",
			ErrInvalidKey, PublicKeyPrefix, SigningKeyPrefix)
	}
	secret, err := decodeSecret(key)
	if err != nil {
		return "", err
	}
	return symmetricVersion + "," + string(hmacSignature(secret, content)), nil
}

// Headers sets webhook-id, webhook-timestamp and webhook-signature on h. The signature
// header holds one entry per key, space-separated, in the order given, each in the scheme
// of its key (see Sign): during a key rotation both the new and the old key sign, so
// receivers holding either one keep verifying.
func Headers(h http.Header, msgID string, ts time.Time, body []byte, keys []string) error {
	if err := checkMessageID(msgID); err != nil {
		return err
	}
	if len(keys) == 0 {
		// An unsigned webhook would be indistinguishable from a forged one.
		return fmt.Errorf("%w: no key to sign with", ErrInvalidKey)
	}
	if len(keys) > maxSignatureEntries {
		return fmt.Errorf("%w: %d keys, more signatures than receivers accept (%d)",
			ErrInvalidKey, len(keys), maxSignatureEntries)
	}
	unixSeconds := ts.Unix()
	content := signedContent(msgID, unixSeconds, body)
	signatures := make([]string, 0, len(keys))
	for _, key := range keys {
		sig, err := sign(key, content)
		if err != nil {
			return err
		}
		signatures = append(signatures, sig)
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(unixSeconds, 10))
	h.Set(HeaderSignature, strings.Join(signatures, " "))
	return nil
}

// Verify checks the Standard Webhooks headers in h against body and succeeds when a v1
// entry matches one of the "whsec_" secrets or a v1a entry matches one of the "whpk_"
// public keys among keys; entries of other versions are ignored. It rejects timestamps
// more than tolerance before or after now, so a captured request cannot be replayed later.
// Errors wrap ErrMissingHeaders, ErrMalformedHeader, ErrTimestamp (ErrTimestampTooOld,
// ErrTimestampTooNew), ErrNoMatchingSignature or ErrInvalidKey.
//
// A receiver checking many requests against the same keys parses them once with
// NewVerifier instead.
func Verify(h http.Header, body []byte, keys []string, now time.Time, tolerance time.Duration) error {
	req, err := readHeaders(h, now, tolerance)
	if err != nil {
		return err
	}
	parsed := make([]verifyingKey, 0, len(keys))
	for _, key := range keys {
		k, err := parseVerifyingKey(key)
		if err != nil {
			return err
		}
		parsed = append(parsed, k)
	}
	return req.match(parsed, body)
}

// signedContent is what both schemes sign: "msgID.unixSeconds.body".
func signedContent(msgID string, unixSeconds int64, body []byte) []byte {
	content := make([]byte, 0, len(msgID)+len(body)+22)
	content = append(content, msgID...)
	content = append(content, '.')
	content = strconv.AppendInt(content, unixSeconds, 10)
	content = append(content, '.')
	return append(content, body...)
}

// hmacSignature returns the base64 HMAC-SHA256 of content under key.
func hmacSignature(key, content []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(content)
	sum := mac.Sum(nil)
	encoded := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(encoded, sum)
	return encoded
}

// decodeSecret returns the HMAC key inside a "whsec_…" secret. The prefix is optional, as
// in the reference libraries, so a bare base64 key from another provider also works.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		// The secret itself never goes into the error: errors end up in logs.
		return nil, fmt.Errorf("%w: not %s followed by standard base64", ErrInvalidKey, SecretPrefix)
	}
	if len(key) == 0 {
		// An empty HMAC key signs, but anyone can forge its signatures.
		return nil, fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	return key, nil
}

// checkMessageID rejects ids that a receiver would not read back byte for byte: HTTP
// forbids control characters in header values and parsers trim surrounding whitespace,
// and either change would make the signature over the id unverifiable.
func checkMessageID(msgID string) error {
	if msgID == "" {
		return fmt.Errorf("%w: empty", ErrInvalidMessageID)
	}
	if strings.Trim(msgID, " \t") != msgID {
		return fmt.Errorf("%w: surrounding whitespace", ErrInvalidMessageID)
	}
	for i := 0; i < len(msgID); i++ {
		if c := msgID[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("%w: control character at byte %d", ErrInvalidMessageID, i)
		}
	}
	return nil
}
