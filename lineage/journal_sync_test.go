package lineage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/internal/durable"
	"github.com/tideline-ml/tideline/internal/filetest"
)

// openCountingStore opens a new journal whose file is a filetest.File and
// reports the directories it syncs.
func openCountingStore(t *testing.T, opts *FileStoreOptions) (*FileStore, *filetest.File, *[]string) {
	t.Helper()
	var ft *filetest.File
	var dirs []string
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := openFileStore(context.Background(), path, opts, journalHooks{
		wrap:    func(f *os.File) journalFile { ft = filetest.New(f); return ft },
		syncDir: func(dir string) error { dirs = append(dirs, dir); return durable.SyncDir(dir) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ft, &dirs
}

// TestOpenFileStoreSyncsNewJournal: a new journal's header and directory
// entry are durable before OpenFileStore returns, as the audit file's are.
func TestOpenFileStoreSyncsNewJournal(t *testing.T) {
	s, ft, dirs := openCountingStore(t, nil)
	if len(*dirs) != 1 || (*dirs)[0] != filepath.Dir(s.path) {
		t.Errorf("directories synced = %q, want [%q]", *dirs, filepath.Dir(s.path))
	}
	if synced := string(ft.Synced()); !strings.Contains(synced, journalFormat) {
		t.Errorf("the new journal's header was not synced: %q", synced)
	}
}

// TestFileStoreSyncsBeforeAcknowledging writes from several goroutines with
// SyncWrites and checks, as each AddNode returns, that its record is in the
// synced part of the journal. A SIGKILL test cannot show a missing fsync
// (the page cache survives the process); this can.
func TestFileStoreSyncsBeforeAcknowledging(t *testing.T) {
	ctx := context.Background()
	s, ft, _ := openCountingStore(t, &FileStoreOptions{SyncWrites: true})
	const workers, each = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("job:w%d-%d", w, i)
				if err := s.AddNode(ctx, Node{Kind: KindJob, ID: id}); err != nil {
					errs <- err
					return
				}
				if !bytes.Contains(ft.Synced(), []byte(`"id":"`+id+`"`)) {
					errs <- fmt.Errorf("%s acknowledged before it was synced", id)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if writes, syncs := ft.Counts(); syncs < writes {
		t.Errorf("%d syncs for %d writes with SyncWrites", syncs, writes)
	}
}

// TestFileStoreFailedSyncIsSticky: after a failed fsync the journal is in an
// unknown state (the system may have dropped the written pages), so the
// store reports the error from then on instead of cutting the line back and
// carrying on.
func TestFileStoreFailedSyncIsSticky(t *testing.T) {
	ctx := context.Background()
	eio := errors.New("input/output error")
	t.Run("SyncWrites", func(t *testing.T) {
		s, ft, _ := openCountingStore(t, &FileStoreOptions{SyncWrites: true})
		if err := s.AddNode(ctx, NewJob("before")); err != nil {
			t.Fatal(err)
		}
		ft.FailSync(1, eio)
		if err := s.AddNode(ctx, NewJob("failing")); !errors.Is(err, eio) {
			t.Fatalf("AddNode with a failing fsync = %v, want the fsync error", err)
		}
		if _, err := s.Node(ctx, "job:failing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a node whose write failed was applied: %v", err)
		}
		checkSticky(t, s, ft, eio)
	})
	t.Run("Apply", func(t *testing.T) {
		s, ft, _ := openCountingStore(t, &FileStoreOptions{SyncWrites: true})
		ft.FailSync(1, eio)
		var b Batch
		b.AddNode(NewDataset("in", "1", "sha256:1"))
		b.AddNode(NewJob("failing"))
		b.AddEdge(Edge{"dataset:in@1", "job:failing", EdgeConsumed})
		if err := s.Apply(ctx, &b); !errors.Is(err, eio) {
			t.Fatalf("Apply with a failing fsync = %v, want the fsync error", err)
		}
		for _, id := range []string{"dataset:in@1", "job:failing"} {
			if _, err := s.Node(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s, of a batch whose write failed, was applied: %v", id, err)
			}
		}
		checkSticky(t, s, ft, eio)
	})
	t.Run("grouped", func(t *testing.T) {
		// Writes grouped behind the one in progress share its fate: when
		// their fsync fails, every one of them fails and none is applied.
		s, gf := openGatedStore(t, &FileStoreOptions{SyncWrites: true})
		gf.FailSync(2, eio) // the first write's fsync succeeds, the group's fails
		first := make(chan error, 1)
		go func() { first <- s.AddNode(ctx, NewJob("first")) }()
		<-gf.entered
		const writers = 3
		errs := make(chan error, writers)
		for w := range writers {
			go func() { errs <- s.AddNode(ctx, NewJob(fmt.Sprintf("grouped-%d", w))) }()
		}
		waitQueued(t, s, writers)
		close(gf.gate)
		if err := <-first; err != nil {
			t.Fatalf("the first write: %v", err)
		}
		for range writers {
			if err := <-errs; !errors.Is(err, eio) {
				t.Errorf("a grouped write whose fsync failed returned %v", err)
			}
		}
		for w := range writers {
			if _, err := s.Node(ctx, JobID(fmt.Sprintf("grouped-%d", w))); !errors.Is(err, ErrNotFound) {
				t.Errorf("grouped-%d was applied though its fsync failed: %v", w, err)
			}
		}
		checkSticky(t, s, gf.File, eio)
	})
	t.Run("Sync", func(t *testing.T) {
		s, ft, _ := openCountingStore(t, nil)
		if err := s.AddNode(ctx, NewJob("unsynced")); err != nil {
			t.Fatal(err)
		}
		ft.FailSync(1, eio)
		if err := s.Sync(); !errors.Is(err, eio) {
			t.Fatalf("Sync = %v, want the fsync error", err)
		}
		checkSticky(t, s, ft, eio)
	})
}

func checkSticky(t *testing.T, s *FileStore, ft *filetest.File, cause error) {
	t.Helper()
	ctx := context.Background()
	writes, _ := ft.Counts()
	if err := s.AddNode(ctx, NewJob("after")); !errors.Is(err, cause) {
		t.Errorf("AddNode after a failed fsync = %v, want the fsync error", err)
	}
	if err := s.Retire(ctx, "deployment:none"); !errors.Is(err, cause) {
		t.Errorf("Retire after a failed fsync = %v, want the fsync error", err)
	}
	if err := s.Sync(); !errors.Is(err, cause) {
		t.Errorf("Sync after a failed fsync = %v, want the fsync error", err)
	}
	if w, _ := ft.Counts(); w != writes {
		t.Errorf("the journal was written %d more times after a failed fsync", w-writes)
	}
	if err := s.Close(); !errors.Is(err, cause) {
		t.Errorf("Close after a failed fsync = %v, want the fsync error", err)
	}
}

// TestOpenFileStoreKeepsCompleteLastRecordWithoutNewline: a last line that
// lacks only its newline is a whole record; OpenFileStore cut it off,
// dropping a fact. It must be applied, and the line terminated and synced.
func TestOpenFileStoreKeepsCompleteLastRecordWithoutNewline(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	smallGraph(t, s) // its last record retires scorer-b
	s.Close()
	full, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.TrimSuffix(full, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Node(ctx, "deployment:scorer-b"); err != nil || n.Live {
		t.Errorf("scorer-b = %+v, %v; its retirement, the last record, was dropped", n, err)
	}
	if s.TornBytes() != 0 {
		t.Errorf("TornBytes = %d for a complete record", s.TornBytes())
	}
	if err := s.AddNode(ctx, NewJob("next")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, full) {
		t.Fatalf("the recovered record was not terminated in place:\n%s", after)
	}
	s.Close()
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if _, err := s.Node(ctx, "job:next"); err != nil {
		t.Errorf("the write after recovery was lost: %v", err)
	}

	// A journal whose only line is the header without its newline.
	path = filepath.Join(t.TempDir(), "header.jsonl")
	header := `{"format":"tideline-lineage-journal","version":1}`
	if err := os.WriteFile(path, []byte(header), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got, _ := os.ReadFile(path); string(got) != header+"\n" {
		t.Errorf("header-only journal became %q", got)
	}
}

// TestOpenFileStoreReportsTornLastLine: a last line that does not parse is
// a write torn by a crash. It is cut off, and TornBytes says how much was.
func TestOpenFileStoreReportsTornLastLine(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	smallGraph(t, s)
	s.Close()
	good, _ := os.ReadFile(path)
	torn := `{"op":"node","node":{"kind":"job","id":"job:ha`
	if err := os.WriteFile(path, append(bytes.Clone(good), torn...), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.TornBytes() != int64(len(torn)) {
		t.Errorf("TornBytes = %d, want %d", s.TornBytes(), len(torn))
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, good) {
		t.Errorf("torn tail not cut off:\n%s", after[len(good):])
	}
}

// gatedFile holds the next Write until the test opens the gate, so that
// writers arriving meanwhile queue up behind it and are grouped.
type gatedFile struct {
	*filetest.File
	entered chan struct{} // receives when a held Write starts
	gate    chan struct{} // a held Write proceeds when this is closed
	hold    sync.Once
}

func (g *gatedFile) Write(p []byte) (int, error) {
	held := false
	g.hold.Do(func() { held = true })
	if held {
		g.entered <- struct{}{}
		<-g.gate
	}
	return g.File.Write(p)
}

// openGatedStore opens a new journal whose first write after the header
// waits at the gate.
func openGatedStore(t *testing.T, opts *FileStoreOptions) (*FileStore, *gatedFile) {
	t.Helper()
	var gf *gatedFile
	path := filepath.Join(t.TempDir(), "lineage.jsonl")
	s, err := openFileStore(context.Background(), path, opts, journalHooks{
		wrap: func(f *os.File) journalFile {
			gf = &gatedFile{File: filetest.New(f), entered: make(chan struct{}, 1), gate: make(chan struct{})}
			gf.hold.Do(func() {}) // the header is written unheld
			return gf
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	gf.hold = sync.Once{} // hold the next write
	t.Cleanup(func() { s.Close() })
	return s, gf
}

// waitQueued waits until n changes are queued behind the write in progress.
func waitQueued(t *testing.T, s *FileStore, n int) {
	t.Helper()
	for {
		s.mu.Lock()
		queued := 0
		for _, c := range s.queue {
			queued += len(c.ops)
		}
		s.mu.Unlock()
		if queued == n {
			return
		}
		runtime.Gosched()
	}
}

// TestFileStoreGroupsQueuedWrites: the store wrote (and with SyncWrites
// fsync'd) one record per write call, so concurrent writers queued for the
// disk one by one. Writes that arrive while one is in progress must go out
// together, in one write and one fsync, and none of them may return before
// that fsync.
func TestFileStoreGroupsQueuedWrites(t *testing.T) {
	ctx := context.Background()
	s, gf := openGatedStore(t, &FileStoreOptions{SyncWrites: true})
	first := make(chan error, 1)
	go func() { first <- s.AddNode(ctx, NewJob("first")) }()
	<-gf.entered
	const writers = 5
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("job:grouped-%d", w)
			if err := s.AddNode(ctx, Node{Kind: KindJob, ID: id}); err != nil {
				errs <- err
				return
			}
			if !bytes.Contains(gf.Synced(), []byte(`"id":"`+id+`"`)) {
				errs <- fmt.Errorf("%s acknowledged before it was synced", id)
			}
		})
	}
	waitQueued(t, s, writers)
	writesBefore, _ := gf.Counts()
	close(gf.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	writes, syncs := gf.Counts()
	if writes-writesBefore != 2 {
		t.Errorf("%d writes for one change and %d queued behind it, want 2", writes-writesBefore, writers)
	}
	if syncs < writes {
		t.Errorf("%d syncs for %d writes with SyncWrites", syncs, writes)
	}
}

// TestFileStoreApplySyncsBeforeAcknowledging: batches from concurrent
// writers are each written whole, and none returns before its fsync.
func TestFileStoreApplySyncsBeforeAcknowledging(t *testing.T) {
	ctx := context.Background()
	s, ft, _ := openCountingStore(t, &FileStoreOptions{SyncWrites: true})
	const workers, batches, each = 4, 5, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Go(func() {
			var b Batch
			for i := range batches {
				b.Reset()
				var ids []string
				for k := range each {
					id := fmt.Sprintf("job:w%d-b%d-%d", w, i, k)
					ids = append(ids, id)
					b.AddNode(Node{Kind: KindJob, ID: id})
				}
				if err := s.Apply(ctx, &b); err != nil {
					errs <- err
					return
				}
				synced := ft.Synced()
				for _, id := range ids {
					if !bytes.Contains(synced, []byte(`"id":"`+id+`"`)) {
						errs <- fmt.Errorf("%s acknowledged before it was synced", id)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	writes, syncs := ft.Counts()
	if syncs < writes {
		t.Errorf("%d syncs for %d writes with SyncWrites", syncs, writes)
	}
	if writes > 1+workers*batches {
		t.Errorf("%d writes for %d batches: a batch was split", writes, workers*batches)
	}
}

// TestFileStoreRepeatWaitsForQueuedWrite: a write that repeats a change
// still being written changes nothing itself, but must not return before
// that change is durable, and must fail if it fails.
func TestFileStoreRepeatWaitsForQueuedWrite(t *testing.T) {
	ctx := context.Background()
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync fails %v", fail), func(t *testing.T) {
			s, gf := openGatedStore(t, &FileStoreOptions{SyncWrites: true})
			eio := errors.New("input/output error")
			if fail {
				gf.FailSync(1, eio)
			}
			first := make(chan error, 1)
			go func() { first <- s.AddNode(ctx, NewJob("twice")) }()
			<-gf.entered
			repeat := make(chan error, 1)
			go func() {
				err := s.AddNode(ctx, NewJob("twice"))
				if err == nil && !bytes.Contains(gf.Synced(), []byte(`"id":"job:twice"`)) {
					err = errors.New("the repeat was acknowledged before the first write was synced")
				}
				repeat <- err
			}()
			select {
			case err := <-repeat:
				t.Fatalf("the repeat returned %v while the first write was still in progress", err)
			case <-time.After(50 * time.Millisecond):
			}
			close(gf.gate)
			errFirst, errRepeat := <-first, <-repeat
			if fail {
				if !errors.Is(errFirst, eio) || !errors.Is(errRepeat, eio) {
					t.Errorf("with a failing fsync: first = %v, repeat = %v; want both to fail with it", errFirst, errRepeat)
				}
				return
			}
			if errFirst != nil || errRepeat != nil {
				t.Errorf("first = %v, repeat = %v", errFirst, errRepeat)
			}
			if w, _ := gf.Counts(); w != 2 {
				t.Errorf("%d writes, want the header and one line", w)
			}
		})
	}
}
