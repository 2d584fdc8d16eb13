package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/config"
)

func TestDefaultsMatchTheContract(t *testing.T) {
	c, err := config.Load()
	if err != nil {
		t.Fatalf("defaults do not load: %v", err)
	}
	want := []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	if c.DatabaseURL != "postgres://postgres@127.0.0.1:5432/hookflow?sslmode=disable" || c.TemporalAddress != "127.0.0.1:7233" ||
		c.TemporalNamespace != "default" || c.HTTPAddr != "127.0.0.1:8080" || c.RetryUnit != 20*time.Minute ||
		c.FulfilmentCheckInterval != time.Hour || c.AllowPrivateNetworks {
		t.Errorf("defaults: %+v", c)
	}
	if len(c.FulfilmentRetrySchedule) != 7 {
		t.Fatalf("schedule %v", c.FulfilmentRetrySchedule)
	}
	for i := range want {
		if c.FulfilmentRetrySchedule[i] != want[i] {
			t.Errorf("schedule %v, want %v", c.FulfilmentRetrySchedule, want)
		}
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"HOOKFLOW_RETRY_UNIT", "soon"},
		{"HOOKFLOW_FULFILMENT_RETRY_SCHEDULE", "1m,2m"},
		{"HOOKFLOW_FULFILMENT_CHECK_INTERVAL", "-1h"},
		// Temporal's schedules run at most once a second.
		{"HOOKFLOW_FULFILMENT_CHECK_INTERVAL", "500ms"},
		{"HOOKFLOW_FULFILMENT_CHECK_INTERVAL", "1500ms"},
		{"HOOKFLOW_DISPATCH_SWEEP_INTERVAL", "1ns"},
		{"HOOKFLOW_ALLOW_PRIVATE_NETWORKS", "maybe"},
		{"HOOKFLOW_HTTP_ADDR", "8080"},
		{"HOOKFLOW_HTTP_ADDR", "localhost:abc"},
		{"HOOKFLOW_HTTP_ADDR", "127.0.0.1:99999"},
		{"TEMPORAL_ADDRESS", "temporal"},
		{"TEMPORAL_ADDRESS", "temporal:abc"},
		{"TEMPORAL_NAMESPACE", "my ns"},
		{"HOOKFLOW_TEMPORAL_UI_URL", "not-a-url"},
		{"HOOKFLOW_TEMPORAL_UI_URL", "javascript:alert(1)"},
		{"DATABASE_URL", "mysql://x"},
		{"DATABASE_URL", "postgres://"},
		{"HOOKFLOW_ADMIN_KEY", "short"},
		{"HOOKFLOW_ADMIN_KEY", strings.Repeat(" ", 18)},
		{"HOOKFLOW_LOG_LEVEL", "loud"},
		{"HOOKFLOW_INGEST_RATE_PER_SECOND", "-5"},
		{"HOOKFLOW_INGEST_RATE_PER_SECOND", "NaN"},
		{"HOOKFLOW_INGEST_RATE_PER_SECOND", "Inf"},
		{"HOOKFLOW_PUBLIC_URL", "hooks.example.com"},
		{"HOOKFLOW_PUBLIC_URL", "ftp://hooks.example.com"},
		{"HOOKFLOW_PUBLIC_URL", "https://hooks.example.com/dashboard"},
		{"HOOKFLOW_PUBLIC_URL", "https://hooks.example.com?x=1"},
		{"HOOKFLOW_PUBLIC_URL", "https://user@hooks.example.com"},
		{"HOOKFLOW_PORTAL_LINK_TTL", "0s"},
		{"HOOKFLOW_PORTAL_LINK_TTL", "48h"},
		{"HOOKFLOW_PORTAL_SESSION_TTL", "10s"},
		{"HOOKFLOW_PORTAL_SESSION_TTL", "1y"},
		{"HOOKFLOW_PORTAL_FRAME_ANCESTORS", "app.example.com"},
		{"HOOKFLOW_PORTAL_FRAME_ANCESTORS", "https://app.example.com/embed"},
		{"HOOKFLOW_PORTAL_FRAME_ANCESTORS", "https://a.example.com;script-src *"},
		{"HOOKFLOW_PORTAL_FRAME_ANCESTORS", "https://ok.example.com, 'unsafe-inline'"},
		{"HOOKFLOW_PORTAL_FRAME_ANCESTORS", "*"},
	} {
		name, value := tc.name, tc.value
		t.Run(name+"="+value, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := config.Load()
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%q: error %v, want one naming the variable", name, value, err)
			}
		})
	}
}

func TestSmallUnitsForTests(t *testing.T) {
	t.Setenv("HOOKFLOW_RETRY_UNIT", "150ms")
	t.Setenv("HOOKFLOW_FULFILMENT_RETRY_SCHEDULE", "10ms,20ms,30ms,40ms,50ms,60ms,70ms")
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.RetryUnit != 150*time.Millisecond || c.FulfilmentRetrySchedule[6] != 70*time.Millisecond {
		t.Errorf("got %v and %v", c.RetryUnit, c.FulfilmentRetrySchedule)
	}
}

func TestPortalSettings(t *testing.T) {
	c, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.PortalLinkTTL != 10*time.Minute || c.PortalSessionTTL != time.Hour || c.PublicURL != "" || len(c.FrameAncestors()) != 0 {
		t.Errorf("portal defaults: link %s, session %s, public URL %q, ancestors %v", c.PortalLinkTTL, c.PortalSessionTTL, c.PublicURL, c.FrameAncestors())
	}

	t.Setenv("HOOKFLOW_PUBLIC_URL", "https://hooks.example.com/")
	t.Setenv("HOOKFLOW_PORTAL_LINK_TTL", "2s")
	t.Setenv("HOOKFLOW_PORTAL_SESSION_TTL", "8h")
	t.Setenv("HOOKFLOW_PORTAL_FRAME_ANCESTORS", "https://App.Example.com/, https://*.partner.example:8443,http://localhost:3000")
	c, err = config.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com", "https://*.partner.example:8443", "http://localhost:3000"}
	if got := c.FrameAncestors(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("frame ancestors %q, want %q", got, want)
	}
	if c.PortalLinkTTL != 2*time.Second || c.PortalSessionTTL != 8*time.Hour || c.PublicURL != "https://hooks.example.com/" {
		t.Errorf("got link %s, session %s, public URL %q", c.PortalLinkTTL, c.PortalSessionTTL, c.PublicURL)
	}
}
