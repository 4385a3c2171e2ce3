package lineage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// dump lists a graph's nodes and edges in a comparable form.
func dump(g *Graph) (nodes []Node, edges []Edge) {
	g.each(func(n Node) { nodes = append(nodes, n) }, func(e Edge) { edges = append(edges, e) })
	return nodes, edges
}

func TestFileStoreReload(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, &FileStoreOptions{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	smallGraph(t, s)
	// Repeating it changes nothing but scorer-b, which smallGraph adds live
	// and then retires: it is revived and retired again, two lines.
	smallGraph(t, s)
	wantNodes, wantEdges := dump(s.g)
	before, _ := os.ReadFile(path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(before), "\n"); got != 1+12+11+1+2 {
		t.Errorf("journal has %d lines, want header + 12 nodes + 11 edges + 1 retire + 1 revival + 1 retire = 27", got)
	}
	if err := s.AddNode(ctx, NewJob("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("AddNode after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Node(ctx, "job:prep"); err != nil {
		t.Errorf("reads after Close: %v", err)
	}

	s2, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	gotNodes, gotEdges := dump(s2.g)
	if !reflect.DeepEqual(gotNodes, wantNodes) || !reflect.DeepEqual(gotEdges, wantEdges) {
		t.Errorf("reloaded graph differs:\nnodes %v\nwant  %v\nedges %v\nwant  %v", gotNodes, wantNodes, gotEdges, wantEdges)
	}
	impact, err := s2.Impact(ctx, "dataset:raw@1")
	if err != nil || len(impact) != 2 {
		t.Errorf("impact after reload = %v, %v; want the two live deployments", impact, err)
	}
	// Conflicts are refused without touching the journal.
	if err := s2.AddNode(ctx, NewDataset("claims", "3", "sha256:changed")); !errors.Is(err, ErrConflict) {
		t.Errorf("conflicting AddNode = %v, want ErrConflict", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a refused or repeated write changed the journal")
	}
}

func TestFileStoreTornTail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	smallGraph(t, s)
	s.Close()
	good, _ := os.ReadFile(path)

	// A crash in the middle of a write leaves half a line.
	torn := append(bytes.Clone(good), `{"op":"node","node":{"kind":"job","id":"job:ha`...)
	if err := os.WriteFile(path, torn, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatalf("open with torn tail: %v", err)
	}
	if _, err := s.Node(ctx, "job:half"); !errors.Is(err, ErrNotFound) {
		t.Errorf("torn record was applied: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, good) {
		t.Errorf("torn tail not cut off:\n%s", after[len(good):])
	}
	if err := s.AddNode(ctx, NewJob("after-crash")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen after repair: %v", err)
	}
	defer s.Close()
	if _, err := s.Node(ctx, "job:after-crash"); err != nil {
		t.Errorf("write after repair lost: %v", err)
	}
}

func TestFileStoreCorrupt(t *testing.T) {
	ctx := context.Background()
	header := `{"format":"tideline-lineage-journal","version":1}` + "\n"
	node := `{"op":"node","node":{"kind":"job","id":"job:a"}}` + "\n"
	cases := []struct {
		name, content, want string
	}{
		{"bad json mid-file", header + "{nope\n" + node, "line 2"},
		{"not a journal", `{"op":"node"}` + "\n", "not a lineage journal"},
		{"future version", `{"format":"tideline-lineage-journal","version":2}` + "\n", "version 2"},
		{"unknown op", header + `{"op":"drop","id":"job:a"}` + "\n", "unknown record"},
		{"edge to nowhere", header + node + `{"op":"edge","edge":{"from":"job:a","to":"model:m@1","kind":"produced"}}` + "\n", "line 3"},
		{"invalid node", header + `{"op":"node","node":{"kind":"job","id":"model:x"}}` + "\n", "line 2"},
		{"unknown kind", header + `{"op":"node","node":{"kind":"pipeline","id":"job:x"}}` + "\n", "line 2"},
		{"unterminated last line that is JSON but no record", header + `{"op":"drop","id":"job:a"}`, "line 2: unknown record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.jsonl")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenFileStore(ctx, path, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("open = %v, want ErrCorrupt mentioning %q", err, tc.want)
			}
			if after, _ := os.ReadFile(path); string(after) != tc.content {
				t.Error("a corrupt journal was modified on open")
			}
		})
	}
}

func TestFileStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddNode(ctx, NewDataset("src", "1", "sha256:0")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				job := NewJob(strings.Repeat("w", w+1) + "-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
				if err := s.AddNode(ctx, job); err != nil {
					t.Error(err)
					return
				}
				if err := s.AddEdge(ctx, Edge{"dataset:src@1", job.ID, EdgeConsumed}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Downstream(ctx, "dataset:src@1", nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want, wantEdges := dump(s.g)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, gotEdges := dump(s2.g)
	if len(got) != 201 || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotEdges, wantEdges) {
		t.Errorf("reloaded %d nodes, %d edges; want %d, %d in the same order", len(got), len(gotEdges), len(want), len(wantEdges))
	}
}

func TestFileStoreCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AddNode(ctx, NewJob("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("AddNode with cancelled ctx = %v", err)
	}
	if n, _ := s.Size(); n != 0 {
		t.Error("cancelled write was applied")
	}
}

// FuzzJournalLoad feeds arbitrary bytes to the journal loader. Whatever it
// accepts must leave a consistent graph, and the intact prefix it reports
// must load to the same graph again with nothing left over.
func FuzzJournalLoad(f *testing.F) {
	header := `{"format":"tideline-lineage-journal","version":1}` + "\n"
	f.Add([]byte(""))
	f.Add([]byte(header))
	f.Add([]byte(header + `{"op":"node","node":{"kind":"dataset","id":"dataset:a@1","attrs":{"digest":"sha256:1"}}}` + "\n" +
		`{"op":"node","node":{"kind":"job","id":"job:j"}}` + "\n" +
		`{"op":"edge","edge":{"from":"dataset:a@1","to":"job:j","kind":"consumed"}}` + "\n" +
		`{"op":"node","node":{"kind":"deployment","id":"deployment:d","live":true}}` + "\n" +
		`{"op":"retire","id":"deployment:d"}` + "\n" + `{"op":"node","no`))
	f.Add([]byte(header + "\n\n" + `{"op":"node","node":{"kind":"job","id":"job:\u0000"}}` + "\n"))
	f.Add([]byte(header + `{"op":"edge","edge":{"from":"job:j","to":"job:j","kind":"consumed"}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := NewGraph(nil)
		good, unterminated, err := loadJournal(bufio.NewReader(bytes.NewReader(data)), g)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("load error %v does not wrap ErrCorrupt", err)
			}
			_, _, err := loadJournalChunks(bytes.NewReader(data), NewGraph(nil), 1+len(data)%7)
			if err == nil || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("loading in small chunks: %v, want the same corruption", err)
			}
			return
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("intact prefix %d outside [0, %d]", good, len(data))
		}
		checkGraph(t, g)
		g2 := NewGraph(nil)
		good2, unterminated2, err := loadJournal(bufio.NewReader(bytes.NewReader(data[:good])), g2)
		if err != nil || good2 != good || unterminated2 != unterminated {
			t.Fatalf("reloading the intact prefix: %d, %v, %v; want %d, %v, nil", good2, unterminated2, err, good, unterminated)
		}
		n1, e1 := dump(g)
		n2, e2 := dump(g2)
		if !reflect.DeepEqual(n1, n2) || !reflect.DeepEqual(e1, e2) {
			t.Fatal("the intact prefix loads to a different graph")
		}
		// Read in chunks of a few bytes, so that chunks cut lines at
		// every place, the load must come to the same.
		g3 := NewGraph(nil)
		good3, unterminated3, err := loadJournalChunks(bytes.NewReader(data), g3, 1+len(data)%7)
		if err != nil || good3 != good || unterminated3 != unterminated {
			t.Fatalf("loading in small chunks: %d, %v, %v; want %d, %v, nil", good3, unterminated3, err, good, unterminated)
		}
		if n3, e3 := dump(g3); !reflect.DeepEqual(n1, n3) || !reflect.DeepEqual(e1, e3) {
			t.Fatal("loading in small chunks gives a different graph")
		}
	})
}

// Two writers would interleave their lines: the second open fails at once
// and says why, and the journal opens again once the first is closed.
func TestJournalOneWriterAtATime(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.journal")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileStore(ctx, path, nil); err == nil || !strings.Contains(err.Error(), "open in another process") {
		t.Fatalf("second open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s2.Close()
}

// TestLoadJournalChunkBoundaries: the loader reads in chunks and carries a
// cut line over to the next; wherever the cuts fall, and whether the
// journal ends in a newline, an unterminated record or a torn line, the
// load comes to the same graph and the same intact prefix.
func TestLoadJournalChunkBoundaries(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	smallGraph(t, s)
	s.Close()
	full, _ := os.ReadFile(path)
	for name, data := range map[string][]byte{
		"whole":          full,
		"unterminated":   bytes.TrimSuffix(full, []byte("\n")),
		"torn":           append(bytes.Clone(full), `{"op":"node","node":{"kind":"job","id":"job:ha`...),
		"trailing blank": append(bytes.Clone(full), "\n  \n"...),
	} {
		want := NewGraph(nil)
		wantGood, wantUnterminated, err := loadJournalChunks(bytes.NewReader(data), want, 1<<20)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		wantNodes, wantEdges := dump(want)
		for size := 1; size <= 90; size++ {
			g := NewGraph(nil)
			good, unterminated, err := loadJournalChunks(bytes.NewReader(data), g, size)
			if err != nil || good != wantGood || unterminated != wantUnterminated {
				t.Fatalf("%s in chunks of %d: %d, %v, %v; want %d, %v, nil", name, size, good, unterminated, err, wantGood, wantUnterminated)
			}
			if n, e := dump(g); !reflect.DeepEqual(n, wantNodes) || !reflect.DeepEqual(e, wantEdges) {
				t.Fatalf("%s in chunks of %d: a different graph", name, size)
			}
		}
	}
}
