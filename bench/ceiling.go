package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow"
	hfworker "github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

// ceilingTaskQueue is apart from hookflow's so the ceiling never shares pollers with it.
const ceilingTaskQueue = "bench-ceiling"

// ceilingInput is one minimal delivery: POST a fixed body to URL with a webhook-id.
type ceilingInput struct {
	ID    string
	URL   string
	Shape ceilingShape
}

// ceilingShape adds to the minimal workflow, one at a time, what a hookflow delivery
// workflow has besides its POST, so the report can say what each costs on Temporal.
type ceilingShape struct {
	// SearchAttributes starts the workflow with hookflow's four search attributes.
	SearchAttributes bool `json:"search_attributes"`
	// StatusUpsert upserts the status search attribute before completing.
	StatusUpsert bool `json:"status_upsert"`
	// ExtraLocalActivities runs this many more (empty) local activities, as hookflow's
	// store steps are.
	ExtraLocalActivities int `json:"extra_local_activities"`
}

// ceilingPoster is the one local activity of the ceiling workflow.
type ceilingPoster struct {
	HTTP *http.Client
}

var ceilingBody = []byte(`{"event_type":"promoter.created","data":{"email":"promoter@example.com"}}`)

// Post sends the request; like hookflow's send, a non-2xx answer is an outcome, and here
// an error because the receiver always answers 200.
func (p *ceilingPoster) Post(ctx context.Context, in ceilingInput) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL, bytes.NewReader(ceilingBody))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", in.ID)
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}

// ceilingWorkflow is the least a delivery on Temporal can be: one local activity, so its
// whole history is the start, one workflow task and a marker.
func ceilingWorkflow(ctx workflow.Context, in ceilingInput) error {
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 30 * time.Second})
	var p *ceilingPoster
	for range in.Shape.ExtraLocalActivities {
		if err := workflow.ExecuteLocalActivity(ctx, p.Nothing).Get(ctx, nil); err != nil {
			return err
		}
	}
	if err := workflow.ExecuteLocalActivity(ctx, p.Post, in).Get(ctx, nil); err != nil {
		return err
	}
	if in.Shape.StatusUpsert {
		return workflow.UpsertTypedSearchAttributes(ctx, workflows.StatusKey.ValueSet(string(hookflow.StatusDelivered)))
	}
	return nil
}

// Nothing stands in for a store step.
func (p *ceilingPoster) Nothing(context.Context) error { return nil }

// CeilingResult is figure (a).
type CeilingResult struct {
	Shape       ceilingShape `json:"shape"`
	Workflows   int          `json:"workflows"`
	Concurrency int          `json:"concurrency"`
	Seconds     float64      `json:"seconds"`
	PerSecond   float64      `json:"workflows_per_second"`
	// HistoryEvents is the length of one ceiling workflow's history, to set against a
	// hookflow delivery's; HistoryTypes are its events' types.
	HistoryEvents int      `json:"history_events"`
	HistoryTypes  []string `json:"history_types"`
	// CPU is over the timed run; its bench share is the in-process worker, the starters
	// and the receiver together.
	CPU            CPUSplit       `json:"cpu"`
	CPUPerWorkflow CPUPerDelivery `json:"cpu_ms_per_workflow"`
}

// ceilingConcurrency bounds the workflows in flight (started, not yet completed): enough
// to keep the worker's task slots full without queueing thousands of starts at once.
const ceilingConcurrency = 64

