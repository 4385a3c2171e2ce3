package memprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func putBytes(t testing.TB, p *Provider, name, version string, b []byte) *provider.DatasetInfo {
	t.Helper()
	info, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{
		Name: name, Version: version, Region: "westeurope", Content: contentOf(b),
	})
	mustOK(t, err)
	return info
}

func readAll(t testing.TB, p *Provider, name, version string) []byte {
	t.Helper()
	r, err := p.OpenDataset(context.Background(), name, version)
	mustOK(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	mustOK(t, err)
	return b
}

func TestDatasetRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 4096, chunkSize/2 - 1, chunkSize/2 + 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 10<<20 + 123}
	for _, size := range sizes {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			p := New(nil)
			want := pattern(size)
			info := putBytes(t, p, "claims", "1", want)
			sum := sha256.Sum256(want)
			if info.Digest != provider.DigestString(sum[:]) || info.Size != int64(size) {
				t.Errorf("info = digest %s size %d, want %s and %d", info.Digest, info.Size, provider.DigestString(sum[:]), size)
			}

			// Read path.
			if got := readAll(t, p, "claims", "1"); !bytes.Equal(got, want) {
				t.Fatalf("Read returned %d bytes that differ from the %d stored", len(got), len(want))
			}
			// WriteTo path, which io.Copy prefers.
			r, err := p.OpenDataset(context.Background(), "claims", "1")
			mustOK(t, err)
			var buf bytes.Buffer
			n, err := io.Copy(&buf, r)
			mustOK(t, err)
			r.Close()
			if n != int64(size) || !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("io.Copy returned %d bytes that differ from the %d stored", n, size)
			}

			// Layout: full chunks, then one non-empty tail.
			d := p.datasets["claims"]["1"]
			total := 0
			for i, c := range d.chunks {
				if len(c) == 0 {
					t.Errorf("chunk %d is empty", i)
				}
				if i < len(d.chunks)-1 && len(c) != chunkSize {
					t.Errorf("chunk %d has %d bytes; only the last may be short", i, len(c))
				}
				total += len(c)
			}
			if total != size {
				t.Errorf("chunks hold %d bytes, want %d", total, size)
			}
			if tail := len(d.chunks); tail > 0 && len(d.chunks[tail-1]) <= chunkSize/2 && cap(d.chunks[tail-1]) != len(d.chunks[tail-1]) {
				t.Errorf("short last chunk of %d bytes keeps a %d-byte buffer alive", len(d.chunks[tail-1]), cap(d.chunks[tail-1]))
			}
		})
	}
}

func TestDatasetReaderContract(t *testing.T) {
	p := New(nil)
	want := pattern(2*chunkSize + 77)
	putBytes(t, p, "claims", "1", want)
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"Plain":     func(r io.Reader) io.Reader { return r },
		"OneByte":   iotest.OneByteReader,
		"HalfReads": iotest.HalfReader,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := p.OpenDataset(context.Background(), "claims", "1")
			mustOK(t, err)
			defer r.Close()
			if name == "Plain" {
				// iotest.TestReader also exercises WriteTo when present.
				if err := iotest.TestReader(r, want); err != nil {
					t.Fatal(err)
				}
				return
			}
			if name == "OneByte" {
				// One byte at a time over 2 MiB is slow under the race
				// detector; a prefix shows chunk boundaries are not crossed wrongly.
				got := make([]byte, 4096)
				if _, err := io.ReadFull(wrap(r), got); err != nil || !bytes.Equal(got, want[:4096]) {
					t.Fatalf("first 4096 bytes differ (err %v)", err)
				}
				rest, err := io.ReadAll(r)
				mustOK(t, err)
				if !bytes.Equal(rest, want[4096:]) {
					t.Fatal("the rest differs")
				}
				return
			}
			got, err := io.ReadAll(wrap(r))
			mustOK(t, err)
			if !bytes.Equal(got, want) {
				t.Fatal("bytes differ")
			}
		})
	}
}

// failWriter accepts limit bytes and then fails.
type failWriter struct {
	buf   bytes.Buffer
	limit int
}

var errWriterFull = errors.New("writer full")

