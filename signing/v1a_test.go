package signing_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookflow/hookflow/signing"
)

// Svix's asymmetric test vectors (svix-server's README, core/types and worker tests): a
// signing key, its public key, and the v1a signature of the Standard Webhooks vector
// message under it, which the specification's example header also shows.
const (
	svixSigningKey = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
	svixPublicKey  = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="
	svixSignature  = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
)

func newKeyPair(t testing.TB) (signingKey, publicKey string) {
	t.Helper()
	signingKey, publicKey, err := signing.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return signingKey, publicKey
}

func TestNewKeyPair(t *testing.T) {
	firstSigning, firstPublic := newKeyPair(t)
	secondSigning, secondPublic := newKeyPair(t)
	if firstSigning == secondSigning || firstPublic == secondPublic {
		t.Fatal("two generated key pairs are equal")
	}
	for _, pair := range [][2]string{{firstSigning, firstPublic}, {secondSigning, secondPublic}} {
		private := decodePrefixed(t, pair[0], "whsk_", 64)
		public := decodePrefixed(t, pair[1], "whpk_", 32)
		if !bytes.Equal(private[32:], public) {
			t.Errorf("signing key %q does not end with its public key %q", pair[0], pair[1])
		}
		if derived := ed25519.NewKeyFromSeed(private[:32]); !bytes.Equal(derived, private) {
			t.Errorf("signing key %q is not seed then public key", pair[0])
		}
		if got, err := signing.PublicKey(pair[0]); err != nil || got != pair[1] {
			t.Errorf("PublicKey(%q) = %q, %v, want %q", pair[0], got, err, pair[1])
		}
	}
}

