package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestDatabaseDumpHoldsNoUsableSecret: with signing secrets sealed at rest, pg_dump of a
// database with subscriptions, rotated keys and campaigns holds no whsec_ string, while
// deliveries are still signed with the secret the API showed; and a hookflow started
// without the key, or with another one, stops with a message saying so.
func TestDatabaseDumpHoldsNoUsableSecret(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("Sealed")
	rcv := newReceiver(t, always(200))
	sub := app.Subscribe(key, rcv.URL, map[string]any{"event_types": []string{"*"}})
	var rotated struct {
		SecretKey string `json:"secret_key"`
	}
	app.MustDo(200, "POST", "/v1/subscriptions/"+sub.ID+"/rotate-secret", key, nil).JSON(t, &rotated)
	app.MustDo(201, "POST", "/v1/campaigns", key, map[string]any{"name": "Spring"})

	ingested := app.Publish(key, map[string]any{"event_type": "lead_signup", "data": map[string]any{"n": 1}})
	app.WaitStatus(key, ingested.Deliveries[0].ID, "delivered", 30*time.Second)
	reqs := rcv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the endpoint received %d requests, want 1", len(reqs))
	}
	for _, secret := range []string{rotated.SecretKey, sub.SecretKey} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(reqs[0].Body, reqs[0].Header); err != nil {
			t.Errorf("not signed with a secret the API showed (during the rotation both sign): %v", err)
		}
	}

	dump, err := exec.Command("pg_dump", "--data-only", app.DSN).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(dump, []byte("sealed:v1:")) {
		t.Fatalf("the dump holds no sealed secret: is this the right database?")
	}
	if i := bytes.Index(dump, []byte("whsec_")); i >= 0 {
		t.Errorf("the dump holds a usable secret: %q", dump[max(0, i-80):min(len(dump), i+60)])
	}

	migrate := func(env ...string) string {
		cmd := exec.Command(binary, "migrate")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+app.DSN)
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("hookflow migrate %v succeeded; want it to stop", env)
		}
		return string(out)
	}
	if out := migrate(); !strings.Contains(out, "the database holds encrypted signing secrets: set HOOKFLOW_SECRETS_KEY") {
		t.Errorf("without a key: %s", out)
	}
	if out := migrate("HOOKFLOW_SECRETS_KEY=b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDE="); !strings.Contains(out, "encrypted with a key that is not in HOOKFLOW_SECRETS_KEY") {
		t.Errorf("with another key: %s", out)
	}
	if out := migrate("HOOKFLOW_SECRETS_KEY=tooshort"); !strings.Contains(out, "HOOKFLOW_SECRETS_KEY: key 1 is not 32 bytes of base64") || strings.Contains(out, "tooshort") {
		t.Errorf("with a malformed key: %s", out)
	}
}
