// Package filetest stands in for the file a durable writer appends to, so
// that tests can see what was synced when a write was acknowledged and can
// make a sync fail. A SIGKILL test cannot show a missing fsync (the page
// cache survives the process); this can.
package filetest

import (
	"os"
	"sync"
)

// A File passes writes, syncs and truncations through to an *os.File and
// records them: the bytes written since it was made, how many of them the
// last successful Sync covered, and how many calls of each kind it saw.
// It is safe for concurrent use.
type File struct {
	f *os.File

	mu      sync.Mutex
	data    []byte
	synced  int
	writes  int
	syncs   int
	failAt  int
	failErr error
}

// New wraps f.
func New(f *os.File) *File { return &File{f: f} }

// FailSync makes the nth Sync from now (1 for the next) return err without
// syncing; later ones succeed again, so that a writer that retries or
// carries on would be caught.
func (t *File) FailSync(n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failAt, t.failErr = t.syncs+n, err
}

// Write implements the writer's file interface.
func (t *File) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.mu.Lock()
	t.writes++
	t.data = append(t.data, p[:n]...)
	t.mu.Unlock()
	return n, err
}

// Sync implements the writer's file interface.
func (t *File) Sync() error {
	t.mu.Lock()
	t.syncs++
	if t.syncs == t.failAt {
		err := t.failErr
		t.mu.Unlock()
		return err
	}
	n := len(t.data)
	t.mu.Unlock()
	if err := t.f.Sync(); err != nil {
		return err
	}
	t.mu.Lock()
	t.synced = max(t.synced, n)
	t.mu.Unlock()
	return nil
}

// Truncate implements the writer's file interface. Written bytes beyond the
// new size are forgotten; size counts from where the file was when New was
// called only if the file was empty then, which is how tests use it.
func (t *File) Truncate(size int64) error {
	if err := t.f.Truncate(size); err != nil {
		return err
	}
	t.mu.Lock()
	if int(size) < len(t.data) {
		t.data = t.data[:size]
		t.synced = min(t.synced, int(size))
	}
	t.mu.Unlock()
	return nil
}

// Synced returns a copy of the bytes written through t that a successful
// Sync has covered.
func (t *File) Synced() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.data[:t.synced]...)
}

// Written returns a copy of every byte written through t.
func (t *File) Written() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.data...)
}

// Counts returns how many Write and Sync calls t has seen.
func (t *File) Counts() (writes, syncs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.writes, t.syncs
}
