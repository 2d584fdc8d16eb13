package hookflow_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

func TestValidEventTypePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		want    bool
	}{
		{"*", true},
		{"promoter", true},
		{"promoter.created", true},
		{"promoter.*", true},
		{"a.b.*", true},
		{"A-b_9.c", true},
		{strings.Repeat("e", hookflow.MaxEventTypeLength), true},
		{strings.Repeat("e", hookflow.MaxEventTypeLength) + ".*", true},
		{"", false},
		{".*", false},
		{"**", false},
		{"pro*", false},
		{"*.x", false},
		{"a.*.b", false},
		{"a.*.*", false},
		{"a..b", false},
		{".a", false},
		{"a.", false},
		{"a b", false},
		{"a/b", false},
		{"prömoter", false},
		{strings.Repeat("e", hookflow.MaxEventTypeLength+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			assert.Equal(t, tc.want, hookflow.ValidEventTypePattern(tc.pattern))
		})
	}
}

func TestValidEventTypeRejectsPatterns(t *testing.T) {
	t.Parallel()
	// An event is a concrete thing that happened; only subscriptions hold patterns.
	for _, p := range []string{"*", "promoter.*", ""} {
		assert.False(t, hookflow.ValidEventType(p), p)
	}
	assert.True(t, hookflow.ValidEventType("promoter.created"))
}

func TestMatchEventType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, eventType string
		want               bool
	}{
		{"*", "promoter.created", true},
		{"*", "a", true},
		{"promoter.created", "promoter.created", true},
		{"promoter.created", "promoter.updated", false},
		{"promoter.created", "Promoter.created", false},
		{"promoter.created", "promoter.created.x", false},
		{"promoter.*", "promoter.created", true},
		{"promoter.*", "promoter.profile.updated", true},
		{"promoter.*", "promoter", false},
		{"promoter.*", "promoter.", false},
		{"promoter.*", "promoters.created", false},
		{"promoter.*", "reward.created", false},
		{"promoter.*", "x.promoter.created", false},
		{"a.b.*", "a.b.c", true},
		{"a.b.*", "a.c", false},
		{"promoter", "promoter", true},
		{"promoter", "promoter.created", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" ~ "+tc.eventType, func(t *testing.T) {
			assert.Equal(t, tc.want, hookflow.MatchEventType(tc.pattern, tc.eventType))
		})
	}
}

func TestSubscriptionMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		sub       hookflow.Subscription
		eventType string
		campaign  string
		want      bool
	}{
		{"wildcard, no filter", hookflow.Subscription{Active: true, EventTypes: []string{"*"}}, "a.b", "", true},
		{"inactive never matches", hookflow.Subscription{Active: false, EventTypes: []string{"*"}}, "a.b", "", false},
		{"no event types match nothing", hookflow.Subscription{Active: true}, "a.b", "", false},
		{"second pattern matches", hookflow.Subscription{Active: true, EventTypes: []string{"x.y", "a.*"}}, "a.b", "", true},
		{"no pattern matches", hookflow.Subscription{Active: true, EventTypes: []string{"x.y", "a.c"}}, "a.b", "", false},
		{"empty campaign filter admits any campaign", hookflow.Subscription{Active: true, EventTypes: []string{"*"}, CampaignIDs: []string{}}, "a.b", "c9", true},
		{"campaign in filter", hookflow.Subscription{Active: true, EventTypes: []string{"*"}, CampaignIDs: []string{"c1", "c2"}}, "a.b", "c2", true},
		{"campaign not in filter", hookflow.Subscription{Active: true, EventTypes: []string{"*"}, CampaignIDs: []string{"c1"}}, "a.b", "c2", false},
		// An event without a campaign cannot pass a campaign filter.
		{"event without campaign, filter set", hookflow.Subscription{Active: true, EventTypes: []string{"*"}, CampaignIDs: []string{"c1"}}, "a.b", "", false},
		{"campaign matches, type does not", hookflow.Subscription{Active: true, EventTypes: []string{"x.*"}, CampaignIDs: []string{"c1"}}, "a.b", "c1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.sub.Matches(tc.eventType, tc.campaign))
		})
	}
}

