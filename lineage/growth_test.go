package lineage

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// openCost replays the journal at path as OpenFileStore does and returns
// what the replay allocated (bytes and objects) and how long it took. The
// graph is sized for the nodes up front, so that the doubling of its
// tables, which is linear in sum but not at every size, does not blur the
// comparison; and the journal is read in chunks of 4 KiB, so that the
// reader's buffers, which grow with the input up to a fixed size, cost the
// same at every size compared.
func openCost(t *testing.T, path string, nodes int) (bytes, objects uint64, took time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := NewGraph(&GraphOptions{ExpectedNodes: nodes})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, _, err = loadJournalChunks(f, g, 4<<10)
	took = time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Size(); n < nodes {
		t.Fatalf("replayed %d nodes, want at least %d", n, nodes)
	}
	return after.TotalAlloc - before.TotalAlloc, after.Mallocs - before.Mallocs, took
}

// TestOpenJournalGrowsLinearly opens journals of n, 2n and 4n nodes and
// fails when a node costs more to open in a larger journal than in a
// smaller one, beyond a tolerance: opening a journal of a million nodes
// took 14–26 times as long as one of a hundred thousand. Allocations are
// compared as marginal costs — what the nodes from n to 2n cost against
// what those from 2n to 4n cost — so that the loader's fixed buffers
// cancel out; they do not depend on the machine, so the tolerance is
// tight. Time does, so it is compared loosely, per node at 4n against n,
// each the best of three opens. No figure is compared with an absolute.
func TestOpenJournalGrowsLinearly(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	type cost struct {
		bytes, objects, nanos float64
	}
	measure := func(nodes, opens int) cost {
		path := filepath.Join(dir, fmt.Sprintf("journal-%d", nodes))
		writeBenchJournal(t, path, nodes)
		c := cost{nanos: -1}
		for range opens {
			b, o, took := openCost(t, path, nodes)
			c.bytes, c.objects = float64(b), float64(o)
			if ns := float64(took.Nanoseconds()); c.nanos < 0 || ns < c.nanos {
				c.nanos = ns
			}
		}
		return c
	}
	c1, c2, c4 := measure(n, 3), measure(2*n, 1), measure(4*n, 3)
	for _, c := range []struct {
		what   string
		first  float64 // per node from n to 2n
		second float64 // per node from 2n to 4n
	}{
		{"bytes allocated", (c2.bytes - c1.bytes) / n, (c4.bytes - c2.bytes) / (2 * n)},
		{"allocations", (c2.objects - c1.objects) / n, (c4.objects - c2.objects) / (2 * n)},
	} {
		t.Logf("%s per node: %.1f from %d to %d nodes, %.1f from %d to %d", c.what, c.first, n, 2*n, c.second, 2*n, 4*n)
		if c.second > c.first*1.3 {
			t.Errorf("a node costs %.2f× the %s from %d to %d nodes that it does from %d to %d (tolerance 1.3×): opening grows worse than linearly",
				c.second/c.first, c.what, 2*n, 4*n, n, 2*n)
		}
	}
	small, large := c1.nanos/n, c4.nanos/(4*n)
	t.Logf("time per node: %.0f ns at %d nodes, %.0f ns at %d", small, n, large, 4*n)
	if large > small*2.5 {
		t.Errorf("a node takes %.2f× as long to open at %d nodes as at %d (tolerance 2.5×): opening grows worse than linearly",
			large/small, 4*n, n)
	}
}
