package outbound

import (
	"context"
	"sync"
	"time"
)

// slots is the in-flight cap: per destination, how many requests this worker has out and
// when each must end (its timeout). It is per process on purpose: the cap bounds the share
// of a worker one endpoint can hold, whatever the other replicas do.
type slots struct {
	mu   sync.Mutex
	dest map[string]*destinationSlots
}

type destinationSlots struct {
	inFlight map[*slot]struct{}
	// freed is closed and replaced whenever a slot frees, waking those in acquire.
	freed chan struct{}
	// refusals counts the deliveries told to wait for a slot, so a release looks for
	// waiters to wake only when there may be some; waitersSeen is the count when a look
	// last found none.
	refusals, waitersSeen uint64
	// slowUntil is set when an attempt outlasted its hold: until an answer comes within
	// the hold again (or it passes), attempts hand off at once.
	slowUntil time.Time
}

type slot struct {
	deadline time.Time
}

func newSlots() *slots { return &slots{dest: map[string]*destinationSlots{}} }

func (s *slots) entry(id string) *destinationSlots {
	d := s.dest[id]
	if d == nil {
		d = &destinationSlots{inFlight: map[*slot]struct{}{}, freed: make(chan struct{})}
		s.dest[id] = d
	}
	return d
}

// acquire takes one of the destination's slots for a request that ends within timeout,
// waiting up to patience for one to free.
func (s *slots) acquire(ctx context.Context, id string, limit int, patience, timeout time.Duration) (*slot, bool) {
	var gaveUp <-chan time.Time
	if patience > 0 {
		t := time.NewTimer(patience)
		defer t.Stop()
		gaveUp = t.C
	}
	for {
		s.mu.Lock()
		d := s.entry(id)
		if len(d.inFlight) < limit {
			sl := &slot{deadline: time.Now().Add(timeout)}
			d.inFlight[sl] = struct{}{}
			s.mu.Unlock()
			return sl, true
		}
		freed := d.freed
		s.mu.Unlock()
		if gaveUp == nil {
			return nil, false
		}
		select {
		case <-freed:
		case <-gaveUp:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// release frees a slot and reports whether deliveries may be waiting for it, with the
// refusal count to hand back to noWaiters should a look find none.
func (s *slots) release(id string, sl *slot) (bool, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest[id]
	if d == nil {
		return false, 0
	}
	delete(d.inFlight, sl)
	close(d.freed)
	d.freed = make(chan struct{})
	waiters := d.refusals != d.waitersSeen
	s.forgetIdle(id, d)
	return waiters, d.refusals
}

// forgetIdle drops a destination with nothing in flight, nobody waiting and no slowness
// to remember.
func (s *slots) forgetIdle(id string, d *destinationSlots) {
	if len(d.inFlight) == 0 && d.refusals == d.waitersSeen && !time.Now().Before(d.slowUntil) {
		delete(s.dest, id)
	}
}

// slowMemory bounds how long an endpoint stays known as slow without a new slow attempt.
const slowMemory = 2 * time.Minute

// markSlow notes that an attempt to the destination outlasted its hold.
func (s *slots) markSlow(id string) {
	s.mu.Lock()
	s.entry(id).slowUntil = time.Now().Add(slowMemory)
	s.mu.Unlock()
}

// answered notes an answer within the hold: the destination is not slow any more.
func (s *slots) answered(id string) {
	s.mu.Lock()
	if d := s.dest[id]; d != nil {
		d.slowUntil = time.Time{}
	}
	s.mu.Unlock()
}

// slow reports whether the destination's attempts currently outlast the hold.
func (s *slots) slow(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dest[id]
	if d == nil {
		return false
	}
	if time.Now().Before(d.slowUntil) {
		return true
	}
	s.forgetIdle(id, d)
	return false
}

// refused notes that a delivery now waits for one of the destination's slots.
func (s *slots) refused(id string) {
	s.mu.Lock()
	s.entry(id).refusals++
	s.mu.Unlock()
}

// noWaiters notes that a look found no delivery waiting, as of the refusal count seen
// before it: a refusal since then keeps the next release looking.
func (s *slots) noWaiters(id string, seen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dest[id]; d != nil {
		d.waitersSeen = max(d.waitersSeen, seen)
		s.forgetIdle(id, d)
	}
}

// nextFree is how long until one of the destination's slots must be free: the earliest
// deadline of the requests in flight (they end by their timeout at the latest), plus a
// margin. A waiter is woken sooner when a slot frees; this bounds the wait if that wake
// is lost.
func (s *slots) nextFree(id string, now time.Time, fallback time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var earliest time.Time
	if d := s.dest[id]; d != nil {
		for sl := range d.inFlight {
			if earliest.IsZero() || sl.deadline.Before(earliest) {
				earliest = sl.deadline
			}
		}
	}
	wait := fallback
	if !earliest.IsZero() {
		wait = time.Until(earliest)
	}
	return max(wait, 0) + time.Second
}
