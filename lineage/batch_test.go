package lineage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// smallBatch is smallGraph as one batch: edges to nodes added earlier in
// the batch, a repeat, and a retirement after the node's addition.
func smallBatch(t testing.TB) *Batch {
	t.Helper()
	g := NewGraph(nil)
	smallGraph(t, g)
	var b Batch
	nodes, edges := dump(g)
	for _, n := range nodes {
		if n.Kind == KindDeployment {
			n.Live = true
		}
		b.AddNode(n)
	}
	for _, e := range edges {
		b.AddEdge(e)
		b.AddEdge(e) // a repeat within the batch changes nothing
	}
	for _, n := range nodes {
		if n.Kind == KindDeployment && !n.Live {
			b.Retire(n.ID)
		}
	}
	return &b
}

func TestBatchApply(t *testing.T) {
	ctx := context.Background()
	want := NewGraph(nil)
	smallGraph(t, want)
	wantNodes, wantEdges := dump(want)

	g := NewGraph(nil)
	if err := g.Apply(ctx, smallBatch(t)); err != nil {
		t.Fatal(err)
	}
	if n, e := dump(g); !reflect.DeepEqual(n, wantNodes) || !reflect.DeepEqual(e, wantEdges) {
		t.Errorf("Graph.Apply built\n%v\n%v\nwant\n%v\n%v", n, e, wantNodes, wantEdges)
	}
	checkGraph(t, g)

	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, &FileStoreOptions{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, smallBatch(t)); err != nil {
		t.Fatal(err)
	}
	if n, e := dump(s.g); !reflect.DeepEqual(n, wantNodes) || !reflect.DeepEqual(e, wantEdges) {
		t.Errorf("FileStore.Apply built\n%v\n%v\nwant\n%v\n%v", n, e, wantNodes, wantEdges)
	}
	before, _ := os.ReadFile(path)
	// The same batch again is a repeat, except that it revives scorer-b and
	// retires it again: two lines, as with smallGraph repeated.
	if err := s.Apply(ctx, smallBatch(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, &Batch{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	added := `{"op":"node","node":{"kind":"deployment","id":"deployment:scorer-b","live":true}}` + "\n" +
		`{"op":"retire","id":"deployment:scorer-b"}` + "\n"
	if !bytes.HasPrefix(after, before) || string(after[len(before):]) != added {
		t.Errorf("a repeated batch added\n%s\nwant\n%s", after[len(before):], added)
	}
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, e := dump(s.g); !reflect.DeepEqual(n, wantNodes) || !reflect.DeepEqual(e, wantEdges) {
		t.Errorf("the reopened journal holds\n%v\n%v\nwant\n%v\n%v", n, e, wantNodes, wantEdges)
	}
}

// A batch with a refused change records none of its changes, says which
// change was refused, and leaves the store usable.
func TestBatchAllOrNothing(t *testing.T) {
	ctx := context.Background()
	bad := func() *Batch {
		var b Batch
		b.AddNode(NewDataset("in", "1", "sha256:1"))
		b.AddNode(NewJob("j"))
		b.AddEdge(Edge{"dataset:in@1", "job:j", EdgeConsumed})
		b.AddNode(NewDataset("in", "1", "sha256:other")) // conflicts with the first
		return &b
	}
	check := func(t *testing.T, s Store, err error) {
		t.Helper()
		if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "batch change 4 of 4") {
			t.Errorf("Apply = %v, want ErrConflict naming change 4 of 4", err)
		}
		for _, id := range []string{"dataset:in@1", "job:j"} {
			if _, err := s.Node(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s was recorded from a refused batch: %v", id, err)
			}
		}
		if err := s.AddNode(ctx, NewJob("after")); err != nil {
			t.Errorf("AddNode after a refused batch: %v", err)
		}
	}
	t.Run("Graph", func(t *testing.T) {
		g := NewGraph(nil)
		check(t, g, g.Apply(ctx, bad()))
		checkGraph(t, g)
	})
	t.Run("FileStore", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "lineage.jsonl")
		s, err := OpenFileStore(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		err = s.Apply(ctx, bad())
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Errorf("a refused batch was written:\n%s", after[len(before):])
		}
		check(t, s, err)
		s.Close()
		s, err = OpenFileStore(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if n, _ := s.Size(); n != 1 {
			t.Errorf("reopened journal has %d nodes, want the one added after the refused batch", n)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		g := NewGraph(nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := g.Apply(cctx, bad()); !errors.Is(err, context.Canceled) {
			t.Errorf("Apply with a cancelled context = %v", err)
		}
	})
}
