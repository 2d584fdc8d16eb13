package store_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func newFulfilment(t *testing.T, db *store.DB, accountID, campaignID string) hookflow.Fulfilment {
	t.Helper()
	f, err := db.CreateFulfilment(ctx, accountID, hookflow.FulfilmentInput{CampaignID: hookflow.CampaignRef(campaignID), RewardID: "rw",
		Amount: ptr(1.0), Unit: "credits", Promoter: json.RawMessage(`{"id":1}`)})
	require.NoError(t, err)
	return f
}

// newCampaign stores a campaign with the given webhook URLs.
func newCampaign(t *testing.T, db *store.DB, accountID string, hooks ...hookflow.CampaignWebhook) hookflow.Campaign {
	t.Helper()
	campaign, err := db.CreateCampaign(ctx, accountID, hookflow.NewCampaign{Name: "spring"}, "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=")
	require.NoError(t, err)
	if len(hooks) > 0 {
		campaign, err = db.SetCampaignWebhooks(ctx, accountID, campaign.ID, hooks)
		require.NoError(t, err)
	}
	return campaign
}

// settleDeliveries makes every delivery of the account look answered with a 202: nothing in
// flight, so each pending fulfilment is due for the check again.
func settleDeliveries(t *testing.T, db *store.DB, accountID string) {
	t.Helper()
	_, err := db.SQL().Exec(`UPDATE deliveries SET status = 'delivered' WHERE account_id = $1`, accountID)
	require.NoError(t, err)
}

func TestFulfilmentCheckFiresEveryDueFulfilmentExactlyOnce(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	campaign := newCampaign(t, db, acc.ID, hookflow.CampaignWebhook{Kind: hookflow.WebhookFulfilment, URL: "http://127.0.0.1:9/fulfil"})
	// More than one batch of the check, so the check has to page through them.
	const due = 520
	for range due {
		newFulfilment(t, db, acc.ID, campaign.ID)
	}
	settleDeliveries(t, db, acc.ID)

	// The hourly check (all accounts) and on-demand checks of the account, at once.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fired int
	)
	for _, account := range []string{"", acc.ID, acc.ID} {
		wg.Go(func() {
			n, err := db.RefirePendingFulfilments(ctx, account)
			assert.NoError(t, err)
			mu.Lock()
			fired += n
			mu.Unlock()
		})
	}
	wg.Wait()
	assert.Equal(t, due, fired, "every due fulfilment fired once, by one of the checks")

	var inFlight []int
	require.NoError(t, db.SQL().Select(&inFlight, `SELECT count(d.id) FROM fulfilments f
		LEFT JOIN deliveries d ON d.fulfilment_id = f.id AND d.status = 'pending'
		WHERE f.account_id = $1 GROUP BY f.id`, acc.ID))
	require.Len(t, inFlight, due)
	for _, n := range inFlight {
		require.Equal(t, 1, n, "one delivery in flight per fulfilment, never two")
	}

	// In flight now: another check fires nothing.
	n, err := db.RefirePendingFulfilments(ctx, acc.ID)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestFulfilmentCheckSkipsFulfilmentsWithNowhereToGo(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	// No fulfilment URL on the campaign and no subscription to fulfilment_pending.
	campaign := newCampaign(t, db, acc.ID)
	newFulfilment(t, db, acc.ID, campaign.ID)
	var before int
	require.NoError(t, db.SQL().Get(&before, `SELECT count(*) FROM events WHERE account_id = $1`, acc.ID))

	n, err := db.RefirePendingFulfilments(ctx, acc.ID)
	require.NoError(t, err)
	assert.Zero(t, n)
	var after int
	require.NoError(t, db.SQL().Get(&after, `SELECT count(*) FROM events WHERE account_id = $1`, acc.ID))
	assert.Equal(t, before, after, "no empty event written for it")

	// Once somebody listens, the next check fires it.
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{hookflow.FulfilmentPending}})
	n, err = db.RefirePendingFulfilments(ctx, acc.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestFulfilmentCompletedByOneEndpointIsNotSentToTheOthers(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	campaign := newCampaign(t, db, acc.ID,
		hookflow.CampaignWebhook{Kind: hookflow.WebhookFulfilment, URL: "http://127.0.0.1:9/a"},
		hookflow.CampaignWebhook{Kind: hookflow.WebhookFulfilment, URL: "http://127.0.0.1:9/b"})
	f := newFulfilment(t, db, acc.ID, campaign.ID)
	var ids []string
	require.NoError(t, db.SQL().Select(&ids, `SELECT id FROM deliveries WHERE fulfilment_id = $1 ORDER BY id`, f.ID))
	require.Len(t, ids, 2)

	for _, id := range ids {
		req, err := db.SendRequest(ctx, id)
		require.NoError(t, err)
		assert.Empty(t, req.Skip, "both endpoints are told while the fulfilment is pending")
	}
	ok := 200
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: ids[0], Status: hookflow.StatusDelivered,
		CompleteFulfilment: true, Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &ok, Trigger: hookflow.TriggerAutomatic}}))
	got, err := db.FindFulfilment(ctx, acc.ID, f.ID)
	require.NoError(t, err)
	require.Equal(t, hookflow.FulfilmentStatusCompleted, got.Status)

	req, err := db.SendRequest(ctx, ids[1])
	require.NoError(t, err)
	assert.Contains(t, req.Skip, "fulfilment was completed", "the other endpoint's retries stop")
}
