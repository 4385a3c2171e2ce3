package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// TestTamperFile alters a keyed log file in the ways an attacker or an
// accident would and checks that VerifyFile names the right record and
// kind of damage.
func TestTamperFile(t *testing.T) {
	const n = 10
	for _, tc := range []struct {
		name   string
		key    secret.Secret // verification key; default testKey
		alter  func(t *testing.T, lines [][]byte) [][]byte
		cp     func(full Checkpoint) Checkpoint
		seq    uint64
		kind   Kind
		wantOK uint64 // when kind is 0: the checkpoint Verify returns
	}{
		{
			name:   "intact",
			cp:     func(full Checkpoint) Checkpoint { return full },
			wantOK: n,
		},
		{
			name: "changed byte in a value",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				lines[4] = bytes.Replace(lines[4], []byte("user-4@"), []byte("user-5@"), 1)
				return lines
			},
			seq: 5, kind: KindModified,
		},
		{
			name: "changed sequence number",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				lines[4] = bytes.Replace(lines[4], []byte(`"seq":5,`), []byte(`"seq":6,`), 1)
				return lines
			},
			seq: 5, kind: KindModified,
		},
		{
			name: "deleted record",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Delete(lines, 4, 5)
			},
			seq: 5, kind: KindDeleted,
		},
		{
			name: "deleted run of records",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Delete(lines, 3, 6)
			},
			seq: 4, kind: KindDeleted,
		},
		{
			name: "deleted first record",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return lines[1:]
			},
			seq: 1, kind: KindDeleted,
		},
		{
			name: "two records swapped",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				lines[4], lines[5] = lines[5], lines[4]
				return lines
			},
			seq: 5, kind: KindReordered,
		},
		{
			name: "record moved to the end",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				moved := lines[2]
				return append(slices.Delete(lines, 2, 3), moved)
			},
			seq: 3, kind: KindReordered,
		},
		{
			name: "record replayed",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Insert(lines, 5, lines[4])
			},
			seq: 6, kind: KindReordered,
		},
		{
			name: "tail cut off, caught by checkpoint",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return lines[:7]
			},
			cp:  func(full Checkpoint) Checkpoint { return full },
			seq: 8, kind: KindTruncated,
		},
		{
			name: "tail cut off, no checkpoint",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return lines[:7]
			},
			wantOK: 7, // a bare hash chain cannot tell; that is what checkpoints are for
		},
		{
			name: "everything cut off, caught by checkpoint",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return nil
			},
			cp:  func(full Checkpoint) Checkpoint { return full },
			seq: 1, kind: KindTruncated,
		},
		{
			name: "tail cut mid-line",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				lines[n-1] = lines[n-1][:40]
				return lines
			},
			seq: n, kind: KindTorn,
		},
		{
			name: "record forged without the key and appended",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				last, err := ParseLine(lines[n-1])
				if err != nil {
					t.Fatal(err)
				}
				forged := sampleRecord(99)
				forged.Seq, forged.Time, forged.Prev = n+1, last.Time, last.Hash
				return append(lines, forgeLine(forged))
			},
			seq: n + 1, kind: KindForged,
		},
		{
			name: "record rewritten without the key",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				r, err := ParseLine(lines[4])
				if err != nil {
					t.Fatal(err)
				}
				r.Principal = "mallory@example.com"
				lines[4] = forgeLine(r)
				return lines
			},
			seq: 5, kind: KindForged,
		},
		{
			name: "record rewritten with another key",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				r, err := ParseLine(lines[4])
				if err != nil {
					t.Fatal(err)
				}
				r.Principal = "mallory@example.com"
				body := canonical(nil, &r)
				body = body[:len(body)-1]
				sum := newHasher("a-guessed-key-of-sufficient-size").sumHex(body)
				lines[4] = appendLine(nil, body, sum[:])
				return lines
			},
			seq: 5, kind: KindModified,
		},
		{
			name:  "verified with the wrong key",
			key:   secret.NewSecret("not-the-key-the-log-was-written-with"),
			seq:   1,
			kind:  KindModified,
			alter: func(t *testing.T, lines [][]byte) [][]byte { return lines },
		},
		{
			name: "checkpoint hash differs",
			cp: func(full Checkpoint) Checkpoint {
				return Checkpoint{Seq: 5, Hash: Genesis}
			},
			seq: 5, kind: KindModified,
		},
		{
			name: "garbage line",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				lines[4] = []byte("not a record\n")
				return lines
			},
			seq: 5, kind: KindMalformed,
		},
		{
			name: "empty line inserted",
			alter: func(t *testing.T, lines [][]byte) [][]byte {
				return slices.Insert(lines, 4, []byte("\n"))
			},
			seq: 5, kind: KindMalformed,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, full := writeFileLog(t, n, testKey)
			if tc.alter != nil {
				writeLines(t, path, tc.alter(t, readLines(t, path)))
			}
			opts := &VerifyOptions{Key: testKey}
			if !tc.key.IsZero() {
				opts.Key = tc.key
			}
			if tc.cp != nil {
				opts.Checkpoint = tc.cp(full)
			}
			got, err := VerifyFile(context.Background(), path, opts)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("VerifyFile: %v", err)
				}
				if got.Seq != tc.wantOK {
					t.Fatalf("VerifyFile checkpoint = %+v, want record %d", got, tc.wantOK)
				}
				if tc.wantOK == n && got != full {
					t.Fatalf("VerifyFile checkpoint = %+v, want %+v", got, full)
				}
				return
			}
			wantVerifyError(t, err, tc.seq, tc.kind)
			if !errors.Is(err, ErrIntegrity) {
				t.Errorf("errors.Is(%v, ErrIntegrity) = false", err)
			}
		})
	}
}

