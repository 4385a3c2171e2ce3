package lineage

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchGraph describes a generated graph and the model whose upstream cone
// the benchmark queries.
type benchGraph struct {
	g        *Graph
	model    string
	conePath int // number of paths the model's upstream query returns
}

// Shape of the generated graph, as fractions of its node count: 45% raw
// datasets, 25% jobs, 20% datasets produced by jobs, 5% models, 5%
// deployments. Each job reads 10 datasets and writes one dataset or model;
// every produced dataset is also derived from an earlier one; every model
// is deployed once. That is three edges per node: 2.5 consumed, 0.25
// produced, 0.2 derived, 0.05 deployed-as.
const (
	benchInputsPerJob = 10
	benchFanIn        = 20 // inputs of each job in the queried model's cone
)

// buildBenchGraph generates a provenance graph of about n nodes and 3n
// edges through the public API, plus a model whose upstream cone has fan-in
// benchFanIn and depth 4:
//
//	model ← job ← 20 datasets ← 20 jobs ← 20 raw datasets each
//
// The cone's raw datasets are shared with the background graph (other jobs
// read them too), which does not enlarge an upstream query but is what a
// real graph looks like.
func buildBenchGraph(tb testing.TB, n int) benchGraph {
	tb.Helper()
	g := NewGraph(&GraphOptions{ExpectedNodes: n})
	bg := fillBenchGraph(tb, g, n)
	bg.g = g
	return bg
}

// benchWriter is what fillBenchGraph writes to: a Graph or a FileStore.
type benchWriter interface {
	AddNode(ctx context.Context, n Node) error
	AddEdge(ctx context.Context, e Edge) error
}

// fillBenchGraph writes buildBenchGraph's graph to g and returns its
// description without the graph.
func fillBenchGraph(tb testing.TB, g benchWriter, n int) benchGraph {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))

	raw := n * 45 / 100
	jobs := n * 25 / 100
	produced := n * 20 / 100
	models := n - raw - jobs - produced - n*5/100 // the rest after deployments
	deployments := models

	var digest [32]byte
	newDigest := func(i int) string {
		for k := range 4 {
			binary.LittleEndian.PutUint64(digest[8*k:], rng.Uint64()^uint64(i))
		}
		return "sha256:" + hex.EncodeToString(digest[:])
	}
	datasets := make([]string, 0, raw+produced) // ids of datasets that exist so far
	add := func(nd Node) {
		if err := g.AddNode(ctx, nd); err != nil {
			tb.Fatal(err)
		}
	}
	edge := func(from, to string, k EdgeKind) {
		if err := g.AddEdge(ctx, Edge{from, to, k}); err != nil {
			tb.Fatal(err)
		}
	}
	for i := range raw {
		nd := NewDataset("raw-"+strconv.Itoa(i), "1", newDigest(i))
		add(nd)
		datasets = append(datasets, nd.ID)
	}
	for j := range jobs {
		job := NewJob("run-" + strconv.Itoa(j))
		add(job)
		for range benchInputsPerJob {
			// Pick distinct inputs among what exists so far, keeping the
			// graph acyclic; a repeated pick is a no-op, as AddEdge is
			// idempotent, so draw until there are enough.
			edge(datasets[rng.IntN(len(datasets))], job.ID, EdgeConsumed)
		}
		if j < produced {
			out := NewDataset("derived-"+strconv.Itoa(j), "1", newDigest(raw+j))
			add(out)
			edge(job.ID, out.ID, EdgeProduced)
			edge(datasets[rng.IntN(len(datasets))], out.ID, EdgeDerived)
			datasets = append(datasets, out.ID)
		} else if m := j - produced; m < models {
			model := NewModel("model-"+strconv.Itoa(m), "1")
			add(model)
			edge(job.ID, model.ID, EdgeProduced)
			if m < deployments {
				dep := NewDeployment("endpoint-" + strconv.Itoa(m))
				add(dep)
				edge(model.ID, dep.ID, EdgeDeployedAs)
			}
		}
	}

	// The queried cone: fresh jobs and intermediate datasets over raw data.
	top := NewJob("train-target")
	add(top)
	for i := range benchFanIn {
		mid := NewJob("prep-target-" + strconv.Itoa(i))
		add(mid)
		for k := range benchFanIn {
			edge(datasets[(i*benchFanIn+k)*(raw/(benchFanIn*benchFanIn))], mid.ID, EdgeConsumed)
		}
		ds := NewDataset("features-target-"+strconv.Itoa(i), "1", newDigest(-i))
		add(ds)
		edge(mid.ID, ds.ID, EdgeProduced)
		edge(ds.ID, top.ID, EdgeConsumed)
	}
	model := NewModel("target", "1")
	add(model)
	edge(top.ID, model.ID, EdgeProduced)
	dep := NewDeployment("target-endpoint")
	add(dep)
	edge(model.ID, dep.ID, EdgeDeployedAs)
	return benchGraph{model: model.ID, conePath: 1 + benchFanIn + benchFanIn + benchFanIn*benchFanIn}
}

