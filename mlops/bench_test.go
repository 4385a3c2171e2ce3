package mlops_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// benchClient is a Client over a fresh memprovider as a user sets one up
// for datasets of any classification: permissive policy, in-memory audit
// log.
func benchClient(tb testing.TB) *mlops.Client {
	tb.Helper()
	c, err := mlops.NewClient(mlops.Providers{"mem": memprovider.New(nil)}, &mlops.ClientOptions{
		Principal: alice, Policy: mlops.Permissive(), Hooks: []mlops.Hook{mlops.NewMemoryAuditHook()}})
	require.NoError(tb, err)
	return c
}

// mlopsRoundTrip creates a dataset from src through c and reads it back to
// the end, which verifies its digest and size.
func mlopsRoundTrip(tb testing.TB, c *mlops.Client, src []byte) {
	ctx := context.Background()
	d, err := c.CreateDataset(ctx, "bench", "1", bytes.NewReader(src), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(tb, err)
	rc, err := d.Open(ctx, nil)
	require.NoError(tb, err)
	n, err := io.Copy(io.Discard, rc)
	require.NoError(tb, err)
	require.NoError(tb, rc.Close())
	require.Equal(tb, int64(len(src)), n)
}

// roundTrip is mlopsRoundTrip through a fresh Client, returning the bytes
// allocated on the way.
func roundTrip(tb testing.TB, src []byte) uint64 {
	c := benchClient(tb)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	mlopsRoundTrip(tb, c, src)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// baselineStream is the least work the round trip can do, in plain Go:
// read the bytes from an io.Reader into 1 MiB chunks of fresh memory (the
// stored copy), hashing each chunk while it is hot in cache; then copy them
// out through a 32 KiB buffer, hashing them again, and compare the digests.
// Every byte is touched the same number of times as by mlops and
// memprovider, in buffers of the same sizes.
func baselineStream(tb testing.TB, src []byte) {
	const chunk = 1 << 20
	r := bytes.NewReader(src)
	h := sha256.New()
	var stored [][]byte
	for {
		c := make([]byte, chunk)
		n, err := io.ReadFull(r, c)
		if n > 0 {
			h.Write(c[:n])
			stored = append(stored, c[:n])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	want := h.Sum(nil)
	h.Reset()
	buf := make([]byte, 32<<10)
	for _, c := range stored {
		for off := 0; off < len(c); off += len(buf) {
			n := copy(buf, c[off:])
			h.Write(buf[:n])
		}
	}
	if !bytes.Equal(h.Sum(nil), want) {
		tb.Fatal("digest mismatch")
	}
}

// runs collects the durations of repeated runs.
type runs []time.Duration

func (r runs) min() time.Duration { return slices.Min(r) }
func (r runs) median() time.Duration {
	s := slices.Clone(r)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkDatasetRoundTrip creates a dataset through mlops over memprovider
// and reads it back, verified, and does the same bytes with baselineStream,
// alternating baseline and mlops in every iteration so that drift on a noisy
// machine hits both alike. It reports the min and median of each (run it
// with -benchtime 10x or more), their ratios (baseline time over mlops time:
// 1.0 means mlops is as fast as the least work the round trip needs), and
// the most bytes mlops allocated beyond the stored copy in one run. ns/op
// and MB/s are mlops's mean. Set
// TIDELINE_BENCH_GIB=1 to add a 1 GiB dataset (about 2 GiB of memory).
func BenchmarkDatasetRoundTrip(b *testing.B) {
	sizes := []int{1 << 20, 64 << 20, 256 << 20}
	if os.Getenv("TIDELINE_BENCH_GIB") != "" {
		sizes = append(sizes, 1<<30)
	}
	for _, size := range sizes {
		name := fmt.Sprintf("%dMiB", size>>20)
		if size >= 1<<30 {
			name = fmt.Sprintf("%dGiB", size>>30)
		}
		b.Run(name, func(b *testing.B) {
			src := randomBytes(size)
			var base, ml runs
			var extra uint64
			for b.Loop() {
				b.StopTimer() // ns/op and MB/s are mlops's alone
				runtime.GC()
				t0 := time.Now()
				baselineStream(b, src)
				base = append(base, time.Since(t0))

				c := benchClient(b)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				t0 = time.Now()
				mlopsRoundTrip(b, c, src)
				ml = append(ml, time.Since(t0))
				b.StopTimer()
				runtime.ReadMemStats(&after)
				b.StartTimer()
				extra = max(extra, after.TotalAlloc-before.TotalAlloc-uint64(size))
			}
			b.SetBytes(int64(size))
			mib := float64(size) / (1 << 20)
			b.ReportMetric(mib/base.median().Seconds(), "base-MiB/s")
			b.ReportMetric(mib/ml.median().Seconds(), "mlops-MiB/s")
			b.ReportMetric(float64(base.min())/float64(ml.min()), "ratio-min")
			b.ReportMetric(float64(base.median())/float64(ml.median()), "ratio-median")
			b.ReportMetric(float64(base.min())/1e6, "base-min-ms")
			b.ReportMetric(float64(ml.min())/1e6, "mlops-min-ms")
			b.ReportMetric(float64(extra)/(1<<20), "alloc-over-size-MiB")
		})
	}
}

// Allocations beyond memprovider's own copy of the bytes must not grow
// with the dataset: a 64 MiB dataset costs no more extra than a 4 MiB one
// (within a chunk's slack).
func TestDatasetAllocationsDoNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 70 MiB; skipped with -short")
	}
	small, large := 4<<20, 64<<20
	extraSmall := roundTrip(t, randomBytes(small)) - uint64(small)
	extraLarge := roundTrip(t, randomBytes(large)) - uint64(large)
	t.Logf("extra allocation: %d KiB for 4 MiB, %d KiB for 64 MiB", extraSmall>>10, extraLarge>>10)
	require.Less(t, extraLarge, extraSmall+2<<20, "allocations beyond the stored copy grew with the dataset")
}
