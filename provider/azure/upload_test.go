package azure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// TestUploadIsParallelAndBounded uploads 64 blocks to a server that answers
// each block slowly and checks that blocks are staged in parallel, never
// more than Concurrency at once, that the content is never read more than
// Concurrency blocks ahead of the blocks the server has acknowledged, and
// that the commit lists the blocks in order.
func TestUploadIsParallelAndBounded(t *testing.T) {
	const blockSize, concurrency, blocks = 4 << 10, 4, 64
	data := make([]byte, blockSize*blocks-100)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var readBytes atomic.Int64
	content := provider.NewContent(bytes.NewReader(data), func(n int64) { readBytes.Store(n) })
	var (
		inFlight, maxInFlight, acked atomic.Int64
		mu                           sync.Mutex
		staged                       = map[string][]byte{}
		committed                    []string
		readAheadErr                 string
	)
	f := &fakeStorage{}
	f.h = func(w http.ResponseWriter, r *http.Request, n int) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodHead:
			refuse(w, r, 404, "BlobNotFound")
		case q.Get("comp") == "block":
			cur := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
					break
				}
			}
			if read := readBytes.Load(); read > (acked.Load()+concurrency+1)*blockSize {
				mu.Lock()
				readAheadErr = "the content was read far ahead of the acknowledged blocks"
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
			f.mu.Lock()
			body := f.body[n]
			f.mu.Unlock()
			mu.Lock()
			staged[q.Get("blockid")] = []byte(body)
			mu.Unlock()
			inFlight.Add(-1)
			acked.Add(1)
			w.WriteHeader(http.StatusCreated)
		case q.Get("comp") == "blocklist":
			f.mu.Lock()
			body := f.body[n]
			f.mu.Unlock()
			var list struct {
				Latest []string `xml:"Latest"`
			}
			if err := xml.Unmarshal([]byte(body), &list); err != nil {
				t.Errorf("block list %q: %v", body, err)
			}
			mu.Lock()
			committed = list.Latest
			mu.Unlock()
			w.Header().Set("ETag", `"0x2"`)
			w.WriteHeader(http.StatusCreated)
		default:
			refuse(w, r, 400, "Unexpected")
		}
	}
	p := newTestProvider(t, f, false)
	p.blockSize, p.concurrency = blockSize, concurrency
	p.buffers.New = func() any { b := make([]byte, blockSize); return &b }
	info, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope", Content: content})
	if err != nil {
		t.Fatal(err)
	}
	if m := maxInFlight.Load(); m > concurrency || m < 2 {
		t.Errorf("at most %d blocks were staged at once, want 2..%d", m, concurrency)
	}
	if readAheadErr != "" {
		t.Error(readAheadErr)
	}
	if len(committed) != blocks {
		t.Fatalf("%d blocks committed, want %d", len(committed), blocks)
	}
	var joined []byte
	for i, id := range committed {
		raw, err := base64.StdEncoding.DecodeString(id)
		if err != nil || len(raw) != 24 || id != blockID((*[16]byte)(raw[:16]), i) {
			t.Fatalf("block %d has id %q, not the upload's id for that position", i, id)
		}
		joined = append(joined, staged[id]...)
	}
	if !bytes.Equal(joined, data) {
		t.Error("the committed blocks do not join to the content")
	}
	sum := sha256.Sum256(data)
	if info.Digest != provider.DigestString(sum[:]) || info.Size != int64(len(data)) || info.ETag != `"0x2"` {
		t.Errorf("info %+v", info)
	}
}
