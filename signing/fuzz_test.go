package signing_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookflow/hookflow/signing"
)

// FuzzVerify checks that Verify never panics on whatever headers arrive, and that
// whatever Headers signs, Verify and the reference library accept, and Verify refuses
// once the body changes.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(vectorPayload), vectorMsgID, int64(vectorUnix), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "1614265330")
	f.Add([]byte{}, "0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11", int64(0), "", "")
	f.Add([]byte("\x00\xff binary"), "id.with.dots", int64(-1), "v1, v1a,xyz ,,,", "-1")
	f.Add([]byte("{}"), "msg\r\ninjected", int64(1<<62), "v1,"+string(make([]byte, 44)), "99999999999999999999")
	f.Add([]byte("é"), "ünïcode id", int64(-1<<62), "v2,abc v1,", " 12 ")

	secrets := []string{vectorSecret, "whsec_" + "dGhlIG90aGVyIGtleSBpbiBhIHJvdGF0aW9u"}
	f.Fuzz(func(t *testing.T, body []byte, msgID string, unixSeconds int64, rawSignature, rawTimestamp string) {
		ts := time.Unix(unixSeconds, 0)

		// Arbitrary headers: any outcome but a panic or a false success.
		arbitrary := http.Header{}
		arbitrary.Set("webhook-id", msgID)
		arbitrary.Set("webhook-timestamp", rawTimestamp)
		arbitrary.Set("webhook-signature", rawSignature)
		if err := signing.Verify(arbitrary, body, secrets, ts, time.Hour); err == nil {
			// Only a genuine signature may pass; the seeds include one.
			signedAt, parseErr := strconv.ParseInt(rawTimestamp, 10, 64)
			if parseErr != nil {
				t.Fatalf("Verify accepted timestamp %q", rawTimestamp)
			}
			genuine := false
			for _, secret := range secrets {
				want, err := signing.Sign(secret, msgID, time.Unix(signedAt, 0), body)
				genuine = genuine || (err == nil && slices.Contains(strings.Fields(rawSignature), want))
			}
			if !genuine {
				t.Fatalf("Verify accepted signature %q for id %q at %q", rawSignature, msgID, rawTimestamp)
			}
		}

		h := http.Header{}
		if err := signing.Headers(h, msgID, ts, body, secrets); err != nil {
			if !errors.Is(err, signing.ErrInvalidMessageID) {
				t.Fatalf("Headers(%q): %v", msgID, err)
			}
			return
		}
		if err := signing.Verify(h, body, secrets, ts, 0); err != nil {
			t.Fatalf("Verify rejects what Headers signed (id %q, ts %d): %v", msgID, unixSeconds, err)
		}
		for _, secret := range secrets {
			if err := signing.Verify(h, body, []string{secret}, ts, 0); err != nil {
				t.Fatalf("Verify rejects a single rotation secret: %v", err)
			}
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
				t.Fatalf("reference library rejects what Headers signed (id %q): %v", msgID, err)
			}
		}
		altered := append([]byte{'x'}, body...)
		if err := signing.Verify(h, altered, secrets, ts, 0); !errors.Is(err, signing.ErrNoMatchingSignature) {
			t.Fatalf("Verify of an altered body: err = %v, want ErrNoMatchingSignature", err)
		}
	})
}