func (w *failWriter) Write(b []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if room <= 0 {
		return 0, errWriterFull
	}
	if len(b) > room {
		w.buf.Write(b[:room])
		return room, errWriterFull
	}
	return w.buf.Write(b)
}

func TestDatasetReaderResumesAfterWriterError(t *testing.T) {
	p := New(nil)
	want := pattern(chunkSize + 1000)
	putBytes(t, p, "claims", "1", want)
	r, err := p.OpenDataset(context.Background(), "claims", "1")
	mustOK(t, err)
	w := &failWriter{limit: chunkSize - 10}
	n, err := r.(io.WriterTo).WriteTo(w)
	if !errors.Is(err, errWriterFull) || n != int64(w.limit) {
		t.Fatalf("WriteTo = %d, %v; want %d, %v", n, err, w.limit, errWriterFull)
	}
	rest, err := io.ReadAll(r)
	mustOK(t, err)
	if got := append(w.buf.Bytes(), rest...); !bytes.Equal(got, want) {
		t.Fatal("bytes after resuming differ")
	}
}

func TestDatasetReaderClose(t *testing.T) {
	p := New(nil)
	putBytes(t, p, "claims", "1", pattern(100))
	r, err := p.OpenDataset(context.Background(), "claims", "1")
	mustOK(t, err)
	mustOK(t, r.Close())
	mustOK(t, r.Close())
	if _, err := r.Read(make([]byte, 10)); err == nil {
		t.Error("Read after Close succeeded")
	}
	if _, err := io.Copy(io.Discard, r); err == nil {
		t.Error("WriteTo after Close succeeded")
	}
}

func TestDatasetReaderOutlivesDelete(t *testing.T) {
	p := New(nil)
	want := pattern(chunkSize + 5)
	putBytes(t, p, "claims", "1", want)
	r, err := p.OpenDataset(context.Background(), "claims", "1")
	mustOK(t, err)
	defer r.Close()
	mustOK(t, p.DeleteDataset(context.Background(), "claims", "1"))
	// The same version stored again with other bytes must not show through.
	putBytes(t, p, "claims", "1", pattern(10))
	got, err := io.ReadAll(r)
	mustOK(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("a reader opened before the delete saw different bytes")
	}
}

func TestPutDatasetAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates tens of MiB")
	}
	const size = 10 << 20
	data := pattern(size)
	p := New(nil)
	ctx := context.Background()
	put := func() {
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: contentOf(data)})
		mustOK(t, err)
		mustOK(t, p.DeleteDataset(ctx, "claims", "1"))
	}
	put() // warm the chunk pool and the call log

	// Allocation count: one per chunk plus a bounded overhead, never one
	// per read or a doubling growth.
	allocs := testing.AllocsPerRun(5, put)
	t.Logf("PutDataset of %d MiB: %.0f allocations", size>>20, allocs)
	if limit := float64(size/chunkSize + 40); allocs > limit {
		t.Errorf("PutDataset of %d MiB made %.0f allocations; want at most %.0f", size>>20, allocs, limit)
	}

	// Allocated bytes: the data itself, plus at most one chunk buffer for
	// the read that finds EOF (the pool that recycles it may be empty: the
	// race detector drops pooled items at random), plus small headers.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	put()
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("PutDataset of %d bytes: %d bytes allocated", size, got)
	if limit := uint64(size + chunkSize + 64<<10); got > limit {
		t.Errorf("PutDataset of %d bytes allocated %d bytes; want at most %d", size, got, limit)
	}

	// Reading back through io.Copy copies nothing into new memory.
	putBytes(t, p, "claims", "2", data)
	allocs = testing.AllocsPerRun(5, func() {
		r, err := p.OpenDataset(ctx, "claims", "2")
		mustOK(t, err)
		if n, err := io.Copy(io.Discard, r); err != nil || n != size {
			t.Fatalf("io.Copy = %d, %v", n, err)
		}
		r.Close()
	})
	if allocs > 10 {
		t.Errorf("OpenDataset plus io.Copy made %.0f allocations; want at most 10", allocs)
	}
}

// errAfterReader returns data and then fails with err.
type errAfterReader struct {
	r   io.Reader
	err error
}