func TestPolicyRetryWait(t *testing.T) {
	t.Parallel()
	const unit = 20 * time.Minute
	schedule := []time.Duration{15 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	type step struct {
		n    int
		wait time.Duration
		ok   bool
	}
	tests := []struct {
		name   string
		policy hookflow.Policy
		steps  []step
	}{
		{"linear, 3 retries: 20, 40, 60 minutes then stop", hookflow.LinearPolicy(3, unit), []step{
			{0, 0, false}, {-1, 0, false}, {1, 20 * time.Minute, true}, {2, 40 * time.Minute, true}, {3, 60 * time.Minute, true}, {4, 0, false}, {100, 0, false},
		}},
		{"linear, max_retries 0: never retries", hookflow.LinearPolicy(0, unit), []step{{1, 0, false}, {2, 0, false}}},
		{"linear, max_retries 10", hookflow.LinearPolicy(10, unit), []step{{10, 200 * time.Minute, true}, {11, 0, false}}},
		{"linear with a test unit", hookflow.LinearPolicy(2, 10*time.Millisecond), []step{{1, 10 * time.Millisecond, true}, {2, 20 * time.Millisecond, true}, {3, 0, false}}},
		{"none", hookflow.Policy{Kind: hookflow.PolicyNone, MaxRetries: 5, Unit: unit}, []step{{1, 0, false}}},
		{"unknown kind", hookflow.Policy{Kind: "exponential", MaxRetries: 5, Unit: unit}, []step{{1, 0, false}}},
		{"fulfilment schedule", hookflow.SchedulePolicy(schedule), []step{
			{0, 0, false}, {1, 15 * time.Minute, true}, {2, time.Hour, true}, {3, 2 * time.Hour, true}, {4, 4 * time.Hour, true},
			{5, 4 * time.Hour, true}, {6, 6 * time.Hour, true}, {7, 6 * time.Hour, true}, {8, 0, false},
		}},
		{"empty schedule", hookflow.SchedulePolicy(nil), []step{{1, 0, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.steps {
				wait, ok := tc.policy.RetryWait(s.n)
				assert.Equal(t, s.ok, ok, "retry %d allowed", s.n)
				assert.Equal(t, s.wait, wait, "wait before retry %d", s.n)
			}
		})
	}
	assert.Equal(t, 7, hookflow.SchedulePolicy(schedule).MaxRetries, "7 retries spread through the day")
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"empty", "", 5, ""},
		{"shorter", "abc", 5, "abc"},
		{"exact", "abc", 3, "abc"},
		{"longer", "abcd", 3, "abc"},
		{"zero", "abc", 0, ""},
		{"two-byte characters", "héllo", 2, "hé"},
		{"bytes fit but characters counted", "héllo", 5, "héllo"},
		{"three-byte characters", "日本語テキスト", 3, "日本語"},
		{"four-byte characters", "😀😃😄", 2, "😀😃"},
		{"mixed", "a日b😀c", 4, "a日b😀"},
		// An invalid byte counts as one character and is never split further.
		{"invalid UTF-8", "a\xffb", 2, "a\xff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, hookflow.Truncate(tc.in, tc.n))
		})
	}
}

