package audit

import (
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

// openCountingFile opens a new FileSink whose file is a filetest.File, and
// reports the directories it syncs.
func openCountingFile(t *testing.T) (*FileSink, *filetest.File, *[]string) {
	t.Helper()
	var ft *filetest.File
	var dirs []string
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := openFile(context.Background(), path, nil, fileHooks{
		wrap:    func(f *os.File) appendFile { ft = filetest.New(f); return ft },
		syncDir: func(dir string) error { dirs = append(dirs, dir); return durable.SyncDir(dir) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return sink, ft, &dirs
}

// TestFileSinkSyncsBeforeAcknowledging appends from several goroutines and
// checks, as each Append returns, that its record is in the synced part of
// the file: a write acknowledged before its fsync would fail here, which a
// SIGKILL test cannot show because the page cache survives the process.
func TestFileSinkSyncsBeforeAcknowledging(t *testing.T) {
	ctx := context.Background()
	sink, ft, dirs := openCountingFile(t)
	if len(*dirs) != 1 || (*dirs)[0] != filepath.Dir(sink.Path()) {
		t.Errorf("directories synced on create = %q, want [%q]", *dirs, filepath.Dir(sink.Path()))
	}
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec, err := l.Append(ctx, sampleRecord(w*each+i))
				if err != nil {
					errs <- err
					return
				}
				if line := fmt.Sprintf(`{"v":1,"seq":%d,`, rec.Seq); !strings.Contains(string(ft.Synced()), line) {
					errs <- fmt.Errorf("record %d acknowledged before it was synced", rec.Seq)
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
	if syncs < 1 || syncs > writes {
		t.Errorf("%d syncs for %d writes: want one sync per write (group commit batches records into writes)", syncs, writes)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFileSinkFailedSyncIsSticky makes one fsync fail. The append that
// needed it fails, and so does every later one — without writing — even
// though the file would sync again: after a failed fsync the kernel may have
// dropped the dirty pages, so what the file holds is unknown.
func TestFileSinkFailedSyncIsSticky(t *testing.T) {
	ctx := context.Background()
	sink, ft, _ := openCountingFile(t)
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := l.Append(ctx, sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	eio := errors.New("input/output error")
	ft.FailSync(1, eio)
	if _, err := l.Append(ctx, sampleRecord(2)); !errors.Is(err, ErrSinkFailed) || !errors.Is(err, eio) {
		t.Fatalf("Append with a failing fsync = %v, want ErrSinkFailed wrapping the fsync error", err)
	}
	writes, _ := ft.Counts()
	if _, err := l.Append(ctx, sampleRecord(3)); !errors.Is(err, ErrSinkFailed) {
		t.Errorf("Append after a failed fsync = %v, want ErrSinkFailed", err)
	}
	for range 2 {
		if err := sink.Write(ctx, []byte("{}\n")); !errors.Is(err, eio) {
			t.Errorf("sink Write after a failed fsync = %v, want the fsync error", err)
		}
	}
	if w, _ := ft.Counts(); w != writes {
		t.Errorf("the sink wrote %d more times after a failed fsync", w-writes)
	}
	if n := strings.Count(string(ft.Synced()), "\n"); n != 2 {
		t.Errorf("%d records synced, want the 2 acknowledged ones", n)
	}
	l.Close()
}
