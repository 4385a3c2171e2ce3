package mlops_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
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

// roundTrip creates a dataset from src through a fresh Client and reads it
// back, verified, returning the bytes allocated on the way.
func roundTrip(tb testing.TB, src []byte) uint64 {
	mem := memprovider.New(nil)
	c, err := mlops.NewClient(mlops.Providers{"mem": mem}, &mlops.ClientOptions{Principal: alice})
	require.NoError(tb, err)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, err := c.CreateDataset(ctx, "bench", "1", bytes.NewReader(src), &mlops.CreateDatasetOptions{Location: euWest})
	require.NoError(tb, err)
	rc, err := d.Open(ctx, nil)
	require.NoError(tb, err)
	n, err := io.Copy(io.Discard, rc)
	require.NoError(tb, err)
	require.Equal(tb, int64(len(src)), n)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// baselineIOCopy is the same round trip written with io.Copy and sha256, as
// a program without Tideline would: copy the bytes into memory through the
// hash, then copy them out through the hash again and compare.
func baselineIOCopy(tb testing.TB, src []byte) {
	h := sha256.New()
	stored := bytes.NewBuffer(make([]byte, 0, len(src)))
	if _, err := io.Copy(io.MultiWriter(stored, h), bytes.NewReader(src)); err != nil {
		tb.Fatal(err)
	}
	want := h.Sum(nil)
	h.Reset()
	if _, err := io.Copy(io.Discard, io.TeeReader(bytes.NewReader(stored.Bytes()), h)); err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		tb.Fatal("digest mismatch")
	}
}

// baselineTight does the work that cannot be avoided, as tightly as plain
// Go does it: copy the bytes into 1 MiB chunks of memory hashing each while
// it is hot in cache, then copy them out into a reader's buffer hashing them
// again.
func baselineTight(tb testing.TB, src []byte) {
	const chunk = 1 << 20
	h := sha256.New()
	var stored [][]byte
	for off := 0; off < len(src); off += chunk {
		c := make([]byte, min(chunk, len(src)-off))
		copy(c, src[off:])
		h.Write(c)
		stored = append(stored, c)
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

// BenchmarkDatasetRoundTrip creates and reads back a dataset through mlops
// and memprovider, and does the same bytes by hand in the same iterations,
// so the ratios hold on a noisy machine. ratio-iocopy and ratio-tight are
// mlops throughput over each baseline's; alloc-over-size is what mlops
// allocated beyond the dataset's own size (memprovider's copy).
func BenchmarkDatasetRoundTrip(b *testing.B) {
	for _, size := range []int{64 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			src := randomBytes(size)
			var tCopy, tTight, tMlops time.Duration
			var extra uint64
			timed := func(f func()) time.Duration {
				runtime.GC()
				t0 := time.Now()
				f()
				return time.Since(t0)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				tCopy += timed(func() { baselineIOCopy(b, src) })
				tTight += timed(func() { baselineTight(b, src) })
				tMlops += timed(func() { extra = roundTrip(b, src) - uint64(size) })
			}
			mb := float64(size) / (1 << 20) * float64(b.N)
			b.ReportMetric(mb/tCopy.Seconds(), "iocopy-MiB/s")
			b.ReportMetric(mb/tTight.Seconds(), "tight-MiB/s")
			b.ReportMetric(mb/tMlops.Seconds(), "mlops-MiB/s")
			b.ReportMetric(tCopy.Seconds()/tMlops.Seconds(), "ratio-iocopy")
			b.ReportMetric(tTight.Seconds()/tMlops.Seconds(), "ratio-tight")
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