func TestEventInputValidate(t *testing.T) {
	t.Parallel()
	valid := func() hookflow.EventInput {
		return hookflow.EventInput{EventType: "promoter.updated", Action: "updated", EntityType: "promoter", EntityID: hookflow.EntityID{Value: "p1"},
			CampaignID: "c1", Data: json.RawMessage(`{"a":1}`), Changes: json.RawMessage(`{"a":[0,1]}`)}
	}
	tests := []struct {
		name   string
		change func(*hookflow.EventInput)
		field  string
	}{
		{"valid", func(*hookflow.EventInput) {}, ""},
		{"every action", func(in *hookflow.EventInput) { in.Action = "deleted" }, ""},
		{"no action", func(in *hookflow.EventInput) { in.Action = "" }, ""},
		{"no data", func(in *hookflow.EventInput) { in.Data = nil }, ""},
		{"data null", func(in *hookflow.EventInput) { in.Data = json.RawMessage(`null`) }, ""},
		{"no changes", func(in *hookflow.EventInput) { in.Changes = nil }, ""},
		{"changes with null values", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`{"a":[null,1]}`) }, ""},
		{"entity fields at 256", func(in *hookflow.EventInput) { in.EntityID = hookflow.EntityID{Value: strings.Repeat("i", 256)} }, ""},
		{"event_type missing", func(in *hookflow.EventInput) { in.EventType = "" }, "event_type"},
		{"event_type pattern", func(in *hookflow.EventInput) { in.EventType = "promoter.*" }, "event_type"},
		{"event_type bad character", func(in *hookflow.EventInput) { in.EventType = "promoter created" }, "event_type"},
		{"event_type too long", func(in *hookflow.EventInput) { in.EventType = strings.Repeat("e", 129) }, "event_type"},
		{"action unknown", func(in *hookflow.EventInput) { in.Action = "archived" }, "action"},
		{"entity_type too long", func(in *hookflow.EventInput) { in.EntityType = strings.Repeat("t", 257) }, "entity_type"},
		{"entity_id control character", func(in *hookflow.EventInput) { in.EntityID = hookflow.EntityID{Value: "a\nb"} }, "entity_id"},
		{"campaign_id control character", func(in *hookflow.EventInput) { in.CampaignID = "c\x00" }, "campaign_id"},
		{"data array", func(in *hookflow.EventInput) { in.Data = json.RawMessage(`[]`) }, "data"},
		{"data string", func(in *hookflow.EventInput) { in.Data = json.RawMessage(`"x"`) }, "data"},
		{"changes array", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`[["a",1]]`) }, "changes"},
		{"changes value not a pair", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`{"a":1}`) }, "changes"},
		{"changes value of one", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`{"a":[1]}`) }, "changes"},
		{"changes value of three", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`{"a":[1,2,3]}`) }, "changes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.change(&in)
			err := in.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, hookflow.EINVALID, hookflow.ErrorCode(err))
			assert.Equal(t, tc.field, hookflow.ErrorField(err))
			assert.True(t, strings.HasPrefix(hookflow.ErrorMessage(err), tc.field+":"), hookflow.ErrorMessage(err))
		})
	}

	t.Run("absent data becomes an empty object, absent changes stay absent", func(t *testing.T) {
		in := hookflow.EventInput{EventType: "a.b", Data: json.RawMessage(`null`), Changes: json.RawMessage(`null`)}
		require.NoError(t, in.Validate())
		assert.JSONEq(t, `{}`, string(in.Data))
		assert.Nil(t, in.Changes)
	})
}

