package memprovider

import (
	"sync"
	"time"
)

// Clock tells a Provider the time. Implementations must be safe for
// concurrent use.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that moves only when told to. It is safe for
// concurrent use, and one FakeClock may drive several providers. The zero
// value is a clock stopped at the zero time.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
	// advanced is closed and replaced on every Advance, so that job watchers
	// of every provider using the clock wake and re-evaluate their jobs.
	advanced chan struct{}
}

// NewFakeClock returns a clock showing start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and wakes the job watchers of every
// Provider using the clock, so that jobs whose JobDuration or MaxDuration has
// now passed change state without another call. d must not be negative:
// time that runs backwards would let a finished job appear to finish again.
func (c *FakeClock) Advance(d time.Duration) {
	if d < 0 {
		panic("memprovider: FakeClock.Advance called with negative duration " + d.String())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	if c.advanced != nil {
		close(c.advanced)
		c.advanced = nil
	}
}

// wait returns a channel that is closed at the next Advance.
func (c *FakeClock) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.advanced == nil {
		c.advanced = make(chan struct{})
	}
	return c.advanced
}
