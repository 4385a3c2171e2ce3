package memprovider

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"weak"

	"github.com/tideline-ml/tideline/provider"
)

// A provider nobody refers to any more is garbage at the next collection:
// nothing inside it (a buffer pool, say) keeps it reachable for a cycle
// longer, with all the datasets it holds.
func TestDroppedProviderIsReleasedAfterOneGC(t *testing.T) {
	ref := func() weak.Pointer[Provider] {
		p := New(nil)
		// A short dataset puts its read buffer back for reuse: the pool
		// has been used.
		putBytes(t, p, "claims", "1", pattern(1000))
		putBytes(t, p, "claims", "2", pattern(chunkSize+10))
		return weak.Make(p)
	}()
	runtime.GC()
	if ref.Value() != nil {
		t.Fatal("the provider is still reachable after one garbage collection with no reference left to it")
	}
}

// Storing a small dataset allocates about its size, not a whole chunk to
// read it into, even when no buffer is left over from earlier puts (the
// garbage collector empties buffer pools).
func TestSmallPutDoesNotAllocateAChunk(t *testing.T) {
	ctx := context.Background()
	data := strings.Repeat("x", 100)
	var most uint64
	for i := range 5 {
		p := New(nil)
		runtime.GC()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "small", Version: strconv.Itoa(i + 1), Region: "westeurope",
			Content: provider.NewContent(strings.NewReader(data), nil)})
		runtime.ReadMemStats(&after)
		mustOK(t, err)
		most = max(most, after.TotalAlloc-before.TotalAlloc)
	}
	if most > chunkSize/4 {
		t.Errorf("PutDataset of %d bytes allocated %d bytes; it should not allocate a %d-byte chunk buffer to find the end of the data", len(data), most, chunkSize)
	}
}
