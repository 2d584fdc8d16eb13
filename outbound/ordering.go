package outbound

import (
	"context"
	"time"

	"github.com/hookflow/hookflow"
)

// Ordered delivery: a fifo subscription's delivery goes out only when every earlier
// delivery with its ordering key has ended. The store names the latest earlier one that
// has not (SendRequest.Predecessor); the delivery waits durably for it, and when a
// delivery ends, HandOn wakes the next one of its key. A person's retry and a recovery
// are explicit and go out at once, in or out of turn.

// OrderStore is what ordering needs of the shared state.
type OrderStore interface {
	// MarkWaitingForTurn shows that a delivery waits for predecessor to end, and returns
	// the predecessor when it took it from a hold that has ended (it must be woken).
	MarkWaitingForTurn(ctx context.Context, deliveryID, predecessor string, until time.Time) (Waiter, bool, error)
	// NextInOrder is the open delivery that follows deliveryID in its ordering key.
	NextInOrder(ctx context.Context, deliveryID string) (Waiter, bool, error)
}

// TurnRecheck is how long a delivery waiting for its turn waits before it looks again,
// should the wake of the one before it be lost: the wake is the rule, this only bounds a
// lost one.
const TurnRecheck = 15 * time.Minute

// waitForTurn tells an ordered delivery to wait when an earlier one of its key is still
// open (nil: it may go). One that may go after waiting for its turn drops that mark, which
// no other rule of the gateway's would: it is not waiting for a slot.
func (g *Gateway) waitForTurn(ctx context.Context, req *hookflow.SendRequest, trigger hookflow.Trigger, now time.Time) (*Wait, error) {
	if req.Predecessor == "" || trigger != hookflow.TriggerAutomatic || g.Order == nil {
		if req.WaitingForTurn {
			if err := g.Store.ClearWaiting(ctx, req.DeliveryID); err != nil {
				return nil, err
			}
			req.Waiting, req.WaitingForTurn = false, false
		}
		return nil, nil
	}
	pulled, ok, err := g.Order.MarkWaitingForTurn(ctx, req.DeliveryID, req.Predecessor, now.Add(TurnRecheck))
	if err != nil {
		return nil, err
	}
	if ok && !pulled.Undispatched {
		g.wake(ctx, pulled.WorkflowID, "the delivery before it in order")
	}
	return &Wait{Reason: hookflow.WaitOrdering, For: TurnRecheck, After: req.Predecessor}, nil
}

// wakeTimeout bounds a wake sent from a send or record step: the step must not outlast its
// own timeout on a slow Temporal (it would run, and send, again); a lost wake costs only
// its recheck.
const wakeTimeout = 5 * time.Second

// wake signals a waiting delivery's workflow, logging a failure (it then looks again on
// its own timer).
func (g *Gateway) wake(ctx context.Context, workflowID, which string) {
	if g.Waker == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wakeTimeout)
	defer cancel()
	if err := g.Waker.Wake(ctx, workflowID); err != nil {
		g.logger().Warn("could not wake "+which+"; it looks again later", "workflow_id", workflowID, "error", err)
	}
}

// HandOn wakes the delivery that comes after deliveryID in its ordering key, now that
// deliveryID has ended. The wake is sent even when the next one does not look started:
// its workflow may be reading the order at this moment, and a wake that arrives before
// its wait begins still ends that wait. One with no workflow yet reads the order when it
// starts. A wake that fails is logged; that delivery looks again after TurnRecheck.
func (g *Gateway) HandOn(ctx context.Context, deliveryID string) {
	if g.Order == nil || g.Waker == nil {
		return
	}
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wakeTimeout)
	defer cancel()
	next, ok, err := g.Order.NextInOrder(readCtx, deliveryID)
	if err != nil {
		g.logger().Warn("could not read the next delivery in order; it looks again later", "delivery_id", deliveryID, "error", err)
		return
	}
	if ok {
		g.wake(ctx, next.WorkflowID, "the next delivery in order")
	}
}
