package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/signing"
)

func TestNewVerifierTakesOneKeyOfTheRightKind(t *testing.T) {
	secret, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	signingKey, publicKey, err := signing.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, secret, publicKey string
		wantErr                 string // empty: accepted
		wantVerifier            bool
	}{
		{name: "neither: signatures not checked"},
		{name: "a secret", secret: secret, wantVerifier: true},
		{name: "a bare base64 secret", secret: strings.TrimPrefix(secret, "whsec_"), wantVerifier: true},
		{name: "a public key", publicKey: publicKey, wantVerifier: true},
		{name: "both", secret: secret, publicKey: publicKey, wantErr: "not both"},
		{name: "a public key as the secret", secret: publicKey, wantErr: "give it to -public-key"},
		{name: "a signing key as the secret", secret: signingKey, wantErr: "stays with hookflow"},
		{name: "a signing key as the public key", publicKey: signingKey, wantErr: "stays with hookflow"},
		{name: "a secret as the public key", publicKey: secret, wantErr: "give it to -secret"},
		{name: "a malformed secret", secret: "whsec_!!", wantErr: "-secret: invalid webhook key"},
		{name: "a malformed public key", publicKey: "whpk_AAAA", wantErr: "-public-key: invalid webhook key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			verifier, err := newVerifier(tc.secret, tc.publicKey)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("newVerifier: err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newVerifier: %v", err)
			}
			if (verifier != nil) != tc.wantVerifier {
				t.Fatalf("newVerifier = %v, want a verifier: %v", verifier, tc.wantVerifier)
			}
		})
	}
}

func TestHandlerPrintsTheVerdict(t *testing.T) {
	signingKey, publicKey, err := signing.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := newVerifier("", publicKey)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	handler := newHandler(&out, verifier, http.StatusOK, 1, 0)
	post := func(sent string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(sent))
		if err := signing.Headers(req.Header, "msg_1", time.Now(), []byte(`{"n":1}`), []string{signingKey}); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code
	}

	if code := post(`{"n":1}`); code != http.StatusInternalServerError {
		t.Errorf("first request answered %d, want 500 (-fail 1)", code)
	}
	if code := post(`{"n":2}`); code != http.StatusOK {
		t.Errorf("second request answered %d, want 200", code)
	}
	printed := out.String()
	if !strings.Contains(printed, "#1 POST /hooks webhook-id=msg_1 signature valid → 500") {
		t.Errorf("first request printed as:\n%s", printed)
	}
	if !strings.Contains(printed, "#2 POST /hooks webhook-id=msg_1 signature INVALID: no matching signature") {
		t.Errorf("tampered request printed as:\n%s", printed)
	}
}
