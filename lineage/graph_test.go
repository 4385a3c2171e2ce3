package lineage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// smallGraph records this provenance, used by the query tests:
//
//	raw@1 ─▶ job:prep ─▶ claims@3 ─▶ job:train-42 ─▶ model:risk@1 ─▶ scorer-a (live)
//	                        │        ref@1 ─┘                      └▶ scorer-b (retired)
//	                        └derived▶ sample@1 ─▶ job:eval-7 ─▶ model:risk-small@1 ─▶ scorer-c (live)
func smallGraph(t testing.TB, s Store) {
	t.Helper()
	ctx := context.Background()
	nodes := []Node{
		NewDataset("raw", "1", "sha256:aa"),
		NewJob("prep"),
		NewDataset("claims", "3", "sha256:bb"),
		NewDataset("ref", "1", "sha256:cc"),
		NewJob("train-42"),
		NewModel("risk", "1"),
		NewDeployment("scorer-a"),
		NewDeployment("scorer-b"),
		NewDataset("sample", "1", "sha256:dd"),
		NewJob("eval-7"),
		NewModel("risk-small", "1"),
		NewDeployment("scorer-c"),
	}
	for _, n := range nodes {
		if err := s.AddNode(ctx, n); err != nil {
			t.Fatalf("AddNode(%s): %v", n.ID, err)
		}
	}
	edges := []Edge{
		{"dataset:raw@1", "job:prep", EdgeConsumed},
		{"job:prep", "dataset:claims@3", EdgeProduced},
		{"dataset:claims@3", "job:train-42", EdgeConsumed},
		{"dataset:ref@1", "job:train-42", EdgeConsumed},
		{"job:train-42", "model:risk@1", EdgeProduced},
		{"model:risk@1", "deployment:scorer-a", EdgeDeployedAs},
		{"model:risk@1", "deployment:scorer-b", EdgeDeployedAs},
		{"dataset:claims@3", "dataset:sample@1", EdgeDerived},
		{"dataset:sample@1", "job:eval-7", EdgeConsumed},
		{"job:eval-7", "model:risk-small@1", EdgeProduced},
		{"model:risk-small@1", "deployment:scorer-c", EdgeDeployedAs},
	}
	for _, e := range edges {
		if err := s.AddEdge(ctx, e); err != nil {
			t.Fatalf("AddEdge(%s → %s): %v", e.From, e.To, err)
		}
	}
	if err := s.Retire(ctx, "deployment:scorer-b"); err != nil {
		t.Fatalf("Retire: %v", err)
	}
}

func paths(ps ...string) []Path {
	var out []Path
	for _, p := range ps {
		out = append(out, Path(strings.Split(p, " ")))
	}
	return out
}

// storeOnly hides the Querier methods of a Store, forcing the package-level
// queries onto their generic walk.
type storeOnly struct{ Store }