func TestBenchGraphShape(t *testing.T) {
	bg := buildBenchGraph(t, 20000)
	nodes, edges := bg.g.Size()
	if nodes < 20000 || nodes > 20000+100 || edges < 2*nodes || edges > 3*nodes+2000 {
		t.Errorf("generated %d nodes, %d edges; want about 20000 and 60000", nodes, edges)
	}
	ps, err := bg.g.Upstream(context.Background(), bg.model, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != bg.conePath {
		t.Errorf("upstream of the target model has %d paths, want %d", len(ps), bg.conePath)
	}
	for _, p := range ps {
		if len(p) > 5 || p[0] != bg.model {
			t.Fatalf("path %v is not a path of at most 4 edges from the model", p)
		}
	}
	checkGraph(t, bg.g)
}

// BenchmarkUpstream queries the upstream cone (fan-in 20, depth 4, 441
// paths) of a model in a generated graph of one million nodes and about
// three million edges. It reports the heap held by the graph per node.
//
//	go test -run '^$' -bench Upstream -benchtime=200x ./lineage
func BenchmarkUpstream(b *testing.B) {
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	bg := buildBenchGraph(b, n)
	build := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	nodes, edges := bg.g.Size()
	perNode := float64(after.HeapAlloc-before.HeapAlloc) / float64(nodes)
	b.Logf("built %d nodes, %d edges in %v; %.0f bytes of heap per node", nodes, edges, build.Round(time.Millisecond), perNode)

	ctx := context.Background()
	var ps []Path
	var err error
	b.ReportAllocs()
	for b.Loop() {
		ps, err = bg.g.Upstream(ctx, bg.model, nil)
	}
	if err != nil || len(ps) != bg.conePath {
		b.Fatalf("upstream returned %d paths, %v; want %d", len(ps), err, bg.conePath)
	}
	b.ReportMetric(perNode, "B/node")
	b.ReportMetric(float64(len(ps)), "paths/op")
	runtime.KeepAlive(bg.g)
}

// BenchmarkOpenJournal opens a FileStore journal that holds the generated
// graph: replaying it is what a process does at start. Writing the journal
// runs once, outside the timed loop (about half a minute for one million
// nodes). Set TIDELINE_BENCH_NODES to change the size; the default is the
// one million nodes of BenchmarkUpstream. It reports the journal's size,
// the heap the open store holds per node, and the bytes allocated by an
// open per node.
//
//	go test -run '^$' -bench OpenJournal -benchtime=3x ./lineage
func BenchmarkOpenJournal(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("TIDELINE_BENCH_NODES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("TIDELINE_BENCH_NODES=%q: want a whole number of at least 1000", s)
		}
		n = v
	}
	path := filepath.Join(b.TempDir(), "lineage.jsonl")
	start := time.Now()
	bg := writeBenchJournal(b, path, n)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote a journal of %d MiB in %v", st.Size()>>20, time.Since(start).Round(time.Millisecond))

	var heapPerNode, allocPerNode float64
	var nodes int
	for b.Loop() {
		nodes, heapPerNode, allocPerNode = openBenchJournal(b, path, bg, n)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "journal-MiB")
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(heapPerNode, "heap-B/node")
	b.ReportMetric(allocPerNode, "alloc-B/node")
}

// writeBenchJournal writes the generated graph of n nodes to a new journal
// at path and closes it, so that nothing of it stays on the heap.
func writeBenchJournal(tb testing.TB, path string, n int) benchGraph {
	w, err := OpenFileStore(context.Background(), path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	bg := fillBenchGraph(tb, w, n)
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return bg
}

// openBenchJournal opens the journal at path, timed, checks the model's
// upstream in it and closes it. It returns the nodes replayed, the heap the
// open store held per node and the bytes its open allocated per node.
func openBenchJournal(b *testing.B, path string, bg benchGraph, n int) (nodes int, heapPerNode, allocPerNode float64) {
	ctx := context.Background()
	b.StopTimer()
	var before, after runtime.MemStats
	// Twice: a traversal's pooled scratch from the last open may hold on
	// to that store's graph until the second collection.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.StartTimer()
	s, err := OpenFileStore(ctx, path, &FileStoreOptions{ExpectedNodes: n})
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	defer b.StartTimer()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	nodes, _ = s.Size()
	heapPerNode = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(nodes)
	allocPerNode = float64(alloc) / float64(nodes)
	ps, err := s.Upstream(ctx, bg.model, nil)
	if err != nil || len(ps) != bg.conePath {
		b.Fatalf("upstream after open returned %d paths, %v; want %d", len(ps), err, bg.conePath)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return nodes, heapPerNode, allocPerNode
}
