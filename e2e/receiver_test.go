package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Received is one request an endpoint got.
type Received struct {
	At     time.Time
	Header http.Header
	Body   []byte
}

// Receiver is a real HTTP endpoint that records every request and answers with the
// status its script gives for the n-th request (1-based).
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received []Received
	script   func(n int) int
	arrived  chan struct{}
}

func newReceiver(t *testing.T, script func(n int) int) *Receiver {
	r := &Receiver{script: script, arrived: make(chan struct{}, 1<<16)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

// always answers every request with code.
func always(code int) func(int) int { return func(int) int { return code } }

// failTimes answers 500 to the first n requests, then 200.
func failTimes(n int) func(int) int {
	return func(i int) int {
		if i <= n {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.received = append(r.received, Received{At: time.Now(), Header: req.Header.Clone(), Body: body})
	n := len(r.received)
	script := r.script
	r.mu.Unlock()
	r.arrived <- struct{}{}
	code := script(n)
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code)))
}

// SetScript changes the answers from now on.
func (r *Receiver) SetScript(script func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = script
}

// Requests returns a copy of what was received so far.
func (r *Receiver) Requests() []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Received(nil), r.received...)
}
