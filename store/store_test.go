package store_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

var ctx = context.Background()

// requireCode checks that err is an application error with code.
func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, hookflow.ErrorCode(err), "error: %v", err)
}

func newAccount(t *testing.T, db *store.DB, name string) hookflow.NewAccount {
	t.Helper()
	acc, err := db.CreateAccount(ctx, name)
	require.NoError(t, err)
	return acc
}

// newSubscription stores a valid subscription with the defaults changed by u.
func newSubscription(t *testing.T, db *store.DB, accountID string, u hookflow.SubscriptionUpdate) hookflow.Subscription {
	t.Helper()
	if u.URL == nil {
		u.URL = ptr("http://127.0.0.1:9/hook")
	}
	sub := hookflow.NewSubscription(u)
	require.NoError(t, sub.Validate())
	sub.SecretKey = "whsec_" + base64.StdEncoding.EncodeToString([]byte(uuid.NewString()))
	require.NoError(t, db.CreateSubscription(ctx, accountID, &sub))
	return sub
}

func ptr[T any](v T) *T { return &v }

// stepClock returns a clock that moves one millisecond per reading, so rows written one
// after another have distinct, ordered timestamps.
func stepClock(start time.Time) func() time.Time {
	now := start
	return func() time.Time {
		now = now.Add(time.Millisecond)
		return now
	}
}

func TestCreateAccountValidatesName(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	for _, tc := range []struct{ name, input string }{
		{"empty", ""},
		{"blank", " \t "},
		{"over 200", strings.Repeat("n", 201)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.CreateAccount(ctx, tc.input)
			requireCode(t, err, hookflow.EINVALID)
			assert.Equal(t, "name", hookflow.ErrorField(err))
		})
	}
	acc := newAccount(t, db, "  Acme  ")
	assert.Equal(t, "Acme", acc.Name)
	_, err := uuid.Parse(acc.ID)
	assert.NoError(t, err)
	newAccount(t, db, strings.Repeat("n", 200))
}

func TestAuthenticateKey(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	keyID := acc.APIKey[len("hfk_") : strings.Index(acc.APIKey[len("hfk_"):], "_")+len("hfk_")]
	require.Len(t, keyID, 16)
	otherSecret := other.APIKey[len("hfk_0123456789abcdef_"):]

	got, err := db.AuthenticateKey(ctx, acc.APIKey)
	require.NoError(t, err)
	assert.Equal(t, acc.ID, got.ID)
	assert.Equal(t, "acme", got.Name)

	for _, tc := range []struct{ name, key string }{
		{"empty", ""},
		{"no prefix", acc.APIKey[len("hfk_"):]},
		{"other prefix", "sk_" + acc.APIKey[len("hfk_"):]},
		{"prefix only", "hfk_"},
		{"key id only", "hfk_" + keyID},
		{"empty secret", "hfk_" + keyID + "_"},
		{"short key id", "hfk_" + keyID[:15] + "_secret"},
		{"key id not hex", "hfk_zzzzzzzzzzzzzzzz_secret"},
		{"unknown key id", "hfk_0123456789abcdef_" + otherSecret},
		{"wrong secret", "hfk_" + keyID + "_wrong"},
		// Secrets are per key: another account's secret under this key id is wrong.
		{"another key's secret", "hfk_" + keyID + "_" + otherSecret},
		{"secret with one more character", acc.APIKey + "A"},
		{"secret missing a character", acc.APIKey[:len(acc.APIKey)-1]},
		{"upper-case key id", "hfk_" + strings.ToUpper(keyID) + acc.APIKey[len("hfk_")+16:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.key == acc.APIKey {
				t.Fatal("the case must differ from the real key")
			}
			_, err := db.AuthenticateKey(ctx, tc.key)
			requireCode(t, err, hookflow.EUNAUTHORIZED)
		})
	}

	t.Run("revoked key", func(t *testing.T) {
		_, err := db.SQL().Exec(`UPDATE api_keys SET revoked_at = now() WHERE account_id = $1`, other.ID)
		require.NoError(t, err)
		_, err = db.AuthenticateKey(ctx, other.APIKey)
		requireCode(t, err, hookflow.EUNAUTHORIZED)
	})
}

