package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/dispatch"
	"github.com/hookflow/hookflow/outbound"
	"github.com/hookflow/hookflow/outbound/webhook"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
	"github.com/hookflow/hookflow/tracing"
	"github.com/hookflow/hookflow/worker"
)

// One event to two subscriptions is one trace: the ingest span, a dispatch span per
// delivery as its child, and under each (through Temporal's spans of the workflow and its
// send step) the attempt's span naming the endpoint and its answer. In-process, with an
// in-memory exporter, against the real dev server, database and endpoints.
func TestOneEventIsOneTrace(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	tracing.Install(provider)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	dsn, drop := storetest.CreateDatabase(t)
	t.Cleanup(drop)
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	traced, err := tracing.TemporalInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(client.Options{HostPort: temporal.FrontendHostPort(), Namespace: nextNamespace(t),
		Interceptors: []interceptor.ClientInterceptor{traced}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gateway := &outbound.Gateway{Sender: &webhook.Sender{Client: http.DefaultClient}, Store: db, Waker: dispatch.Waker{Client: c}}
	workers := worker.New(c, &activities.Activities{Store: db, Outbound: gateway, RetryUnit: time.Second}, time.Second)
	if err := workers.Start(); err != nil {
		t.Fatal(err)
	}
	defer workers.Stop()
	dispatcher := &dispatch.Dispatcher{Store: db, Client: c, DatabaseURL: store.ConnectionURL(dsn), SweepInterval: 100 * time.Millisecond}
	go func() { _ = dispatcher.Run(ctx) }()
	srv := httptest.NewServer(api.NewRouter(api.Deps{Accounts: db, Subscriptions: db, Events: db, Deliveries: db, AdminKey: adminKey}))
	defer srv.Close()
	app := &App{t: t, URL: srv.URL}

	key := app.NewAccount("traced")
	one, two := newReceiver(t, always(http.StatusOK)), newReceiver(t, always(http.StatusAccepted))
	app.Subscribe(key, one.URL, nil)
	app.Subscribe(key, two.URL, nil)
	out := app.Publish(key, map[string]any{"event_type": "a.b"})
	for _, d := range out.Deliveries {
		app.WaitStatus(key, d.ID, "delivered", 30*time.Second)
	}
	if err := provider.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	// The attempt span ends when the answer is handed over, which may be just after the
	// record: give it a moment.
	var spans tracetest.SpanStubs
	waitFor(t, 5*time.Second, "both attempt spans", func() bool {
		spans = exporter.GetSpans()
		return len(named(spans, "hookflow.attempt")) == 2
	})

	ingest := named(spans, "hookflow.ingest")
	if len(ingest) != 1 {
		t.Fatalf("%d ingest spans, want 1", len(ingest))
	}
	traceID := ingest[0].SpanContext.TraceID()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() == traceID {
			byID[s.SpanContext.SpanID()] = s
		}
	}
	dispatches := named(spans, "hookflow.dispatch")
	if len(dispatches) != 2 {
		t.Fatalf("%d dispatch spans, want 2", len(dispatches))
	}
	for _, d := range dispatches {
		if d.SpanContext.TraceID() != traceID || d.Parent.SpanID() != ingest[0].SpanContext.SpanID() {
			t.Errorf("dispatch span %s is not a child of the ingest span", d.SpanContext.SpanID())
		}
	}
	hosts := map[string]bool{}
	for _, a := range named(spans, "hookflow.attempt") {
		if a.SpanContext.TraceID() != traceID {
			t.Fatalf("an attempt span is in another trace")
		}
		// Up the parents: through Temporal's spans to one of the dispatch spans.
		var chain []string
		found := false
		for p := a.Parent.SpanID(); p.IsValid(); {
			parent, ok := byID[p]
			if !ok {
				break
			}
			chain = append(chain, parent.Name)
			if parent.Name == "hookflow.dispatch" {
				found = true
				break
			}
			p = parent.Parent.SpanID()
		}
		if !found {
			t.Errorf("attempt span's parents %v do not lead to a dispatch span", chain)
		}
		attrs := map[string]string{}
		for _, kv := range a.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		hosts[attrs["server.address"]] = true
		if code := attrs["http.response.status_code"]; code != "200" && code != "202" {
			t.Errorf("attempt span response code %q", code)
		}
		if _, ok := attrs["hookflow.duration_ms"]; !ok {
			t.Error("attempt span without its duration")
		}
	}
	if !hosts["127.0.0.1"] {
		t.Errorf("attempt spans name hosts %v, want 127.0.0.1", hosts)
	}
}

func named(spans tracetest.SpanStubs, name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}
