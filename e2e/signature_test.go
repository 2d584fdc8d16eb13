package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/signing"
)

// keyAnswer is what the API shows of a key: a subscription's or a campaign's, or a
// rotation's.
type keyAnswer struct {
	ID              string `json:"id"`
	SignatureScheme string `json:"signature_scheme"`
	SecretKey       string `json:"secret_key"`
	PublicKey       string `json:"public_key"`
	Webhooks        []struct {
		ID string `json:"id"`
	} `json:"webhooks"`
}

// signatureEntries are the entries of a request's webhook-signature by version.
func signatureEntries(req Received) map[string][]string {
	entries := map[string][]string{}
	for _, entry := range strings.Fields(req.Header.Get(signing.HeaderSignature)) {
		version, signature, _ := strings.Cut(entry, ",")
		entries[version] = append(entries[version], signature)
	}
	return entries
}

// verifyV1a checks that the request verifies under publicKey twice over: with the signing
// package, and with crypto/ed25519 alone on the raw headers and body, so the check does
// not rest on hookflow's own code.
func verifyV1a(t *testing.T, publicKey string, req Received) {
	t.Helper()
	if !strings.HasPrefix(publicKey, signing.PublicKeyPrefix) {
		t.Fatalf("%q is not a whpk_ public key", publicKey)
	}
	if err := signing.Verify(req.Header, req.Body, []string{publicKey}, time.Now(), signing.DefaultTolerance); err != nil {
		t.Errorf("signing.Verify with %s…: %v", publicKey[:12], err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(publicKey, signing.PublicKeyPrefix))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		t.Fatalf("public key %q: %d bytes, %v", publicKey, len(raw), err)
	}
	signed := []byte(req.Header.Get("webhook-id") + "." + req.Header.Get("webhook-timestamp") + "." + string(req.Body))
	for _, encoded := range signatureEntries(req)["v1a"] {
		signature, err := base64.StdEncoding.DecodeString(encoded)
		if err == nil && ed25519.Verify(raw, signed, signature) {
			return
		}
	}
	t.Errorf("no v1a entry of %q verifies with crypto/ed25519 under %s…", req.Header.Get(signing.HeaderSignature), publicKey[:12])
}

// verifyV1 checks that the request verifies under an HMAC secret.
func verifyV1(t *testing.T, secret string, req Received) {
	t.Helper()
	if err := signing.Verify(req.Header, req.Body, []string{secret}, time.Now(), signing.DefaultTolerance); err != nil {
		t.Errorf("signing.Verify with the whsec_ secret: %v", err)
	}
	verify(t, secret, req)
}

// requireEntries fails unless webhook-signature holds v1 and v1a entries in these numbers.
func requireEntries(t *testing.T, req Received, v1, v1a int) {
	t.Helper()
	entries := signatureEntries(req)
	if len(entries["v1"]) != v1 || len(entries["v1a"]) != v1a || len(entries) > 2 {
		t.Fatalf("webhook-signature %q: want %d v1 and %d v1a entries", req.Header.Get(signing.HeaderSignature), v1, v1a)
	}
}