func (e *errAfterReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestPutDatasetReadErrorLeavesNothing(t *testing.T) {
	for name, readErr := range map[string]error{
		"Custom":        errors.New("disk on fire"),
		"UnexpectedEOF": io.ErrUnexpectedEOF,
		"ShortChunk":    io.ErrUnexpectedEOF,
	} {
		t.Run(name, func(t *testing.T) {
			p := New(nil)
			size := 3*chunkSize + 17
			if name == "ShortChunk" {
				size = 100
			}
			src := &errAfterReader{r: bytes.NewReader(pattern(size)), err: readErr}
			_, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{
				Name: "claims", Version: "1", Region: "westeurope", Content: provider.NewContent(src, nil),
			})
			if err != readErr {
				t.Fatalf("PutDataset returned %v; want the reader's error %v unchanged", err, readErr)
			}
			if c := p.Counts(); c.Datasets != 0 {
				t.Fatalf("Counts = %+v after a failed put; want no datasets", c)
			}
			_, err = p.GetDataset(context.Background(), "claims", "1")
			wantCode(t, err, provider.NotFound)
			putBytes(t, p, "claims", "1", pattern(10))
		})
	}
}

// cancelingReader cancels its context once it has returned more than after bytes.
type cancelingReader struct {
	r      io.Reader
	n      int
	after  int
	cancel context.CancelFunc
}

func (c *cancelingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	if c.n > c.after {
		c.cancel()
	}
	return n, err
}

func TestPutDatasetCanceledMidRead(t *testing.T) {
	p := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancelingReader{r: bytes.NewReader(pattern(8 * chunkSize)), after: chunkSize, cancel: cancel}
	content := provider.NewContent(src, nil)
	_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: content})
	if err != context.Canceled {
		t.Fatalf("PutDataset returned %v; want context.Canceled unwrapped", err)
	}
	if content.Size() >= 8*chunkSize {
		t.Errorf("PutDataset read all %d bytes after the context was canceled; it should stop between chunks", content.Size())
	}
	if c := p.Counts(); c.Datasets != 0 {
		t.Fatalf("Counts = %+v after a canceled put; want no datasets", c)
	}
}

func TestPutDatasetDuplicateBeforeReading(t *testing.T) {
	p := New(nil)
	putBytes(t, p, "claims", "1", pattern(10))
	content := contentOf(pattern(chunkSize))
	_, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: content})
	wantCode(t, err, provider.AlreadyExists)
	if content.Size() != 0 {
		t.Errorf("a duplicate put read %d bytes; it should be refused before reading", content.Size())
	}
}

// gateReader signals started on its first read and then blocks until release
// is closed.
type gateReader struct {
	r       io.Reader
	once    sync.Once
	started chan struct{}
	release chan struct{}
}

func (g *gateReader) Read(b []byte) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	return g.r.Read(b)
}

func TestPutDatasetDuplicateAtCommit(t *testing.T) {
	p := New(nil)
	slow := &gateReader{r: bytes.NewReader(pattern(2 * chunkSize)), started: make(chan struct{}), release: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{
			Name: "claims", Version: "1", Region: "westeurope", Content: provider.NewContent(slow, nil),
		})
		errc <- err
	}()
	<-slow.started
	winner := pattern(33)
	putBytes(t, p, "claims", "1", winner)
	close(slow.release)
	wantCode(t, <-errc, provider.AlreadyExists)
	if got := readAll(t, p, "claims", "1"); !bytes.Equal(got, winner) {
		t.Fatal("the losing put replaced the stored bytes")
	}
	if c := p.Counts(); c.Datasets != 1 {
		t.Fatalf("Counts = %+v; want exactly one dataset version", c)
	}
}

