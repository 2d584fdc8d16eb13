package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// (o): what the subscription's options cost end to end, each as a ratio of (b) run the
// same way beside it: signing secrets sealed at rest against stored as they are (for (b)
// and for (c)), Ed25519 signatures against HMAC, and a fifo subscription whose events
// spread over 100 ordering keys, or share one.

// VariantsResult is (o).
type VariantsResult struct {
	Events        int `json:"events"`
	Subscriptions int `json:"subscriptions"`
	Rounds        int `json:"rounds"`
	// SealedPerSecond is (b) as a deployment runs it (secrets sealed, HMAC, no ordering);
	// PlaintextPerSecond the same build with no HOOKFLOW_SECRETS_KEY. Interleaved rounds.
	SealedPerSecond    []float64 `json:"sealed_per_second"`
	PlaintextPerSecond []float64 `json:"plaintext_per_second"`
	SealedOverPlain    float64   `json:"sealed_over_plaintext"`
	// IngestSealed and IngestPlaintext are (c), events/s, the same way.
	IngestSealed          []float64 `json:"ingest_sealed_per_second"`
	IngestPlaintext       []float64 `json:"ingest_plaintext_per_second"`
	IngestSealedOverPlain float64   `json:"ingest_sealed_over_plaintext"`
	// Ed25519PerSecond is (b) with ed25519 subscriptions (v1a signatures).
	Ed25519PerSecond float64 `json:"ed25519_per_second"`
	Ed25519OverB     float64 `json:"ed25519_over_b"`
	// FIFO100PerSecond and FIFO1PerSecond are (b) with fifo subscriptions, the events spread
	// over 100 ordering keys or all on one.
	FIFO100PerSecond float64 `json:"fifo_100_keys_per_second"`
	FIFO100OverB     float64 `json:"fifo_100_keys_over_b"`
	FIFO1PerSecond   float64 `json:"fifo_1_key_per_second"`
	FIFO1OverB       float64 `json:"fifo_1_key_over_b"`
}

// variantRounds is how many times the sealed and plaintext runs alternate.
const variantRounds = 2

// variant is one shape of (b): hookflow's extra environment, the subscriptions' extra
// fields and each event's ordering key.
type variant struct {
	name        string
	env         []string
	fields      map[string]any
	orderingKey func(i int) string
}

// plaintextSecrets runs hookflow with no key: secrets are stored, and read, as they are.
var plaintextSecrets = []string{"HOOKFLOW_SECRETS_KEY="}

func (b *bench) variants(ctx context.Context) error {
	cfg := b.cfg
	res := VariantsResult{Events: cfg.Events, Subscriptions: cfg.Subscriptions, Rounds: variantRounds}
	sealed, plain := variant{name: "sealed"}, variant{name: "plaintext", env: plaintextSecrets}
	for range variantRounds {
		for _, run := range []struct {
			v    variant
			into *[]float64
		}{{sealed, &res.SealedPerSecond}, {plain, &res.PlaintextPerSecond}} {
			rate, err := b.runVariant(ctx, run.v)
			if err != nil {
				return err
			}
			*run.into = append(*run.into, rate)
		}
		for _, run := range []struct {
			env  []string
			into *[]float64
		}{{nil, &res.IngestSealed}, {plaintextSecrets, &res.IngestPlaintext}} {
			ingest, err := b.measureIngest(ctx, run.env, cfg.IngestDuration/2)
			if err != nil {
				return err
			}
			*run.into = append(*run.into, ingest.PerSecond)
		}
	}
	base := median(res.SealedPerSecond)
	res.SealedOverPlain = base / median(res.PlaintextPerSecond)
	res.IngestSealedOverPlain = median(res.IngestSealed) / median(res.IngestPlaintext)
	var err error
	if res.Ed25519PerSecond, err = b.runVariant(ctx, variant{name: "ed25519", fields: map[string]any{"signature_scheme": "ed25519"}}); err != nil {
		return err
	}
	fifo := map[string]any{"ordering": "fifo"}
	if res.FIFO100PerSecond, err = b.runVariant(ctx, variant{name: "fifo, 100 keys", fields: fifo,
		orderingKey: func(i int) string { return fmt.Sprintf("key-%d", i%100) }}); err != nil {
		return err
	}
	if res.FIFO1PerSecond, err = b.runVariant(ctx, variant{name: "fifo, 1 key", fields: fifo,
		orderingKey: func(int) string { return "one" }}); err != nil {
		return err
	}
	res.Ed25519OverB, res.FIFO100OverB, res.FIFO1OverB = res.Ed25519PerSecond/base, res.FIFO100PerSecond/base, res.FIFO1PerSecond/base
	b.report.Variants = &res
	return nil
}

