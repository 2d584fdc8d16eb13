package signing_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/signing"
)

// Each scheme's key signs entries of its own version, which its receiver's key verifies.
func TestNewKeyMintsTheSchemeAskedFor(t *testing.T) {
	for _, tc := range []struct {
		scheme  signing.Scheme
		prefix  string
		version string
	}{
		{signing.SchemeHMACSHA256, signing.SecretPrefix, "v1,"},
		{signing.SchemeEd25519, signing.SigningKeyPrefix, "v1a,"},
	} {
		key, err := signing.NewKey(tc.scheme)
		if err != nil {
			t.Fatalf("NewKey(%s): %v", tc.scheme, err)
		}
		if !strings.HasPrefix(key, tc.prefix) {
			t.Fatalf("NewKey(%s) = %.8s…, want %s", tc.scheme, key, tc.prefix)
		}
		again, err := signing.NewKey(tc.scheme)
		if err != nil || again == key {
			t.Fatalf("NewKey(%s) twice gave the same key (err %v)", tc.scheme, err)
		}
		verifyWith := key
		if tc.scheme == signing.SchemeEd25519 {
			if verifyWith, err = signing.PublicKey(key); err != nil {
				t.Fatal(err)
			}
		}
		h := http.Header{}
		now := time.Now()
		if err := signing.Headers(h, "msg_1", now, []byte("{}"), []string{key}); err != nil {
			t.Fatal(err)
		}
		if got := h.Get(signing.HeaderSignature); !strings.HasPrefix(got, tc.version) {
			t.Errorf("%s signs %q, want a %s entry", tc.scheme, got, tc.version)
		}
		if err := signing.Verify(h, []byte("{}"), []string{verifyWith}, now, time.Minute); err != nil {
			t.Errorf("%s: the receiver's key does not verify: %v", tc.scheme, err)
		}
	}
}

func TestNewKeyRefusesAnUnknownScheme(t *testing.T) {
	for _, scheme := range []signing.Scheme{"", "v1a", "ED25519", "hmac-sha512"} {
		key, err := signing.NewKey(scheme)
		if !errors.Is(err, signing.ErrInvalidKey) || key != "" {
			t.Errorf("NewKey(%q) = %q, %v; want ErrInvalidKey", scheme, key, err)
		}
	}
}
