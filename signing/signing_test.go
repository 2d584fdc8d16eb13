package signing_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookflow/hookflow/signing"
)

// The signing test vector of the Standard Webhooks reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix      = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

const tolerance = 5 * time.Minute

func newSecret(t *testing.T) string {
	t.Helper()
	secret, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func signedHeaders(t *testing.T, msgID string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	h := http.Header{}
	if err := signing.Headers(h, msgID, ts, body, secrets); err != nil {
		t.Fatal(err)
	}
	return h
}

func referenceVerify(t *testing.T, secret string, body []byte, h http.Header) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(body, h)
}

func TestNewSecret(t *testing.T) {
	first, second := newSecret(t), newSecret(t)
	if first == second {
		t.Fatal("two generated secrets are equal")
	}
	for _, secret := range []string{first, second} {
		encoded, found := strings.CutPrefix(secret, "whsec_")
		if !found {
			t.Fatalf("secret %q lacks the whsec_ prefix", secret)
		}
		key, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			t.Fatalf("secret %q is not standard base64 after the prefix: %v", secret, err)
		}
		if len(key) != 32 {
			t.Fatalf("secret key has %d bytes, want 32", len(key))
		}
	}
}

func TestSignMatchesSpecificationVector(t *testing.T) {
	got, err := signing.Sign(vectorSecret, vectorMsgID, time.Unix(vectorUnix, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}

	// The prefix is optional, as in the reference libraries.
	bare := strings.TrimPrefix(vectorSecret, "whsec_")
	got, err = signing.Sign(bare, vectorMsgID, time.Unix(vectorUnix, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("Sign without prefix = %s, want %s", got, vectorSignature)
	}
}

func TestHeadersSetsTheThreeHeaders(t *testing.T) {
	ts := time.Unix(vectorUnix, 0)
	h := signedHeaders(t, vectorMsgID, ts, []byte(vectorPayload), vectorSecret)
	want := map[string]string{
		"Webhook-Id":        vectorMsgID,
		"Webhook-Timestamp": strconv.Itoa(vectorUnix),
		"Webhook-Signature": vectorSignature,
	}
	for name, value := range want {
		if got := h[name]; len(got) != 1 || got[0] != value {
			t.Errorf("header %s = %q, want [%q]", name, got, value)
		}
	}
	if len(h) != len(want) {
		t.Errorf("Headers set %d headers, want %d: %v", len(h), len(want), h)
	}
}

func TestReferenceLibraryVerifiesHeaders(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{"event_type":"promoter.created","data":{"id":42}}`)
	h := signedHeaders(t, "0b5d3b52-1f4e-4a8e-9c1e-2f6d0c0b9a11", time.Now(), body, secret)
	if err := referenceVerify(t, secret, body, h); err != nil {
		t.Fatalf("reference library rejects our headers: %v", err)
	}
}

func TestReferenceLibraryVerifiesOverHTTP(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{"event_type":"lead_signup"}`)
	verdicts := make(chan error, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received, err := io.ReadAll(r.Body)
		if err != nil {
			verdicts <- err
			return
		}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			verdicts <- err
			return
		}
		verdicts <- wh.Verify(received, r.Header)
	}))
	defer receiver.Close()

	req, err := http.NewRequest(http.MethodPost, receiver.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.Headers(req.Header, "evt_1", time.Now(), body, []string{secret}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-verdicts; err != nil {
		t.Fatalf("receiver rejects the request: %v", err)
	}
}

func TestRotationEitherSecretVerifies(t *testing.T) {
	oldSecret, newSecretValue, unrelated := newSecret(t), newSecret(t), newSecret(t)
	body := []byte(`{"rotating":true}`)
	now := time.Now()
	h := signedHeaders(t, "msg_rotation", now, body, newSecretValue, oldSecret)

	entries := strings.Split(h.Get("webhook-signature"), " ")
	if len(entries) != 2 {
		t.Fatalf("signature header has %d entries, want 2: %q", len(entries), h.Get("webhook-signature"))
	}
	for i, secret := range []string{newSecretValue, oldSecret} {
		want, err := signing.Sign(secret, "msg_rotation", now, body)
		if err != nil {
			t.Fatal(err)
		}
		if entries[i] != want {
			t.Errorf("entry %d = %s, want the signature of secret %d (%s)", i, entries[i], i, want)
		}
	}

	for _, secret := range []string{newSecretValue, oldSecret} {
		if err := referenceVerify(t, secret, body, h); err != nil {
			t.Errorf("reference library rejects a rotation secret: %v", err)
		}
		if err := signing.Verify(h, body, []string{secret}, now, tolerance); err != nil {
			t.Errorf("Verify rejects a rotation secret: %v", err)
		}
	}
	if err := referenceVerify(t, unrelated, body, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("reference library with an unrelated secret: err = %v, want ErrNoMatchingSignature", err)
	}
	if err := signing.Verify(h, body, []string{unrelated}, now, tolerance); !errors.Is(err, signing.ErrNoMatchingSignature) {
		t.Errorf("Verify with an unrelated secret: err = %v, want ErrNoMatchingSignature", err)
	}
}

func TestReferenceLibraryRejectsBadRequests(t *testing.T) {
	secret := newSecret(t)
	body := []byte(`{"amount":100}`)

	tampered := signedHeaders(t, "msg_1", time.Now(), body, secret)
	if err := referenceVerify(t, secret, []byte(`{"amount":999}`), tampered); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("tampered body: err = %v, want ErrNoMatchingSignature", err)
	}

	old := signedHeaders(t, "msg_1", time.Now().Add(-10*time.Minute), body, secret)
	if err := referenceVerify(t, secret, body, old); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Errorf("old timestamp: err = %v, want ErrMessageTooOld", err)
	}

	wrong := signedHeaders(t, "msg_1", time.Now(), body, newSecret(t))
	if err := referenceVerify(t, secret, body, wrong); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
		t.Errorf("wrong secret: err = %v, want ErrNoMatchingSignature", err)
	}
}

