package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// benchRecord is a typical policy record: 621 bytes encoded, one reason,
// two attrs. smallRecord is an outcome record without reasons or attrs,
// about 330 bytes.
var (
	benchRecord = sampleRecord(1)
	// hookRecord is shaped like the record mlops.AuditHook writes before an
	// allowed call: about 550 bytes encoded, the median line length of the
	// quickstart's audit log.
	hookRecord = Record{Principal: "alice@bank.example", Action: "job.submit", Target: "job fraud-998afef331",
		Provider: "coreweave", Region: "EU-SOUTH-03", Decision: DecisionAllow, Outcome: OutcomePending,
		RequestID: "cfd4cbd596265975", Attrs: map[string]string{"country": "ES", "team": "fraud-ml", "classification": "restricted", "constraint": "EEA"}}
	smallRecord = Record{Principal: "user-1@example.com", Action: "job.submit", Target: "jobs/train-1", Outcome: OutcomeOK, RequestID: "req-00000001"}
)

// discardSink keeps only the last write: with it, a benchmark measures
// the Log's own work without the cost of storing every record.
type discardSink struct{ last []byte }

func (d *discardSink) Last(context.Context) ([]byte, error) {
	if len(d.last) == 0 {
		return nil, nil
	}
	return d.last[bytes.LastIndexByte(d.last[:len(d.last)-1], '\n')+1:], nil
}
func (d *discardSink) Write(_ context.Context, data []byte) error {
	d.last = append(d.last[:0], data...)
	return nil
}
func (d *discardSink) Close() error { return nil }

