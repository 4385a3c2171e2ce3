package audit

import (
	"bytes"
	"context"
	"path/filepath"
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

// countWrites counts the sink writes — fsyncs, for a FileSink.
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

// BenchmarkAppendFile8 appends from 8 goroutines to a FileSink, which
// fsyncs every write: once with group commit, once with MaxBatch 1 (one
// fsync per record), in the same run so the figures are comparable.
func BenchmarkAppendFile8(b *testing.B) {
	const writers = 8
	for _, tc := range []struct {
		name     string
		maxBatch int
	}{{"group-commit", 0}, {"fsync-per-record", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			f, err := OpenFile(ctx, filepath.Join(b.TempDir(), "audit.jsonl"), nil)
			if err != nil {
				b.Fatal(err)
			}
			sink := &countWrites{Sink: f}
			l, err := New(ctx, sink, &Options{Key: testKey, MaxBatch: tc.maxBatch})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := l.Append(ctx, benchRecord); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(sink.n.Load()), "records/fsync")
			b.ReportMetric(float64(sink.ns.Load())/float64(sink.n.Load())/1e3, "µs/fsync")
		})
	}
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