// decodePrefixed decodes a key by the format alone, without the package under test.
func decodePrefixed(t *testing.T, key, prefix string, size int) []byte {
	t.Helper()
	encoded, found := strings.CutPrefix(key, prefix)
	if !found {
		t.Fatalf("key %q lacks the %s prefix", key, prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("key %q is not standard base64 after the prefix: %v", key, err)
	}
	if len(raw) != size {
		t.Fatalf("key %q holds %d bytes, want %d", key, len(raw), size)
	}
	return raw
}

func TestSvixVectors(t *testing.T) {
	public, err := signing.PublicKey(svixSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if public != svixPublicKey {
		t.Errorf("PublicKey = %s, want Svix's %s", public, svixPublicKey)
	}
	got, err := signing.Sign(svixSigningKey, vectorMsgID, time.Unix(vectorUnix, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != svixSignature {
		t.Errorf("Sign = %s, want Svix's %s", got, svixSignature)
	}

	// Both vector signatures in one header, as the specification's example shows them.
	h := http.Header{}
	h.Set("webhook-id", vectorMsgID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorUnix))
	h.Set("webhook-signature", vectorSignature+" "+svixSignature)
	for _, key := range []string{vectorSecret, svixPublicKey} {
		if err := signing.Verify(h, []byte(vectorPayload), []string{key}, time.Unix(vectorUnix, 0), tolerance); err != nil {
			t.Errorf("Verify with %s: %v", key[:5], err)
		}
	}
}

func TestParseSigningKey(t *testing.T) {
	private, err := signing.ParseSigningKey(svixSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := decodePrefixed(t, svixSigningKey, "whsk_", 64); !bytes.Equal(private, want) {
		t.Fatalf("ParseSigningKey = %x, want %x", private, want)
	}

	seedOnly := "whsk_" + base64.StdEncoding.EncodeToString(private.Seed())
	tests := []struct{ name, key, wantInMessage string }{
		{"empty", "", "starts with whsk_"},
		{"no prefix", strings.TrimPrefix(svixSigningKey, "whsk_"), "starts with whsk_"},
		{"a public key", svixPublicKey, "whpk_ public key"},
		{"a secret", vectorSecret, "whsec_ secret"},
		{"truncated, as in Svix's tests", strings.TrimSuffix(svixSigningKey, "g=="), "base64"},
		{"unpadded", strings.TrimSuffix(svixSigningKey, "=="), "base64"},
		{"seed only", seedOnly, "64 bytes"},
		{"public half altered, as in Svix's tests", "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlaaaaaaaaaaAJ6p9lMicMFs6Kvg==", "does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.ParseSigningKey(tc.key)
			if !errors.Is(err, signing.ErrInvalidKey) {
				t.Fatalf("ParseSigningKey: err = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantInMessage) {
				t.Errorf("error %q should say %q", err, tc.wantInMessage)
			}
			if encoded := strings.TrimPrefix(tc.key, "whsk_"); len(encoded) > 8 && strings.Contains(err.Error(), encoded[:8]) {
				t.Errorf("error %q repeats the key", err)
			}
			if _, err := signing.PublicKey(tc.key); !errors.Is(err, signing.ErrInvalidKey) {
				t.Errorf("PublicKey: err = %v, want ErrInvalidKey", err)
			}
			// Keys without the prefix are not checked here: bare base64 is an HMAC secret.
			if _, err := signing.Sign(tc.key, "msg", time.Now(), nil); strings.HasPrefix(tc.key, "whsk_") && !errors.Is(err, signing.ErrInvalidKey) {
				t.Errorf("Sign: err = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	public, err := signing.ParsePublicKey(svixPublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := decodePrefixed(t, svixPublicKey, "whpk_", 32); !bytes.Equal(public, want) {
		t.Fatalf("ParsePublicKey = %x, want %x", public, want)
	}

	tests := []struct{ name, key, wantInMessage string }{
		{"empty", "", "starts with whpk_"},
		{"no prefix", strings.TrimPrefix(svixPublicKey, "whpk_"), "starts with whpk_"},
		{"a signing key", svixSigningKey, "whsk_ signing key"},
		{"a secret", vectorSecret, "whsec_ secret"},
		{"not base64", "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4*", "base64"},
		{"too short", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), "32 bytes"},
		{"too long", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 64)), "32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.ParsePublicKey(tc.key)
			if !errors.Is(err, signing.ErrInvalidKey) {
				t.Fatalf("ParsePublicKey: err = %v, want ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tc.wantInMessage) {
				t.Errorf("error %q should say %q", err, tc.wantInMessage)
			}
		})
	}
}

func TestKeysServeOnlyTheirSide(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	if _, err := signing.Sign(publicKey, "msg", time.Now(), nil); !errors.Is(err, signing.ErrInvalidKey) || !strings.Contains(err.Error(), "only verifies") {
		t.Errorf("Sign with a public key: err = %v, want ErrInvalidKey saying it only verifies", err)
	}
	h := http.Header{}
	if err := signing.Headers(h, "msg", time.Now(), nil, []string{newSecret(t), publicKey}); !errors.Is(err, signing.ErrInvalidKey) || len(h) != 0 {
		t.Errorf("Headers with a public key: err = %v, headers %v; want ErrInvalidKey and none set", err, h)
	}

	signed := signedHeaders(t, "msg", time.Now(), nil, signingKey)
	if err := signing.Verify(signed, nil, []string{signingKey}, time.Now(), tolerance); !errors.Is(err, signing.ErrInvalidKey) || !strings.Contains(err.Error(), "whpk_") {
		t.Errorf("Verify with a signing key: err = %v, want ErrInvalidKey pointing to the public key", err)
	}
	if _, err := signing.NewVerifier(signingKey); !errors.Is(err, signing.ErrInvalidKey) || !strings.Contains(err.Error(), "whpk_") {
		t.Errorf("NewVerifier with a signing key: err = %v, want ErrInvalidKey pointing to the public key", err)
	}
	if _, err := signing.NewVerifier(); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewVerifier without keys: err = %v, want ErrInvalidKey", err)
	}
	if _, err := signing.NewVerifier(publicKey, "whpk_short"); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("NewVerifier with a malformed key among good ones: err = %v, want ErrInvalidKey", err)
	}
}

// TestV1aVerifiesWithCryptoEd25519 checks what Headers sends by the specification alone:
// the header split by hand and the signature checked with crypto/ed25519.
func TestV1aVerifiesWithCryptoEd25519(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	public := ed25519.PublicKey(decodePrefixed(t, publicKey, "whpk_", 32))
	body := []byte(`{"event_type":"promoter.created","data":{"id":42}}`)
	h := signedHeaders(t, "msg_ed25519", time.Now(), body, signingKey)

	version, encoded, found := strings.Cut(h.Get("webhook-signature"), ",")
	if !found || version != "v1a" {
		t.Fatalf("webhook-signature = %q, want one v1a entry", h.Get("webhook-signature"))
	}
	signature, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("v1a signature %q is not standard base64: %v", encoded, err)
	}
	content := []byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body))
	if !ed25519.Verify(public, content, signature) {
		t.Fatalf("crypto/ed25519 rejects the v1a signature of %q", content)
	}
	if ed25519.Verify(public, append(content, ' '), signature) {
		t.Fatal("crypto/ed25519 accepts the v1a signature for another body")
	}
}

