// Package signing signs and verifies webhook requests per the Standard Webhooks
// specification (https://www.standardwebhooks.com), so that any receiver using a Standard
// Webhooks library can check that a request came from hookflow and was not altered.
package signing

import (
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

// secretKeyBytes is the length of a generated key: the HMAC-SHA256 block is 64 bytes, and
// 32 random bytes (256 bits) is the strength of SHA-256 itself.
const secretKeyBytes = 32

// signatureVersion is the only scheme the specification defines for symmetric keys.
const signatureVersion = "v1"

var (
	// ErrMissingHeaders means a request lacks webhook-id, webhook-timestamp or
	// webhook-signature.
	ErrMissingHeaders = errors.New("missing Standard Webhooks headers")
	// ErrTimestamp means webhook-timestamp is not a Unix time or lies outside the accepted
	// tolerance, which is what stops a captured request from being replayed later.
	ErrTimestamp = errors.New("webhook timestamp rejected")
	// ErrNoMatchingSignature means no v1 signature matched any of the secrets.
	ErrNoMatchingSignature = errors.New("no matching signature")
	// ErrInvalidSecret means a secret is not "whsec_" followed by non-empty standard base64.
	ErrInvalidSecret = errors.New("invalid webhook secret")
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

// Sign returns the "v1,<base64 HMAC-SHA256>" signature of msgID + "." + Unix seconds of
// ts + "." + body, keyed with the decoded secret.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return signatureVersion + "," + string(signature(key, msgID, ts.Unix(), body)), nil
}

// Headers sets webhook-id, webhook-timestamp and webhook-signature on h. The signature
// header holds one "v1,…" entry per secret, space-separated, in the order given: during a
// secret rotation both the new and the old secret sign, so receivers holding either one
// keep verifying.
func Headers(h http.Header, msgID string, ts time.Time, body []byte, secrets []string) error {
	if err := checkMessageID(msgID); err != nil {
		return err
	}
	if len(secrets) == 0 {
		// An unsigned webhook would be indistinguishable from a forged one.
		return fmt.Errorf("%w: no secret to sign with", ErrInvalidSecret)
	}
	signatures := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		sig, err := Sign(secret, msgID, ts, body)
		if err != nil {
			return err
		}
		signatures = append(signatures, sig)
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(signatures, " "))
	return nil
}

// Verify checks the Standard Webhooks headers in h against body and succeeds when any v1
// signature matches any of the secrets. It rejects timestamps more than tolerance before
// or after now, so a captured request cannot be replayed later. Errors wrap
// ErrMissingHeaders, ErrTimestamp, ErrNoMatchingSignature or ErrInvalidSecret.
func Verify(h http.Header, body []byte, secrets []string, now time.Time, tolerance time.Duration) error {
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
		return fmt.Errorf("%w: %s absent", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	unixSeconds, err := strconv.ParseInt(rawTimestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not a Unix time in seconds", ErrTimestamp, HeaderTimestamp, rawTimestamp)
	}
	// Sub saturates instead of overflowing, so absurd timestamps are simply far away.
	if skew := now.Sub(time.Unix(unixSeconds, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: %s %d is %s from now, more than the %s tolerance",
			ErrTimestamp, HeaderTimestamp, unixSeconds, skew.Abs(), tolerance)
	}

	expected := make([][]byte, 0, len(secrets))
	for _, secret := range secrets {
		key, err := decodeSecret(secret)
		if err != nil {
			return err
		}
		expected = append(expected, signature(key, msgID, unixSeconds, body))
	}
	for _, entry := range strings.Fields(rawSignatures) {
		version, sig, found := strings.Cut(entry, ",")
		// Entries of other versions (v1a is asymmetric) are skipped, not errors: a sender
		// may offer several schemes and the receiver picks the one it knows.
		if !found || version != signatureVersion {
			continue
		}
		for _, want := range expected {
			// Constant-time, so response timing does not reveal how much of a guess was
			// right.
			if hmac.Equal([]byte(sig), want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: none of the %s entries matches any of the %d secrets",
		ErrNoMatchingSignature, HeaderSignature, len(secrets))
}

// signature returns the base64 HMAC-SHA256 of "msgID.unixSeconds.body" under key.
func signature(key []byte, msgID string, unixSeconds int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, unixSeconds, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
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
		return nil, fmt.Errorf("%w: not %s followed by standard base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) == 0 {
		// An empty HMAC key signs, but anyone can forge its signatures.
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
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