func TestSubscriptionCRUD(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")

	first := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{
		EventTypes: &[]string{"promoter.*"}, CampaignIDs: &[]hookflow.CampaignRef{"c1"}, Description: ptr("first"),
		Headers: &map[string]string{"X-Team": "core"}, Timeout: ptr(5), MaxRetries: ptr(0),
	})
	second := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})

	found, err := db.FindSubscription(ctx, acc.ID, first.ID)
	require.NoError(t, err)
	assert.Equal(t, first.URL, found.URL)
	assert.Equal(t, []string{"promoter.*"}, found.EventTypes)
	assert.Equal(t, []string{"c1"}, found.CampaignIDs)
	assert.Equal(t, "first", found.Description)
	assert.Equal(t, map[string]string{"X-Team": "core"}, found.Headers)
	assert.Equal(t, 5, found.Timeout)
	assert.Equal(t, 0, found.MaxRetries)
	assert.True(t, found.Active)
	assert.Equal(t, first.SecretKey, found.SecretKey)
	assert.Equal(t, acc.ID, found.AccountID)

	// Empty lists and maps come back empty, never null, so the API shows [] and {}.
	found2, err := db.FindSubscription(ctx, acc.ID, second.ID)
	require.NoError(t, err)
	assert.NotNil(t, found2.CampaignIDs)
	assert.NotNil(t, found2.Headers)

	subs, err := db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, subs, 2)
	assert.Equal(t, []string{first.ID, second.ID}, []string{subs[0].ID, subs[1].ID}, "oldest first")
	otherSubs, err := db.ListSubscriptions(ctx, other.ID)
	require.NoError(t, err)
	assert.Empty(t, otherSubs)

	t.Run("update applies the given fields and validates the result", func(t *testing.T) {
		var checked hookflow.Subscription
		updated, err := db.UpdateSubscription(ctx, acc.ID, first.ID, hookflow.SubscriptionUpdate{Description: ptr("changed"), Active: ptr(false)},
			func(s *hookflow.Subscription) error { checked = *s; return nil })
		require.NoError(t, err)
		assert.Equal(t, "changed", checked.Description, "check sees the merged subscription")
		assert.Equal(t, "changed", updated.Description)
		assert.False(t, updated.Active)
		assert.Equal(t, 5, updated.Timeout, "fields not given stay")
		found, err := db.FindSubscription(ctx, acc.ID, first.ID)
		require.NoError(t, err)
		assert.Equal(t, "changed", found.Description)
		assert.False(t, found.Active)
	})

	t.Run("a failing check writes nothing", func(t *testing.T) {
		before, err := db.FindSubscription(ctx, acc.ID, first.ID)
		require.NoError(t, err)
		_, err = db.UpdateSubscription(ctx, acc.ID, first.ID, hookflow.SubscriptionUpdate{Description: ptr("never")},
			func(*hookflow.Subscription) error { return hookflow.Invalid("url", "refused") })
		requireCode(t, err, hookflow.EINVALID)
		after, err := db.FindSubscription(ctx, acc.ID, first.ID)
		require.NoError(t, err)
		assert.Equal(t, before, after)
	})

	t.Run("another account sees nothing", func(t *testing.T) {
		_, err := db.FindSubscription(ctx, other.ID, first.ID)
		requireCode(t, err, hookflow.ENOTFOUND)
		_, err = db.UpdateSubscription(ctx, other.ID, first.ID, hookflow.SubscriptionUpdate{Description: ptr("x")},
			func(*hookflow.Subscription) error { return nil })
		requireCode(t, err, hookflow.ENOTFOUND)
		_, err = db.RotateSecret(ctx, other.ID, first.ID, "whsec_x", time.Hour)
		requireCode(t, err, hookflow.ENOTFOUND)
		requireCode(t, db.DeleteSubscription(ctx, other.ID, first.ID), hookflow.ENOTFOUND)
		_, err = db.CreateTestDelivery(ctx, other.ID, first.ID)
		requireCode(t, err, hookflow.ENOTFOUND)
		found, err := db.FindSubscription(ctx, acc.ID, first.ID)
		require.NoError(t, err)
		assert.Equal(t, "changed", found.Description)
	})

	t.Run("ids that are not UUIDs are not found", func(t *testing.T) {
		for _, id := range []string{"", "x", "1; DROP TABLE subscriptions", strings.Repeat("f", 36)} {
			_, err := db.FindSubscription(ctx, acc.ID, id)
			requireCode(t, err, hookflow.ENOTFOUND)
			requireCode(t, db.DeleteSubscription(ctx, acc.ID, id), hookflow.ENOTFOUND)
			_, err = db.RotateSecret(ctx, acc.ID, id, "whsec_x", time.Hour)
			requireCode(t, err, hookflow.ENOTFOUND)
		}
	})

	t.Run("delete", func(t *testing.T) {
		require.NoError(t, db.DeleteSubscription(ctx, acc.ID, second.ID))
		_, err := db.FindSubscription(ctx, acc.ID, second.ID)
		requireCode(t, err, hookflow.ENOTFOUND)
		requireCode(t, db.DeleteSubscription(ctx, acc.ID, second.ID), hookflow.ENOTFOUND)
		_, err = db.UpdateSubscription(ctx, acc.ID, second.ID, hookflow.SubscriptionUpdate{}, func(*hookflow.Subscription) error { return nil })
		requireCode(t, err, hookflow.ENOTFOUND)
		subs, err := db.ListSubscriptions(ctx, acc.ID)
		require.NoError(t, err)
		require.Len(t, subs, 1)
		assert.Equal(t, first.ID, subs[0].ID)
	})
}

