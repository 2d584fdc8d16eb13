// Package tracing is hookflow's OpenTelemetry: the tracer its spans come from, the setup
// the standard OTEL_* variables configure (an OTLP exporter; off unless an endpoint is
// set), and the W3C traceparent that carries a trace from an ingest, through the
// database, to the dispatcher that starts the delivery's workflow (Temporal's own
// interceptor carries it on into the workflow and each attempt).
package tracing

import (
	"context"
	"errors"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Name is the instrumentation scope of hookflow's own spans.
const Name = "github.com/hookflow/hookflow"

// Tracer is hookflow's tracer, from the global provider: a no-op until Setup installs one.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Enabled reports whether the environment asks for traces: an OTLP endpoint is set, the
// SDK is not disabled and the traces exporter is OTLP.
func Enabled() bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	if exporter := os.Getenv("OTEL_TRACES_EXPORTER"); exporter != "" && exporter != "otlp" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs an OTLP trace exporter configured by the OTEL_* variables (endpoint,
// headers, protocol details, sampler, service name and resource attributes) as the
// global tracer provider, and W3C trace context as the propagator. It returns the
// function that flushes and stops it. With tracing off it installs nothing.
func Setup(ctx context.Context) (func(context.Context) error, error) {
	if !Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, errors.Join(errors.New("OTEL_EXPORTER_OTLP_ENDPOINT: cannot set up the trace exporter"), err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "hookflow")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, err
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	Install(provider)
	return provider.Shutdown, nil
}

// Install makes provider the global tracer provider, with W3C trace context propagation
// (also what tests call with an in-memory exporter).
func Install(provider trace.TracerProvider) {
	otel.SetTracerProvider(provider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// TemporalInterceptor carries the trace into every workflow, activity and local activity
// hookflow's Temporal clients start, with spans of their own.
func TemporalInterceptor() (interceptor.Interceptor, error) {
	return temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{})
}

// TraceParent is the W3C traceparent of the span in ctx, or "" when there is none to
// carry (tracing is off, or the span is not sampled).
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsSampled() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier["traceparent"]
}

// WithTraceParent returns ctx with the remote span a traceparent names as its parent.
func WithTraceParent(ctx context.Context, traceParent string) context.Context {
	if traceParent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceParent})
}