func TestRenderPayload(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.FixedZone("CEST", 2*3600))
	e := hookflow.Event{ID: "0b4b6b1c-2f0e-4b53-9a8e-3f3a3a0c9d10", AccountID: "secret-account", EventType: "promoter.updated",
		Action: "updated", EntityType: "promoter", EntityID: hookflow.EntityID{Value: "p1"}, CampaignID: "c1",
		Data: json.RawMessage(`{"email":"a@example.com"}`), Changes: json.RawMessage(`{"email":["b@example.com","a@example.com"]}`), CreatedAt: at}

	raw, err := hookflow.RenderPayload(e)
	require.NoError(t, err)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &got))
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	assert.ElementsMatch(t, []string{"event_id", "event_type", "action", "entity_type", "entity_id", "changes", "data", "timestamp"}, keys,
		"exactly the documented fields; nothing internal such as the account")
	assert.JSONEq(t, `"0b4b6b1c-2f0e-4b53-9a8e-3f3a3a0c9d10"`, string(got["event_id"]))
	assert.JSONEq(t, `"promoter.updated"`, string(got["event_type"]))
	assert.JSONEq(t, `"updated"`, string(got["action"]))
	assert.JSONEq(t, `"promoter"`, string(got["entity_type"]))
	assert.JSONEq(t, `"p1"`, string(got["entity_id"]))
	assert.JSONEq(t, `{"email":["b@example.com","a@example.com"]}`, string(got["changes"]))
	assert.JSONEq(t, `{"email":"a@example.com"}`, string(got["data"]))

	var ts string
	require.NoError(t, json.Unmarshal(got["timestamp"], &ts))
	assert.Equal(t, "2030-05-06T05:08:09.123456Z", ts, "ISO 8601 in UTC")
	parsed, err := time.Parse(time.RFC3339, ts)
	require.NoError(t, err)
	assert.True(t, parsed.Equal(at))

	t.Run("absent data and changes render as empty objects", func(t *testing.T) {
		raw, err := hookflow.RenderPayload(hookflow.Event{ID: "x", EventType: "a.b", CreatedAt: at})
		require.NoError(t, err)
		var got map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &got))
		assert.JSONEq(t, `{}`, string(got["data"]))
		assert.JSONEq(t, `{}`, string(got["changes"]))
	})

	t.Run("rendering is deterministic", func(t *testing.T) {
		again, err := hookflow.RenderPayload(e)
		require.NoError(t, err)
		assert.Equal(t, raw, again, "every attempt must send the same bytes")
	})
}

func TestSubscriptionValidate(t *testing.T) {
	t.Parallel()
	base := func() hookflow.Subscription {
		return hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: valuePtr("https://hooks.example.com/in")})
	}
	tests := []struct {
		name   string
		change func(*hookflow.Subscription)
		field  string
	}{
		{name: "defaults", change: func(*hookflow.Subscription) {}},
		{name: "ipv6 host", change: func(s *hookflow.Subscription) { s.URL = "http://[::1]:8080/x" }},
		{name: "port 65535", change: func(s *hookflow.Subscription) { s.URL = "http://example.com:65535/" }},
		{name: "port 0", change: func(s *hookflow.Subscription) { s.URL = "http://example.com:0/" }, field: "url"},
		{name: "port with letters", change: func(s *hookflow.Subscription) { s.URL = "http://example.com:8o/" }, field: "url"},
		{name: "port 65536", change: func(s *hookflow.Subscription) { s.URL = "http://example.com:65536/" }, field: "url"},
		{name: "space in url", change: func(s *hookflow.Subscription) { s.URL = "http://exa mple.com/" }, field: "url"},
		{name: "header value NUL", change: func(s *hookflow.Subscription) { s.Headers = map[string]string{"X-A": "a\x00"} }, field: "headers"},
		{name: "reserved header in lower case", change: func(s *hookflow.Subscription) { s.Headers = map[string]string{"content-length": "1"} }, field: "headers"},
		{name: "description of 1000 characters", change: func(s *hookflow.Subscription) { s.Description = strings.Repeat("d", 1000) }},
		{name: "description of 1000 multi-byte characters", change: func(s *hookflow.Subscription) { s.Description = strings.Repeat("é", 1000) }},
		{name: "campaign id of 128", change: func(s *hookflow.Subscription) { s.CampaignIDs = []string{strings.Repeat("c", 128)} }},
		{name: "campaign id with control character", change: func(s *hookflow.Subscription) { s.CampaignIDs = []string{"c\t1"} }, field: "campaign_ids"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(&s)
			err := s.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.field, hookflow.ErrorField(err))
		})
	}
}

