package web

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

func TestSplitList(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                {},
		"  ":                              {},
		"*":                               {"*"},
		"promoter.*, lead.created":        {"promoter.*", "lead.created"},
		"a b\tc\nd\r\ne,,f , g":           {"a", "b", "c", "d", "e", "f", "g"},
		"reward_created,lead_signup ,  x": {"reward_created", "lead_signup", "x"},
	} {
		assert.Equal(t, want, splitList(in), "splitList(%q)", in)
	}
}

func TestParseHeaders(t *testing.T) {
	got, err := parseHeaders("Authorization: Bearer abc:def\n\n  X-Team :  payments  \r\nX-Empty:")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"Authorization": "Bearer abc:def", "X-Team": "payments", "X-Empty": ""}, got)

	got, err = parseHeaders(" \n ")
	require.NoError(t, err)
	assert.Empty(t, got)

	for in, message := range map[string]string{
		"X-A: 1\nno colon here": `headers: line 2: write each header as "Name: value"`,
		": value":               `headers: line 1: write each header as "Name: value"`,
		"X-A: 1\nx-a: 2":        `headers: "x-a" is given twice`,
	} {
		_, err := parseHeaders(in)
		require.Error(t, err, in)
		assert.Equal(t, hookflow.EINVALID, hookflow.ErrorCode(err))
		assert.Equal(t, "headers", hookflow.ErrorField(err))
		assert.Equal(t, message, hookflow.ErrorMessage(err))
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	headers := map[string]string{"X-B": "2", "authorization": "Bearer t", "X-A": "1"}
	text := formatHeaders(headers)
	assert.Equal(t, "authorization: Bearer t\nX-A: 1\nX-B: 2", text)
	back, err := parseHeaders(text)
	require.NoError(t, err)
	assert.Equal(t, headers, back)
}

func TestFormUpdateSetsEveryField(t *testing.T) {
	form := formFromValues(url.Values{
		"url": {" https://example.com/hooks "}, "event_types": {"promoter.*, lead.created"},
		"campaign_ids": {"c1 c2"}, "description": {" main endpoint "}, "active": {"on"},
		"timeout": {" 15 "}, "max_retries": {"5"}, "headers": {"X-Team: payments"},
	})
	u, err := form.update()
	require.NoError(t, err)
	sub := hookflow.NewSubscription(u)
	require.NoError(t, sub.Validate())
	assert.Equal(t, "https://example.com/hooks", sub.URL)
	assert.Equal(t, []string{"promoter.*", "lead.created"}, sub.EventTypes)
	assert.Equal(t, []string{"c1", "c2"}, sub.CampaignIDs)
	assert.Equal(t, "main endpoint", sub.Description)
	assert.True(t, sub.Active)
	assert.Equal(t, 15, sub.Timeout)
	assert.Equal(t, 5, sub.MaxRetries)
	assert.Equal(t, map[string]string{"X-Team": "payments"}, sub.Headers)
}

func TestFormUncheckedActiveAndEmptyListsAreGiven(t *testing.T) {
	// A form always sends every field: an unticked box turns a subscription off and an
	// emptied campaign list means all campaigns, on edit as on create.
	form := formFromValues(url.Values{"url": {"https://example.com"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"3"}})
	u, err := form.update()
	require.NoError(t, err)
	sub := hookflow.Subscription{Active: true, CampaignIDs: []string{"old"}, Headers: map[string]string{"X-Old": "1"}}
	u.Apply(&sub)
	assert.False(t, sub.Active)
	assert.Empty(t, sub.CampaignIDs)
	assert.Empty(t, sub.Headers)
}

func TestFormNumbersMustBeWhole(t *testing.T) {
	for field, values := range map[string]url.Values{
		"timeout":     {"timeout": {"ten"}, "max_retries": {"3"}},
		"max_retries": {"timeout": {"30"}, "max_retries": {""}},
		"rate_limit":  {"timeout": {"30"}, "max_retries": {"3"}, "rate_limit": {"2.5"}},
	} {
		_, err := formFromValues(values).update()
		require.Error(t, err)
		assert.Equal(t, field, hookflow.ErrorField(err))
	}
}