func TestQueries(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(Store) ([]Path, error)
		want []Path
	}{
		{
			name: "upstream of a deployment reaches the raw data",
			run: func(s Store) ([]Path, error) {
				return Upstream(ctx, s, "deployment:scorer-a", nil)
			},
			want: paths(
				"deployment:scorer-a model:risk@1",
				"deployment:scorer-a model:risk@1 job:train-42",
				"deployment:scorer-a model:risk@1 job:train-42 dataset:claims@3",
				"deployment:scorer-a model:risk@1 job:train-42 dataset:ref@1",
				"deployment:scorer-a model:risk@1 job:train-42 dataset:claims@3 job:prep",
				"deployment:scorer-a model:risk@1 job:train-42 dataset:claims@3 job:prep dataset:raw@1",
			),
		},
		{
			name: "upstream datasets only",
			run: func(s Store) ([]Path, error) {
				return Upstream(ctx, s, "deployment:scorer-c", &QueryOptions{Kinds: []Kind{KindDataset}})
			},
			want: paths(
				"deployment:scorer-c model:risk-small@1 job:eval-7 dataset:sample@1",
				"deployment:scorer-c model:risk-small@1 job:eval-7 dataset:sample@1 dataset:claims@3",
				"deployment:scorer-c model:risk-small@1 job:eval-7 dataset:sample@1 dataset:claims@3 job:prep dataset:raw@1",
			),
		},
		{
			name: "upstream with depth limit",
			run: func(s Store) ([]Path, error) {
				return Upstream(ctx, s, "model:risk@1", &QueryOptions{MaxDepth: 2})
			},
			want: paths(
				"model:risk@1 job:train-42",
				"model:risk@1 job:train-42 dataset:claims@3",
				"model:risk@1 job:train-42 dataset:ref@1",
			),
		},
		{
			name: "downstream of a dataset",
			run: func(s Store) ([]Path, error) {
				return Downstream(ctx, s, "dataset:claims@3", &QueryOptions{Kinds: []Kind{KindModel, KindDeployment}})
			},
			want: paths(
				"dataset:claims@3 job:train-42 model:risk@1",
				"dataset:claims@3 job:train-42 model:risk@1 deployment:scorer-a",
				"dataset:claims@3 job:train-42 model:risk@1 deployment:scorer-b",
				"dataset:claims@3 dataset:sample@1 job:eval-7 model:risk-small@1",
				"dataset:claims@3 dataset:sample@1 job:eval-7 model:risk-small@1 deployment:scorer-c",
			),
		},
		{
			name: "impact finds live deployments only",
			run: func(s Store) ([]Path, error) {
				return Impact(ctx, s, "dataset:raw@1")
			},
			want: paths(
				"dataset:raw@1 job:prep dataset:claims@3 job:train-42 model:risk@1 deployment:scorer-a",
				"dataset:raw@1 job:prep dataset:claims@3 dataset:sample@1 job:eval-7 model:risk-small@1 deployment:scorer-c",
			),
		},
		{
			name: "impact of a side input",
			run: func(s Store) ([]Path, error) {
				return Impact(ctx, s, "dataset:ref@1")
			},
			want: paths("dataset:ref@1 job:train-42 model:risk@1 deployment:scorer-a"),
		},
		{
			name: "impact of a leaf is empty",
			run: func(s Store) ([]Path, error) {
				return Impact(ctx, s, "deployment:scorer-c")
			},
			want: nil,
		},
		{
			name: "upstream of a root is empty",
			run: func(s Store) ([]Path, error) {
				return Upstream(ctx, s, "dataset:raw@1", nil)
			},
			want: nil,
		},
	}
	stores := map[string]func() Store{
		"Graph":        func() Store { return NewGraph(nil) },
		"generic walk": func() Store { return storeOnly{NewGraph(nil)} },
	}
	for sname, mk := range stores {
		s := mk()
		smallGraph(t, s)
		for _, tc := range cases {
			t.Run(sname+"/"+tc.name, func(t *testing.T) {
				got, err := tc.run(s)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got paths\n%s\nwant\n%s", fmtPaths(got), fmtPaths(tc.want))
				}
			})
		}
	}
}

func fmtPaths(ps []Path) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %s\n", strings.Join(p, " "))
	}
	return b.String()
}

func TestImpactAfterRetire(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	if err := g.Retire(ctx, "deployment:scorer-a"); err != nil {
		t.Fatal(err)
	}
	got, err := g.Impact(ctx, "dataset:ref@1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("impact after retiring the only deployment = %v, want none", got)
	}
	// Upstream questions about a retired deployment still have answers.
	up, err := g.Upstream(ctx, "deployment:scorer-a", &QueryOptions{Kinds: []Kind{KindModel}})
	if err != nil || len(up) != 1 || up[0].End() != "model:risk@1" {
		t.Errorf("upstream of retired deployment = %v, %v", up, err)
	}
}

