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