func TestFormKeepsWhatWasTyped(t *testing.T) {
	values := url.Values{"url": {"ftp://x"}, "event_types": {"a.*,  b"}, "timeout": {"500"},
		"max_retries": {"3"}, "headers": {"X-A: 1\nX-B: 2"}, "description": {"d"}}
	form := formFromValues(values)
	assert.Equal(t, "ftp://x", form.URL)
	assert.Equal(t, "a.*,  b", form.EventTypes)
	assert.Equal(t, "500", form.Timeout)
	assert.Equal(t, "X-A: 1\nX-B: 2", form.Headers)
	assert.False(t, form.Active)
}

func TestFormSetError(t *testing.T) {
	var form subscriptionForm
	form.setError(hookflow.Invalid("timeout", "must be between %d and %d seconds", 1, 120))
	assert.Equal(t, map[string]string{"timeout": "must be between 1 and 120 seconds"}, form.Errors)
	assert.Empty(t, form.Problem)

	form = subscriptionForm{}
	form.setError(hookflow.Invalid("limit", "no such field on the form"))
	assert.Empty(t, form.Errors)
	assert.Equal(t, "limit: no such field on the form", form.Problem)
}

func TestNewFormHasTheDefaults(t *testing.T) {
	form := newSubscriptionForm()
	assert.Equal(t, "*", form.EventTypes)
	assert.Equal(t, "30", form.Timeout)
	assert.Equal(t, "3", form.MaxRetries)
	assert.True(t, form.Active)
	assert.Empty(t, form.URL)
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "/",
		"/subscriptions/x?a=1":    "/subscriptions/x?a=1",
		"https://evil.example/":   "/",
		"//evil.example/":         "/",
		"/\\evil.example":         "/",
		"javascript:alert(1)":     "/",
		"/ok\r\nSet-Cookie: x=1":  "/",
		"/\t/evil.example/":       "/",
		"/\t\\evil.example":       "/",
		"/%09/evil.example/":      "/%09/evil.example/",
		"/x\\y":                   "/",
		"/\x7f/evil.example":      "/",
		"/deliveries/abc#attempt": "/deliveries/abc#attempt",
	} {
		assert.Equal(t, want, safeNext(in), "safeNext(%q)", in)
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	h := &handler{now: func() time.Time { return now }}
	var never *time.Time
	for in, want := range map[any]string{
		now.Add(-2 * time.Second):  "just now",
		now.Add(-42 * time.Second): "42 s ago",
		now.Add(-5 * time.Minute):  "5 min ago",
		now.Add(-3 * time.Hour):    "3 h ago",
		now.Add(-72 * time.Hour):   "3 days ago",
		now.Add(20 * time.Minute):  "in 20 min",
		now.Add(time.Second):       "now",
		time.Time{}:                "—",
	} {
		assert.Equal(t, want, h.ago(in), "ago(%v)", in)
	}
	assert.Equal(t, "—", h.ago(never))
	later := now.Add(time.Hour)
	assert.Equal(t, "in 1 h", h.ago(&later))
}

func TestNoticesComeOnlyFromTheirCodes(t *testing.T) {
	for code, message := range notices {
		assert.NotEmpty(t, message, code)
	}
	assert.Empty(t, notices["<script>alert(1)</script>"])
}

func TestFormCarriesOrdering(t *testing.T) {
	f := formFromValues(url.Values{"url": {"https://example.com/h"}, "event_types": {"*"}, "timeout": {"30"},
		"max_retries": {"3"}, "ordering": {"fifo"}})
	u, err := f.update()
	if err != nil {
		t.Fatal(err)
	}
	if u.Ordering == nil || *u.Ordering != hookflow.OrderingFIFO {
		t.Fatalf("ordering %v, want fifo", u.Ordering)
	}
	s := hookflow.NewSubscription(u)
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if formFromSubscription(s).Ordering != "fifo" {
		t.Error("the form of a fifo subscription does not show fifo")
	}
	f.Ordering = "lifo"
	u, _ = f.update()
	s = hookflow.NewSubscription(u)
	err = s.Validate()
	f.setError(err)
	if f.Errors["ordering"] == "" {
		t.Errorf("an unknown ordering is not shown beside its field: %v", err)
	}
}