func TestRotateSecretKeepsTheOldKeyForTheGracePeriod(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	rotatedAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return rotatedAt }
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	oldSecret := sub.SecretKey
	assert.Equal(t, []string{oldSecret}, sub.Secrets(rotatedAt), "before a rotation only one key signs")

	const newSecret = "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ="
	rotated, err := db.RotateSecret(ctx, acc.ID, sub.ID, newSecret, hookflow.SecretRotationGrace)
	require.NoError(t, err)
	assert.Equal(t, newSecret, rotated.SecretKey)

	// Read back, so what counts is what was stored.
	stored, err := db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.NotNil(t, stored.PreviousSecretExpiresAt)
	assert.True(t, stored.PreviousSecretExpiresAt.Equal(rotatedAt.Add(24*time.Hour)))

	for _, tc := range []struct {
		name  string
		at    time.Time
		want  []string
		extra string
	}{
		{name: "at the rotation", at: rotatedAt, want: []string{newSecret, oldSecret}},
		{name: "an hour later", at: rotatedAt.Add(time.Hour), want: []string{newSecret, oldSecret}},
		{name: "just before expiry", at: rotatedAt.Add(24*time.Hour - time.Microsecond), want: []string{newSecret, oldSecret}},
		{name: "at expiry", at: rotatedAt.Add(24 * time.Hour), want: []string{newSecret}},
		{name: "a day later", at: rotatedAt.Add(48 * time.Hour), want: []string{newSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, stored.Secrets(tc.at), "the new key signs first")
		})
	}

	t.Run("a second rotation keeps both replaced keys for their own day", func(t *testing.T) {
		const third = "whsec_dGhpcmQtc2VjcmV0LXRoaXJkLXNlY3JldC10aGlyZA=="
		secondAt := rotatedAt.Add(time.Hour)
		db.Now = func() time.Time { return secondAt }
		_, err := db.RotateSecret(ctx, acc.ID, sub.ID, third, hookflow.SecretRotationGrace)
		require.NoError(t, err)
		stored, err := db.FindSubscription(ctx, acc.ID, sub.ID)
		require.NoError(t, err)
		assert.Equal(t, []string{third, newSecret, oldSecret}, stored.Secrets(secondAt))
		assert.Equal(t, []string{third, newSecret}, stored.Secrets(rotatedAt.Add(24*time.Hour)), "the first key's day is over")
		require.NotNil(t, stored.PreviousSecretExpiresAt)
		assert.True(t, stored.PreviousSecretExpiresAt.Equal(secondAt.Add(24*time.Hour)))
		// What an attempt signs with comes from the same stored keys.
		ids := ingestN(t, db, acc.ID, 1, "promoter.created")
		req, err := db.SendRequest(ctx, ids[0])
		require.NoError(t, err)
		assert.Equal(t, []string{third, newSecret, oldSecret}, req.Secrets)
	})
}

func TestIngestEventFansOutToMatchingSubscriptions(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")

	named := map[string]string{} // subscription id → name
	add := func(name, accountID string, u hookflow.SubscriptionUpdate) hookflow.Subscription {
		sub := newSubscription(t, db, accountID, u)
		named[sub.ID] = name
		return sub
	}
	add("all", acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"*"}})
	add("promoter prefix", acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"promoter.*"}})
	add("promoter.created only", acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"promoter.created"}})
	add("reward or lead", acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"reward.created", "lead.*"}})
	add("campaign c1", acc.ID, hookflow.SubscriptionUpdate{CampaignIDs: &[]hookflow.CampaignRef{"c1"}})
	add("campaign c1 or c2 promoters", acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"promoter.*"}, CampaignIDs: &[]hookflow.CampaignRef{"c1", "c2"}})
	add("inactive", acc.ID, hookflow.SubscriptionUpdate{Active: ptr(false)})
	deleted := add("deleted", acc.ID, hookflow.SubscriptionUpdate{})
	require.NoError(t, db.DeleteSubscription(ctx, acc.ID, deleted.ID))
	disabled := add("disabled later", acc.ID, hookflow.SubscriptionUpdate{})
	_, err := db.UpdateSubscription(ctx, acc.ID, disabled.ID, hookflow.SubscriptionUpdate{Active: ptr(false)}, func(*hookflow.Subscription) error { return nil })
	require.NoError(t, err)
	add("other account", other.ID, hookflow.SubscriptionUpdate{})

	tests := []struct {
		eventType, campaign string
		want                []string
	}{
		{"promoter.created", "", []string{"all", "promoter prefix", "promoter.created only"}},
		{"promoter.created", "c1", []string{"all", "promoter prefix", "promoter.created only", "campaign c1", "campaign c1 or c2 promoters"}},
		{"promoter.updated", "c2", []string{"all", "promoter prefix", "campaign c1 or c2 promoters"}},
		{"promoter.created", "c3", []string{"all", "promoter prefix", "promoter.created only"}},
		{"promoter.profile.updated", "", []string{"all", "promoter prefix"}},
		// The prefix pattern needs a dot after the prefix: "promoter" and "promoters.x" are not below "promoter.".
		{"promoter", "", []string{"all"}},
		{"promoters.created", "", []string{"all"}},
		{"reward.created", "", []string{"all", "reward or lead"}},
		{"lead.signup", "c1", []string{"all", "reward or lead", "campaign c1"}},
		{"Promoter.created", "", []string{"all"}},
	}
	for _, tc := range tests {
		t.Run(tc.eventType+" campaign "+tc.campaign, func(t *testing.T) {
			out, err := db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: tc.eventType, CampaignID: hookflow.CampaignRef(tc.campaign), Data: json.RawMessage(`{}`)}, "")
			require.NoError(t, err)
			_, err = uuid.Parse(out.EventID)
			require.NoError(t, err)
			var got []string
			for _, d := range out.Deliveries {
				got = append(got, named[d.SubscriptionID])
				assert.Equal(t, hookflow.StatusPending, d.Status)
				stored, err := db.FindDelivery(ctx, acc.ID, d.Key)
				require.NoError(t, err)
				assert.Equal(t, out.EventID, stored.EventID)
				assert.Equal(t, tc.eventType, stored.EventType)
			}
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			assert.Equal(t, want, got)

			var n int
			require.NoError(t, db.SQL().Get(&n, `SELECT count(*) FROM deliveries WHERE event_id = $1`, out.EventID))
			assert.Equal(t, len(tc.want), n, "one delivery row per matching subscription")
		})
	}
}