func TestPutDatasetConcurrentSameVersion(t *testing.T) {
	p := New(nil)
	const n = 8
	var wg sync.WaitGroup
	codes := make([]provider.Code, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.PutDataset(context.Background(), &provider.PutDatasetRequest{
				Name: "claims", Version: "1", Region: "westeurope", Content: contentOf(pattern(chunkSize + i)),
			})
			codes[i] = provider.CodeOf(err)
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case provider.OK:
			ok++
		case provider.AlreadyExists:
		default:
			t.Errorf("unexpected code %v", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent puts of one version succeeded; want exactly 1 (codes %v)", ok, codes)
	}
}

func TestPutDatasetInvalid(t *testing.T) {
	long := strings.Repeat("v", provider.MaxMetaValueLen+1)
	for _, tc := range []struct {
		name string
		req  *provider.PutDatasetRequest
	}{
		{"NilRequest", nil},
		{"BadName", &provider.PutDatasetRequest{Name: "Claims", Version: "1", Region: "westeurope", Content: contentOf(nil)}},
		{"ShortName", &provider.PutDatasetRequest{Name: "ab", Version: "1", Region: "westeurope", Content: contentOf(nil)}},
		{"BadVersion", &provider.PutDatasetRequest{Name: "claims", Version: "v1-", Region: "westeurope", Content: contentOf(nil)}},
		{"EmptyVersion", &provider.PutDatasetRequest{Name: "claims", Version: "", Region: "westeurope", Content: contentOf(nil)}},
		{"UnknownRegion", &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "mars-north-1", Content: contentOf(nil)}},
		{"EmptyRegion", &provider.PutDatasetRequest{Name: "claims", Version: "1", Content: contentOf(nil)}},
		{"BadMetadataKey", &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Metadata: map[string]string{"Bad-Key": "x"}, Content: contentOf(nil)}},
		{"LongMetadataValue", &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Metadata: map[string]string{"k": long}, Content: contentOf(nil)}},
		{"NilContent", &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil)
			info, err := p.PutDataset(context.Background(), tc.req)
			wantCode(t, err, provider.InvalidArgument)
			if info != nil {
				t.Error("PutDataset returned info with an error")
			}
			if c := p.Counts(); c.Datasets != 0 {
				t.Errorf("Counts = %+v after a refused put", c)
			}
		})
	}
}

func TestDatasetMetadata(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	md := map[string]string{"classification": "restricted", "owner": "claims-team"}
	info, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Metadata: md, Content: contentOf(pattern(5))})
	mustOK(t, err)

	// The caller's map and the returned map are not the stored one.
	md["owner"] = "someone-else"
	info.Metadata["classification"] = "public"
	got, err := p.GetDataset(ctx, "claims", "1")
	mustOK(t, err)
	if got.Metadata["owner"] != "claims-team" || got.Metadata["classification"] != "restricted" {
		t.Fatalf("stored metadata changed through a caller's map: %v", got.Metadata)
	}
	if got.URI != "mem://mem/datasets/claims/1" {
		t.Errorf("URI = %q", got.URI)
	}

	upd, err := p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{"owner": "", "purpose": "fraud"}, got.ETag)
	mustOK(t, err)
	if upd.ETag == got.ETag {
		t.Error("ETag did not change after a metadata update")
	}
	if want := map[string]string{"classification": "restricted", "purpose": "fraud"}; fmt.Sprint(upd.Metadata) != fmt.Sprint(want) {
		t.Errorf("merged metadata = %v, want %v", upd.Metadata, want)
	}
	if upd.Digest != got.Digest || upd.Size != got.Size || !upd.Created.Equal(got.Created) {
		t.Error("a metadata update changed the version's bytes or creation time")
	}

	_, err = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{"purpose": "other"}, got.ETag)
	wantCode(t, err, provider.Conflict)
	again, _ := p.GetDataset(ctx, "claims", "1")
	if again.ETag != upd.ETag || again.Metadata["purpose"] != "fraud" {
		t.Error("a conflicting update changed the version")
	}

	_, err = p.UpdateDatasetMetadata(ctx, "claims", "9", map[string]string{"a": "b"}, "")
	wantCode(t, err, provider.NotFound)
	_, err = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{"Bad": "b"}, "")
	wantCode(t, err, provider.InvalidArgument)
	// Each value is within limits, but the merged total is not.
	big := strings.Repeat("x", provider.MaxMetaValueLen)
	for i := range 3 {
		_, err = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{fmt.Sprintf("k%d", i): big}, "")
		mustOK(t, err)
	}
	_, err = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{"k9": big}, "")
	wantCode(t, err, provider.InvalidArgument)
}

