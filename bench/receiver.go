package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the receiver: okPath always answers 200; failPath answers 500 until heal is
// called, which is how the parked deliveries of (e) are made and then released.
const (
	okPath   = "/ok/"
	failPath = "/fail/"
	// hangPath accepts a request and never answers: hookflow's timeout ends it.
	hangPath = "/hang/"
)

// receiver is the webhook endpoint of every phase. It keeps the first arrival of each
// (webhook-id, path): the webhook-id of a hookflow delivery is its event id, and the path
// names the subscription, so the key is one delivery.
type receiver struct {
	URL string
	srv *http.Server

	recovered atomic.Bool
	requests  atomic.Int64
	hanging   atomic.Int64

	mu        sync.Mutex
	first     map[string]time.Time
	recoverAt []time.Time // 2xx answers on failPath after heal
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{URL: "http://" + l.Addr().String(), first: map[string]time.Time{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
	return r, nil
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, hangPath) {
		r.hanging.Add(1)
		defer r.hanging.Add(-1)
		<-req.Context().Done()
		return
	}
	now := time.Now()
	_, _ = io.Copy(io.Discard, req.Body)
	r.requests.Add(1)
	key := deliveryKey(req.Header.Get("webhook-id"), req.URL.Path)
	failing := strings.HasPrefix(req.URL.Path, failPath) && !r.recovered.Load()
	r.mu.Lock()
	if _, seen := r.first[key]; !seen {
		r.first[key] = now
	}
	if strings.HasPrefix(req.URL.Path, failPath) && !failing {
		r.recoverAt = append(r.recoverAt, now)
	}
	r.mu.Unlock()
	if failing {
		http.Error(w, "unavailable for the benchmark", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func deliveryKey(webhookID, path string) string { return webhookID + " " + path }

// arrival is the first request of a delivery, if it came.
func (r *receiver) arrival(webhookID, path string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.first[deliveryKey(webhookID, path)]
	return t, ok
}

// heal makes failPath answer 200 from now on.
func (r *receiver) heal() { r.recovered.Store(true) }

// reset makes failPath fail again and forgets its recoveries, for another run of (e).
func (r *receiver) reset() {
	r.recovered.Store(false)
	r.mu.Lock()
	r.recoverAt = nil
	r.mu.Unlock()
}

// recoveries returns the times failPath answered 2xx.
func (r *receiver) recoveries() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.recoverAt...)
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.srv.Shutdown(ctx)
}
