package outbound

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// flights are this worker's requests in flight. A request outlives the step that started
// it when it is handed off: the step returns its ticket, and an activity on this worker's
// own task queue collects the answer (Await), so a slow endpoint holds a goroutine and an
// activity slot, never a workflow task.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	ticket  string
	cancel  context.CancelFunc
	done    chan struct{}
	outcome Outcome
}

// handOffGrace is how long a handed-off answer is kept for its Await after the request
// ended, and how much longer than its timeout a request may hold its slot.
const handOffGrace = time.Minute

// ErrLostAttempt says a handed-off attempt is unknown to this worker: the process that
// made it stopped before its answer was collected.
var ErrLostAttempt = errors.New("the worker that made this attempt stopped before its answer was collected")

func newFlights() *flights { return &flights{m: map[string]*flight{}} }

// start runs send in the background with its own deadline (the step that started it may
// end first) and registers it under a new ticket; after runs once the outcome is out.
func (fs *flights) start(send func(context.Context) Outcome, after func(Outcome), timeout time.Duration) *flight {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+handOffGrace)
	f := &flight{ticket: newTicket(), cancel: cancel, done: make(chan struct{})}
	fs.mu.Lock()
	fs.m[f.ticket] = f
	fs.mu.Unlock()
	go func() {
		defer cancel()
		f.outcome = send(ctx)
		close(f.done)
		after(f.outcome)
		// An answer nobody collects (its workflow moved on) must not stay forever.
		time.AfterFunc(handOffGrace, func() { fs.forget(f) })
	}()
	return f
}

func (fs *flights) forget(f *flight) {
	fs.mu.Lock()
	if fs.m[f.ticket] == f {
		delete(fs.m, f.ticket)
	}
	fs.mu.Unlock()
}

func (fs *flights) await(ctx context.Context, ticket string) (Outcome, error) {
	fs.mu.Lock()
	f := fs.m[ticket]
	fs.mu.Unlock()
	if f == nil {
		return Outcome{}, ErrLostAttempt
	}
	select {
	case <-f.done:
		fs.forget(f)
		return f.outcome, nil
	case <-ctx.Done():
		return Outcome{}, ctx.Err()
	}
}

func newTicket() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