func TestIngestEventIdempotency(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{})
	in := hookflow.EventInput{EventType: "promoter.created", EntityID: hookflow.EntityID{Value: "p1"}, Data: json.RawMessage(`{"n":1}`)}

	first, err := db.IngestEvent(ctx, acc.ID, in, "key-1")
	require.NoError(t, err)
	require.Len(t, first.Deliveries, 1)
	assert.False(t, first.Replayed)
	again, err := db.IngestEvent(ctx, acc.ID, in, "key-1")
	require.NoError(t, err)
	assert.Equal(t, replayOf(first), again, "the same key and body give the first answer")

	// Insignificant whitespace in data is the same request.
	spaced := in
	spaced.Data = json.RawMessage(`{ "n" : 1 }`)
	again, err = db.IngestEvent(ctx, acc.ID, spaced, "key-1")
	require.NoError(t, err)
	assert.Equal(t, replayOf(first), again)

	for _, tc := range []struct {
		name   string
		change func(*hookflow.EventInput)
	}{
		{"other data", func(in *hookflow.EventInput) { in.Data = json.RawMessage(`{"n":2}`) }},
		{"other event type", func(in *hookflow.EventInput) { in.EventType = "promoter.updated" }},
		{"other entity", func(in *hookflow.EventInput) { in.EntityID = hookflow.EntityID{Value: "p2"} }},
		{"changes added", func(in *hookflow.EventInput) { in.Changes = json.RawMessage(`{"a":[1,2]}`) }},
	} {
		t.Run("same key, "+tc.name, func(t *testing.T) {
			changed := in
			tc.change(&changed)
			_, err := db.IngestEvent(ctx, acc.ID, changed, "key-1")
			requireCode(t, err, hookflow.ECONFLICT)
		})
	}

	var events, deliveries int
	require.NoError(t, db.SQL().Get(&events, `SELECT count(*) FROM events WHERE account_id = $1`, acc.ID))
	require.NoError(t, db.SQL().Get(&deliveries, `SELECT count(*) FROM deliveries WHERE account_id = $1`, acc.ID))
	assert.Equal(t, 1, events)
	assert.Equal(t, 1, deliveries)

	t.Run("keys are per account", func(t *testing.T) {
		theirs, err := db.IngestEvent(ctx, other.ID, in, "key-1")
		require.NoError(t, err)
		assert.NotEqual(t, first.EventID, theirs.EventID)
		require.Len(t, theirs.Deliveries, 1)
	})

	t.Run("without a key every post is a new event", func(t *testing.T) {
		a, err := db.IngestEvent(ctx, acc.ID, in, "")
		require.NoError(t, err)
		b, err := db.IngestEvent(ctx, acc.ID, in, "")
		require.NoError(t, err)
		assert.NotEqual(t, a.EventID, b.EventID)
	})
}

func TestIngestEventIdempotentAnswerIsIdenticalWithManySubscriptions(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	for range 6 {
		newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	}
	in := hookflow.EventInput{EventType: "promoter.created", Data: json.RawMessage(`{}`)}
	first, err := db.IngestEvent(ctx, acc.ID, in, "k")
	require.NoError(t, err)
	again, err := db.IngestEvent(ctx, acc.ID, in, "k")
	require.NoError(t, err)
	assert.Equal(t, replayOf(first), again)
}

