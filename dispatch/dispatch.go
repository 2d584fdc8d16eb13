// Package dispatch starts the workflows of committed deliveries and signals them for
// manual retries. Ingest only writes to PostgreSQL; the dispatcher, woken by
// LISTEN/NOTIFY and sweeping on a timer, is what hands deliveries to Temporal, so ingest
// never waits on Temporal and nothing committed is left behind when Temporal was down.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/tracing"
	"github.com/hookflow/hookflow/workflows"
)

// Store is what the dispatcher needs of the database.
type Store interface {
	ClaimUndispatched(ctx context.Context, limit int, lease time.Duration) ([]hookflow.DispatchItem, error)
	ReleaseClaims(ctx context.Context, ids []string) error
	MarkDispatched(ctx context.Context, ids []string) error
}

// claimLease is how long a dispatcher holds deliveries it is starting: far longer than a
// batch of starts takes, short enough that a crashed worker's claims come back soon.
const claimLease = 15 * time.Second

// Dispatcher starts delivery workflows.
type Dispatcher struct {
	Store  Store
	Client client.Client
	// DatabaseURL is used for the LISTEN connection.
	DatabaseURL string
	// SweepInterval bounds how long a delivery can wait when a notification was missed.
	SweepInterval time.Duration
	Logger        *slog.Logger
	// ObserveLag, if set, is told how long each started delivery waited since commit.
	ObserveLag func(time.Duration)
}

// Sizes of the dispatcher's work: deliveries claimed per query, and workflow starts in
// flight at once. More starts in flight only raised Temporal's latencies on a 2-core
// machine, not its throughput (measured with the benchmark's burst).
const (
	claimBatch    = 500
	startParallel = 16
)

// Run dispatches until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) error {
	logger := d.Logger
	if logger == nil {
		logger = slog.Default()
	}
	listener := pq.NewListener(d.DatabaseURL, 500*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			logger.Warn("dispatch listener", "error", err)
		}
	})
	defer listener.Close()
	if err := listener.Listen(store.DispatchChannel); err != nil {
		// The sweep still dispatches; the listener reconnects by itself.
		logger.Warn("dispatch listen", "error", err)
	}
	ticker := time.NewTicker(d.SweepInterval)
	defer ticker.Stop()
	for {
		if err := d.DispatchPending(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("dispatch", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-listener.Notify:
		case <-ticker.C:
		}
	}
}

// DispatchPending starts the workflow of every undispatched delivery, batch by batch.
func (d *Dispatcher) DispatchPending(ctx context.Context) error {
	for {
		items, err := d.Store.ClaimUndispatched(ctx, claimBatch, claimLease)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		started, startErr := d.startAll(ctx, items)
		if len(started) > 0 {
			ids := make([]string, 0, len(started))
			for id := range started {
				ids = append(ids, id)
			}
			if err := d.Store.MarkDispatched(ctx, ids); err != nil {
				return err
			}
			if d.ObserveLag != nil {
				now := time.Now()
				for _, item := range items {
					if started[item.DeliveryID] {
						d.ObserveLag(now.Sub(item.CreatedAt))
					}
				}
			}
		}
		if startErr != nil {
			var unstarted []string
			for _, item := range items {
				if !started[item.DeliveryID] {
					unstarted = append(unstarted, item.DeliveryID)
				}
			}
			// A fresh context: the claims must be released even when ctx is done.
			releaseCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return errors.Join(startErr, d.Store.ReleaseClaims(releaseCtx, unstarted))
		}
		if len(items) < claimBatch {
			return nil
		}
	}
}

func (d *Dispatcher) startAll(ctx context.Context, items []hookflow.DispatchItem) (map[string]bool, error) {
	var (
		mu       sync.Mutex
		started  = map[string]bool{}
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan hookflow.DispatchItem)
	)
	// A few goroutines take the batch in turn rather than one per start: a start runs deep
	// in the Temporal SDK, and a fresh goroutine grows its stack there at every start.
	for range min(startParallel, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range next {
				err := startTraced(ctx, d.Client, item)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("start the workflow of delivery %s (%s): %w", item.WorkflowID, startFailure(err), err)
				}
				if err == nil {
					started[item.DeliveryID] = true
				}
				mu.Unlock()
			}
		}()
	}
	for _, item := range items {
		next <- item
	}
	close(next)
	wg.Wait()
	return started, firstErr
}