func TestListDatasetsOrder(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	put := func(name, version string) {
		putBytes(t, p, name, version, []byte(name+version))
	}
	put("beta", "1")
	put("alpha", "zz") // same time as beta@1: creation order breaks the tie
	put("alpha", "aa")
	clock.Advance(time.Minute)
	put("alpha", "0")

	all, err := p.ListDatasets(ctx, "")
	mustOK(t, err)
	var got []string
	for _, d := range all {
		got = append(got, d.Name+"@"+d.Version)
	}
	if want := "alpha@zz alpha@aa alpha@0 beta@1"; strings.Join(got, " ") != want {
		t.Errorf("ListDatasets(\"\") = %v, want %s", got, want)
	}
	one, err := p.ListDatasets(ctx, "beta")
	mustOK(t, err)
	if len(one) != 1 || one[0].Version != "1" {
		t.Errorf("ListDatasets(beta) = %v", one)
	}
	none, err := p.ListDatasets(ctx, "gamma")
	mustOK(t, err)
	if none == nil || len(none) != 0 {
		t.Errorf("ListDatasets of an unknown name = %#v, want an empty list", none)
	}
}

func TestDatasetNotFound(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	putBytes(t, p, "claims", "1", nil)
	for name, call := range map[string]func() error{
		"GetUnknownName":     func() error { _, err := p.GetDataset(ctx, "nothing", "1"); return err },
		"GetUnknownVersion":  func() error { _, err := p.GetDataset(ctx, "claims", "2"); return err },
		"GetInvalidName":     func() error { _, err := p.GetDataset(ctx, "X", "1"); return err },
		"Open":               func() error { _, err := p.OpenDataset(ctx, "claims", "2"); return err },
		"Delete":             func() error { return p.DeleteDataset(ctx, "claims", "2") },
		"UpdateUnknownName":  func() error { _, err := p.UpdateDatasetMetadata(ctx, "nothing", "1", nil, ""); return err },
		"DeleteInvalidNames": func() error { return p.DeleteDataset(ctx, "", "") },
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), provider.NotFound) })
	}
	mustOK(t, p.DeleteDataset(ctx, "claims", "1"))
	wantCode(t, p.DeleteDataset(ctx, "claims", "1"), provider.NotFound)
}

// FuzzChunkReader checks that a reader over any split of any bytes returns
// those bytes, whatever mix of Read sizes and WriteTo calls consumes it.
func FuzzChunkReader(f *testing.F) {
	f.Add([]byte("hello, chunks"), []byte{1, 2, 3})
	f.Add(pattern(1000), []byte{0, 7, 255, 13})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, data, plan []byte) {
		// The plan's odd bytes cut data into chunks; its even bytes choose
		// read sizes, zero meaning WriteTo with a writer that takes a
		// limited amount.
		var chunks [][]byte
		rest := data
		for i := 1; len(rest) > 0; i += 2 {
			n := len(rest)
			if i < len(plan) && plan[i] > 0 && int(plan[i]) < n {
				n = int(plan[i])
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		r := &chunkReader{chunks: chunks}
		var got []byte
		for step := 0; ; step++ {
			var size byte = 64
			if 2*step < len(plan) {
				size = plan[2*step]
			}
			if size == 0 {
				w := &failWriter{limit: 1 + step%17}
				_, err := r.WriteTo(w)
				got = append(got, w.buf.Bytes()...)
				if err == nil {
					break
				}
				continue
			}
			b := make([]byte, size)
			n, err := r.Read(b)
			got = append(got, b[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("Read returned 0 bytes and no error before EOF")
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes that differ from the %d stored", len(got), len(data))
		}
	})
}

// BenchmarkPutOpen stores a 64 MiB dataset and reads it back with io.Copy,
// the way mlops verifies a digest.
func BenchmarkPutOpen(b *testing.B) {
	const size = 64 << 20
	data := pattern(size)
	p := New(nil)
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: contentOf(data)}); err != nil {
			b.Fatal(err)
		}
		r, err := p.OpenDataset(ctx, "claims", "1")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
		if err := p.DeleteDataset(ctx, "claims", "1"); err != nil {
			b.Fatal(err)
		}
	}
}
