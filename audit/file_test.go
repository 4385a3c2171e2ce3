package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/secret"
)

func TestOpenFileRepairsTornTail(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		keep int // complete records kept
		torn string
	}{
		{"partial record", 3, `{"v":1,"seq":4,"time":"2025-01-02T03:04:05.0`},
		{"record without newline", 2, "<last line minus newline>"},
		{"only a partial record", 0, `{"v":1,"se`},
		{"zero-filled tail", 3, "\x00\x00\x00\x00\x00\x00\x00\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := writeFileLog(t, 3, testKey)
			lines := readLines(t, path)
			torn := []byte(tc.torn)
			if tc.torn == "<last line minus newline>" {
				torn = lines[tc.keep][:len(lines[tc.keep])-1]
			}
			kept := joinLines(lines[:tc.keep])
			writeLines(t, path, [][]byte{kept, torn})

			sink, err := OpenFile(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := sink.TornBytes(); got != int64(len(torn)) {
				t.Errorf("TornBytes = %d, want %d", got, len(torn))
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != string(kept) {
				t.Fatalf("file after repair holds %q, want the %d complete records", data, tc.keep)
			}
			l, err := New(ctx, sink, &Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			r, err := l.Append(ctx, sampleRecord(7))
			if err != nil || r.Seq != uint64(tc.keep+1) {
				t.Fatalf("Append after repair = seq %d, %v; want %d", r.Seq, err, tc.keep+1)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyFile(ctx, path, &VerifyOptions{Key: testKey}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpenFileRefusesDamagedLastRecord(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		last string
	}{
		{"garbage line", "garbage\n"},
		{"empty line", "\n"},
		{"zeros with newline", "\x00\x00\x00\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := writeFileLog(t, 3, secret.Secret{})
			lines := readLines(t, path)
			writeLines(t, path, append(lines, []byte(tc.last)))
			sink, err := OpenFile(ctx, path, nil)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Kind != KindMalformed || ve.Offset != int64(len(joinLines(lines))) {
				if sink != nil {
					sink.Close()
				}
				t.Fatalf("OpenFile = %v, want a malformed *VerifyError at the last line's offset", err)
			}
		})
	}
}

func TestOpenFileOverlongLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(strings.Repeat("x", MaxRecordSize+5)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFile(context.Background(), path, nil)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != KindMalformed {
		t.Fatalf("OpenFile = %v, want a malformed *VerifyError", err)
	}
}

func TestOpenFileExclusive(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no flock on " + runtime.GOOS)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	first, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := OpenFile(ctx, path, nil); err == nil || !strings.Contains(err.Error(), "in use") {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second OpenFile = %v, want an in-use error", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatalf("OpenFile after Close: %v", err)
	}
	again.Close()
}

func TestOpenFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		opts *FileOptions
		want os.FileMode
	}{
		{nil, 0o600},
		{&FileOptions{Perm: 0o640}, 0o640},
	} {
		path := filepath.Join(dir, tc.want.String())
		s, err := OpenFile(ctx, path, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		// The umask may only remove bits.
		if got := st.Mode().Perm(); got&^tc.want != 0 || got&0o600 != 0o600 {
			t.Errorf("mode %v, want %v", got, tc.want)
		}
	}
}

func TestFileSinkClosed(t *testing.T) {
	ctx := context.Background()
	s, err := OpenFile(ctx, filepath.Join(t.TempDir(), "audit.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, []byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %v, want os.ErrClosed", err)
	}
	if _, err := s.Last(ctx); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Last after Close = %v, want os.ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestOpenFileMissingDirectory(t *testing.T) {
	_, err := OpenFile(context.Background(), filepath.Join(t.TempDir(), "missing", "audit.jsonl"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenFile in a missing directory = %v, want os.ErrNotExist", err)
	}
}

// TestMaxRecordSizeBoundary writes a record of exactly MaxRecordSize bytes
// and one byte more, and checks that writer, file repair and verifier agree
// on the limit.
func TestMaxRecordSizeBoundary(t *testing.T) {
	ctx := context.Background()
	withBlob := func(n int) Record {
		r := sampleRecord(1)
		r.Attrs = map[string]string{"blob": strings.Repeat("b", n)}
		return r
	}
	probe := NewMemorySink()
	pl, err := New(ctx, probe, &Options{Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Append(ctx, withBlob(0)); err != nil {
		t.Fatal(err)
	}
	fits := MaxRecordSize - len(probe.Bytes())

	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(ctx, sink, &Options{Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, withBlob(fits+1)); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Append of a record one byte over the limit = %v, want ErrInvalidRecord", err)
	}
	if _, err := l.Append(ctx, withBlob(fits)); err != nil {
		t.Fatalf("Append of a record of exactly MaxRecordSize bytes: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != MaxRecordSize {
		t.Fatalf("file size = %v, %v; want %d", st.Size(), err, MaxRecordSize)
	}
	if _, err := VerifyFile(ctx, path, nil); err != nil {
		t.Fatal(err)
	}
	sink, err = OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err = New(ctx, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
}