func TestRotationAcrossSchemes(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	oldSecret := newSecret(t)
	_, unrelatedPublic := newKeyPair(t)
	body := []byte(`{"rotating":"to ed25519"}`)
	now := time.Now()
	// The subscription moved to a signing key; its old secret still signs for a day.
	h := signedHeaders(t, "msg_rotation", now, body, signingKey, oldSecret)

	entries := strings.Split(h.Get("webhook-signature"), " ")
	if len(entries) != 2 || !strings.HasPrefix(entries[0], "v1a,") || !strings.HasPrefix(entries[1], "v1,") {
		t.Fatalf("webhook-signature = %q, want a v1a entry then a v1 entry", h.Get("webhook-signature"))
	}
	for i, key := range []string{signingKey, oldSecret} {
		want, err := signing.Sign(key, "msg_rotation", now, body)
		if err != nil {
			t.Fatal(err)
		}
		if entries[i] != want {
			t.Errorf("entry %d = %s, want %s", i, entries[i], want)
		}
	}

	for _, keys := range [][]string{{publicKey}, {oldSecret}, {unrelatedPublic, oldSecret}, {newSecret(t), publicKey}} {
		if err := signing.Verify(h, body, keys, now, tolerance); err != nil {
			t.Errorf("Verify with %d keys: %v", len(keys), err)
		}
	}
	if err := referenceVerify(t, oldSecret, body, h); err != nil {
		t.Errorf("reference library with the old secret rejects the rotation header: %v", err)
	}
	if err := signing.Verify(h, body, []string{unrelatedPublic}, now, tolerance); !errors.Is(err, signing.ErrNoMatchingSignature) {
		t.Errorf("Verify with an unrelated public key: err = %v, want ErrNoMatchingSignature", err)
	}
	if err := referenceVerify(t, newSecret(t), body, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("reference library with an unrelated secret: err = %v, want ErrNoMatchingSignature", err)
	}
}

