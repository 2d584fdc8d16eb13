package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hookflow/hookflow/client"
)

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args       []string
		positional []string
		json       bool
	}{
		{[]string{"7"}, []string{"7"}, false},
		{[]string{"7", "--json"}, []string{"7"}, true},
		{[]string{"--json", "7"}, []string{"7"}, true},
		{[]string{"--reason", "lunch", "7", "8"}, []string{"7", "8"}, false},
		{[]string{"7", "--", "--json"}, []string{"7", "--json"}, false},
	} {
		flags := flag.NewFlagSet("test", flag.ContinueOnError)
		asJSON := flags.Bool("json", false, "")
		flags.String("reason", "", "")
		positional, err := parseInterspersed(flags, c.args)
		if err != nil || !slices.Equal(positional, c.positional) || *asJSON != c.json {
			t.Errorf("parseInterspersed(%q) = %q, json %v, %v; want %q, json %v", c.args, positional, *asJSON, err, c.positional, c.json)
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	t.Setenv("HOOKFLOW_API_KEY", "")
	for _, args := range [][]string{
		{"deliveries"},
		{"deliveries", "nope"},
		{"deliveries", "get"},
		{"deliveries", "get", "1", "2"},
		{"deliveries", "list", "--no-such-flag"},
		{"subscriptions", "list"}, // no key
		{"events", "send", "--type", "a", "--api-key", "k", "--url", "127.0.0.1:8080"},
	} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code != 2 {
			t.Errorf("hookflow %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), code, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"subscriptions", "pause", "-h"}, &stderr); code != 0 || !strings.Contains(stderr.String(), "-reason") {
		t.Errorf("subscriptions pause -h: exit %d: %s", code, stderr.String())
	}
}

// fakeListing serves GET /v1/deliveries newest first from deliveries it is told about,
// as hookflow pages them (the cursor is the id to continue below).
type fakeListing struct {
	mu         sync.Mutex
	deliveries []client.Delivery // oldest first
	requests   int
}

func (f *fakeListing) set(id int, status client.DeliveryStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.deliveries {
		if f.deliveries[i].ID == id {
			f.deliveries[i].Status = status
			return
		}
	}
	f.deliveries = append(f.deliveries, client.Delivery{ID: id, Status: status, EventType: "a.b"})
}

func (f *fakeListing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	below := int(^uint(0) >> 1)
	if cursor := r.URL.Query().Get("cursor"); cursor != "" {
		below, _ = strconv.Atoi(cursor)
	}
	page := client.DeliveryPage{Data: []client.Delivery{}}
	for i := len(f.deliveries) - 1; i >= 0; i-- {
		if d := f.deliveries[i]; d.ID < below {
			if len(page.Data) == limit {
				page.NextCursor = client.Ptr(strconv.Itoa(page.Data[len(page.Data)-1].ID))
				break
			}
			page.Data = append(page.Data, d)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func TestTailPrintsEachNewDeliveryAndChangeOnce(t *testing.T) {
	listing := &fakeListing{}
	server := httptest.NewServer(listing)
	defer server.Close()
	api, err := client.New(server.URL, "k")
	if err != nil {
		t.Fatal(err)
	}
	var printed []string
	tail := &tailer{api: api, print: func(d client.Delivery, previous client.DeliveryStatus) {
		printed = append(printed, fmt.Sprintf("%d %s>%s", d.ID, previous, d.Status))
	}}
	ctx := context.Background()
	poll := func() {
		t.Helper()
		if err := tail.poll(ctx); err != nil {
			t.Fatal(err)
		}
	}

	listing.set(1, client.DeliveryStatusDelivered)
	listing.set(2, client.DeliveryStatusRetrying)
	if err := tail.start(ctx); err != nil {
		t.Fatal(err)
	}
	poll()
	if len(printed) != 0 {
		t.Fatalf("printed %v before anything happened", printed)
	}

	// More new deliveries than a page holds, and the outcome of one open at the start.
	for id := 3; id <= 3+tailPageSize; id++ {
		listing.set(id, client.DeliveryStatusPending)
	}
	listing.set(2, client.DeliveryStatusDelivered)
	poll()
	want := []string{"2 retrying>delivered"}
	for id := 3; id <= 3+tailPageSize; id++ {
		want = append(want, fmt.Sprintf("%d >pending", id))
	}
	if !slices.Equal(printed, want) {
		t.Fatalf("printed %d lines %v…, want %d starting %v", len(printed), printed[:min(3, len(printed))], len(want), want[:3])
	}

	printed = nil
	listing.set(3, client.DeliveryStatusFailed)
	listing.set(50, client.DeliveryStatusRetrying)
	poll()
	poll()
	if !slices.Equal(printed, []string{"3 pending>failed", "50 pending>retrying"}) {
		t.Errorf("printed %v, want each change once", printed)
	}

	// Once nothing is open, a poll reads a single page.
	for id := 3; id <= 3+tailPageSize; id++ {
		listing.set(id, client.DeliveryStatusDelivered)
	}
	poll()
	before := listing.requests
	poll()
	if listing.requests-before != 1 {
		t.Errorf("a poll with nothing open read %d pages, want 1", listing.requests-before)
	}
}
