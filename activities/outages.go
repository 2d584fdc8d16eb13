package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/hookflow/hookflow"
)

// RecoveryStarter starts the workflow of a delivery a recovery retries.
type RecoveryStarter interface {
	StartRecovery(ctx context.Context, item hookflow.DispatchItem, recoveryID string) error
}

// Defaults of a recovery's pace.
const (
	// DefaultRecoveryWindow is how many of a recovery's deliveries wait for their attempt
	// at once: enough to keep an endpoint's in-flight cap busy, few enough that a large
	// recovery does not wake thousands of workflows only for them to wait their turn.
	DefaultRecoveryWindow = 20
	DefaultRecoveryPoll   = 200 * time.Millisecond
)

// restartAfter is how long a recovery waits for a started delivery's attempt before it
// starts it again: longer than an attempt takes to be made and recorded.
const restartAfter = 3 * time.Minute

// RecoverInput names a recovery.
type RecoverInput struct {
	RecoveryID string
}

// Recover retries a recovery's deliveries, oldest first and a window at a time, until
// every one has had its attempt. The window keeps it paced by the endpoint: a delivery
// still waiting for its rate-limit turn or a slot holds its place in the window. It
// heartbeats, so a worker that stops hands it to another, which carries on where the
// database says it stands; no delivery is retried twice.
func (a *Activities) Recover(ctx context.Context, in RecoverInput) (int, error) {
	window, poll := a.RecoveryWindow, a.RecoveryPoll
	if window <= 0 {
		window = DefaultRecoveryWindow
	}
	if poll <= 0 {
		poll = DefaultRecoveryPoll
	}
	// When each delivery was last started: one still pending after restartAfter is started
	// again (its run may have been another's, a manual retry's, which made no attempt of
	// this recovery).
	started := map[string]time.Time{}
	for {
		step, err := a.Store.NextRecoveryStep(ctx, in.RecoveryID, window)
		if err != nil {
			return len(started), classify(err)
		}
		if step.Done {
			a.logger().Info("recovery completed", "recovery_id", in.RecoveryID, "started", len(started))
			return len(started), nil
		}
		for _, item := range step.Start {
			if at, ok := started[item.DeliveryID]; ok && time.Since(at) < restartAfter {
				continue
			}
			if err := a.Starter.StartRecovery(ctx, item, in.RecoveryID); err != nil {
				return len(started), err
			}
			started[item.DeliveryID] = time.Now()
		}
		activity.RecordHeartbeat(ctx, len(started))
		select {
		case <-ctx.Done():
			return len(started), ctx.Err()
		case <-time.After(poll):
		}
	}
}

// purgeBatch is how many events one retention statement deletes: small enough that each
// transaction is short and holds few locks.
const purgeBatch = 500

// Purge deletes what is older than the retention, batch by batch, and returns how many
// events it deleted.
func (a *Activities) Purge(ctx context.Context) (int, error) {
	if a.Retention <= 0 {
		return 0, nil
	}
	cutoff := time.Now().Add(-a.Retention)
	total := 0
	for {
		n, err := a.Store.PurgeBatch(ctx, cutoff, purgeBatch)
		total += n
		if err != nil {
			return total, classify(err)
		}
		activity.RecordHeartbeat(ctx, total)
		if n < purgeBatch {
			if total > 0 {
				a.logger().Info("retention deleted old events", "events", total, "before", cutoff.UTC())
			}
			return total, nil
		}
	}
}
