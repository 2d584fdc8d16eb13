package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The campaign walkthrough as the seed documents describe it: the client's own numeric
// campaign id, a legacy event to the campaign's default URL and the subscriptions that
// filter on it, Test webhook signed with the campaign's key, a rotation both keys verify
// across, and entity_id kept a number.
func TestCampaignWithOwnIDEndToEnd(t *testing.T) {
	app := startApp(t, AppOptions{})
	key := app.NewAccount("Acme Referrals")
	legacy := newReceiver(t, always(http.StatusOK))
	current := newReceiver(t, always(http.StatusOK))

	var campaign Campaign
	app.MustDo(http.StatusCreated, "POST", "/v1/campaigns", key, map[string]any{"id": 7, "name": "Spring referrals"}).JSON(t, &campaign)
	if campaign.ID != "7" || !strings.HasPrefix(campaign.SecretKey, "whsec_") {
		t.Fatalf("campaign: %+v", campaign)
	}
	var hooked Campaign
	app.MustDo(http.StatusOK, "PUT", "/v1/campaigns/7/webhooks", key, map[string]any{"webhooks": []map[string]string{
		{"kind": "default", "url": legacy.URL + "/legacy"}}}).JSON(t, &hooked)
	hookID := hooked.Webhooks[0].ID
	sub := app.Subscribe(key, current.URL+"/current", map[string]any{"campaign_ids": []any{7}})
	app.Subscribe(key, current.URL+"/other-campaign", map[string]any{"campaign_ids": []any{8}})

	out := app.Publish(key, map[string]any{"event_type": "lead_signup", "campaign_id": 7, "entity_type": "lead",
		"entity_id": 1234, "data": map[string]any{"email": "pat@example.com"}})
	if len(out.Deliveries) != 2 {
		t.Fatalf("deliveries: %+v, want the subscription on campaign 7 and the default URL", out.Deliveries)
	}
	for _, d := range out.Deliveries {
		app.WaitStatus(key, d.ID.String(), "delivered", 30*time.Second)
	}
	if got := current.Requests(); len(got) != 1 || !strings.Contains(string(got[0].Body), `"entity_id":1234`) {
		t.Fatalf("the subscription filtering on campaign 7 got %d requests: %v", len(got), got)
	}
	legacyReqs := legacy.Requests()
	if len(legacyReqs) != 1 {
		t.Fatalf("the default URL got %d requests", len(legacyReqs))
	}
	var body struct {
		Event struct{ ID, Type string } `json:"event"`
		Data  map[string]any            `json:"data"`
	}
	if err := json.Unmarshal(legacyReqs[0].Body, &body); err != nil || body.Event.Type != "lead_signup" || body.Data["email"] != "pat@example.com" {
		t.Fatalf("legacy body %s: %v", legacyReqs[0].Body, err)
	}
	verify(t, campaign.SecretKey, legacyReqs[0])

	// The record: id and entity_id are JSON numbers, entity_id 1234 as posted.
	subDelivery := out.Deliveries[0]
	if subDelivery.SubscriptionID != sub.ID {
		subDelivery = out.Deliveries[1]
	}
	raw := app.MustDo(http.StatusOK, "GET", "/v1/deliveries/"+subDelivery.ID.String(), key, nil).Body
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var record map[string]any
	if err := dec.Decode(&record); err != nil {
		t.Fatal(err)
	}
	if _, ok := record["id"].(json.Number); !ok {
		t.Errorf("id is %T, want a JSON number", record["id"])
	}
	if n, ok := record["entity_id"].(json.Number); !ok || n != "1234" {
		t.Errorf("entity_id is %#v, want the number 1234", record["entity_id"])
	}
	var payload map[string]any
	pdec := json.NewDecoder(bytes.NewReader(current.Requests()[0].Body))
	pdec.UseNumber()
	if err := pdec.Decode(&payload); err != nil || payload["entity_id"] != json.Number("1234") {
		t.Errorf("payload entity_id %#v, want the number 1234 (%v)", payload["entity_id"], err)
	}

	// Test webhook: signed with the campaign's key, data {"test": true}.
	var test Delivery
	app.MustDo(http.StatusAccepted, "POST", "/v1/campaigns/7/webhooks/"+hookID+"/test", key, nil).JSON(t, &test)
	if !test.Test {
		t.Fatalf("test delivery: %+v", test)
	}
	app.WaitStatus(key, test.ID.String(), "delivered", 30*time.Second)
	testReq := legacy.Requests()[1]
	if !strings.Contains(string(testReq.Body), `"data":{"test":true}`) || !strings.Contains(string(testReq.Body), `"type":"webhook.test"`) {
		t.Fatalf("test webhook body: %s", testReq.Body)
	}
	verify(t, campaign.SecretKey, testReq)

	// Rotate: during the overlap both keys verify the next request.
	var rotated struct {
		SecretKey string `json:"secret_key"`
	}
	app.MustDo(http.StatusOK, "POST", "/v1/campaigns/7/rotate-secret", key, nil).JSON(t, &rotated)
	app.MustDo(http.StatusAccepted, "POST", "/v1/campaigns/7/webhooks/"+hookID+"/test", key, nil).JSON(t, &test)
	app.WaitStatus(key, test.ID.String(), "delivered", 30*time.Second)
	afterRotation := legacy.Requests()[2]
	verify(t, rotated.SecretKey, afterRotation)
	verify(t, campaign.SecretKey, afterRotation)
	if n := strings.Count(afterRotation.Header.Get("webhook-signature"), "v1,"); n != 2 {
		t.Errorf("%d signatures after the rotation, want 2", n)
	}

	var listed struct {
		Data []Delivery `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/deliveries?campaign_id=7", key, nil).JSON(t, &listed)
	if len(listed.Data) != 3 {
		t.Errorf("campaign 7 lists %d deliveries, want the legacy one and two tests", len(listed.Data))
	}
}

func verify(t *testing.T, secret string, req Received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(req.Body, req.Header); err != nil {
		t.Errorf("signature does not verify with %s…: %v", secret[:10], err)
	}
}
