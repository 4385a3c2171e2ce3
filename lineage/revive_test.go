package lineage

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDeploymentReusedAfterRetireIsVisibleToImpact: a deployment retired and
// then added again as live (a name reused after delete) must serve again.
// AddNode ignored Live for an existing node, so it stayed retired and Impact
// missed it. The journal must replay the revival the same way.
func TestDeploymentReusedAfterRetireIsVisibleToImpact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	fs, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Store
		Querier
	}{NewGraph(nil), fs} {
		smallGraph(t, s) // scorer-b, deployed from model:risk@1, is retired
		if err := s.AddNode(ctx, NewDeployment("scorer-b")); err != nil {
			t.Fatal(err)
		}
		checkImpact(t, s, "after re-adding", "deployment:scorer-a", "deployment:scorer-b", "deployment:scorer-c")
		if n, err := s.Node(ctx, "deployment:scorer-b"); err != nil || !n.Live {
			t.Errorf("re-added deployment = %+v, %v; want live", n, err)
		}
		// A node added without Live does not retire a live one: only
		// Retire does.
		if err := s.AddNode(ctx, Node{Kind: KindDeployment, ID: "deployment:scorer-b"}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Node(ctx, "deployment:scorer-b"); !n.Live {
			t.Error("AddNode without Live retired a deployment")
		}
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	fs, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	checkImpact(t, fs, "after reopening", "deployment:scorer-a", "deployment:scorer-b", "deployment:scorer-c")
}

func checkImpact(t *testing.T, q Querier, when string, want ...string) {
	t.Helper()
	paths, err := q.Impact(context.Background(), "dataset:raw@1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range paths {
		got[p.End()] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s: Impact(dataset:raw@1) = %s, missing %s", when, fmtPaths(paths), w)
		}
	}
}
