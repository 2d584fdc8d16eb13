package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store/storetest"
)

// Many ingests of one key racing take its places without gaps or doubles (the key's row
// lock serialises them until each commits); each delivery's predecessor is the open one
// before it, and an ended one hands on to the next open one.
func TestOrderingKeysTakePlacesInCommitOrder(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	fifo := hookflow.OrderingFIFO
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{Ordering: &fifo})
	plain := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := hookflow.EventInput{EventType: "referral.updated", EntityType: "referral", EntityID: hookflow.EntityID{Value: "r1"},
				Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
			if i%4 == 0 {
				in.OrderingKey = "other"
			}
			if err := in.Validate(); err != nil {
				errs <- err
				return
			}
			_, err := db.IngestEvent(ctx, acc.ID, in, "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var rows []struct {
		ID  string  `db:"id"`
		Sub string  `db:"subscription_id"`
		Key *string `db:"ordering_key"`
		Seq *int64  `db:"ordering_seq"`
	}
	require.NoError(t, db.SQL().SelectContext(ctx, &rows, `SELECT id, subscription_id, ordering_key, ordering_seq
		FROM deliveries ORDER BY subscription_id, ordering_key, ordering_seq`))
	bySeq := map[string][]int64{}
	for _, r := range rows {
		if r.Sub == plain.ID {
			assert.Nil(t, r.Key, "a subscription without fifo is not ordered")
			assert.Nil(t, r.Seq)
			continue
		}
		require.NotNil(t, r.Seq)
		bySeq[*r.Key] = append(bySeq[*r.Key], *r.Seq)
	}
	assert.Len(t, bySeq["entity:referral:r1"], 30)
	assert.Len(t, bySeq["key:other"], 10)
	for key, seqs := range bySeq {
		for i, seq := range seqs {
			assert.Equal(t, int64(i+1), seq, "key %s: places are 1, 2, 3… without gaps", key)
		}
	}

	// The first of a key has no predecessor; each later one waits for the one before.
	var ordered []struct {
		ID  string `db:"id"`
		Seq int64  `db:"ordering_seq"`
	}
	require.NoError(t, db.SQL().SelectContext(ctx, &ordered, `SELECT id, ordering_seq FROM deliveries
		WHERE subscription_id = $1 AND ordering_key = 'key:other' ORDER BY ordering_seq`, sub.ID))
	first, err := db.SendRequest(ctx, ordered[0].ID)
	require.NoError(t, err)
	assert.True(t, first.State.Ordered)
	assert.Empty(t, first.Predecessor)
	second, err := db.SendRequest(ctx, ordered[1].ID)
	require.NoError(t, err)
	assert.Equal(t, ordered[0].ID, second.Predecessor)

	// The first ends: the second has no predecessor left, and is the one to wake.
	require.NoError(t, db.FailWithoutAttempt(ctx, ordered[0].ID, "test"))
	next, ok, err := db.NextInOrder(ctx, ordered[0].ID)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ordered[1].ID, next.DeliveryID)
	second, err = db.SendRequest(ctx, ordered[1].ID)
	require.NoError(t, err)
	assert.Empty(t, second.Predecessor)
	third, err := db.SendRequest(ctx, ordered[2].ID)
	require.NoError(t, err)
	assert.Equal(t, ordered[1].ID, third.Predecessor)

	// An unordered delivery has nothing to wake.
	var plainID string
	require.NoError(t, db.SQL().GetContext(ctx, &plainID, `SELECT id FROM deliveries WHERE subscription_id = $1 LIMIT 1`, plain.ID))
	_, ok, err = db.NextInOrder(ctx, plainID)
	require.NoError(t, err)
	assert.False(t, ok)
}

// Retention forgets an ordering key once it is unused since the cutoff and has no open
// delivery, never while one is open: a key whose count started afresh under an open
// delivery would put the next event before it.
func TestRetentionForgetsOnlyIdleOrderingKeys(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	fifo := hookflow.OrderingFIFO
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{Ordering: &fifo})
	for _, key := range []string{"idle", "open"} {
		in := hookflow.EventInput{EventType: "referral.updated", OrderingKey: key, Data: json.RawMessage(`{}`)}
		require.NoError(t, in.Validate())
		_, err := db.IngestEvent(ctx, acc.ID, in, "")
		require.NoError(t, err)
	}
	// The idle key's delivery ended; the open key's is still pending.
	_, err := db.SQL().ExecContext(ctx, `UPDATE deliveries SET status = 'delivered' WHERE ordering_key = 'key:idle'`)
	require.NoError(t, err)
	_, err = db.PurgeBatch(ctx, db.Now().Add(time.Hour), 100)
	require.NoError(t, err)
	var left []string
	require.NoError(t, db.SQL().SelectContext(ctx, &left, `SELECT ordering_key FROM ordering_keys ORDER BY 1`))
	assert.Equal(t, []string{"key:open"}, left)
}

// A delivery that waits for its turn behind one still held by a pause that has ended takes
// that one from the hold: the resume releases its held deliveries by creation time, which
// need not be their order, and the earlier one must not wait for a release that never
// comes.
func TestWaitingForTurnPullsAHeldPredecessor(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	fifo := hookflow.OrderingFIFO
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{Ordering: &fifo})
	_, err := db.PauseSubscription(ctx, acc.ID, sub.ID, "")
	require.NoError(t, err)
	var keys []string
	for range 2 {
		in := hookflow.EventInput{EventType: "referral.updated", OrderingKey: "k", Data: json.RawMessage(`{}`)}
		require.NoError(t, in.Validate())
		out, err := db.IngestEvent(ctx, acc.ID, in, "")
		require.NoError(t, err)
		keys = append(keys, out.Deliveries[0].Key)
	}
	// Still paused: nothing is pulled.
	_, pulled, err := db.MarkWaitingForTurn(ctx, keys[1], keys[0], db.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, pulled)

	_, err = db.ResumeSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	w, pulled, err := db.MarkWaitingForTurn(ctx, keys[1], keys[0], db.Now().Add(time.Hour))
	require.NoError(t, err)
	require.True(t, pulled)
	assert.Equal(t, keys[0], w.DeliveryID)
	assert.True(t, w.Undispatched)
	var dispatchable bool
	require.NoError(t, db.SQL().GetContext(ctx, &dispatchable, `SELECT dispatched_at IS NULL AND waiting_until IS NULL FROM deliveries WHERE id = $1`, keys[0]))
	assert.True(t, dispatchable, "the dispatchers may start it now")
	// Taken once: a second look pulls nothing.
	_, pulled, err = db.MarkWaitingForTurn(ctx, keys[1], keys[0], db.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, pulled)
}