// TestTamperEveryByte changes each byte of one record in turn, to several
// values, and checks that verification always blames that record.
func TestTamperEveryByte(t *testing.T) {
	for _, key := range []secret.Secret{testKey, {}} {
		path, _ := writeFileLog(t, 6, key)
		lines := readLines(t, path)
		const target = 3 // record 4
		var offset int
		for _, l := range lines[:target] {
			offset += len(l)
		}
		data := bytes.Join(lines, nil)
		tried := 0
		for i := range lines[target] {
			for _, c := range []byte{'0', 'a', '"', '\\', '\n', '}', 0xff, data[offset+i] ^ 1} {
				if data[offset+i] == c {
					continue
				}
				tried++
				altered := bytes.Clone(data)
				altered[offset+i] = c
				_, err := Verify(context.Background(), bytes.NewReader(altered), &VerifyOptions{Key: key})
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Seq != target+1 {
					t.Fatalf("byte %d of record %d set to %q: got %v, want an error at record %d", i, target+1, c, err, target+1)
				}
			}
		}
		if tried < 1000 {
			t.Fatalf("only %d alterations tried", tried)
		}
	}
}

// TestUnkeyedRewriteDetectedAtLink shows the limit of a chain without a
// key: a writer can recompute a record's hash, and only the next record's
// link gives it away — and rewriting the whole tail would not be caught.
func TestUnkeyedRewriteDetectedAtLink(t *testing.T) {
	path, _ := writeFileLog(t, 6, secret.Secret{})
	lines := readLines(t, path)
	r, err := ParseLine(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	r.Principal = "mallory@example.com"
	lines[2] = forgeLine(r)
	writeLines(t, path, lines)
	_, err = VerifyFile(context.Background(), path, nil)
	wantVerifyError(t, err, 4, KindModified)
}

func TestVerifyRecords(t *testing.T) {
	sink := NewMemorySink()
	ctx := context.Background()
	l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if _, err := l.Append(ctx, sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := sink.Records()
	if err != nil {
		t.Fatal(err)
	}
	opts := &VerifyOptions{Key: testKey}
	if cp, err := VerifyRecords(recs, opts); err != nil || cp != l.Checkpoint() {
		t.Fatalf("VerifyRecords = %+v, %v; want %+v", cp, err, l.Checkpoint())
	}
	for _, tc := range []struct {
		name  string
		alter func([]Record) []Record
		seq   uint64
		kind  Kind
	}{
		{"modified attr", func(r []Record) []Record { r[2].Attrs = map[string]string{"gpus": "9"}; return r }, 3, KindModified},
		{"modified time", func(r []Record) []Record { r[2].Time = r[2].Time.Add(1); return r }, 3, KindModified},
		{"deleted", func(r []Record) []Record { return slices.Delete(r, 2, 3) }, 3, KindDeleted},
		{"swapped", func(r []Record) []Record { r[2], r[3] = r[3], r[2]; return r }, 3, KindReordered},
		{"truncated", func(r []Record) []Record { return r[:5] }, 6, KindTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := sink.Records()
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifyRecords(tc.alter(recs), &VerifyOptions{Key: testKey, Checkpoint: l.Checkpoint()})
			wantVerifyError(t, err, tc.seq, tc.kind)
		})
	}
}

func TestVerifyEmpty(t *testing.T) {
	cp, err := Verify(context.Background(), bytes.NewReader(nil), nil)
	if err != nil || cp != (Checkpoint{Hash: Genesis}) {
		t.Fatalf("Verify(empty) = %+v, %v", cp, err)
	}
}

func TestVerifyContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, bytes.NewReader(nil), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with cancelled context = %v, want context.Canceled", err)
	}
}