// replayOf is what a repeated Idempotency-Key answers: the first answer, marked replayed.
func replayOf(first hookflow.Ingested) hookflow.Ingested {
	first.Replayed = true
	return first
}

// ingestN posts n events and returns their delivery ids, oldest first.
func ingestN(t *testing.T, db *store.DB, accountID string, n int, eventType string) []string {
	t.Helper()
	var ids []string
	for range n {
		out, err := db.IngestEvent(ctx, accountID, hookflow.EventInput{EventType: eventType, Data: json.RawMessage(`{}`)}, "")
		require.NoError(t, err)
		for _, d := range out.Deliveries {
			ids = append(ids, d.Key)
		}
	}
	return ids
}

// listAll follows the cursor to the end and returns every id in listing order.
func listAll(t *testing.T, db *store.DB, accountID string, f hookflow.DeliveryFilter) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		require.Less(t, page, 100, "the listing must end")
		p, err := db.ListDeliveries(ctx, accountID, f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Data), f.Limit)
		for _, d := range p.Data {
			ids = append(ids, d.Key)
		}
		if p.NextCursor == nil {
			return ids
		}
		require.Len(t, p.Data, f.Limit, "only a full page has a next cursor")
		f.Cursor = *p.NextCursor
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestListDeliveriesPaginationAndFilters(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	subA := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"promoter.*"}})
	subB := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"reward.created"}})
	newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{})

	promoters := ingestN(t, db, acc.ID, 5, "promoter.created")
	rewards := ingestN(t, db, acc.ID, 2, "reward.created")
	ingestN(t, db, other.ID, 3, "promoter.created")
	all := append(append([]string(nil), promoters...), rewards...)

	code := 500
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: promoters[1], Status: hookflow.StatusFailed,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: db.Now(), ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}))

	for _, limit := range []int{1, 2, 3, 7, 100} {
		t.Run(fmt.Sprintf("all, limit %d", limit), func(t *testing.T) {
			assert.Equal(t, reversed(all), listAll(t, db, acc.ID, hookflow.DeliveryFilter{Limit: limit}), "newest first, each once")
		})
	}

	t.Run("default limit", func(t *testing.T) {
		p, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
		require.NoError(t, err)
		assert.Len(t, p.Data, len(all))
		assert.Nil(t, p.NextCursor)
	})

	var promoterEvent string
	{
		d, err := db.FindDelivery(ctx, acc.ID, promoters[3])
		require.NoError(t, err)
		promoterEvent = d.EventID
	}
	filters := []struct {
		name   string
		filter hookflow.DeliveryFilter
		want   []string
	}{
		{"subscription", hookflow.DeliveryFilter{SubscriptionID: subB.ID}, reversed(rewards)},
		{"subscription paged", hookflow.DeliveryFilter{SubscriptionID: subA.ID, Limit: 2}, reversed(promoters)},
		{"event type", hookflow.DeliveryFilter{EventType: "reward.created", Limit: 1}, reversed(rewards)},
		{"status failed", hookflow.DeliveryFilter{Status: hookflow.StatusFailed}, []string{promoters[1]}},
		{"status pending", hookflow.DeliveryFilter{Status: hookflow.StatusPending, Limit: 4},
			reversed([]string{promoters[0], promoters[2], promoters[3], promoters[4], rewards[0], rewards[1]})},
		{"event", hookflow.DeliveryFilter{EventID: promoterEvent}, []string{promoters[3]}},
		{"filters combine", hookflow.DeliveryFilter{SubscriptionID: subA.ID, Status: hookflow.StatusDelivered}, nil},
		{"subscription that is not a UUID", hookflow.DeliveryFilter{SubscriptionID: "nope"}, nil},
		{"event that is not a UUID", hookflow.DeliveryFilter{EventID: "nope"}, nil},
		{"unknown event type", hookflow.DeliveryFilter{EventType: "nothing.here"}, nil},
	}
	for _, tc := range filters {
		t.Run("filter "+tc.name, func(t *testing.T) {
			if tc.filter.Limit == 0 {
				tc.filter.Limit = 50
			}
			assert.Equal(t, tc.want, listAll(t, db, acc.ID, tc.filter))
		})
	}

	t.Run("another account's filter values list nothing", func(t *testing.T) {
		p, err := db.ListDeliveries(ctx, other.ID, hookflow.DeliveryFilter{SubscriptionID: subA.ID})
		require.NoError(t, err)
		assert.Empty(t, p.Data)
		assert.NotNil(t, p.Data, "an empty page is [], not null")
	})

	otherCursor := func() string {
		p, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{Limit: 1})
		require.NoError(t, err)
		require.NotNil(t, p.NextCursor)
		return *p.NextCursor
	}()
	invalid := []struct {
		name   string
		filter hookflow.DeliveryFilter
		field  string
	}{
		{name: "limit over 100", filter: hookflow.DeliveryFilter{Limit: 101}, field: "limit"},
		{name: "negative limit", filter: hookflow.DeliveryFilter{Limit: -1}, field: "limit"},
		{name: "unknown status", filter: hookflow.DeliveryFilter{Status: "done"}, field: "status"},
		{name: "cursor not base64", filter: hookflow.DeliveryFilter{Cursor: "!!!"}, field: "cursor"},
		{name: "cursor without separator", filter: hookflow.DeliveryFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("123"))}, field: "cursor"},
		{name: "cursor with a bad id", filter: hookflow.DeliveryFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("123|x"))}, field: "cursor"},
		{name: "cursor with a bad time", filter: hookflow.DeliveryFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("x|" + uuid.NewString()))}, field: "cursor"},
		{name: "cursor tampered", filter: hookflow.DeliveryFilter{Cursor: otherCursor + "A"}, field: "cursor"},
		{name: "cursor time before 4713 BC", filter: hookflow.DeliveryFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("-9223372036854775808|" + uuid.NewString()))}, field: "cursor"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			_, err := db.ListDeliveries(ctx, acc.ID, tc.filter)
			requireCode(t, err, hookflow.EINVALID)
			assert.Equal(t, tc.field, hookflow.ErrorField(err))
		})
	}
}

