package lineage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