// Start starts the workflow of one delivery. Starting a delivery whose workflow exists,
// running or closed, is not an error: the id makes the start idempotent.
func Start(ctx context.Context, c client.Client, item hookflow.DispatchItem) error {
	_, err := c.ExecuteWorkflow(ctx, StartOptions(item), workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: item.DeliveryID})
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return nil
	}
	return err
}

// StartOptions are the options of a delivery workflow start.
func StartOptions(item hookflow.DispatchItem) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        item.WorkflowID,
		TaskQueue: workflows.TaskQueue,
		// A closed delivery is never run again by a start; only a manual retry reopens it.
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// The dispatcher runs inside a worker process, so the first workflow task can be
		// handed straight to it.
		EnableEagerStart: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AccountIDKey.ValueSet(item.AccountID),
			workflows.SubscriptionIDKey.ValueSet(item.SubscriptionID),
			workflows.EventTypeKey.ValueSet(item.EventType),
			workflows.StatusKey.ValueSet(string(hookflow.StatusPending)),
		),
	}
}

// Waker wakes deliveries waiting for their endpoint (outbound.Waker).
type Waker struct {
	Client client.Client
}

// Wake signals a delivery's workflow. A workflow that has ended needs no wake.
func (w Waker) Wake(ctx context.Context, workflowID string) error {
	err := w.Client.SignalWorkflow(ctx, workflowID, "", workflows.WakeSignal, nil)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	return err
}

// Retrier asks deliveries for an attempt now.
type Retrier struct {
	Client client.Client
	Logger *slog.Logger
}

// RetryDelivery signals the delivery's workflow, starting a new run when it is closed: a
// waiting delivery attempts at once, a failed one makes one more attempt.
func (r Retrier) RetryDelivery(ctx context.Context, d hookflow.Delivery) error {
	item := hookflow.DispatchItem{DeliveryID: d.Key, WorkflowID: d.WorkflowID, AccountID: d.AccountID, SubscriptionID: d.SubscriptionID, EventType: d.EventType}
	opts := reopenOptions(item, d.Status)
	opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := r.Client.SignalWithStartWorkflow(ctx, opts.ID, workflows.RetrySignal, nil, opts,
		workflows.DeliveryWorkflow, workflows.DeliveryInput{DeliveryID: d.Key})
	return temporalError(loggerOr(r.Logger), err, "manual retry", "delivery_id", d.ID, "workflow_id", d.WorkflowID)
}

// reopenOptions are the options of a new run of a delivery's workflow that has closed
// (a manual retry, a recovery): it starts in the delivery's current status.
func reopenOptions(item hookflow.DispatchItem, status hookflow.Status) client.StartWorkflowOptions {
	opts := StartOptions(item)
	opts.WorkflowIDReusePolicy = enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	opts.EnableEagerStart = false
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(
		workflows.AccountIDKey.ValueSet(item.AccountID),
		workflows.SubscriptionIDKey.ValueSet(item.SubscriptionID),
		workflows.EventTypeKey.ValueSet(item.EventType),
		workflows.StatusKey.ValueSet(string(status)),
	)
	return opts
}

// startFailure says which kind of failure stopped a start, for the log: an outage, which
// the next sweep outlasts, or a fault that needs a person.
func startFailure(err error) string {
	if Unavailable(err) {
		return "Temporal is unavailable; the next sweep tries again"
	}
	return "Temporal refused it; check the namespace and its search attributes"
}

// startTraced starts a delivery's workflow in a span of the trace that created the
// delivery (Temporal's interceptor carries it into the workflow).
func startTraced(ctx context.Context, c client.Client, item hookflow.DispatchItem) error {
	ctx, span := tracing.Tracer().Start(tracing.WithTraceParent(ctx, item.TraceParent), "hookflow.dispatch",
		trace.WithAttributes(attribute.String("hookflow.delivery_key", item.DeliveryID), attribute.String("hookflow.workflow_id", item.WorkflowID)))
	defer span.End()
	err := Start(ctx, c, item)
	if err != nil {
		span.SetStatus(codes.Error, startFailure(err))
	}
	return err
}