// An ed25519 subscription's deliveries carry a v1a signature its public key verifies,
// independently of hookflow's code; after a rotation, and after a PATCH from hmac-sha256
// to ed25519, both keys sign, each verifiable with its own key; a campaign signs the same
// way; and no answer ever shows a whsk_ signing key.
func TestEd25519SignaturesEndToEnd(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("Signed")
	rcv := newReceiver(t, always(http.StatusOK))
	var answers []string
	do := func(want int, method, path string, body any) keyAnswer {
		t.Helper()
		resp := app.MustDo(want, method, path, key, body)
		answers = append(answers, method+" "+path+": "+string(resp.Body))
		var answer keyAnswer
		resp.JSON(t, &answer)
		return answer
	}
	// send delivers one event to the subscription at path and returns the request.
	send := func(path string) Received {
		t.Helper()
		before := len(rcv.Requests())
		ingested := app.Publish(key, map[string]any{"event_type": "promoter.created", "data": map[string]any{"to": path}})
		for _, d := range ingested.Deliveries {
			app.WaitStatus(key, d.ID.String(), "delivered", 30*time.Second)
		}
		for _, req := range rcv.Requests()[before:] {
			if strings.Contains(string(req.Body), `"to":"`+path+`"`) && req.Header.Get("X-Path") == path {
				return req
			}
		}
		t.Fatalf("no request for %s", path)
		return Received{}
	}

	ed := do(http.StatusCreated, "POST", "/v1/subscriptions", map[string]any{"url": rcv.URL + "/ed",
		"signature_scheme": "ed25519", "headers": map[string]string{"X-Path": "ed"}})
	if ed.SignatureScheme != "ed25519" || ed.SecretKey != "" || !strings.HasPrefix(ed.PublicKey, signing.PublicKeyPrefix) {
		t.Fatalf("created: %+v", ed)
	}
	got := do(http.StatusOK, "GET", "/v1/subscriptions/"+ed.ID, nil)
	if got.PublicKey != ed.PublicKey {
		t.Fatalf("GET shows public key %q, create showed %q", got.PublicKey, ed.PublicKey)
	}

	first := send("ed")
	requireEntries(t, first, 0, 1)
	verifyV1a(t, ed.PublicKey, first)

	// A rotation: a new key pair, and the old signing key signs beside it for the grace.
	rotated := do(http.StatusOK, "POST", "/v1/subscriptions/"+ed.ID+"/rotate-secret", nil)
	if rotated.SecretKey != "" || rotated.PublicKey == "" || rotated.PublicKey == ed.PublicKey {
		t.Fatalf("rotation answered %+v", rotated)
	}
	afterRotation := send("ed")
	requireEntries(t, afterRotation, 0, 2)
	verifyV1a(t, rotated.PublicKey, afterRotation)
	verifyV1a(t, ed.PublicKey, afterRotation)

	// A PATCH from hmac-sha256 to ed25519: a v1 and a v1a signature during the grace.
	hmac := do(http.StatusCreated, "POST", "/v1/subscriptions", map[string]any{"url": rcv.URL + "/hmac",
		"headers": map[string]string{"X-Path": "hmac"}})
	if hmac.SignatureScheme != "hmac-sha256" || !strings.HasPrefix(hmac.SecretKey, signing.SecretPrefix) || hmac.PublicKey != "" {
		t.Fatalf("created: %+v", hmac)
	}
	beforeChange := send("hmac")
	requireEntries(t, beforeChange, 1, 0)
	verifyV1(t, hmac.SecretKey, beforeChange)
	changed := do(http.StatusOK, "PATCH", "/v1/subscriptions/"+hmac.ID, map[string]any{"signature_scheme": "ed25519"})
	if changed.SignatureScheme != "ed25519" || changed.SecretKey != "" || changed.PublicKey == "" {
		t.Fatalf("PATCH answered %+v", changed)
	}
	afterChange := send("hmac")
	requireEntries(t, afterChange, 1, 1)
	verifyV1a(t, changed.PublicKey, afterChange)
	verifyV1(t, hmac.SecretKey, afterChange)

	// A campaign with ed25519: its test webhook is signed v1a, and a rotation to HMAC
	// signs with both.
	legacy := newReceiver(t, always(http.StatusOK))
	campaign := do(http.StatusCreated, "POST", "/v1/campaigns", map[string]any{"id": "spring", "name": "Spring", "signature_scheme": "ed25519"})
	if campaign.SignatureScheme != "ed25519" || campaign.SecretKey != "" || !strings.HasPrefix(campaign.PublicKey, signing.PublicKeyPrefix) {
		t.Fatalf("campaign: %+v", campaign)
	}
	hooked := do(http.StatusOK, "PUT", "/v1/campaigns/spring/webhooks", map[string]any{"webhooks": []map[string]string{
		{"kind": "default", "url": legacy.URL + "/legacy"}}})
	testWebhook := func() Received {
		t.Helper()
		var test Delivery
		app.MustDo(http.StatusAccepted, "POST", "/v1/campaigns/spring/webhooks/"+hooked.Webhooks[0].ID+"/test", key, nil).JSON(t, &test)
		app.WaitStatus(key, test.ID.String(), "delivered", 30*time.Second)
		reqs := legacy.Requests()
		return reqs[len(reqs)-1]
	}
	campaignTest := testWebhook()
	requireEntries(t, campaignTest, 0, 1)
	verifyV1a(t, campaign.PublicKey, campaignTest)
	toHMAC := do(http.StatusOK, "POST", "/v1/campaigns/spring/rotate-secret", map[string]any{"signature_scheme": "hmac-sha256"})
	if !strings.HasPrefix(toHMAC.SecretKey, signing.SecretPrefix) || toHMAC.PublicKey != "" {
		t.Fatalf("campaign rotation answered %+v", toHMAC)
	}
	afterCampaignRotation := testWebhook()
	requireEntries(t, afterCampaignRotation, 1, 1)
	verifyV1(t, toHMAC.SecretKey, afterCampaignRotation)
	verifyV1a(t, campaign.PublicKey, afterCampaignRotation)

	do(http.StatusOK, "GET", "/v1/subscriptions", nil)
	do(http.StatusOK, "GET", "/v1/campaigns/spring", nil)
	do(http.StatusOK, "GET", "/v1/campaigns", nil)
	for _, answer := range answers {
		if strings.Contains(answer, signing.SigningKeyPrefix) {
			t.Errorf("an answer shows a signing key: %s", answer)
		}
	}
}