func TestSubscriptionSecrets(t *testing.T) {
	t.Parallel()
	expires := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	s := hookflow.Subscription{SecretKey: "new", RetiredSecrets: []hookflow.RetiredSecret{{Key: "old", ExpiresAt: expires}}}
	assert.Equal(t, []string{"new", "old"}, s.Secrets(expires.Add(-time.Second)))
	assert.Equal(t, []string{"new"}, s.Secrets(expires))
	assert.Equal(t, []string{"new"}, (&hookflow.Subscription{SecretKey: "new", RetiredSecrets: []hookflow.RetiredSecret{{Key: "old"}}}).Secrets(expires),
		"a retired key without an expiry never signs")
}

func TestSubscriptionRotateKeepsEveryReplacedKeyForItsGracePeriod(t *testing.T) {
	t.Parallel()
	const grace = 24 * time.Hour
	start := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	s := hookflow.Subscription{SecretKey: "k0"}
	s.Rotate("k1", start, grace)
	s.Rotate("k2", start.Add(time.Hour), grace)
	require.NotNil(t, s.PreviousSecretExpiresAt)
	assert.Equal(t, start.Add(time.Hour+grace), *s.PreviousSecretExpiresAt)
	assert.Equal(t, []string{"k2", "k1", "k0"}, s.Secrets(start.Add(2*time.Hour)), "k0 was replaced first and still has its day")
	assert.Equal(t, []string{"k2", "k1"}, s.Secrets(start.Add(grace)), "k0's day is over")
	assert.Equal(t, []string{"k2"}, s.Secrets(start.Add(time.Hour+grace)))

	// Rotating again and again within a day keeps a bounded number of keys signing.
	for i := range 10 {
		s.Rotate(fmt.Sprintf("r%d", i), start.Add(3*time.Hour), grace)
	}
	keys := s.Secrets(start.Add(3 * time.Hour))
	assert.Len(t, keys, 1+hookflow.MaxRetiredSecrets)
	assert.Equal(t, []string{"r9", "r8"}, keys[:2], "the newest keys sign first")
	// Expired keys are dropped at the next rotation.
	s.Rotate("late", start.Add(10*grace), grace)
	assert.Len(t, s.RetiredSecrets, 1)
}

func TestSubscriptionUpdateApply(t *testing.T) {
	t.Parallel()
	s := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: valuePtr("  http://a.example/x  ")})
	assert.Equal(t, "http://a.example/x", s.URL, "surrounding spaces are trimmed")
	s.Active, s.DisabledReason = false, "endpoint kept failing"

	hookflow.SubscriptionUpdate{Description: valuePtr("d")}.Apply(&s)
	assert.False(t, s.Active)
	assert.Equal(t, "endpoint kept failing", s.DisabledReason)

	// Re-enabling clears the reason it was disabled for.
	hookflow.SubscriptionUpdate{Active: valuePtr(true)}.Apply(&s)
	assert.True(t, s.Active)
	assert.Empty(t, s.DisabledReason)

	var empty []string
	var noCampaigns []hookflow.CampaignRef
	hookflow.SubscriptionUpdate{EventTypes: &empty, CampaignIDs: &noCampaigns, Headers: new(map[string]string)}.Apply(&s)
	assert.NotNil(t, s.EventTypes)
	assert.NotNil(t, s.CampaignIDs)
	assert.NotNil(t, s.Headers)
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	err := hookflow.Invalid("timeout", "must be between %d and %d", 1, 120)
	assert.Equal(t, hookflow.EINVALID, hookflow.ErrorCode(err))
	assert.Equal(t, "timeout", hookflow.ErrorField(err))
	assert.Equal(t, "timeout: must be between 1 and 120", hookflow.ErrorMessage(err))

	// Anything that is not an application error is internal and says nothing specific.
	plain := &json.SyntaxError{}
	assert.Equal(t, hookflow.EINTERNAL, hookflow.ErrorCode(plain))
	assert.Equal(t, "internal error", hookflow.ErrorMessage(plain))
	assert.Equal(t, "", hookflow.ErrorCode(nil))
}

func valuePtr[T any](v T) *T { return &v }
