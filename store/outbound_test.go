package store_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/store/storetest"
)

// Deliveries waiting for a rate limit go out in creation order, spaced 1/rate apart, even
// when they first reach the limit in another order: each waiter is told its own turn and
// a younger one is held back while an older one waits.
func TestRateSlotsGoInCreationOrderAtTheLimit(t *testing.T) {
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Now().UTC())
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{RateLimit: ptr(10)})
	ids := ingestN(t, db, acc.ID, 8, "a.b")
	reqs := make(map[string]hookflow.SendRequest, len(ids))
	for _, id := range ids {
		req, err := db.SendRequest(ctx, id)
		require.NoError(t, err)
		require.Equal(t, 10, req.RateLimit)
		require.Equal(t, sub.ID, req.DestinationID)
		reqs[id] = req
	}

	// The first arrivals come in a shuffled order, at once.
	type turn struct {
		id string
		at time.Time
	}
	var queue []turn
	now := time.Now()
	for _, i := range rand.Perm(len(ids)) {
		queue = append(queue, turn{ids[i], now})
	}
	var sent []string
	var sentAt []time.Time
	for len(queue) > 0 {
		slices.SortStableFunc(queue, func(a, b turn) int { return a.at.Compare(b.at) })
		next := queue[0]
		queue = queue[1:]
		time.Sleep(time.Until(next.at))
		wait, err := db.TakeRateSlot(ctx, reqs[next.id])
		require.NoError(t, err)
		if wait == 0 {
			sent, sentAt = append(sent, next.id), append(sentAt, time.Now())
			continue
		}
		d, err := db.FindDelivery(ctx, acc.ID, next.id)
		require.NoError(t, err)
		require.NotNil(t, d.WaitingReason, "a delivery told to wait is shown waiting")
		require.Equal(t, hookflow.WaitRateLimited, *d.WaitingReason)
		queue = append(queue, turn{next.id, time.Now().Add(wait)})
	}
	// The first to arrive goes at once; every later one goes in creation order.
	first := slices.Index(ids, sent[0])
	rest := slices.Delete(slices.Clone(ids), first, first+1)
	require.Equal(t, rest, sent[1:])
	for i := 1; i < len(sentAt); i++ {
		require.GreaterOrEqual(t, sentAt[i].Sub(sentAt[i-1]), 95*time.Millisecond, "requests %d and %d", i-1, i)
	}
	require.GreaterOrEqual(t, sentAt[len(sentAt)-1].Sub(sentAt[0]), time.Duration(len(sentAt)-1)*90*time.Millisecond, "at most the rate")
	for _, id := range ids {
		d, err := db.FindDelivery(ctx, acc.ID, id)
		require.NoError(t, err)
		require.Nil(t, d.WaitingReason, "admitted deliveries are no longer shown waiting")
	}
}

// A throttle holds a destination for its Retry-After or the backoff of its level,
// whichever is longer; a good answer ends it.
func TestThrottleBacksOffAndEnds(t *testing.T) {
	db := storetest.MustOpen(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return start }
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	id := ingestN(t, db, acc.ID, 1, "a.b")[0]
	read := func() hookflow.SendRequest {
		req, err := db.SendRequest(ctx, id)
		require.NoError(t, err)
		return req
	}
	require.Nil(t, read().ThrottledUntil)
	dest := read().DestinationID

	require.NoError(t, db.Throttle(ctx, dest, 0, outbound.DefaultThrottleBackoff))
	req := read()
	require.Equal(t, 1, req.ThrottleLevel)
	require.Equal(t, start.Add(time.Second), *req.ThrottledUntil)
	require.NoError(t, db.Throttle(ctx, dest, 0, outbound.DefaultThrottleBackoff))
	require.NoError(t, db.Throttle(ctx, dest, 0, outbound.DefaultThrottleBackoff))
	req = read()
	require.Equal(t, 3, req.ThrottleLevel)
	require.Equal(t, start.Add(4*time.Second), *req.ThrottledUntil)
	require.NoError(t, db.Throttle(ctx, dest, time.Hour, outbound.DefaultThrottleBackoff))
	require.Equal(t, start.Add(time.Hour), *read().ThrottledUntil)

	require.NoError(t, db.Unthrottle(ctx, dest))
	req = read()
	require.Equal(t, 0, req.ThrottleLevel)
	require.Nil(t, req.ThrottledUntil)
}