func TestVerifyLongLine(t *testing.T) {
	data := append(bytes.Repeat([]byte("x"), MaxRecordSize+10), '\n')
	_, err := Verify(context.Background(), bytes.NewReader(data), nil)
	wantVerifyError(t, err, 1, KindMalformed)
}

func TestVerifyErrorMessage(t *testing.T) {
	err := &VerifyError{Seq: 7, Kind: KindDeleted, Offset: 1234, Detail: "record 7 is missing"}
	if got, want := err.Error(), "audit: record 7 deleted (line at byte 1234): record 7 is missing; the log cannot be trusted from record 7 on"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := Kind(42).String(); got != "Kind(42)" {
		t.Errorf("Kind(42).String() = %q", got)
	}
}

// TestVerifySinkWhileAppending verifies a file log through its sink while
// writers append: the reader must stop at acknowledged data and never see
// a half-written line.
func TestVerifySinkWhileAppending(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	sink, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := l.Append(ctx, sampleRecord(w*100000+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var last uint64
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 20 || last < 300; n++ {
		if time.Now().After(deadline) {
			break
		}
		cp, err := VerifySink(ctx, sink, &VerifyOptions{Key: testKey})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		if cp.Seq < last {
			t.Errorf("verified through %d after %d", cp.Seq, last)
		}
		last = cp.Seq
	}
	close(stop)
	wg.Wait()
	if last < 300 {
		t.Fatalf("verified only %d records while appending", last)
	}
	final := l.Checkpoint()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifySink(ctx, sink, nil); !errors.Is(err, os.ErrClosed) {
		t.Errorf("VerifySink on a closed FileSink = %v, want os.ErrClosed", err)
	}
	if got, err := VerifyFile(ctx, path, &VerifyOptions{Key: testKey, Checkpoint: final}); err != nil || got != final {
		t.Fatalf("VerifyFile = %+v, %v; want %+v", got, err, final)
	}
}

func TestVerifySinkMemory(t *testing.T) {
	ctx := context.Background()
	sink := NewMemorySink()
	l, err := New(ctx, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append(ctx, sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if cp, err := VerifySink(ctx, sink, nil); err != nil || cp != l.Checkpoint() {
		t.Fatalf("VerifySink = %+v, %v; want %+v", cp, err, l.Checkpoint())
	}
	if _, err := VerifySink(ctx, &discardSink{}, nil); err == nil || !strings.Contains(err.Error(), "cannot be read back") {
		t.Fatalf("VerifySink on a write-only sink = %v", err)
	}
}
