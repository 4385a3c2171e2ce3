package lineage

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// openCost opens the journal at path and returns what the open allocated
// (bytes and objects) and how long it took.
func openCost(t *testing.T, path string) (bytes, objects uint64, took time.Duration) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := OpenFileStore(context.Background(), path, nil)
	took = time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs, took
}

// TestOpenJournalGrowsLinearly opens journals of n and 4n nodes and fails
// when the larger costs more per node than the smaller by more than a
// tolerance: opening a journal used to cost more per node the larger the
// journal was. Allocations are compared strictly (they do not depend on
// the machine); time, which does, only loosely and as the best of three.
// No figure is compared with an absolute.
func TestOpenJournalGrowsLinearly(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	type cost struct {
		nodes                 int
		bytes, objects, nanos float64 // per node
	}
	measure := func(nodes int) cost {
		path := filepath.Join(dir, "journal-"+time.Now().Format("150405.000000000"))
		writeBenchJournal(t, path, nodes)
		c := cost{nodes: nodes, nanos: -1}
		for range 3 {
			b, o, took := openCost(t, path)
			c.bytes, c.objects = float64(b)/float64(nodes), float64(o)/float64(nodes)
			if ns := float64(took.Nanoseconds()) / float64(nodes); c.nanos < 0 || ns < c.nanos {
				c.nanos = ns
			}
		}
		return c
	}
	small, large := measure(n), measure(4*n)
	t.Logf("per node at %d nodes: %.0f B, %.1f allocations, %.0f ns; at %d nodes: %.0f B, %.1f allocations, %.0f ns",
		small.nodes, small.bytes, small.objects, small.nanos, large.nodes, large.bytes, large.objects, large.nanos)
	for _, c := range []struct {
		what         string
		small, large float64
		tolerance    float64
	}{
		{"bytes allocated", small.bytes, large.bytes, 1.3},
		{"allocations", small.objects, large.objects, 1.3},
		{"time", small.nanos, large.nanos, 2.5},
	} {
		if c.large > c.small*c.tolerance {
			t.Errorf("opening 4× the nodes costs %.2f× the %s per node (tolerance %.1f×): opening grows worse than linearly",
				c.large/c.small, c.what, c.tolerance)
		}
	}
}