func TestQueryCycle(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	for _, n := range []Node{NewDataset("a", "1", "x"), NewDataset("b", "1", "y")} {
		if err := g.AddNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []Edge{{"dataset:a@1", "dataset:b@1", EdgeDerived}, {"dataset:b@1", "dataset:a@1", EdgeDerived}} {
		if err := g.AddEdge(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []Store{g, storeOnly{g}} {
		got, err := Upstream(ctx, s, "dataset:a@1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := paths("dataset:a@1 dataset:b@1"); !reflect.DeepEqual(got, want) {
			t.Errorf("%T: got %v, want %v", s, got, want)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	cases := []struct {
		name string
		err  func(Store) error
		want error
	}{
		{"unknown start", func(s Store) error { _, err := Upstream(ctx, s, "model:nope@1", nil); return err }, ErrNotFound},
		{"unknown impact start", func(s Store) error { _, err := Impact(ctx, s, "dataset:nope@1"); return err }, ErrNotFound},
		{"negative depth", func(s Store) error {
			_, err := Downstream(ctx, s, "dataset:raw@1", &QueryOptions{MaxDepth: -1})
			return err
		}, ErrInvalid},
	}
	for _, tc := range cases {
		for _, s := range []Store{g, storeOnly{g}} {
			if err := tc.err(s); !errors.Is(err, tc.want) {
				t.Errorf("%s (%T): err = %v, want %v", tc.name, s, err, tc.want)
			}
		}
	}
	if _, err := g.Upstream(ctx, "dataset:raw@1", &QueryOptions{Kinds: []Kind{9}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad kind filter: err = %v, want ErrInvalid", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	big := chain(t, 10000)
	if _, err := big.Upstream(cctx, "dataset:d@9999", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled query: err = %v, want context.Canceled", err)
	}
}

// chain returns a graph of n datasets, each derived from the one before.
func chain(t testing.TB, n int) *Graph {
	ctx := context.Background()
	g := NewGraph(&GraphOptions{ExpectedNodes: n})
	for i := range n {
		if err := g.AddNode(ctx, NewDataset("d", fmt.Sprint(i), "sha256:x")); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := g.AddEdge(ctx, Edge{DatasetID("d", fmt.Sprint(i-1)), DatasetID("d", fmt.Sprint(i)), EdgeDerived}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return g
}

func TestAddNodeErrors(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	long := "dataset:" + strings.Repeat("x", maxIDLen)
	cases := []struct {
		name string
		node Node
		want error
	}{
		{"zero kind", Node{ID: "dataset:a@1"}, ErrInvalid},
		{"unknown kind", Node{Kind: 7, ID: "dataset:a@1"}, ErrInvalid},
		{"empty id", Node{Kind: KindJob}, ErrInvalid},
		{"no name", Node{Kind: KindJob, ID: "job:"}, ErrInvalid},
		{"no prefix", Node{Kind: KindJob, ID: "train-1"}, ErrInvalid},
		{"wrong prefix", Node{Kind: KindJob, ID: "model:train-1"}, ErrInvalid},
		{"unknown prefix", Node{Kind: KindJob, ID: "pipeline:train-1"}, ErrInvalid},
		{"control character", Node{Kind: KindJob, ID: "job:a\nb"}, ErrInvalid},
		{"invalid utf-8", Node{Kind: KindJob, ID: "job:\xff"}, ErrInvalid},
		{"too long", Node{Kind: KindDataset, ID: long, Attrs: map[string]string{AttrDigest: "x"}}, ErrInvalid},
		{"dataset without digest", Node{Kind: KindDataset, ID: "dataset:a@1"}, ErrInvalid},
		{"live model", Node{Kind: KindModel, ID: "model:m@1", Live: true}, ErrInvalid},
		{"empty attribute key", Node{Kind: KindJob, ID: "job:x", Attrs: map[string]string{"": "v"}}, ErrInvalid},
		{"control in attribute", Node{Kind: KindJob, ID: "job:x", Attrs: map[string]string{"k": "a\tb"}}, ErrInvalid},
		{"digest changed", NewDataset("claims", "3", "sha256:other"), ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n0, e0 := g.Size()
			err := g.AddNode(ctx, tc.node)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddNode(%+v) = %v, want %v", tc.node, err, tc.want)
			}
			if n, e := g.Size(); n != n0 || e != e0 {
				t.Errorf("failed AddNode changed the graph: %d/%d → %d/%d", n0, e0, n, e)
			}
		})
	}
}

func TestAddNodeIdempotentAndMerging(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	n0, e0 := g.Size()
	for range 2 {
		if err := g.AddNode(ctx, NewDataset("claims", "3", "sha256:bb")); err != nil {
			t.Fatal(err)
		}
		if err := g.AddEdge(ctx, Edge{"dataset:claims@3", "job:train-42", EdgeConsumed}); err != nil {
			t.Fatal(err)
		}
		// Re-adding a retired deployment revives it and retiring it again
		// retires it; neither adds a node.
		if err := g.AddNode(ctx, NewDeployment("scorer-b")); err != nil {
			t.Fatal(err)
		}
		if err := g.Retire(ctx, "deployment:scorer-b"); err != nil {
			t.Fatal(err)
		}
	}
	if n, e := g.Size(); n != n0 || e != e0 {
		t.Errorf("repeated writes changed the size: %d/%d → %d/%d", n0, e0, n, e)
	}
	if n, _ := g.Node(ctx, "deployment:scorer-b"); n.Live {
		t.Error("a deployment re-added and retired again is live")
	}
	// New attributes are merged; old ones stay.
	if err := g.AddNode(ctx, Node{Kind: KindDataset, ID: "dataset:claims@3", Attrs: map[string]string{"region": "westeurope", AttrDigest: "sha256:bb"}}); err != nil {
		t.Fatal(err)
	}
	n, err := g.Node(ctx, "dataset:claims@3")
	if err != nil {
		t.Fatal(err)
	}
	want := Node{Kind: KindDataset, ID: "dataset:claims@3", Attrs: map[string]string{AttrDigest: "sha256:bb", "region": "westeurope"}}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("Node = %+v, want %+v", n, want)
	}
	// The returned node is a copy.
	n.Attrs["region"] = "eastus"
	if again, _ := g.Node(ctx, "dataset:claims@3"); again.Attrs["region"] != "westeurope" {
		t.Error("mutating a returned node changed the graph")
	}
	if err := g.AddNode(ctx, Node{Kind: KindModel, ID: "dataset:claims@3"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("model with a dataset id: %v, want ErrInvalid", err)
	}
	if err := g.AddNode(ctx, Node{Kind: KindJob, ID: "job:train-42", Attrs: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddNode(ctx, Node{Kind: KindJob, ID: "job:train-42", Attrs: map[string]string{"a": "2"}}); !errors.Is(err, ErrConflict) {
		t.Errorf("changed attribute: %v, want ErrConflict", err)
	}
}

func TestAddEdgeErrors(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	cases := []struct {
		name string
		edge Edge
		want error
		hint string
	}{
		{"missing source", Edge{"dataset:nope@1", "job:prep", EdgeConsumed}, ErrNotFound, "AddNode"},
		{"missing target", Edge{"dataset:raw@1", "job:nope", EdgeConsumed}, ErrNotFound, "AddNode"},
		{"reversed consumed", Edge{"job:prep", "dataset:raw@1", EdgeConsumed}, ErrInvalid, "produced"},
		{"produced into a job", Edge{"job:prep", "job:train-42", EdgeProduced}, ErrInvalid, "reversed"},
		{"deployed-as from dataset", Edge{"dataset:raw@1", "deployment:scorer-a", EdgeDeployedAs}, ErrInvalid, "reversed"},
		{"zero kind", Edge{"dataset:raw@1", "job:prep", 0}, ErrInvalid, "consumed"},
		{"self loop", Edge{"dataset:raw@1", "dataset:raw@1", EdgeDerived}, ErrInvalid, "itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := g.AddEdge(ctx, tc.edge)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AddEdge = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("error %q does not mention %q", err, tc.hint)
			}
		})
	}
	if err := g.Retire(ctx, "model:risk@1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Retire(model) = %v, want ErrInvalid", err)
	}
	if err := g.Retire(ctx, "deployment:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retire(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := g.Node(ctx, "job:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Node(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := g.Out(ctx, "job:nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Out(unknown) = %v, want ErrNotFound", err)
	}
}

func TestEdgesInOut(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	smallGraph(t, g)
	in, err := g.In(ctx, "job:train-42")
	if err != nil {
		t.Fatal(err)
	}
	wantIn := []Edge{{"dataset:claims@3", "job:train-42", EdgeConsumed}, {"dataset:ref@1", "job:train-42", EdgeConsumed}}
	if !reflect.DeepEqual(in, wantIn) {
		t.Errorf("In = %v, want %v", in, wantIn)
	}
	out, err := g.Out(ctx, "dataset:claims@3")
	if err != nil {
		t.Fatal(err)
	}
	wantOut := []Edge{{"dataset:claims@3", "job:train-42", EdgeConsumed}, {"dataset:claims@3", "dataset:sample@1", EdgeDerived}}
	if !reflect.DeepEqual(out, wantOut) {
		t.Errorf("Out = %v, want %v", out, wantOut)
	}
}

func TestKindText(t *testing.T) {
	for k := KindDataset; k <= KindDeployment; k++ {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("%s round trip = %s, %v", k, back, err)
		}
	}
	for k := EdgeConsumed; k <= EdgeDeployedAs; k++ {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back EdgeKind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("%s round trip = %s, %v", k, back, err)
		}
	}
	var k Kind
	if err := k.UnmarshalText([]byte("")); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty kind: %v", err)
	}
	var ek EdgeKind
	if err := ek.UnmarshalText([]byte("derives")); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown edge kind: %v", err)
	}
	if _, err := Kind(0).MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero kind marshals: %v", err)
	}
}

func TestGraphConcurrent(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(nil)
	if err := g.AddNode(ctx, NewDataset("src", "1", "sha256:0")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				job := NewJob(fmt.Sprintf("w%d-%d", w, i))
				model := NewModel(fmt.Sprintf("w%d", w), fmt.Sprint(i))
				for _, n := range []Node{job, model} {
					if err := g.AddNode(ctx, n); err != nil {
						t.Error(err)
						return
					}
				}
				for _, e := range []Edge{{"dataset:src@1", job.ID, EdgeConsumed}, {job.ID, model.ID, EdgeProduced}} {
					if err := g.AddEdge(ctx, e); err != nil {
						t.Error(err)
						return
					}
				}
				if _, err := g.Upstream(ctx, model.ID, nil); err != nil {
					t.Error(err)
					return
				}
				if _, err := g.Downstream(ctx, "dataset:src@1", &QueryOptions{MaxDepth: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, e := g.Size(); n != 1+4*200*2 || e != 4*200*2 {
		t.Errorf("size = %d nodes, %d edges", n, e)
	}
	ps, err := g.Downstream(ctx, "dataset:src@1", &QueryOptions{Kinds: []Kind{KindModel}})
	if err != nil || len(ps) != 800 {
		t.Errorf("downstream models = %d, %v; want 800", len(ps), err)
	}
	checkGraph(t, g)
}

// checkGraph verifies the graph's internal invariants: every edge is listed
// on both of its ends, fits its endpoints' kinds and appears once.
func checkGraph(t testing.TB, g *Graph) {
	t.Helper()
	g.mu.RLock()
	defer g.mu.RUnlock()
	count := 0
	for i, adj := range g.out {
		for j, k := range adj {
			count++
			if !slices.Contains(g.in[k], int32(i)) {
				t.Errorf("edge %s → %s missing from the target's in-list", g.ids[i], g.ids[k])
			}
			if slices.Contains(adj[:j], k) {
				t.Errorf("edge %s → %s listed twice", g.ids[i], g.ids[k])
			}
			if edgeKindFor(Kind(g.meta[i]&^metaLive), Kind(g.meta[k]&^metaLive)) == 0 {
				t.Errorf("edge %s → %s joins kinds that no edge may join", g.ids[i], g.ids[k])
			}
		}
	}
	inCount := 0
	for _, adj := range g.in {
		inCount += len(adj)
	}
	if count != g.edges || inCount != g.edges {
		t.Errorf("edge count %d, out-lists %d, in-lists %d", g.edges, count, inCount)
	}
	if g.index.len() != len(g.ids) {
		t.Errorf("index has %d ids, table %d", g.index.len(), len(g.ids))
	}
	g.index.all(func(id string, i int32) {
		if g.ids[i] != id {
			t.Errorf("index maps %q to %d, which holds %q", id, i, g.ids[i])
		}
	})
}

// each calls node for every node and then edge for every edge, in
// insertion order of the nodes, under the read lock.
func (g *Graph) each(node func(Node), edge func(Edge)) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for i := range g.ids {
		node(g.nodeLocked(int32(i)))
	}
	for i, adj := range g.out {
		for _, j := range adj {
			edge(Edge{From: g.ids[i], To: g.ids[j], Kind: edgeKindFor(Kind(g.meta[i]&^metaLive), Kind(g.meta[j]&^metaLive))})
		}
	}
}