// BenchmarkAppendMemory measures Append from one goroutine: validation,
// encoding, hashing and group-commit bookkeeping, over a MemorySink (which
// keeps every record) and over a sink that keeps nothing.
func BenchmarkAppendMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		key  secret.Secret
		sink func() Sink
		rec  Record
	}{
		{"memory-sink/sha256", secret.Secret{}, func() Sink { return NewMemorySink() }, benchRecord},
		{"memory-sink/hmac", testKey, func() Sink { return NewMemorySink() }, benchRecord},
		{"discard-sink/hmac", testKey, func() Sink { return &discardSink{} }, benchRecord},
		{"memory-sink/hmac/small", testKey, func() Sink { return NewMemorySink() }, smallRecord},
		{"memory-sink/hmac/hook-record", testKey, func() Sink { return NewMemorySink() }, hookRecord},
		{"discard-sink/hmac/hook-record", testKey, func() Sink { return &discardSink{} }, hookRecord},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			l, err := New(ctx, tc.sink(), &Options{Key: tc.key})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := l.Append(ctx, tc.rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendMemoryParallel appends from GOMAXPROCS goroutines (times
// the given factor) to one Log, as a client serving many requests does.
// Validation and encoding of the caller's fields run in parallel; numbering,
// hashing and queuing are serial under the Log's lock.
func BenchmarkAppendMemoryParallel(b *testing.B) {
	for _, tc := range []struct {
		name        string
		sink        func() Sink
		parallelism int
	}{
		{"memory-sink/hmac", func() Sink { return NewMemorySink() }, 1},
		{"discard-sink/hmac", func() Sink { return &discardSink{} }, 1},
		{"memory-sink/hmac/4-per-proc", func() Sink { return NewMemorySink() }, 4},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			l, err := New(ctx, tc.sink(), &Options{Key: testKey})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(tc.parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(ctx, benchRecord); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkEncode measures the canonical encoding of the typical record
// alone, the part of Append that runs before it takes the lock plus the
// head it adds under it.
func BenchmarkEncode(b *testing.B) {
	r := benchRecord
	r.Seq, r.Time, r.Prev = 123456, time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC), Genesis
	buf := canonical(nil, &r)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = canonical(buf[:0], &r)
	}
}

// countWrites counts the sink's writes and the time spent in them. A
// FileSink makes one write and one fsync per Write call, so for it the
// count is also the fsyncs of appends (OpenFile adds its own when it
// creates the file); BENCHMARKS.md says how that was checked.
type countWrites struct {
	Sink
	n  atomic.Int64
	ns atomic.Int64
}

func (c *countWrites) Write(ctx context.Context, data []byte) error {
	c.n.Add(1)
	start := time.Now()
	defer func() { c.ns.Add(int64(time.Since(start))) }()
	return c.Sink.Write(ctx, data)
}

// appendFile8 appends n records from 8 goroutines to a new FileSink in
// dir with the given MaxBatch (0: group commit) and returns the records/s
// and the sink writes it took, with the mean time of one.
func appendFile8(tb testing.TB, dir string, n, maxBatch int) (perSec float64, writes int64, perWrite time.Duration) {
	const writers = 8
	ctx := context.Background()
	f, err := OpenFile(ctx, filepath.Join(dir, "audit.jsonl"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	sink := &countWrites{Sink: f}
	l, err := New(ctx, sink, &Options{Key: testKey, MaxBatch: maxBatch})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := l.Append(ctx, benchRecord); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	w := sink.n.Load()
	return float64(n) / elapsed.Seconds(), w, time.Duration(sink.ns.Load() / w)
}

// BenchmarkAppendFile8 appends from 8 goroutines to a FileSink, which
// fsyncs every write: rounds of 2,000 records with group commit alternate
// with rounds of 2,000 with MaxBatch 1 (one write, so one fsync, per
// record), each into a new file, so that the disk's drift hits both. Run it
// with -benchtime 10x or more; it reports each mode's median records/s,
// records per write and time per write, and their ratio.
func BenchmarkAppendFile8(b *testing.B) {
	const round = 2000
	var group, single, groupPer, groupUS, singleUS []float64
	for b.Loop() {
		r, w, d := appendFile8(b, b.TempDir(), round, 0)
		group, groupPer, groupUS = append(group, r), append(groupPer, float64(round)/float64(w)), append(groupUS, float64(d.Microseconds()))
		r, _, d = appendFile8(b, b.TempDir(), round, 1)
		single, singleUS = append(single, r), append(singleUS, float64(d.Microseconds()))
	}
	b.ReportMetric(median(group), "group-records/s")
	b.ReportMetric(median(single), "single-records/s")
	b.ReportMetric(median(group)/median(single), "ratio-median")
	b.ReportMetric(median(groupPer), "group-records/write")
	b.ReportMetric(median(groupUS), "group-µs/write")
	b.ReportMetric(median(singleUS), "single-µs/write")
}

// BenchmarkVerify verifies a log of b.N records read from memory.
func BenchmarkVerify(b *testing.B) {
	for _, tc := range []struct {
		name string
		key  secret.Secret
	}{{"sha256", secret.Secret{}}, {"hmac", testKey}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			sink := NewMemorySink()
			l, err := New(ctx, sink, &Options{Key: tc.key, Clock: func() time.Time { return time.Unix(1700000000, 0) }})
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := l.Append(ctx, benchRecord); err != nil {
					b.Fatal(err)
				}
			}
			data := sink.Bytes()
			b.SetBytes(int64(len(data) / b.N))
			b.ReportAllocs()
			b.ResetTimer()
			cp, err := Verify(ctx, bytes.NewReader(data), &VerifyOptions{Key: tc.key})
			b.StopTimer()
			if err != nil || cp.Seq != uint64(b.N) {
				b.Fatalf("Verify = %+v, %v", cp, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// storedLines appends n copies of r to a keyed Log over a MemorySink and
// returns the sink's bytes.
func storedLines(tb testing.TB, r Record, n int) []byte {
	ctx := context.Background()
	sink := NewMemorySink()
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		tb.Fatal(err)
	}
	for range n {
		if _, err := l.Append(ctx, r); err != nil {
			tb.Fatal(err)
		}
	}
	return sink.Bytes()
}

// baselineHMACStore is the least work appending a record to a chain kept
// in memory can do: HMAC-SHA256 over a line already encoded, its hex
// appended, and the line kept in 1 MiB chunks of memory, as MemorySink
// keeps it. No validation, no encoding, no chain bookkeeping.
func baselineHMACStore(body []byte, n int) int {
	mac := hmac.New(sha256.New, []byte(testKey.Reveal()))
	var sum [sha256.Size]byte
	var hx [2 * sha256.Size]byte
	var chunks [][]byte
	cur := make([]byte, 0, 1<<20)
	for range n {
		if len(cur)+len(body)+len(hashField)+len(hx)+3 > cap(cur) {
			chunks = append(chunks, cur)
			cur = make([]byte, 0, 1<<20)
		}
		mac.Reset()
		mac.Write(body)
		mac.Write(closingBrace)
		hex.Encode(hx[:], mac.Sum(sum[:0]))
		cur = append(cur, body...)
		cur = append(cur, hashField...)
		cur = append(cur, hx[:]...)
		cur = append(cur, '"', '}', '\n')
	}
	return len(chunks)
}

// A roundRate is the speed of one timed run of the Log's code or of its
// baseline: records per second of wall time and per second of the
// process's CPU time (see cpuTime; zero where that is not measured).
type roundRate struct{ wall, cpu float64 }

// timeRound runs f, which handles n records, and measures it.
func timeRound(n int, f func()) roundRate {
	c0, t0 := cpuTime(), time.Now()
	f()
	wall, cpu := time.Since(t0), cpuTime()-c0
	r := roundRate{wall: float64(n) / wall.Seconds()}
	if cpu > 0 {
		r.cpu = float64(n) / cpu.Seconds()
	}
	return r
}

// reportVsBaseline reports the median records/s of the Log and of the
// baseline, and the median and the lowest of the per-round ratios (the
// Log's records/s over the baseline's in the same round), in wall time and
// in CPU time. Rounds alternate, so each ratio compares two runs made
// moments apart, and drift in the machine's speed cancels out of it better
// than out of a ratio of medians; CPU time leaves out the moments either
// waited for a CPU, which on a shared machine is most of the noise. The
// CPU time includes the garbage collector's, which runs beside the timed
// goroutine.
func reportVsBaseline(b *testing.B, name string, logged, base []roundRate) {
	var lw, bw, wall, cpu []float64
	for i := range logged {
		lw, bw = append(lw, logged[i].wall), append(bw, base[i].wall)
		wall = append(wall, logged[i].wall/base[i].wall)
		if base[i].cpu > 0 && logged[i].cpu > 0 {
			cpu = append(cpu, logged[i].cpu/base[i].cpu)
		}
	}
	b.ReportMetric(median(bw), "base-records/s")
	b.ReportMetric(median(lw), name+"-records/s")
	b.ReportMetric(median(wall), "ratio-median")
	b.ReportMetric(slices.Min(wall), "ratio-min")
	if len(cpu) == len(logged) {
		b.ReportMetric(median(cpu), "cpu-ratio-median")
		b.ReportMetric(slices.Min(cpu), "cpu-ratio-min")
	}
}

// BenchmarkAppendVsBaseline appends rounds of 100,000 hook-shaped records
// from one goroutine to a keyed Log over a MemorySink, alternating each
// round with baselineHMACStore over the same number of lines of the same
// length, so that drift hits both. Run it with -benchtime 10x or more; it
// reports the median records/s of each and the median and lowest ratio of
// the rounds (Log over baseline: the share of the least possible work's
// speed the Log reaches).
func BenchmarkAppendVsBaseline(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	line := storedLines(b, hookRecord, 1)
	body := line[:bytes.LastIndex(line, []byte(hashField))]
	var base, logged []roundRate
	for b.Loop() {
		b.StopTimer() // ns/op is the Log's round alone
		base = append(base, timeRound(n, func() { baselineHMACStore(body, n) }))
		l, err := New(ctx, NewMemorySink(), &Options{Key: testKey})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		logged = append(logged, timeRound(n, func() {
			for range n {
				if _, err := l.Append(ctx, hookRecord); err != nil {
					b.Fatal(err)
				}
			}
		}))
	}
	reportVsBaseline(b, "log", logged, base)
}

// baselineVerify is the least work verifying a keyed log can do: split it
// into lines; recompute each line's HMAC-SHA256 and compare it with the
// hash the line ends with; and check the links of the chain — each record's
// sequence number one more than the last, its prev equal to the last
// record's hash — without which deleted, reordered or replayed records
// would pass. It does not check the syntax of anything else, and compares
// with bytes.Equal where Verify compares hashes in constant time.
func baselineVerify(tb testing.TB, data []byte) int {
	const seqAt = len(`{"v":1,"seq":`)
	mac := hmac.New(sha256.New, []byte(testKey.Reveal()))
	var sum [sha256.Size]byte
	var hx, last [2 * sha256.Size]byte
	copy(last[:], Genesis)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxRecordSize+1)
	n := 0
	for sc.Scan() {
		l := sc.Bytes()
		i := bytes.LastIndex(l, []byte(hashField))
		mac.Reset()
		mac.Write(l[:i])
		mac.Write(closingBrace)
		hex.Encode(hx[:], mac.Sum(sum[:0]))
		stored := l[i+len(hashField) : i+len(hashField)+len(hx)]
		if !bytes.Equal(hx[:], stored) {
			tb.Fatalf("line %d: hash mismatch", n+1)
		}
		var seq uint64
		for _, c := range l[seqAt:] {
			if c < '0' || c > '9' {
				break
			}
			seq = seq*10 + uint64(c-'0')
		}
		if seq != uint64(n+1) {
			tb.Fatalf("line %d: sequence number %d", n+1, seq)
		}
		if prev := l[i-1-len(last) : i-1]; !bytes.Equal(prev, last[:]) {
			tb.Fatalf("line %d: prev does not match the last hash", n+1)
		}
		copy(last[:], stored)
		n++
	}
	return n
}

// BenchmarkVerifyVsBaseline verifies a keyed log of 100,000 records,
// alternating each round with baselineVerify over the same bytes. Run it
// with -benchtime 10x or more; it reports the median records/s of each and
// the median and lowest ratio of the rounds (Verify over baseline).
func BenchmarkVerifyVsBaseline(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	data := storedLines(b, benchRecord, n)
	var base, verified []roundRate
	for b.Loop() {
		b.StopTimer() // ns/op is Verify's alone
		base = append(base, timeRound(n, func() {
			if got := baselineVerify(b, data); got != n {
				b.Fatalf("baseline read %d lines, want %d", got, n)
			}
		}))
		b.StartTimer()
		verified = append(verified, timeRound(n, func() {
			cp, err := Verify(ctx, bytes.NewReader(data), &VerifyOptions{Key: testKey})
			if err != nil || cp.Seq != n {
				b.Fatalf("Verify = %+v, %v", cp, err)
			}
		}))
	}
	reportVsBaseline(b, "verify", verified, base)
}

// sliceSink keeps everything written in one slice, so that a large log is
// held once (MemorySink.Bytes would copy it).
type sliceSink struct{ data []byte }

func (s *sliceSink) Last(context.Context) ([]byte, error) {
	if len(s.data) == 0 {
		return nil, nil
	}
	return s.data[bytes.LastIndexByte(s.data[:len(s.data)-1], '\n')+1:], nil
}
func (s *sliceSink) Write(_ context.Context, data []byte) error {
	s.data = append(s.data, data...)
	return nil
}
func (s *sliceSink) Close() error { return nil }

// BenchmarkVerifyGrowth verifies keyed logs of 10,000, 100,000 and
// 1,000,000 typical records (about 620 MB for the largest, built before
// timing) and reports the time per record, in wall and CPU time, which
// should not grow with the log: Verify keeps no state per record.
func BenchmarkVerifyGrowth(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			ctx := context.Background()
			line := storedLines(b, benchRecord, 1)
			sink := &sliceSink{data: make([]byte, 0, n*(len(line)+8))}
			l, err := New(ctx, sink, &Options{Key: testKey})
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				if _, err := l.Append(ctx, benchRecord); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for b.Loop() {
				cp, err := Verify(ctx, bytes.NewReader(sink.data), &VerifyOptions{Key: testKey})
				if err != nil || cp.Seq != uint64(n) {
					b.Fatalf("Verify = %+v, %v", cp, err)
				}
			}
			cpu = cpuTime() - cpu
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/record")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/record")
			}
		})
	}
}
