package hookflow_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow"
)

func FuzzMatchEventType(f *testing.F) {
	for _, seed := range [][2]string{
		{"*", "promoter.created"},
		{"promoter.*", "promoter"},
		{"promoter.*", "promoter.created"},
		{"promoter.*", "promoters.created"},
		{"promoter.created", "promoter.created"},
		{"a.*", "a."},
		{".*", "x"},
		{"", ""},
		{"a.b.*", "a.b.c.d"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, eventType string) {
		got := hookflow.MatchEventType(pattern, eventType)
		if !hookflow.ValidEventType(eventType) {
			return
		}
		if !hookflow.MatchEventType("*", eventType) {
			t.Fatalf("%q does not match %q", "*", eventType)
		}
		// A prefix pattern covers what lies below the prefix, never the prefix itself.
		if hookflow.MatchEventType(eventType+".*", eventType) {
			t.Fatalf("%q matches %q itself", eventType+".*", eventType)
		}
		if !hookflow.MatchEventType(eventType, eventType) {
			t.Fatalf("%q does not match itself", eventType)
		}
		// An exact pattern matches only the same type.
		if hookflow.ValidEventType(pattern) && got != (pattern == eventType) {
			t.Fatalf("exact pattern %q vs %q: got %v", pattern, eventType, got)
		}
		// A prefix pattern matches exactly the types below it.
		if prefix, ok := strings.CutSuffix(pattern, ".*"); ok && hookflow.ValidEventType(prefix) {
			if want := strings.HasPrefix(eventType, prefix+"."); got != want {
				t.Fatalf("prefix pattern %q vs %q: got %v, want %v", pattern, eventType, got, want)
			}
		}
	})
}

func FuzzSubscriptionValidate(f *testing.F) {
	f.Add("https://hooks.example.com/in", "promoter.*", "X-Team", "core", 30, 3)
	f.Add("http://127.0.0.1:8080/x?y=1", "*", "Authorization", "Bearer abc", 1, 0)
	f.Add("ftp://example.com", "a..b", "Bad Header", "v", 0, -1)
	f.Add("http://user:pass@example.com/#f", "pro*", "Content-Type", "a\r\nb", 121, 11)
	f.Add("javascript:alert(1)", "*.x", "webhook-signature", "x", 120, 10)
	f.Add("http://[::1]:0/", "", "", "", 60, 5)
	f.Add("  http://example.com  ", "a.*", "x-a", "\x00", 15, 2)
	f.Fuzz(func(t *testing.T, rawURL, eventType, headerName, headerValue string, timeout, maxRetries int) {
		sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{
			URL:        &rawURL,
			EventTypes: &[]string{eventType},
			Headers:    &map[string]string{headerName: headerValue},
			Timeout:    &timeout,
			MaxRetries: &maxRetries,
		})
		if err := sub.Validate(); err != nil {
			if hookflow.ErrorCode(err) != hookflow.EINVALID || hookflow.ErrorField(err) == "" {
				t.Fatalf("a rejection must be EINVALID naming a field: %v", err)
			}
			if !strings.HasPrefix(hookflow.ErrorMessage(err), hookflow.ErrorField(err)+":") {
				t.Fatalf("message %q does not start with its field", hookflow.ErrorMessage(err))
			}
			return
		}
		if sub.Timeout < 1 || sub.Timeout > 120 {
			t.Fatalf("accepted timeout %d", sub.Timeout)
		}
		if sub.MaxRetries < 0 || sub.MaxRetries > 10 {
			t.Fatalf("accepted max_retries %d", sub.MaxRetries)
		}
		u, err := url.Parse(sub.URL)
		if err != nil {
			t.Fatalf("accepted url %q that does not parse: %v", sub.URL, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("accepted url %q with scheme %q", sub.URL, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("accepted url %q without a host", sub.URL)
		}
		if u.User != nil {
			t.Fatalf("accepted url %q with credentials", sub.URL)
		}
		if !hookflow.ValidEventTypePattern(eventType) {
			t.Fatalf("accepted event type %q", eventType)
		}
		for name, value := range sub.Headers {
			if strings.ContainsAny(value, "\r\n") {
				t.Fatalf("accepted header %q with a line break in its value %q", name, value)
			}
			if name == "" || strings.ContainsAny(name, " :\r\n") {
				t.Fatalf("accepted header name %q", name)
			}
		}
	})
}

func FuzzEventInput(f *testing.F) {
	for _, seed := range []string{
		`{"event_type":"promoter.created"}`,
		`{"event_type":"promoter.updated","action":"updated","entity_type":"promoter","entity_id":"p1","campaign_id":"c1","data":{"a":1},"changes":{"a":[0,1]}}`,
		`{"event_type":"a.b","data":null,"changes":null}`,
		`{"event_type":"a.b","data":[]}`,
		`{"event_type":"a.b","changes":{"a":[1]}}`,
		`{"event_type":"a.b","data":{"k":"\u00e9\ud83d\ude00"}}`,
		`{"event_type":"","action":"archived"}`,
		`{"EVENT_TYPE":"a.b","Data":{}}`,
		`[]`,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in hookflow.EventInput
		if err := json.Unmarshal(body, &in); err != nil {
			return
		}
		if err := in.Validate(); err != nil {
			if hookflow.ErrorCode(err) != hookflow.EINVALID || hookflow.ErrorField(err) == "" {
				t.Fatalf("a rejection must be EINVALID naming a field: %v", err)
			}
			return
		}
		payload, err := hookflow.RenderPayload(hookflow.Event{
			ID: "0b4b6b1c-2f0e-4b53-9a8e-3f3a3a0c9d10", EventType: in.EventType, Action: in.Action,
			EntityType: in.EntityType, EntityID: in.EntityID, CampaignID: string(in.CampaignID),
			Data: in.Data, Changes: in.Changes, CreatedAt: created,
		})
		if err != nil {
			t.Fatalf("valid input %q does not render: %v", body, err)
		}
		if !json.Valid(payload) {
			t.Fatalf("payload is not JSON: %q", payload)
		}
		var got struct {
			EventType string                     `json:"event_type"`
			Action    string                     `json:"action"`
			Data      map[string]json.RawMessage `json:"data"`
			Changes   map[string]json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatalf("payload %q: %v", payload, err)
		}
		if got.EventType != in.EventType || got.Action != in.Action {
			t.Fatalf("payload %q does not carry event_type %q and action %q", payload, in.EventType, in.Action)
		}
		if got.Data == nil || got.Changes == nil {
			t.Fatalf("payload %q: data and changes must be objects", payload)
		}
	})
}
