package lineage

import (
	"context"
	"runtime"
	"testing"
	"weak"
)

// TestDroppedGraphCollectedAfterOneGC: a Graph kept its traversal scratch in
// a sync.Pool inside the struct, and the runtime's list of pools held on to
// a pool (and so to the whole graph) until the second collection after the
// graph was dropped. One collection must be enough.
func TestDroppedGraphCollectedAfterOneGC(t *testing.T) {
	ctx := context.Background()
	wp := func() weak.Pointer[Graph] {
		g := NewGraph(nil)
		smallGraph(t, g)
		for range 3 {
			if _, err := g.Upstream(ctx, "deployment:scorer-a", nil); err != nil {
				t.Fatal(err)
			}
		}
		return weak.Make(g)
	}()
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("a dropped graph survived a garbage collection")
	}
}