// Deliveries waiting behind the in-flight cap are woken oldest first, each once.
func TestTakeWaitersOldestFirstOnce(t *testing.T) {
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Now().UTC())
	acc := newAccount(t, db, "acme")
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	ids := ingestN(t, db, acc.ID, 4, "a.b")
	req, err := db.SendRequest(ctx, ids[0])
	require.NoError(t, err)
	for _, i := range []int{2, 0, 3} {
		require.NoError(t, db.MarkWaiting(ctx, ids[i], hookflow.WaitInFlightCap, db.Now().Add(time.Minute)))
	}
	workflowID := func(key string) string {
		d, err := db.FindDelivery(ctx, acc.ID, key)
		require.NoError(t, err)
		return d.WorkflowID
	}
	got, err := db.TakeWaiters(ctx, req.DestinationID, 2)
	require.NoError(t, err)
	require.Equal(t, []string{workflowID(ids[0]), workflowID(ids[2])}, workflowIDs(got))
	got, err = db.TakeWaiters(ctx, req.DestinationID, 2)
	require.NoError(t, err)
	require.Equal(t, []string{workflowID(ids[3])}, workflowIDs(got))
	got, err = db.TakeWaiters(ctx, req.DestinationID, 2)
	require.NoError(t, err)
	require.Empty(t, got)
	counts, err := db.CountWaiting(ctx)
	require.NoError(t, err)
	require.Equal(t, map[hookflow.WaitReason]int64{hookflow.WaitInFlightCap: 3}, counts)
	// Recording an attempt clears the mark.
	code := 200
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: ids[2], Status: hookflow.StatusDelivered,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}))
	d, err := db.FindDelivery(ctx, acc.ID, ids[2])
	require.NoError(t, err)
	require.Nil(t, d.WaitingReason)
}

// A fulfilment delivery to a campaign webhook is counted under that webhook, so the
// in-flight cap and throttling hold it as they hold a subscription.
func TestCampaignWebhookDeliveryIsItsOwnDestination(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	camp, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, "whsec_"+strings.Repeat("A", 44))
	require.NoError(t, err)
	camp, err = db.SetCampaignWebhooks(ctx, acc.ID, camp.ID, []hookflow.CampaignWebhook{{Kind: "fulfilment", URL: "http://127.0.0.1:9/f"}})
	require.NoError(t, err)
	amount := 1.0
	f, err := db.CreateFulfilment(ctx, acc.ID, hookflow.FulfilmentInput{CampaignID: hookflow.CampaignRef(camp.ID), RewardID: "r1", Amount: &amount, Unit: "credits", Promoter: []byte(`{"id":1}`)})
	require.NoError(t, err)
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, page.Data, 1, "fulfilment %s", f.ID)
	req, err := db.SendRequest(ctx, page.Data[0].Key)
	require.NoError(t, err)
	require.Equal(t, camp.Webhooks[0].ID, req.DestinationID)
	require.Zero(t, req.RateLimit)

	require.NoError(t, db.Throttle(ctx, req.DestinationID, 0, outbound.DefaultThrottleBackoff))
	req, err = db.SendRequest(ctx, page.Data[0].Key)
	require.NoError(t, err)
	require.Equal(t, 1, req.ThrottleLevel)
	require.NotNil(t, req.ThrottledUntil)
}

// A deleted campaign's pending fulfilment goes to no campaign URL, not to a new campaign
// that took its id.
func TestDeletedCampaignsFulfilmentsDoNotReachItsSuccessor(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	seven := hookflow.CampaignRef("7")
	old, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{ID: &seven, Name: "Old"}, "whsec_"+strings.Repeat("A", 44))
	require.NoError(t, err)
	_, err = db.SetCampaignWebhooks(ctx, acc.ID, old.ID, []hookflow.CampaignWebhook{{Kind: "fulfilment", URL: "http://127.0.0.1:9/old"}})
	require.NoError(t, err)
	amount := 1.0
	_, err = db.CreateFulfilment(ctx, acc.ID, hookflow.FulfilmentInput{CampaignID: seven, RewardID: "r1", Amount: &amount, Unit: "credits", Promoter: []byte(`{"id":1}`)})
	require.NoError(t, err)
	require.NoError(t, db.DeleteCampaign(ctx, acc.ID, "7"))
	successor, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{ID: &seven, Name: "New"}, "whsec_"+strings.Repeat("B", 44))
	require.NoError(t, err)
	successor, err = db.SetCampaignWebhooks(ctx, acc.ID, successor.ID, []hookflow.CampaignWebhook{{Kind: "fulfilment", URL: "http://127.0.0.1:9/new"}})
	require.NoError(t, err)
	// Let the first delivery end so the check may fire again.
	page, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
	require.NoError(t, err)
	require.NoError(t, db.FailWithoutAttempt(ctx, page.Data[0].Key, "test"))

	fired, err := db.RefirePendingFulfilments(ctx, acc.ID)
	require.NoError(t, err)
	require.Zero(t, fired, "a deleted campaign's fulfilment is not fired again")
	after, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{CampaignWebhookID: successor.Webhooks[0].ID})
	require.NoError(t, err)
	require.Empty(t, after.Data)
}

func workflowIDs(waiters []outbound.Waiter) []string {
	ids := make([]string, len(waiters))
	for i, w := range waiters {
		ids[i] = w.WorkflowID
	}
	return ids
}
