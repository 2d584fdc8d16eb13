package signing_test

import (
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
