package lineage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
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
// runs once, outside the timed loop (batched, 10–20 s for one million
// nodes). Set TIDELINE_BENCH_NODES to change the size; the default is the
// one million nodes of BenchmarkUpstream.
//
// Each iteration first opens the journal the way the store did before it
// had its own scanner, untimed — each line through json.Unmarshal into a
// journalRecord, then the Graph's AddNode, AddEdge or Retire — and then
// opens it with OpenFileStore, timed, so that the baseline and the store
// alternate and a busy machine slows both. It reports the store's open:
// wall time (ns/op) and the process's CPU time (cpu-s/op, all threads,
// garbage collection included), the baseline's wall time and the ratio of
// the two, the journal's size, the heap the open graph holds per node, the
// bytes allocated per node (the baseline's too) and the most heap in use at
// once during the open.
//
//	go test -run '^$' -bench OpenJournal -benchtime=3x -count 2 ./lineage
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
	bg, records := writeBenchJournal(b, path, n)
	took := time.Since(start)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote a journal of %d MiB, %d records, in %v (batches of %d): %.0f records/s",
		st.Size()>>20, records, took.Round(time.Millisecond), benchBatch, float64(records)/took.Seconds())

	var m, base openMetrics
	var wall, cpu, baseWall time.Duration
	iters := 0
	for b.Loop() {
		base = openBenchJournal(b, func() (benchStore, error) { return jsonReplay(path, n) }, bg, false)
		m = openBenchJournal(b, func() (benchStore, error) {
			return OpenFileStore(context.Background(), path, &FileStoreOptions{ExpectedNodes: n})
		}, bg, true)
		wall, cpu, baseWall = wall+m.wall, cpu+m.cpu, baseWall+base.wall
		iters++
	}
	b.ReportMetric(cpu.Seconds()/float64(iters), "cpu-s/op")
	b.ReportMetric(baseWall.Seconds()/float64(iters), "baseline-s/op")
	b.ReportMetric(baseWall.Seconds()/wall.Seconds(), "speedup")
	b.ReportMetric(float64(st.Size())/(1<<20), "journal-MiB")
	b.ReportMetric(float64(m.nodes), "nodes")
	b.ReportMetric(m.heapPerNode, "heap-B/node")
	b.ReportMetric(m.allocPerNode, "alloc-B/node")
	b.ReportMetric(base.allocPerNode, "baseline-alloc-B/node")
	b.ReportMetric(m.peakHeapMiB, "peak-heap-MiB")
}

// benchStore is what BenchmarkOpenJournal opens.
type benchStore interface {
	Querier
	Size() (nodes, edges int)
	Close() error
}

// replayedGraph is a Graph replayed by jsonReplay.
type replayedGraph struct{ *Graph }

func (replayedGraph) Close() error { return nil }

// jsonReplay is the baseline of BenchmarkOpenJournal: the journal read line
// by line and decoded by encoding/json, each record applied through the
// Graph's public methods, as FileStore did before it had its own scanner.
func jsonReplay(path string, n int) (benchStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctx := context.Background()
	g := NewGraph(&GraphOptions{ExpectedNodes: n})
	r := bufio.NewReaderSize(f, 1<<16)
	for header := false; ; header = true {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(bytes.TrimSpace(line)) == 0 {
			return replayedGraph{g}, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		var rec journalRecord
		if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			return nil, err
		}
		switch {
		case !header:
		case rec.Op == "node":
			err = g.AddNode(ctx, *rec.Node)
		case rec.Op == "edge":
			err = g.AddEdge(ctx, *rec.Edge)
		case rec.Op == "retire":
			err = g.Retire(ctx, rec.ID)
		}
		if err != nil {
			return nil, err
		}
	}
}

// openMetrics is what openBenchJournal measures.
type openMetrics struct {
	wall, cpu    time.Duration // of the open
	nodes        int
	heapPerNode  float64 // heap the open store holds, per node
	allocPerNode float64 // bytes allocated while opening, per node
	peakHeapMiB  float64 // the most heap in use at once while opening
}

// heapSampler records the most heap in use (live and not yet collected
// objects) while it runs, reading runtime/metrics every millisecond, which
// does not stop the world.
type heapSampler struct {
	stop chan struct{}
	done chan uint64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan uint64)}
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-h.stop:
				metrics.Read(sample)
				h.done <- max(peak, sample[0].Value.Uint64())
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// peak stops the sampler and returns the peak in bytes.
func (h *heapSampler) peak() uint64 {
	close(h.stop)
	return <-h.done
}

