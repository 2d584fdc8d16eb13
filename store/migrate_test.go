package store_test

import (
	"database/sql"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/schema"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// Migration 11 carries the data of the build before it forward: existing deliveries get
// numbers in creation order and keep the workflow ids they were started with, existing
// campaigns keep their ids, and what the API reads of them is unchanged.
func TestMigrationNumbersExistingDeliveriesAndKeepsTheirWorkflows(t *testing.T) {
	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	raw, err := sql.Open("postgres", dsn)
	require.NoError(t, err)
	defer raw.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, raw, schema.Migrations, goose.WithLogger(goose.NopLogger()))
	require.NoError(t, err)
	_, err = provider.UpTo(ctx, 10)
	require.NoError(t, err)

	const (
		account  = "11111111-1111-4111-8111-111111111111"
		sub      = "22222222-2222-4222-8222-222222222222"
		campaign = "33333333-3333-4333-8333-333333333333"
		event    = "44444444-4444-4444-8444-444444444444"
		older    = "55555555-5555-4555-8555-555555555555"
		newer    = "66666666-6666-4666-8666-666666666666"
	)
	for _, stmt := range []string{
		`INSERT INTO accounts (id, name) VALUES ('` + account + `', 'acme')`,
		`INSERT INTO subscriptions (id, account_id, url, event_types, campaign_ids, secret_key, timeout_seconds, max_retries)
			VALUES ('` + sub + `', '` + account + `', 'http://127.0.0.1:9/h', '{*}', '{` + campaign + `}', 'whsec_AAAA', 30, 3)`,
		`INSERT INTO campaigns (id, account_id, name, secret_key) VALUES ('` + campaign + `', '` + account + `', 'Spring', 'whsec_BBBB')`,
		`INSERT INTO events (id, account_id, event_type, entity_id, campaign_id) VALUES ('` + event + `', '` + account + `', 'a.b', '42', '` + campaign + `')`,
		// The newer one is written first: numbers follow creation time, not row order.
		`INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, payload, created_at)
			VALUES ('` + newer + `', '` + account + `', '` + event + `', '` + sub + `', 'a.b', '{}', now())`,
		`INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, payload, created_at)
			VALUES ('` + older + `', '` + account + `', '` + event + `', '` + sub + `', 'a.b', '{}', now() - interval '1 hour')`,
	} {
		_, err := raw.ExecContext(ctx, stmt)
		require.NoError(t, err, stmt)
	}

	db, err := store.Open(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(ctx))

	first, err := db.FindDelivery(ctx, account, "1")
	require.NoError(t, err)
	require.Equal(t, older, first.Key)
	require.Equal(t, "delivery-"+older, first.WorkflowID, "a workflow started before keeps its id")
	require.Equal(t, hookflow.EntityID{Value: "42"}, first.EntityID)
	byOldID, err := db.FindDelivery(ctx, account, newer)
	require.NoError(t, err, "an old link (the UUID) still finds the delivery")
	require.Equal(t, int64(2), byOldID.ID)

	c, err := db.FindCampaign(ctx, account, campaign)
	require.NoError(t, err, "an existing campaign keeps its id")
	require.Equal(t, "Spring", c.Name)

	// New deliveries continue the numbers, with workflows named after them.
	out, err := db.IngestEvent(ctx, account, hookflow.EventInput{EventType: "a.b", CampaignID: campaign, Data: []byte(`{}`)}, "")
	require.NoError(t, err)
	require.Len(t, out.Deliveries, 1)
	require.Equal(t, int64(3), out.Deliveries[0].ID)
	d, err := db.FindDelivery(ctx, account, "3")
	require.NoError(t, err)
	require.Equal(t, "delivery-3", d.WorkflowID)
}
