package audit

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

func TestAppendFillsChain(t *testing.T) {
	ctx := context.Background()
	sink := NewMemorySink()
	l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRecord(1)
	in.Seq, in.Hash, in.Prev = 99, "ignored", "ignored"
	in.Time = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	first, err := l.Append(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.Append(ctx, sampleRecord(2))
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.Prev != Genesis || len(first.Hash) != 64 {
		t.Errorf("first record = seq %d prev %s hash %s", first.Seq, first.Prev, first.Hash)
	}
	if first.Time.Year() != 2025 || first.Time.Location() != time.UTC {
		t.Errorf("first record time = %v, want the clock's reading in UTC", first.Time)
	}
	if second.Seq != 2 || second.Prev != first.Hash {
		t.Errorf("second record = seq %d prev %s, want seq 2 prev %s", second.Seq, second.Prev, first.Hash)
	}
	if cp := l.Checkpoint(); cp != (Checkpoint{Seq: 2, Hash: second.Hash}) {
		t.Errorf("Checkpoint = %+v", cp)
	}
	recs, err := sink.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Hash != first.Hash || recs[1].Target != second.Target {
		t.Errorf("stored records = %+v", recs)
	}
}

// TestAppendedHashesStayPut checks that the Hash and Prev of records
// returned earlier still name the stored records after many more appends,
// across the blocks the Log carves hash strings from, and after a failed
// append.
func TestAppendedHashesStayPut(t *testing.T) {
	ctx := context.Background()
	sink := NewMemorySink()
	l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
	if err != nil {
		t.Fatal(err)
	}
	var got []Record
	for i := range 3*hashArenaSize/64 + 5 {
		r, err := l.Append(ctx, sampleRecord(i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
		if i == 70 {
			if _, err := l.Append(ctx, Record{}); !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("Append of an empty record = %v, want ErrInvalidRecord", err)
			}
		}
	}
	stored, err := sink.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(got) {
		t.Fatalf("%d records stored, %d appended", len(stored), len(got))
	}
	for i, r := range got {
		if r.Hash != stored[i].Hash || r.Prev != stored[i].Prev {
			t.Fatalf("record %d returned hash %s prev %s, stored %s %s", i+1, r.Hash, r.Prev, stored[i].Hash, stored[i].Prev)
		}
	}
	if _, err := VerifyRecords(got, &VerifyOptions{Key: testKey}); err != nil {
		t.Fatal(err)
	}
}

func TestAppendRejectsInvalid(t *testing.T) {
	big := strings.Repeat("x", MaxRecordSize)
	for _, tc := range []struct {
		name string
		edit func(*Record)
		want string
	}{
		{"no action", func(r *Record) { r.Action = "" }, "action is empty"},
		{"unknown decision", func(r *Record) { r.Decision = "maybe" }, `decision "maybe"`},
		{"unknown outcome", func(r *Record) { r.Outcome = "done" }, `outcome "done"`},
		{"error outcome without message", func(r *Record) { r.Outcome, r.Error = OutcomeError, "" }, "error message is empty"},
		{"message without error outcome", func(r *Record) { r.Outcome, r.Error = OutcomeOK, "boom" }, "set outcome to"},
		{"invalid UTF-8", func(r *Record) { r.Target = "jobs/\xff" }, "target is not valid UTF-8"},
		{"invalid UTF-8 reason", func(r *Record) { r.Reasons = []Reason{{Rule: "\xc3"}} }, "reason 0"},
		{"invalid UTF-8 attr", func(r *Record) { r.Attrs = map[string]string{"k": "\xff"} }, `attr "k"`},
		{"empty attr key", func(r *Record) { r.Attrs = map[string]string{"": "v"} }, "empty key"},
		{"too large", func(r *Record) { r.Attrs = map[string]string{"blob": big} }, "more than"},
		{"several problems", func(r *Record) { r.Action, r.Decision = "", "maybe" }, `"job.submit"; decision "maybe"`},
		{"empty attr key among others", func(r *Record) { r.Attrs = map[string]string{"b": "1", "": "v", "a": "2"} }, "empty key"},
		{"empty attr key and invalid UTF-8", func(r *Record) { r.Attrs, r.Target = map[string]string{"": "v"}, "\xff" }, "attrs has an empty key; target is not valid UTF-8"},
		{"empty attr key and no action", func(r *Record) { r.Attrs, r.Action = map[string]string{"": "v"}, "" }, `"job.submit"; attrs has an empty key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sink := NewMemorySink()
			l, err := New(ctx, sink, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := sampleRecord(1)
			tc.edit(&r)
			_, err = l.Append(ctx, r)
			if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Append = %v, want ErrInvalidRecord mentioning %q", err, tc.want)
			}
			// A rejected record consumes no sequence number.
			got, err := l.Append(ctx, sampleRecord(2))
			if err != nil || got.Seq != 1 {
				t.Fatalf("next Append = seq %d, %v; want seq 1", got.Seq, err)
			}
		})
	}
}

func TestNewRejectsOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, nil, nil); err == nil {
		t.Error("New(nil sink) succeeded")
	}
	if _, err := New(ctx, NewMemorySink(), &Options{Key: secret.NewSecret("short")}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("New with a 5-byte key = %v", err)
	}
	if _, err := New(ctx, NewMemorySink(), &Options{MaxBatch: -1}); err == nil {
		t.Error("New with MaxBatch -1 succeeded")
	}
}

func TestAppendClockOutOfRange(t *testing.T) {
	ctx := context.Background()
	l, err := New(ctx, NewMemorySink(), &Options{Clock: func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, sampleRecord(1)); err == nil || !strings.Contains(err.Error(), "Options.Clock") {
		t.Fatalf("Append with a clock in year 10000 = %v", err)
	}
}

func TestAppendCancelledContext(t *testing.T) {
	sink := NewMemorySink()
	l, err := New(context.Background(), sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, sampleRecord(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append = %v, want context.Canceled", err)
	}
	if len(sink.Bytes()) != 0 {
		t.Fatal("a record was stored for a cancelled Append")
	}
}

// blockingSink holds every Write until release is closed.
type blockingSink struct {
	*MemorySink
	entered chan struct{}
	release chan struct{}
}

func (s *blockingSink) Write(ctx context.Context, data []byte) error {
	s.entered <- struct{}{}
	<-s.release
	return s.MemorySink.Write(ctx, data)
}

// TestAppendContextEndsWhileWaiting checks the documented outcome when a
// caller stops waiting: Append reports the context's error, and the record
// is still stored in sequence.
func TestAppendContextEndsWhileWaiting(t *testing.T) {
	sink := &blockingSink{MemorySink: NewMemorySink(), entered: make(chan struct{}, 8), release: make(chan struct{})}
	l, err := New(context.Background(), sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first Append writes, so it blocks in the sink; the second waits
	// for it and gives up.
	firstDone := make(chan error, 1)
	go func() {
		_, err := l.Append(context.Background(), sampleRecord(1))
		firstDone <- err
	}()
	<-sink.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, sampleRecord(2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting Append = %v, want context.DeadlineExceeded", err)
	}
	close(sink.release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := sink.Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("stored %d records, want 2 (the abandoned one is still written)", len(recs))
	}
	if _, err := VerifyRecords(recs, nil); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	l, err := New(ctx, NewMemorySink(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, sampleRecord(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}

// faultySink fails its Nth Write (counting from 1) without storing
// anything, as a full disk would.
type faultySink struct {
	*MemorySink
	failAt int
	writes atomic.Int64
}

var errDiskFull = errors.New("no space left on device")

func (s *faultySink) Write(ctx context.Context, data []byte) error {
	if int(s.writes.Add(1)) == s.failAt {
		return errDiskFull
	}
	return s.MemorySink.Write(ctx, data)
}

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	sink := &faultySink{MemorySink: NewMemorySink(), failAt: 4}
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append(ctx, sampleRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = l.Append(ctx, sampleRecord(3))
	if !errors.Is(err, ErrSinkFailed) || !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Append on a failing sink = %v, want ErrSinkFailed wrapping the cause", err)
	}
	// The sink works again, but the Log stays closed to appends.
	if _, err := l.Append(ctx, sampleRecord(4)); !errors.Is(err, ErrSinkFailed) {
		t.Fatalf("Append after a failure = %v, want ErrSinkFailed", err)
	}
	if cp := l.Checkpoint(); cp.Seq != 3 {
		t.Errorf("Checkpoint after failure = %+v, want record 3", cp)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening resumes after the last stored record.
	l2, err := New(ctx, sink.MemorySink, &Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	r, err := l2.Append(ctx, sampleRecord(5))
	if err != nil || r.Seq != 4 {
		t.Fatalf("Append after reopening = seq %d, %v; want seq 4", r.Seq, err)
	}
	if _, err := Verify(ctx, strings.NewReader(string(sink.Bytes())), &VerifyOptions{Key: testKey}); err != nil {
		t.Fatal(err)
	}
}

// TestFailClosedConcurrent fails one write while many goroutines append and
// checks that every acknowledged record is stored and the chain verifies.
func TestFailClosedConcurrent(t *testing.T) {
	ctx := context.Background()
	sink := &faultySink{MemorySink: NewMemorySink(), failAt: 30}
	l, err := New(ctx, sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []uint64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				r, err := l.Append(ctx, sampleRecord(i))
				if err != nil {
					if !errors.Is(err, ErrSinkFailed) {
						t.Errorf("Append = %v, want ErrSinkFailed", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, r.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	cp, err := Verify(ctx, strings.NewReader(string(sink.Bytes())), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range acked {
		if s > cp.Seq {
			t.Fatalf("record %d was acknowledged but the log ends at %d", s, cp.Seq)
		}
	}
	if uint64(len(acked)) != cp.Seq {
		t.Errorf("%d records acknowledged, %d stored: a stored record was reported as failed", len(acked), cp.Seq)
	}
}

func TestResume(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var cp Checkpoint
	for round := range 3 {
		sink, err := OpenFile(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		l, err := New(ctx, sink, &Options{Key: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Checkpoint(); got.Seq != cp.Seq || (cp.Seq > 0 && got != cp) {
			t.Fatalf("round %d: reopened at %+v, want %+v", round, got, cp)
		}
		for i := range 5 {
			r, err := l.Append(ctx, sampleRecord(i))
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(round*5 + i + 1); r.Seq != want {
				t.Fatalf("round %d: seq %d, want %d", round, r.Seq, want)
			}
		}
		cp = l.Checkpoint()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := VerifyFile(ctx, path, &VerifyOptions{Key: testKey, Checkpoint: cp}); err != nil || got != cp {
		t.Fatalf("VerifyFile = %+v, %v; want %+v", got, err, cp)
	}
}

func TestResumeRefusesWrongKey(t *testing.T) {
	ctx := context.Background()
	path, _ := writeFileLog(t, 3, testKey)
	for _, tc := range []struct {
		name string
		key  secret.Secret
		kind Kind
	}{
		{"other key", secret.NewSecret("another-key-with-enough-bytes"), KindModified},
		{"no key", secret.Secret{}, KindModified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink, err := OpenFile(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			_, err = New(ctx, sink, &Options{Key: tc.key})
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Seq != 3 || ve.Kind != tc.kind {
				t.Fatalf("New = %v, want a %v *VerifyError at record 3", err, tc.kind)
			}
		})
	}
	// A keyed log whose last record was forged without the key.
	lines := readLines(t, path)
	last, err := ParseLine(lines[2])
	if err != nil {
		t.Fatal(err)
	}
	forged := sampleRecord(9)
	forged.Seq, forged.Time, forged.Prev = 4, last.Time, last.Hash
	writeLines(t, path, append(lines, forgeLine(forged)))
	sink, err := OpenFile(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var ve *VerifyError
	if _, err := New(ctx, sink, &Options{Key: testKey}); !errors.As(err, &ve) || ve.Kind != KindForged || ve.Seq != 4 {
		t.Fatalf("New over a forged tail = %v, want KindForged at record 4", err)
	}
}

// TestConcurrentAppend appends from many goroutines and checks that
// sequence numbers are gapless, increasing per goroutine, match what was
// stored, that times follow sequence order, and that the chain verifies.
func TestConcurrentAppend(t *testing.T) {
	const writers, each = 16, 200
	for _, tc := range []struct {
		name string
		sink func(t *testing.T) (Sink, func() []byte)
	}{
		{"memory", func(t *testing.T) (Sink, func() []byte) {
			m := NewMemorySink()
			return m, m.Bytes
		}},
		{"file", func(t *testing.T) (Sink, func() []byte) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			f, err := OpenFile(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			return f, func() []byte { return joinLines(readLines(t, path)) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			sink, contents := tc.sink(t)
			// The clock advances on every reading, so stored times
			// increase with sequence numbers only if each record is
			// stamped in the order it is numbered.
			l, err := New(ctx, sink, &Options{Key: testKey, Clock: stepClock()})
			if err != nil {
				t.Fatal(err)
			}
			hashes := make([]map[uint64]string, writers)
			var wg sync.WaitGroup
			for w := range writers {
				hashes[w] = make(map[uint64]string)
				wg.Go(func() {
					var last uint64
					for i := range each {
						r, err := l.Append(ctx, sampleRecord(w*each+i))
						if err != nil {
							t.Error(err)
							return
						}
						if r.Seq <= last {
							t.Errorf("writer %d got seq %d after %d", w, r.Seq, last)
						}
						last = r.Seq
						hashes[w][r.Seq] = r.Hash
					}
				})
			}
			wg.Wait()
			cp := l.Checkpoint()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			all := make(map[uint64]string)
			for _, h := range hashes {
				for s, hash := range h {
					seqs = append(seqs, s)
					all[s] = hash
				}
			}
			slices.Sort(seqs)
			for i, s := range seqs {
				if s != uint64(i+1) {
					t.Fatalf("sequence numbers are not 1..%d without gaps: position %d holds %d", len(seqs), i, s)
				}
			}
			if cp.Seq != writers*each {
				t.Fatalf("checkpoint %d, want %d", cp.Seq, writers*each)
			}
			data := contents()
			if _, err := Verify(ctx, strings.NewReader(string(data)), &VerifyOptions{Key: testKey, Checkpoint: cp}); err != nil {
				t.Fatal(err)
			}
			var prev time.Time
			for i, line := range splitLines(data) {
				r, err := ParseLine(line)
				if err != nil {
					t.Fatal(err)
				}
				if r.Hash != all[uint64(i+1)] {
					t.Fatalf("record %d stored with hash %s, acknowledged with %s", i+1, r.Hash, all[uint64(i+1)])
				}
				if !r.Time.After(prev) {
					t.Fatalf("record %d stamped %v, not after record %d's %v", i+1, r.Time, i, prev)
				}
				prev = r.Time
			}
		})
	}
}

func joinLines(lines [][]byte) []byte {
	var out []byte
	for _, l := range lines {
		out = append(out, l...)
	}
	return out
}

// countingSink counts writes and slows each down like an fsync would.
type countingSink struct {
	*MemorySink
	writes atomic.Int64
}

func (s *countingSink) Write(ctx context.Context, data []byte) error {
	s.writes.Add(1)
	time.Sleep(200 * time.Microsecond)
	return s.MemorySink.Write(ctx, data)
}

// TestGroupCommit checks that concurrent appends share sink writes, and
// that MaxBatch 1 turns that off.
func TestGroupCommit(t *testing.T) {
	const writers, each = 8, 50
	for _, tc := range []struct {
		maxBatch  int
		maxWrites int64
		minWrites int64
	}{
		{maxBatch: 0, minWrites: 1, maxWrites: writers * each / 2},
		{maxBatch: 1, minWrites: writers * each, maxWrites: writers * each},
		{maxBatch: 3, minWrites: writers * each / 3, maxWrites: writers * each},
	} {
		ctx := context.Background()
		sink := &countingSink{MemorySink: NewMemorySink()}
		l, err := New(ctx, sink, &Options{MaxBatch: tc.maxBatch})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := l.Append(ctx, sampleRecord(w*each+i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if w := sink.writes.Load(); w < tc.minWrites || w > tc.maxWrites {
			t.Errorf("MaxBatch %d: %d records took %d writes, want %d to %d", tc.maxBatch, writers*each, w, tc.minWrites, tc.maxWrites)
		}
		if _, err := Verify(ctx, strings.NewReader(string(sink.Bytes())), nil); err != nil {
			t.Fatal(err)
		}
	}
}