func TestListDeliveriesPaginatesRowsWithTheSameTimestamp(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	// Every row gets the same created_at, so only the id tie-break keeps pages apart.
	frozen := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return frozen }
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	ids := ingestN(t, db, acc.ID, 4, "promoter.created")
	require.Len(t, ids, 8)

	got := listAll(t, db, acc.ID, hookflow.DeliveryFilter{Limit: 3})
	want := append([]string(nil), ids...)
	sort.Sort(sort.Reverse(sort.StringSlice(want)))
	assert.Equal(t, want, got, "ties are ordered by id, descending, each row once")
}

func TestRecordAttemptIsIdempotentOnDeliveryAndNumber(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	id := ingestN(t, db, acc.ID, 1, "promoter.created")[0]
	started := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	next := started.Add(20 * time.Minute)
	c500, c503, c200 := 500, 503, 200

	attemptRows := func() int {
		var n int
		require.NoError(t, db.SQL().Get(&n, `SELECT count(*) FROM attempts WHERE delivery_id = $1`, id))
		return n
	}

	first := hookflow.AttemptRecord{DeliveryID: id, Status: hookflow.StatusRetrying, NextAttemptAt: &next,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: started, DurationMS: 12, ResponseCode: &c500, ResponseBody: "boom", Trigger: hookflow.TriggerAutomatic}}
	require.NoError(t, db.RecordAttempt(ctx, first))
	require.NoError(t, db.RecordAttempt(ctx, first))
	assert.Equal(t, 1, attemptRows(), "recording the same attempt twice keeps one row")
	d, err := db.FindDelivery(ctx, acc.ID, id)
	require.NoError(t, err)
	assert.Equal(t, 1, d.Attempts)
	assert.Equal(t, hookflow.StatusRetrying, d.Status)
	require.NotNil(t, d.NextAttemptAt)
	assert.True(t, d.NextAttemptAt.Equal(next))

	// A retried record with another outcome overwrites the row, and the delivery agrees.
	second := first
	second.Attempt.ResponseCode, second.Attempt.ResponseBody, second.Attempt.Error = &c503, "unavailable", ""
	require.NoError(t, db.RecordAttempt(ctx, second))
	assert.Equal(t, 1, attemptRows())
	d, err = db.FindDelivery(ctx, acc.ID, id)
	require.NoError(t, err)
	require.Len(t, d.AttemptLog, 1)
	assert.Equal(t, 1, d.Attempts)
	assert.Equal(t, 503, *d.ResponseCode)
	assert.Equal(t, 503, *d.AttemptLog[0].ResponseCode)
	assert.Equal(t, "unavailable", d.ResponseBody)
	assert.Equal(t, d.ResponseBody, d.AttemptLog[0].ResponseBody)
	assert.Nil(t, d.DeliveredAt)

	delivered := hookflow.AttemptRecord{DeliveryID: id, Status: hookflow.StatusDelivered,
		Attempt: hookflow.Attempt{Number: 2, StartedAt: next, DurationMS: 250, ResponseCode: &c200, ResponseBody: "ok", Trigger: hookflow.TriggerManual}}
	require.NoError(t, db.RecordAttempt(ctx, delivered))
	require.NoError(t, db.RecordAttempt(ctx, delivered))
	assert.Equal(t, 2, attemptRows())
	d, err = db.FindDelivery(ctx, acc.ID, id)
	require.NoError(t, err)
	assert.Equal(t, hookflow.StatusDelivered, d.Status)
	assert.Equal(t, 2, d.Attempts)
	assert.Nil(t, d.NextAttemptAt)
	require.NotNil(t, d.DeliveredAt)
	assert.True(t, d.DeliveredAt.Equal(next.Add(250*time.Millisecond)), "delivered when the answer came")
	require.Len(t, d.AttemptLog, 2)
	assert.Equal(t, []int{1, 2}, []int{d.AttemptLog[0].Number, d.AttemptLog[1].Number})
	assert.Equal(t, hookflow.TriggerManual, d.AttemptLog[1].Trigger)
	assert.Equal(t, int64(250), d.AttemptLog[1].DurationMS)
}