func TestVerifyV1a(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	otherSigning, otherPublic := newKeyPair(t)
	secret := newSecret(t)
	body := []byte(`{"event_id":"e1"}`)
	signedAt := time.Unix(1_700_000_000, 0)
	good := func() http.Header { return signedHeaders(t, "msg_v1a", signedAt, body, signingKey) }
	goodSignature := good().Get("webhook-signature")
	goodBase64 := strings.TrimPrefix(goodSignature, "v1a,")
	flipped, _ := base64.StdEncoding.DecodeString(goodBase64)
	flipped[10] ^= 1

	tests := []struct {
		name   string
		header func() http.Header
		body   []byte
		keys   []string
		now    time.Time
		want   []error // empty means the request verifies
	}{
		{name: "valid", header: good},
		{name: "valid among other keys", header: good, keys: []string{secret, otherPublic, publicKey}},
		{name: "exactly at the tolerance in the past", header: good, now: signedAt.Add(tolerance)},
		{name: "exactly at the tolerance in the future", header: good, now: signedAt.Add(-tolerance)},
		{
			name:   "valid entry among unknown versions and junk",
			header: with(good, "webhook-signature", "v1,AAAA v2,"+goodBase64+" nocomma v1a, v1a,Zm9v "+goodSignature),
		},
		{name: "tampered body", header: good, body: []byte(`{"event_id":"e2"}`), want: []error{signing.ErrNoMatchingSignature}},
		{name: "wrong public key", header: good, keys: []string{otherPublic}, want: []error{signing.ErrNoMatchingSignature}},
		{
			name:   "signed by another key",
			header: func() http.Header { return signedHeaders(t, "msg_v1a", signedAt, body, otherSigning) },
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{name: "a secret does not check v1a", header: good, keys: []string{secret}, want: []error{signing.ErrNoMatchingSignature}},
		{
			name:   "a public key does not check v1",
			header: func() http.Header { return signedHeaders(t, "msg_v1a", signedAt, body, secret) },
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{name: "changed id", header: with(good, "webhook-id", "msg_other"), want: []error{signing.ErrNoMatchingSignature}},
		{
			name:   "changed timestamp",
			header: with(good, "webhook-timestamp", strconv.FormatInt(signedAt.Unix()+1, 10)),
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{
			name:   "signature with a flipped bit",
			header: with(good, "webhook-signature", "v1a,"+base64.StdEncoding.EncodeToString(flipped)),
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{name: "signature under v1", header: with(good, "webhook-signature", "v1,"+goodBase64), want: []error{signing.ErrNoMatchingSignature}},
		{name: "unknown version", header: with(good, "webhook-signature", "v2,"+goodBase64), want: []error{signing.ErrNoMatchingSignature}},
		{
			name:   "signature not base64",
			header: with(good, "webhook-signature", "v1a,"+strings.Repeat("!", len(goodBase64))),
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{name: "signature truncated", header: with(good, "webhook-signature", goodSignature[:len(goodSignature)-3]), want: []error{signing.ErrNoMatchingSignature}},
		{name: "signature unpadded", header: with(good, "webhook-signature", strings.TrimRight(goodSignature, "=")), want: []error{signing.ErrNoMatchingSignature}},
		{
			name:   "one huge entry",
			header: with(good, "webhook-signature", "v1a,"+strings.Repeat("A", 1<<20)),
			want:   []error{signing.ErrNoMatchingSignature},
		},
		{name: "too old", header: good, now: signedAt.Add(tolerance + time.Second), want: []error{signing.ErrTimestampTooOld, signing.ErrTimestamp}},
		{name: "too far in the future", header: good, now: signedAt.Add(-tolerance - time.Second), want: []error{signing.ErrTimestampTooNew, signing.ErrTimestamp}},
		{name: "empty signature header", header: with(good, "webhook-signature", ""), want: []error{signing.ErrMissingHeaders}},
		{name: "only spaces", header: with(good, "webhook-signature", "   "), want: []error{signing.ErrMalformedHeader}},
		{name: "no comma", header: with(good, "webhook-signature", "v1a"), want: []error{signing.ErrMalformedHeader}},
		{name: "empty parts", header: with(good, "webhook-signature", ", v1a, ,"+goodBase64), want: []error{signing.ErrMalformedHeader}},
		{
			name:   "thousands of entries",
			header: with(good, "webhook-signature", strings.Repeat(goodSignature+" ", 1<<14)),
			want:   []error{signing.ErrMalformedHeader},
		},
		{
			name:   "huge timestamp",
			header: with(good, "webhook-timestamp", strings.Repeat("9", 1<<20)),
			want:   []error{signing.ErrMalformedHeader, signing.ErrTimestamp},
		},
		{name: "timestamp not a number", header: with(good, "webhook-timestamp", "now"), want: []error{signing.ErrMalformedHeader, signing.ErrTimestamp}},
		{name: "malformed public key", header: good, keys: []string{"whpk_AAAA"}, want: []error{signing.ErrInvalidKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, keys, now := tc.body, tc.keys, tc.now
			if body == nil {
				body = []byte(`{"event_id":"e1"}`)
			}
			if keys == nil {
				keys = []string{publicKey}
			}
			if now.IsZero() {
				now = signedAt
			}
			err := signing.Verify(tc.header(), body, keys, now, tolerance)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Verify: %v, want success", err)
				}
				return
			}
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Fatalf("Verify: err = %v, want %v", err, want)
				}
			}
			// Errors are logged by receivers; a forged header must not flood the log.
			if len(err.Error()) > 300 {
				t.Errorf("error is %d bytes long: %.300s…", len(err.Error()), err)
			}
		})
	}
}

func TestVerifyErrorsNameWhatWasChecked(t *testing.T) {
	_, publicKey := newKeyPair(t)
	secret := newSecret(t)
	signedAt := time.Unix(1_700_000_000, 0)
	h := signedHeaders(t, "msg", signedAt, nil, secret)
	err := signing.Verify(h, nil, []string{publicKey}, signedAt, tolerance)
	if err == nil || !strings.Contains(err.Error(), "1 v1, 0 v1a") || !strings.Contains(err.Error(), "1 whpk_") {
		t.Errorf("error %q should tell that the request carries only v1 while the receiver holds a public key", err)
	}
	err = signing.Verify(h, nil, []string{secret}, signedAt.Add(-time.Hour), tolerance)
	if err == nil || !strings.Contains(err.Error(), "1h0m0s ahead") {
		t.Errorf("future timestamp error %q should state how far ahead", err)
	}
}

func TestVerifier(t *testing.T) {
	signingKey, publicKey := newKeyPair(t)
	secret := newSecret(t)
	body := []byte(`{"verifier":true}`)
	verifier, err := signing.NewVerifier(publicKey, secret)
	if err != nil {
		t.Fatal(err)
	}
	if verifier.Tolerance != signing.DefaultTolerance || signing.DefaultTolerance != 5*time.Minute {
		t.Fatalf("Tolerance = %s, want the specification's 5m0s", verifier.Tolerance)
	}

	for _, key := range []string{signingKey, secret} {
		if err := verifier.Verify(signedHeaders(t, "msg", time.Now(), body, key), body); err != nil {
			t.Errorf("Verify of a request signed now with %s: %v", key[:5], err)
		}
	}
	signedAt := time.Unix(1_700_000_000, 0)
	h := signedHeaders(t, "msg", signedAt, body, signingKey)
	if err := verifier.Verify(h, body); !errors.Is(err, signing.ErrTimestampTooOld) {
		t.Errorf("Verify of a request signed in 2023: err = %v, want ErrTimestampTooOld", err)
	}
	if err := verifier.VerifyAt(h, body, signedAt.Add(4*time.Minute)); err != nil {
		t.Errorf("VerifyAt 4 minutes later: %v", err)
	}
	verifier.Tolerance = time.Minute
	if err := verifier.VerifyAt(h, body, signedAt.Add(4*time.Minute)); !errors.Is(err, signing.ErrTimestampTooOld) {
		t.Errorf("VerifyAt 4 minutes later with a 1 minute tolerance: err = %v, want ErrTimestampTooOld", err)
	}
	if err := verifier.VerifyAt(h, []byte(`{"verifier":false}`), signedAt); !errors.Is(err, signing.ErrNoMatchingSignature) {
		t.Errorf("VerifyAt of a tampered body: err = %v, want ErrNoMatchingSignature", err)
	}
}

func TestHeadersRefusesMoreKeysThanReceiversAccept(t *testing.T) {
	keys := make([]string, 33)
	for i := range keys {
		keys[i] = vectorSecret
	}
	h := http.Header{}
	if err := signing.Headers(h, "msg", time.Now(), nil, keys); !errors.Is(err, signing.ErrInvalidKey) {
		t.Fatalf("Headers with %d keys: err = %v, want ErrInvalidKey", len(keys), err)
	}
	if err := signing.Headers(h, "msg", time.Now(), nil, keys[:32]); err != nil {
		t.Fatalf("Headers with 32 keys: %v", err)
	}
	if err := signing.Verify(h, nil, []string{vectorSecret}, time.Now(), tolerance); err != nil {
		t.Fatalf("Verify of 32 entries: %v", err)
	}
}