// runCeiling runs n ceiling workflows through an in-process worker using the same worker
// settings as hookflow, with eager start as hookflow's dispatcher uses.
// pg, when Temporal keeps its state in PostgreSQL, measures its databases' CPU.
func runCeiling(ctx context.Context, c client.Client, receiverURL string, n, temporalPID int, pg *pgCPU, shape ceilingShape) (CeilingResult, error) {
	res := CeilingResult{Workflows: n, Concurrency: ceilingConcurrency, Shape: shape}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	w := sdkworker.New(c, ceilingTaskQueue, hfworker.Options())
	w.RegisterWorkflow(ceilingWorkflow)
	w.RegisterActivity(&ceilingPoster{HTTP: &http.Client{Transport: transport, Timeout: 30 * time.Second}})
	if err := w.Start(); err != nil {
		return res, fmt.Errorf("start ceiling worker: %w", err)
	}
	defer w.Stop()

	nonce := time.Now().UnixNano()
	run := func(i int) error {
		id := fmt.Sprintf("ceiling-%d-%d", nonce, i)
		opts := client.StartWorkflowOptions{ID: id, TaskQueue: ceilingTaskQueue, EnableEagerStart: true}
		if shape.SearchAttributes {
			opts.TypedSearchAttributes = temporal.NewSearchAttributes(
				workflows.AccountIDKey.ValueSet("bench"), workflows.SubscriptionIDKey.ValueSet(id),
				workflows.EventTypeKey.ValueSet("promoter.created"), workflows.StatusKey.ValueSet(string(hookflow.StatusPending)))
		}
		wr, err := c.ExecuteWorkflow(ctx, opts, ceilingWorkflow, ceilingInput{ID: id, URL: receiverURL + okPath + "ceiling", Shape: shape})
		if err != nil {
			return err
		}
		return wr.Get(ctx, nil)
	}
	// One workflow first, outside the clock, so connection set-up and the worker's first
	// poll are not part of the figure.
	if err := run(-1); err != nil {
		return res, fmt.Errorf("ceiling warm-up: %w", err)
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	window, err := startCPUWindow(ctx, 0, temporalPID, pg)
	if err != nil {
		return res, err
	}
	start := time.Now()
	for range ceilingConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := run(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if res.CPU, err = window.finish(ctx); err != nil {
		return res, err
	}
	res.CPUPerWorkflow = res.CPU.perDelivery(n)
	if firstErr != nil {
		return res, fmt.Errorf("ceiling workflow: %w", firstErr)
	}
	res.PerSecond = float64(n) / res.Seconds
	history, err := workflowHistory(ctx, c, fmt.Sprintf("ceiling-%d-%d", nonce, 0))
	if err != nil {
		return res, err
	}
	res.HistoryEvents, res.HistoryTypes = history.Events, history.Types
	return res, nil
}

// historyEvents is what countHistory reads of a workflow's history: the SDK's iterator.
type historyEvents interface {
	HasNext() bool
	Next() (*historypb.HistoryEvent, error)
}

// HistoryShape is one workflow's history: its length and its event types in order, so the
// report can show where a delivery's history differs from the ceiling's.
type HistoryShape struct {
	Events int      `json:"events"`
	Types  []string `json:"types"`
}

// countHistory reads a history to its end.
func countHistory(it historyEvents) (HistoryShape, error) {
	var h HistoryShape
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return HistoryShape{}, err
		}
		h.Events++
		h.Types = append(h.Types, eventTypeName(e.GetEventType()))
	}
	return h, nil
}

// eventTypeName is an event type as Temporal's UI names it: WorkflowTaskCompleted, which
// is what the API's String gives, rather than EVENT_TYPE_WORKFLOW_TASK_COMPLETED.
func eventTypeName(t enums.EventType) string {
	name, ok := strings.CutPrefix(t.String(), "EVENT_TYPE_")
	if !ok {
		return name
	}
	var sb strings.Builder
	for _, word := range strings.Split(name, "_") {
		if word != "" {
			sb.WriteString(word[:1] + strings.ToLower(word[1:]))
		}
	}
	return sb.String()
}

// workflowHistory waits for a workflow to close, then reads its whole history.
func workflowHistory(ctx context.Context, c client.Client, workflowID string) (HistoryShape, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.GetWorkflow(ctx, workflowID, "").Get(ctx, nil); err != nil {
		return HistoryShape{}, fmt.Errorf("workflow %s: %w", workflowID, err)
	}
	h, err := countHistory(c.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT))
	if err != nil {
		return HistoryShape{}, fmt.Errorf("history of %s: %w", workflowID, err)
	}
	return h, nil
}