func TestRecordAttemptCutsBodyAndErrorToCharacters(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	ids := ingestN(t, db, acc.ID, 4, "promoter.created")
	code := 500
	tests := []struct {
		name      string
		body, err string
		wantBody  string
		wantErr   string
	}{
		{"short text kept", "short", "err", "short", "err"},
		{"exactly 1000 kept", strings.Repeat("b", 1000), strings.Repeat("e", 1000), strings.Repeat("b", 1000), strings.Repeat("e", 1000)},
		// Multi-byte text is cut by characters, never inside one.
		{"multi-byte cut to 1000 characters", strings.Repeat("é", 1500), strings.Repeat("日本", 700), strings.Repeat("é", 1000), strings.Repeat("日本", 500)},
		// A binary answer: PostgreSQL's text holds neither NUL nor invalid UTF-8.
		{"NUL and invalid UTF-8 shown as U+FFFD", "ok\x00\xff\xfe", "bad\x00", "ok\uFFFD\uFFFD", "bad\uFFFD"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: ids[i], Status: hookflow.StatusFailed,
				Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &code, ResponseBody: tc.body, Error: tc.err, Trigger: hookflow.TriggerAutomatic}}))
			d, err := db.FindDelivery(ctx, acc.ID, ids[i])
			require.NoError(t, err)
			assert.Equal(t, tc.wantBody, d.ResponseBody)
			assert.Equal(t, tc.wantErr, d.LastError)
			require.Len(t, d.AttemptLog, 1)
			assert.Equal(t, tc.wantBody, d.AttemptLog[0].ResponseBody)
			assert.Equal(t, tc.wantErr, d.AttemptLog[0].Error)
			assert.True(t, utf8.ValidString(d.ResponseBody))
			assert.LessOrEqual(t, utf8.RuneCountInString(d.ResponseBody), hookflow.MaxResponseBodyChars)
			assert.LessOrEqual(t, utf8.RuneCountInString(d.LastError), hookflow.MaxErrorChars)
		})
	}
}

func TestCreateTestDelivery(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	// The test delivery goes to the subscription whatever its event types.
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"reward.created"}})

	d, err := db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.True(t, d.Test)
	assert.Equal(t, sub.ID, d.SubscriptionID)
	assert.Equal(t, hookflow.StatusPending, d.Status)
	assert.Equal(t, hookflow.TestEventType, d.EventType)
	assert.Empty(t, d.AttemptLog)

	var payload map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(d.Payload, &payload))
	assert.JSONEq(t, `{"test":true}`, string(payload["data"]))
	assert.JSONEq(t, `"`+d.EventID+`"`, string(payload["event_id"]))
	assert.JSONEq(t, `"`+hookflow.TestEventType+`"`, string(payload["event_type"]))

	ev, err := db.FindEvent(ctx, acc.ID, d.EventID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"test":true}`, string(ev.Data))

	// It is queued like any delivery, so the dispatcher starts it.
	items, err := db.ClaimUndispatched(ctx, 100, time.Minute)
	require.NoError(t, err)
	var queued bool
	for _, it := range items {
		queued = queued || it.DeliveryID == d.Key
	}
	assert.True(t, queued)

	require.NoError(t, db.DeleteSubscription(ctx, acc.ID, sub.ID))
	_, err = db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.CreateTestDelivery(ctx, acc.ID, "not-a-uuid")
	requireCode(t, err, hookflow.ENOTFOUND)
}

func TestFindEventAndDeliveryAreScopedToTheAccount(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	out, err := db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: "promoter.updated", Action: "updated",
		EntityType: "promoter", EntityID: hookflow.EntityID{Value: "p1"}, CampaignID: "c1",
		Data: json.RawMessage(`{"a":1}`), Changes: json.RawMessage(`{"a":[0,1]}`)}, "")
	require.NoError(t, err)
	require.Len(t, out.Deliveries, 1)

	ev, err := db.FindEvent(ctx, acc.ID, out.EventID)
	require.NoError(t, err)
	assert.Equal(t, "promoter.updated", ev.EventType)
	assert.Equal(t, "updated", ev.Action)
	assert.Equal(t, "c1", ev.CampaignID)
	assert.JSONEq(t, `{"a":1}`, string(ev.Data))
	assert.JSONEq(t, `{"a":[0,1]}`, string(ev.Changes))

	d, err := db.FindDelivery(ctx, acc.ID, out.Deliveries[0].Key)
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":[0,1]}`, string(d.ObjectChanges))
	assert.Equal(t, "promoter", d.EntityType)
	assert.Equal(t, hookflow.EntityID{Value: "p1"}, d.EntityID)

	_, err = db.FindEvent(ctx, other.ID, out.EventID)
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.FindDelivery(ctx, other.ID, out.Deliveries[0].Key)
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.FindEvent(ctx, acc.ID, "x")
	requireCode(t, err, hookflow.ENOTFOUND)
	_, err = db.FindDelivery(ctx, acc.ID, uuid.NewString())
	requireCode(t, err, hookflow.ENOTFOUND)
}