// runVariant runs (b)'s events through a fresh dev server and hookflow shaped by v, and
// answers deliveries per second.
func (b *bench) runVariant(ctx context.Context, v variant) (float64, error) {
	cfg := b.cfg
	if err := b.freshTemporal(ctx); err != nil {
		return 0, err
	}
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (o, " + v.name + ")", Binary: b.binary,
		TemporalAddress: b.temporal, Namespace: namespaceEndToEnd, RetryUnit: time.Minute, Env: v.env})
	if err != nil {
		return 0, err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := api.newAccount(ctx, "bench")
	if err != nil {
		return 0, err
	}
	for i := range cfg.Subscriptions {
		sub := map[string]any{"url": fmt.Sprintf("%s%svariant-%d", b.receiver.URL, okPath, i), "event_types": []string{"*"}}
		for k, value := range v.fields {
			sub[k] = value
		}
		if err := api.do(ctx, http.MethodPost, "/v1/subscriptions", key, sub, http.StatusCreated, nil); err != nil {
			return 0, err
		}
	}
	post := func(i int) error {
		event := benchEvent(i)
		if v.orderingKey != nil {
			event["ordering_key"] = v.orderingKey(i)
		}
		return api.do(ctx, http.MethodPost, "/v1/events", key, event, http.StatusAccepted, nil)
	}
	// Warm up outside the clock, as (b) does.
	if err := post(-1); err != nil {
		return 0, err
	}
	if _, err := hf.waitStatus(ctx, "delivered", cfg.Subscriptions, time.Minute); err != nil {
		return 0, fmt.Errorf("(o) %s warm-up: %w", v.name, err)
	}
	deliveries := cfg.Events * cfg.Subscriptions
	b.logf("(o) %s: %d events × %d subscriptions", v.name, cfg.Events, cfg.Subscriptions)
	start := time.Now()
	if err := postConcurrently(ctx, cfg.Events, cfg.Posters, post); err != nil {
		return 0, err
	}
	end, err := hf.waitStatus(ctx, "delivered", cfg.Subscriptions+deliveries, patience(deliveries, 0))
	if err != nil {
		return 0, fmt.Errorf("(o) %s: %w", v.name, err)
	}
	rate := float64(deliveries) / end.Sub(start).Seconds()
	b.logf("(o) %s: %.1f deliveries/s", v.name, rate)
	return rate, nil
}

// goalSealedOverPlain is how close to plaintext storage sealed secrets must keep (b) and
// (c): within the noise of interleaved rounds.
const goalSealedOverPlain = 0.95

// finishVariants adds (o)'s targets: sealing secrets at rest must not slow (b) or (c).
func (r *Report) finishVariants() {
	v := r.Variants
	if v == nil {
		return
	}
	rounds := fmt.Sprintf("medians of %d interleaved rounds each", v.Rounds)
	r.Targets = append(r.Targets,
		once(atLeast("(o) (b) with secrets sealed vs stored as they are", "≥ 0.95 × (within noise)", "×", v.SealedOverPlain, goalSealedOverPlain), rounds),
		once(atLeast("(o) (c) with secrets sealed vs stored as they are", "≥ 0.95 × (within noise)", "×", v.IngestSealedOverPlain, goalSealedOverPlain), rounds))
}

// variantsSection writes (o)'s rows of the figures table.
func (r Report) variantsSection(p func(format string, args ...any)) {
	v := r.Variants
	if v == nil {
		return
	}
	p("| (o) | (b), %d events × %d subscriptions, secrets sealed at rest (the default) and stored as they are (no HOOKFLOW_SECRETS_KEY), %d interleaved rounds | sealed %v /s, plaintext %v /s: **%.2f ×** |",
		v.Events, v.Subscriptions, v.Rounds, roundAll(v.SealedPerSecond), roundAll(v.PlaintextPerSecond), v.SealedOverPlain)
	p("| | … (c) the same way (half (c)'s duration each) | sealed %v events/s, plaintext %v events/s: **%.2f ×** |",
		roundAll(v.IngestSealed), roundAll(v.IngestPlaintext), v.IngestSealedOverPlain)
	p("| | … ed25519 subscriptions (v1a signatures) instead of HMAC | %s /s: **%.2f ×** (b) sealed |", num(v.Ed25519PerSecond), v.Ed25519OverB)
	p("| | … fifo subscriptions, events over 100 ordering keys | %s /s: **%.2f ×** |", num(v.FIFO100PerSecond), v.FIFO100OverB)
	p("| | … fifo subscriptions, every event on one ordering key (each subscription sends one request at a time) | %s /s: **%.2f ×** |", num(v.FIFO1PerSecond), v.FIFO1OverB)
}
