// Package worker registers hookflow's workflows and activities on a Temporal worker. The
// worker process and the tests call the same Register, so what is tested is what runs.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/workflows"
)

// Register adds every workflow and activity to r.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflow(workflows.DeliveryWorkflow)
	r.RegisterWorkflow(workflows.FulfilmentCheckWorkflow)
	r.RegisterWorkflow(workflows.RecoveryWorkflow)
	r.RegisterWorkflow(workflows.RetentionWorkflow)
	r.RegisterActivity(acts)
}

// Options returns the worker settings: sized for a small machine, where most activity time
// is spent waiting on remote endpoints rather than on CPU.
func Options() sdkworker.Options {
	return sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      200,
		MaxConcurrentLocalActivityExecutionSize: 200,
		// A workflow task keeps its slot while its send step holds an attempt (at most
		// outbound's hold): room for a burst of attempts to endpoints that just began to
		// hang without holding up every other delivery.
		MaxConcurrentWorkflowTaskExecutionSize: 200,
		// On SIGTERM, in-flight attempts get this long to finish before their tasks are
		// handed back to Temporal to run elsewhere (Run sets the configured shutdown
		// timeout).
		WorkerStopTimeout: 20 * time.Second,
	}
}

// StickyCacheSize is the default bound on how many workflows a worker keeps in memory
// between tasks (HOOKFLOW_STICKY_CACHE_SIZE). A parked delivery (waiting on its backoff
// timer) needs none of it until the timer fires, and then replays its short history; the
// SDK's default of 10,000 would hold tens of kilobytes for each of them.
const StickyCacheSize = 2000

var (
	setCacheSize    sync.Once
	stickyCacheSize = StickyCacheSize
)

// SetStickyCacheSize sets the sticky cache's bound for this process; it must be called
// before the first worker is created (the SDK's cache is process-wide).
func SetStickyCacheSize(n int) {
	if n > 0 {
		stickyCacheSize = n
	}
}

// ConnectionOptions are the gRPC settings of hookflow's Temporal clients. Compression is
// off: workflow inputs and results carry ids only, so gzip would spend CPU on both ends
// (about 4% of a worker's) to shrink messages of a few hundred bytes.
func ConnectionOptions() client.ConnectionOptions {
	return client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}}
}

// MaxHandedOffAttempts bounds the attempts one worker awaits after handing them off:
// each is a goroutine waiting on a slow endpoint, so the bound can be generous.
const MaxHandedOffAttempts = 5000

// AttemptQueue returns a task queue name of this process's own, where the attempts it
// hands off are collected (activities.AwaitAttempt).
func AttemptQueue() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s@%s-%d-%s", workflows.TaskQueue, host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Workers are a process's two Temporal workers: the delivery task queue's, and the one on
// the process's own queue that collects the attempts it handed off.
type Workers struct {
	Deliveries, Attempts sdkworker.Worker
}

// New creates the workers with everything registered; stopTimeout is how long Stop lets
// attempts in flight finish. acts.AttemptQueue is set when empty.
func New(c client.Client, acts *activities.Activities, stopTimeout time.Duration) Workers {
	// The cache size is process-wide and may be set only before the first worker starts.
	setCacheSize.Do(func() { sdkworker.SetStickyWorkflowCacheSize(stickyCacheSize) })
	opts := Options()
	if stopTimeout > 0 {
		opts.WorkerStopTimeout = stopTimeout
	}
	if acts.AttemptQueue == "" {
		acts.AttemptQueue = AttemptQueue()
	}
	deliveries := sdkworker.New(c, workflows.TaskQueue, opts)
	Register(deliveries, acts)
	attemptOpts := sdkworker.Options{
		MaxConcurrentActivityExecutionSize: MaxHandedOffAttempts,
		WorkerStopTimeout:                  opts.WorkerStopTimeout,
	}
	attempts := sdkworker.New(c, acts.AttemptQueue, attemptOpts)
	attempts.RegisterActivity(acts.AwaitAttempt)
	return Workers{Deliveries: deliveries, Attempts: attempts}
}

// Start starts both workers.
func (w Workers) Start() error {
	if err := w.Attempts.Start(); err != nil {
		return err
	}
	if err := w.Deliveries.Start(); err != nil {
		w.Attempts.Stop()
		return err
	}
	return nil
}

// Stop stops taking deliveries first, then lets handed-off attempts finish.
func (w Workers) Stop() {
	w.Deliveries.Stop()
	w.Attempts.Stop()
}

// Run runs the workers until ctx is done, then stops them within stopTimeout.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, stopTimeout time.Duration) error {
	w := New(c, acts, stopTimeout)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// CheckNamespace makes sure the worker's namespace exists and has hookflow's search
// attributes: without them every delivery's start is refused, which would otherwise show
// only as warnings while deliveries pile up.
func CheckNamespace(ctx context.Context, c client.Client, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	listed, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("TEMPORAL_NAMESPACE %q: %w", namespace, err)
	}
	var missing []string
	for _, name := range workflows.SearchAttributeNames {
		if _, ok := listed.CustomAttributes[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("TEMPORAL_NAMESPACE %q lacks the search attributes %s (Keyword): register them, e.g. with deploy/register-search-attributes.sh",
			namespace, strings.Join(missing, ", "))
	}
	return nil
}
