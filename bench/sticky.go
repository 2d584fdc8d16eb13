package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StickyCache is what hookflow's /metrics says of its worker's sticky workflow cache: the
// Temporal SDK's counters (hits, misses, forced evictions) and its size gauge.
type StickyCache struct {
	Hits           float64 `json:"hits"`
	Misses         float64 `json:"misses"`
	ForcedEviction float64 `json:"forced_evictions"`
	Size           float64 `json:"size"`
}

// The SDK's metric names, as hookflow's Prometheus registry exposes them (counters with
// _total, after the SDK's own prefix).
var stickyMetrics = map[string]func(*StickyCache, float64){
	"temporal_sticky_cache_hit_total":                   func(s *StickyCache, v float64) { s.Hits += v },
	"temporal_sticky_cache_miss_total":                  func(s *StickyCache, v float64) { s.Misses += v },
	"temporal_sticky_cache_total_forced_eviction_total": func(s *StickyCache, v float64) { s.ForcedEviction += v },
	"temporal_sticky_cache_size":                        func(s *StickyCache, v float64) { s.Size += v },
}

// parseStickyCache reads the sticky cache's figures from a Prometheus text exposition,
// adding up every label set (one per worker or task queue).
func parseStickyCache(r io.Reader) (StickyCache, error) {
	var s StickyCache
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < i {
				continue
			}
			rest = line[j+1:]
		}
		add, ok := stickyMetrics[name]
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", name, err)
		}
		add(&s, v)
	}
	return s, sc.Err()
}

func scrapeStickyCache(ctx context.Context, base string) (StickyCache, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return StickyCache{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return StickyCache{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return StickyCache{}, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	return parseStickyCache(resp.Body)
}

// stickyCacheDelta is the counters' growth since before, and the size now.
func stickyCacheDelta(ctx context.Context, base string, before StickyCache) (StickyCache, error) {
	// The SDK's metrics reach the registry on the reporter's next flush (each second).
	time.Sleep(1500 * time.Millisecond)
	now, err := scrapeStickyCache(ctx, base)
	if err != nil {
		return StickyCache{}, err
	}
	return StickyCache{Hits: now.Hits - before.Hits, Misses: now.Misses - before.Misses,
		ForcedEviction: now.ForcedEviction - before.ForcedEviction, Size: now.Size}, nil
}

// stickyCacheSettable tells whether this build's worker takes its sticky cache size from
// HOOKFLOW_STICKY_CACHE_SIZE: with the size set to the least hookflow accepts, more parked
// deliveries than that must leave the cache at that size, where a build that ignores the
// setting keeps them all.
func (b *bench) stickyCacheSettable(ctx context.Context) (bool, error) {
	if err := b.freshTemporal(ctx); err != nil {
		return false, err
	}
	b.receiver.reset()
	hf, err := startHookflow(ctx, hookflowOptions{Name: "hookflow (e, sticky cache probe)", Binary: b.binary, TemporalAddress: b.temporal,
		Namespace: namespaceParked, RetryUnit: time.Hour, Env: []string{fmt.Sprintf("HOOKFLOW_STICKY_CACHE_SIZE=%d", stickyProbeSize)}})
	if err != nil {
		return false, err
	}
	defer hf.stop()
	api := newAPIClient(hf.URL)
	key, err := setUp(ctx, api, b.receiver.URL+failPath+"probe-", 1)
	if err != nil {
		return false, err
	}
	const probe = 2 * stickyProbeSize
	if _, err := api.publishAll(ctx, key, probe, 1); err != nil {
		return false, err
	}
	if _, err := hf.waitStatus(ctx, "retrying", probe, time.Minute); err != nil {
		return false, err
	}
	time.Sleep(1500 * time.Millisecond)
	s, err := scrapeStickyCache(ctx, hf.URL)
	if err != nil {
		return false, err
	}
	return s.Size <= stickyProbeSize, nil
}

// stickyProbeSize is the smallest HOOKFLOW_STICKY_CACHE_SIZE hookflow accepts.
const stickyProbeSize = 10
