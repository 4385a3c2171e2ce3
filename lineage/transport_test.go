package lineage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriterTransport(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	tr := NewWriterTransport(&buf)
	if err := tr.Emit(ctx, testEvent(t, "a")); err != nil {
		t.Fatal(err)
	}
	bad := testEvent(t, "b")
	bad.Producer = ""
	if err := tr.Emit(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("invalid event: %v", err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Emit(ctx, testEvent(t, "c")); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close = %v, want ErrClosed", err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
		t.Errorf("%d lines written, want 1:\n%s", n, buf.Bytes())
	}
	var ev RunEvent
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil || ev.Run.RunID != RunID("tideline-test", "a") {
		t.Errorf("written event %+v, %v", ev, err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterTransportWriteError(t *testing.T) {
	err := NewWriterTransport(failingWriter{}).Emit(context.Background(), testEvent(t, "a"))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Emit = %v, want the write error", err)
	}
}

func readLines(t testing.TB, path string) []RunEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []RunEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev RunEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, ev)
	}
	return out
}

func TestFileTransport(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	tr, err := NewFileTransport(path, &FileTransportOptions{SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := tr.Emit(ctx, testEvent(t, fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := tr.Emit(ctx, testEvent(t, "late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close = %v", err)
	}
	if got := readLines(t, path); len(got) != 100 {
		t.Fatalf("%d events in the file, want 100", len(got))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}

	// A crash mid-write leaves a torn line; reopening cuts it off and
	// appends after the last whole event.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"eventType":"START","run":{"ru`)
	f.Close()
	tr, err = NewFileTransport(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Emit(ctx, testEvent(t, "after-crash")); err != nil {
		t.Fatal(err)
	}
	tr.Close(ctx)
	got := readLines(t, path)
	if len(got) != 101 || got[100].Run.RunID != RunID("tideline-test", "after-crash") {
		t.Errorf("after repair: %d events, last %+v", len(got), got[len(got)-1].Run)
	}
}

func TestCutTornLine(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 10000)
	cases := []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\n"},
		{"a\nb", "a\n"},
		{"torn", ""},
		{"a\n" + string(long), "a\n"},
		{string(long) + "\n" + string(long), string(long) + "\n"},
	}
	for i, tc := range cases {
		path := filepath.Join(t.TempDir(), fmt.Sprint(i))
		os.WriteFile(path, []byte(tc.in), 0o600)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := cutTornLine(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got, _ := os.ReadFile(path); string(got) != tc.want {
			t.Errorf("case %d: cut to %d bytes, want %d", i, len(got), len(tc.want))
		}
	}
}