// FuzzVerifyV1a is FuzzVerify for Ed25519: Verify never panics on arbitrary headers and
// accepts them only when crypto/ed25519 itself accepts one of their v1a entries, and what
// Headers signs with signing keys (beside a secret, as during a rotation) verifies under
// each public key alone, and no longer once the body or the signature changes.
func FuzzVerifyV1a(f *testing.F) {
	f.Add([]byte(vectorPayload), vectorMsgID, int64(vectorUnix), vectorSignature+" "+svixSignature, "1614265330")
	f.Add([]byte{}, "0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11", int64(0), "", "")
	f.Add([]byte("\x00\xff binary"), "id.with.dots", int64(-1), "v1a, v1a,xyz ,,, v1a,"+strings.Repeat("A", 88), "-1")
	f.Add([]byte("{}"), "msg\r\ninjected", int64(1<<62), "v1a,"+strings.Repeat("/", 86)+"==", "99999999999999999999")
	f.Add([]byte("é"), "ünïcode id", int64(-1<<62), "v2,abc v1a,", " 12 ")

	otherSigningKey := "whsk_" + base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	otherPublicKey, err := signing.PublicKey(otherSigningKey)
	if err != nil {
		f.Fatal(err)
	}
	signingKeys := []string{svixSigningKey, vectorSecret, otherSigningKey}
	publicKeys := []string{svixPublicKey, otherPublicKey}
	var rawPublicKeys []ed25519.PublicKey
	for _, key := range publicKeys {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, "whpk_"))
		if err != nil {
			f.Fatal(err)
		}
		rawPublicKeys = append(rawPublicKeys, raw)
	}

	f.Fuzz(func(t *testing.T, body []byte, msgID string, unixSeconds int64, rawSignature, rawTimestamp string) {
		ts := time.Unix(unixSeconds, 0)

		arbitrary := http.Header{}
		arbitrary.Set("webhook-id", msgID)
		arbitrary.Set("webhook-timestamp", rawTimestamp)
		arbitrary.Set("webhook-signature", rawSignature)
		if err := signing.Verify(arbitrary, body, publicKeys, ts, time.Hour); err == nil {
			signedAt, parseErr := strconv.ParseInt(rawTimestamp, 10, 64)
			if parseErr != nil {
				t.Fatalf("Verify accepted timestamp %q", rawTimestamp)
			}
			content := []byte(msgID + "." + strconv.FormatInt(signedAt, 10) + "." + string(body))
			genuine := false
			for _, entry := range strings.Fields(rawSignature) {
				encoded, isV1a := strings.CutPrefix(entry, "v1a,")
				signature, decodeErr := base64.StdEncoding.DecodeString(encoded)
				for _, public := range rawPublicKeys {
					genuine = genuine || (isV1a && decodeErr == nil && len(signature) == ed25519.SignatureSize && ed25519.Verify(public, content, signature))
				}
			}
			if !genuine {
				t.Fatalf("Verify accepted signature %q for id %q at %q", rawSignature, msgID, rawTimestamp)
			}
		}

		h := http.Header{}
		if err := signing.Headers(h, msgID, ts, body, signingKeys); err != nil {
			if !errors.Is(err, signing.ErrInvalidMessageID) {
				t.Fatalf("Headers(%q): %v", msgID, err)
			}
			return
		}
		for _, key := range append([]string{vectorSecret}, publicKeys...) {
			if err := signing.Verify(h, body, []string{key}, ts, 0); err != nil {
				t.Fatalf("Verify with %s rejects what Headers signed (id %q, ts %d): %v", key[:5], msgID, unixSeconds, err)
			}
		}
		altered := append([]byte{'x'}, body...)
		if err := signing.Verify(h, altered, publicKeys, ts, 0); !errors.Is(err, signing.ErrNoMatchingSignature) {
			t.Fatalf("Verify of an altered body: err = %v, want ErrNoMatchingSignature", err)
		}
		entries := strings.Fields(h.Get("webhook-signature"))
		signature, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(entries[0], "v1a,"))
		if err != nil {
			t.Fatal(err)
		}
		signature[int(uint64(unixSeconds)%ed25519.SignatureSize)] ^= 0x80
		h.Set("webhook-signature", "v1a,"+base64.StdEncoding.EncodeToString(signature))
		if err := signing.Verify(h, body, publicKeys[:1], ts, 0); !errors.Is(err, signing.ErrNoMatchingSignature) {
			t.Fatalf("Verify of a signature with a flipped bit: err = %v, want ErrNoMatchingSignature", err)
		}
	})
}