func TestDispatchClaimsAreSharedAndExpire(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{})
	sub.URL, sub.SecretKey = "http://127.0.0.1:9/hook", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	require.NoError(t, db.CreateSubscription(ctx, acc.ID, &sub))
	var ids []string
	for i := 0; i < 5; i++ {
		out, err := db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: "a.b", Data: []byte(`{}`)}, "")
		require.NoError(t, err)
		ids = append(ids, out.Deliveries[0].Key)
	}
	claimIDs := func(items []hookflow.DispatchItem) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.DeliveryID)
		}
		return out
	}

	first, err := db.ClaimUndispatched(ctx, 3, time.Minute)
	require.NoError(t, err)
	second, err := db.ClaimUndispatched(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Len(t, first, 3, "oldest three")
	assert.ElementsMatch(t, ids, append(claimIDs(first), claimIDs(second)...), "two dispatchers split the work without overlap")
	none, err := db.ClaimUndispatched(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.Empty(t, none, "leased deliveries are skipped")

	// A failed start gives its claims back; a successful one marks the delivery for good.
	require.NoError(t, db.ReleaseClaims(ctx, claimIDs(first)))
	require.NoError(t, db.MarkDispatched(ctx, claimIDs(second)))
	again, err := db.ClaimUndispatched(ctx, 10, 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, claimIDs(first), claimIDs(again))

	// A claim whose lease ran out (its dispatcher died) is claimed again.
	time.Sleep(5 * time.Millisecond)
	expired, err := db.ClaimUndispatched(ctx, 10, time.Minute)
	require.NoError(t, err)
	assert.ElementsMatch(t, claimIDs(first), claimIDs(expired))
}

// Committed deliveries wake the dispatchers: a LISTENer on DispatchChannel hears of an
// ingest that created deliveries, and of one that created none it hears nothing.
func TestIngestWakesTheDispatchers(t *testing.T) {
	t.Parallel()
	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	db, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(ctx))

	listener := pq.NewListener(dsn, 100*time.Millisecond, time.Second, nil)
	t.Cleanup(func() { listener.Close() })
	require.NoError(t, listener.Listen(store.DispatchChannel))

	acc := newAccount(t, db, "acme")
	heard := func() bool {
		select {
		case n := <-listener.Notify:
			return n != nil
		case <-time.After(2 * time.Second):
			return false
		}
	}
	_, err = db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{}`)}, "")
	require.NoError(t, err)
	assert.False(t, heard(), "no subscription, no deliveries: nothing to wake anyone for")

	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	_, err = db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: "promoter.created", Data: []byte(`{}`)}, "")
	require.NoError(t, err)
	assert.True(t, heard(), "a committed delivery wakes the dispatchers")
}

func TestSubscriptionsPerAccountAreBoundedAndAFullFanOutIsIngested(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	first := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	// The rest of the allowance, written in one statement to keep the test quick.
	_, err := db.SQL().Exec(`INSERT INTO subscriptions (id, account_id, url, event_types, campaign_ids, description,
			active, timeout_seconds, max_retries, headers, secret_key, created_at, updated_at)
		SELECT gen_random_uuid(), account_id, url, event_types, campaign_ids, description, active, timeout_seconds,
			max_retries, headers, secret_key, created_at, updated_at
		FROM subscriptions, generate_series(2, $2) WHERE id = $1`, first.ID, hookflow.MaxSubscriptionsPerAccount)
	require.NoError(t, err)

	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: ptr("http://127.0.0.1:9/more")})
	sub.SecretKey = first.SecretKey
	requireCode(t, db.CreateSubscription(ctx, acc.ID, &sub), hookflow.ECONFLICT)
	newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{}) // the limit is per account

	// An event that matches every one of them is written whole: the largest fan-out the
	// limit allows stays within what one statement may carry.
	out, err := db.IngestEvent(ctx, acc.ID, hookflow.EventInput{EventType: "promoter.created", Data: json.RawMessage(`{}`)}, "")
	require.NoError(t, err)
	assert.Len(t, out.Deliveries, hookflow.MaxSubscriptionsPerAccount)
	// The connection that wrote it is still good for the next statement.
	_, err = db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)

	require.NoError(t, db.DeleteSubscription(ctx, acc.ID, first.ID))
	require.NoError(t, db.CreateSubscription(ctx, acc.ID, &sub), "a deleted subscription frees its place")
}