// writeBenchJournal writes the generated graph of n nodes to a new journal
// at path, in batches of benchBatch changes, and closes it, so that nothing
// of it stays on the heap. It returns the graph's description and the
// number of records written.
func writeBenchJournal(tb testing.TB, path string, n int) (benchGraph, int) {
	s, err := OpenFileStore(context.Background(), path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	w := &batchWriter{tb: tb, s: s}
	bg := fillBenchGraph(tb, w, n)
	w.flush()
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return bg, w.records
}

// benchBatch is how many changes a batchWriter gathers per Apply.
const benchBatch = 4096

// batchWriter feeds a FileStore through Batches.
type batchWriter struct {
	tb      testing.TB
	s       *FileStore
	b       Batch
	records int
}

func (w *batchWriter) AddNode(_ context.Context, n Node) error {
	w.b.AddNode(n)
	w.maybeFlush()
	return nil
}

func (w *batchWriter) AddEdge(_ context.Context, e Edge) error {
	w.b.AddEdge(e)
	w.maybeFlush()
	return nil
}

func (w *batchWriter) maybeFlush() {
	if w.b.Len() >= benchBatch {
		w.flush()
	}
}

func (w *batchWriter) flush() {
	w.records += w.b.Len()
	if err := w.s.Apply(context.Background(), &w.b); err != nil {
		w.tb.Fatal(err)
	}
	w.b.Reset()
}

// openBenchJournal opens a store with open, with the benchmark's timer
// running when timed is set, checks the model's upstream in it and closes
// it. It returns with the timer running.
func openBenchJournal(b *testing.B, open func() (benchStore, error), bg benchGraph, timed bool) openMetrics {
	ctx := context.Background()
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := startHeapSampler()
	if timed {
		b.StartTimer()
	}
	start, cpuStart := time.Now(), processCPU()
	s, err := open()
	wall, cpu := time.Since(start), processCPU()-cpuStart
	b.StopTimer()
	defer b.StartTimer()
	if err != nil {
		b.Fatal(err)
	}
	peak := h.peak()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	runtime.GC()
	runtime.ReadMemStats(&after)
	nodes, _ := s.Size()
	m := openMetrics{
		wall:         wall,
		cpu:          cpu,
		nodes:        nodes,
		heapPerNode:  float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(nodes),
		allocPerNode: float64(alloc) / float64(nodes),
		peakHeapMiB:  float64(peak) / (1 << 20),
	}
	ps, err := s.Upstream(ctx, bg.model, nil)
	if err != nil || len(ps) != bg.conePath {
		b.Fatalf("upstream after open returned %d paths, %v; want %d", len(ps), err, bg.conePath)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkJournalWrite writes job nodes to new FileStore journals and
// reports records per second, each against a baseline that alternates with
// it in the same loop:
//
//   - Apply: batches of benchBatch through Apply, against one AddNode per
//     record from one goroutine (one write each);
//   - SyncWrites: with SyncWrites, AddNode from 16 goroutines, where group
//     commit shares each write and fsync among the writers queued behind
//     it, against AddNode from one goroutine (a write and an fsync each).
//
// Run it with:
//
//	go test -run '^$' -bench JournalWrite -benchtime 3x -count 2 ./lineage
func BenchmarkJournalWrite(b *testing.B) {
	ctx := context.Background()
	write := func(b *testing.B, opts *FileStoreOptions, ids []string, fill func(s *FileStore, ids []string)) time.Duration {
		s, err := OpenFileStore(ctx, filepath.Join(b.TempDir(), "lineage.jsonl"), opts)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		fill(s, ids)
		took := time.Since(start)
		if nodes, _ := s.Size(); nodes != len(ids) {
			b.Fatalf("%d nodes recorded, want %d", nodes, len(ids))
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		return took
	}
	oneByOne := func(s *FileStore, ids []string) {
		for _, id := range ids {
			if err := s.AddNode(ctx, Node{Kind: KindJob, ID: id}); err != nil {
				b.Fatal(err)
			}
		}
	}
	batched := func(s *FileStore, ids []string) {
		var batch Batch
		for k, id := range ids {
			batch.AddNode(Node{Kind: KindJob, ID: id})
			if batch.Len() == benchBatch || k == len(ids)-1 {
				if err := s.Apply(ctx, &batch); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
	}
	concurrent := func(s *FileStore, ids []string) {
		const writers = 16
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := w; k < len(ids); k += writers {
					if err := s.AddNode(ctx, Node{Kind: KindJob, ID: ids[k]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	compare := func(b *testing.B, opts *FileStoreOptions, n int, baseline, fill func(*FileStore, []string)) {
		ids := func(i int, what string) []string {
			out := make([]string, n)
			for k := range out {
				out[k] = "job:" + what + "-" + strconv.Itoa(i) + "-" + strconv.Itoa(k)
			}
			return out
		}
		var base, mine time.Duration
		i := 0
		for b.Loop() {
			b.StopTimer()
			base += write(b, opts, ids(i, "base"), baseline)
			b.StartTimer()
			mine += write(b, opts, ids(i, "run"), fill)
			i++
		}
		b.ReportMetric(float64(n*i)/mine.Seconds(), "records/s")
		b.ReportMetric(float64(n*i)/base.Seconds(), "baseline-records/s")
		b.ReportMetric(base.Seconds()/mine.Seconds(), "speedup")
	}
	b.Run("Apply", func(b *testing.B) { compare(b, nil, 100_000, oneByOne, batched) })
	b.Run("SyncWrites", func(b *testing.B) {
		compare(b, &FileStoreOptions{SyncWrites: true}, 4_000, oneByOne, concurrent)
	})
}