func TestVerifyAcceptsReferenceLibrarySignature(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sig, err := wh.Sign("msg_ref", now, []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, "msg_ref")
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	if err := signing.Verify(h, []byte(vectorPayload), []string{vectorSecret}, now, tolerance); err != nil {
		t.Fatalf("Verify rejects the reference library's signature: %v", err)
	}
}

func TestVerify(t *testing.T) {
	secret, other := newSecret(t), newSecret(t)
	body := []byte(`{"event_id":"e1"}`)
	signedAt := time.Unix(1_700_000_000, 0)
	good := func() http.Header { return signedHeaders(t, "msg_verify", signedAt, body, secret) }
	goodSignature := good().Get("webhook-signature")

	tests := []struct {
		name    string
		header  func() http.Header
		body    []byte
		secrets []string
		now     time.Time
		want    error // nil means the request verifies
	}{
		{name: "valid", header: good},
		{name: "valid among other secrets", header: good, secrets: []string{other, secret}},
		{name: "exactly at the tolerance in the past", header: good, now: signedAt.Add(tolerance)},
		{name: "exactly at the tolerance in the future", header: good, now: signedAt.Add(-tolerance)},
		{
			name: "valid entry among unknown versions and junk",
			header: func() http.Header {
				h := good()
				h.Set("webhook-signature", "v1a,AAAA v2,"+strings.TrimPrefix(goodSignature, "v1,")+" nocomma v1,Zm9v "+goodSignature)
				return h
			},
		},
		{name: "missing id", header: without(good, "webhook-id"), want: signing.ErrMissingHeaders},
		{name: "missing timestamp", header: without(good, "webhook-timestamp"), want: signing.ErrMissingHeaders},
		{name: "missing signature", header: without(good, "webhook-signature"), want: signing.ErrMissingHeaders},
		{name: "no headers", header: func() http.Header { return http.Header{} }, want: signing.ErrMissingHeaders},
		{name: "tampered body", header: good, body: []byte(`{"event_id":"e2"}`), want: signing.ErrNoMatchingSignature},
		{name: "empty body", header: good, body: []byte{}, want: signing.ErrNoMatchingSignature},
		{name: "wrong secret", header: good, secrets: []string{other}, want: signing.ErrNoMatchingSignature},
		{name: "no secrets", header: good, secrets: []string{}, want: signing.ErrNoMatchingSignature},
		{name: "changed id", header: with(good, "webhook-id", "msg_other"), want: signing.ErrNoMatchingSignature},
		{
			name:   "changed timestamp",
			header: with(good, "webhook-timestamp", strconv.FormatInt(signedAt.Unix()+1, 10)),
			want:   signing.ErrNoMatchingSignature,
		},
		{
			name:   "signature under another version",
			header: with(good, "webhook-signature", "v1a,"+strings.TrimPrefix(goodSignature, "v1,")),
			want:   signing.ErrNoMatchingSignature,
		},
		{
			name:   "signature truncated",
			header: with(good, "webhook-signature", goodSignature[:len(goodSignature)-1]),
			want:   signing.ErrNoMatchingSignature,
		},
		{name: "too old", header: good, now: signedAt.Add(tolerance + time.Second), want: signing.ErrTimestamp},
		{name: "too far in the future", header: good, now: signedAt.Add(-tolerance - time.Second), want: signing.ErrTimestamp},
		{name: "timestamp not a number", header: with(good, "webhook-timestamp", "yesterday"), want: signing.ErrTimestamp},
		{name: "timestamp in milliseconds", header: with(good, "webhook-timestamp", strconv.FormatInt(signedAt.UnixMilli(), 10)), want: signing.ErrTimestamp},
		{name: "timestamp overflowing int64", header: with(good, "webhook-timestamp", "99999999999999999999"), want: signing.ErrTimestamp},
		{name: "secret not base64", header: good, secrets: []string{"whsec_not*base64"}, want: signing.ErrInvalidSecret},
		{name: "secret empty", header: good, secrets: []string{"whsec_"}, want: signing.ErrInvalidSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, secrets, now := tc.body, tc.secrets, tc.now
			if body == nil {
				body = []byte(`{"event_id":"e1"}`)
			}
			if secrets == nil {
				secrets = []string{secret}
			}
			if now.IsZero() {
				now = signedAt
			}
			err := signing.Verify(tc.header(), body, secrets, now, tolerance)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyErrorsAreDescriptive(t *testing.T) {
	secret := newSecret(t)
	signedAt := time.Unix(1_700_000_000, 0)
	h := signedHeaders(t, "msg", signedAt, nil, secret)

	err := signing.Verify(h, nil, []string{secret}, signedAt.Add(time.Hour), tolerance)
	if err == nil || !strings.Contains(err.Error(), "1h0m0s") || !strings.Contains(err.Error(), "5m0s") {
		t.Errorf("stale timestamp error %q should state the skew and the tolerance", err)
	}

	err = signing.Verify(http.Header{"Webhook-Id": {"msg"}}, nil, []string{secret}, signedAt, tolerance)
	if err == nil || !strings.Contains(err.Error(), "webhook-timestamp") || !strings.Contains(err.Error(), "webhook-signature") {
		t.Errorf("missing headers error %q should name the absent headers", err)
	}

	err = signing.Verify(h, nil, []string{"whsec_secretvalue*"}, signedAt, tolerance)
	if err == nil || strings.Contains(err.Error(), "secretvalue") {
		t.Errorf("invalid secret error %q must not repeat the secret", err)
	}
}

func TestHeadersRejectsWhatCannotBeVerified(t *testing.T) {
	secret := newSecret(t)
	tests := []struct {
		name    string
		msgID   string
		secrets []string
		want    error
	}{
		{name: "no secrets", msgID: "msg", secrets: nil, want: signing.ErrInvalidSecret},
		{name: "one bad secret among good ones", msgID: "msg", secrets: []string{secret, "whsec_!!"}, want: signing.ErrInvalidSecret},
		{name: "empty id", msgID: "", secrets: []string{secret}, want: signing.ErrInvalidMessageID},
		{name: "id with newline", msgID: "msg\r\nX-Injected: 1", secrets: []string{secret}, want: signing.ErrInvalidMessageID},
		{name: "id with leading space", msgID: " msg", secrets: []string{secret}, want: signing.ErrInvalidMessageID},
		{name: "id with trailing tab", msgID: "msg\t", secrets: []string{secret}, want: signing.ErrInvalidMessageID},
		{name: "id with DEL", msgID: "m\x7fsg", secrets: []string{secret}, want: signing.ErrInvalidMessageID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			err := signing.Headers(h, tc.msgID, time.Now(), []byte("{}"), tc.secrets)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Headers: err = %v, want %v", err, tc.want)
			}
			if len(h) != 0 {
				t.Fatalf("Headers set %v despite failing", h)
			}
		})
	}
}

func without(header func() http.Header, name string) func() http.Header {
	return func() http.Header {
		h := header()
		h.Del(name)
		return h
	}
}

func with(header func() http.Header, name, value string) func() http.Header {
	return func() http.Header {
		h := header()
		h.Set(name, value)
		return h
	}
}
