package memprovider

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/tideline-ml/tideline/provider"
)

// chunkSize is the unit a dataset's bytes are stored in. Fixed-size chunks
// filled straight from the reader keep a put's allocations at the dataset's
// size plus one small header per chunk, where a doubling buffer would
// allocate about twice the size and copy it on every growth.
const chunkSize = 1 << 20

type dataset struct {
	info provider.DatasetInfo
	// chunks hold the bytes; every chunk but the last is chunkSize long.
	// They are never written after the version is committed, which is what
	// lets readers share them.
	chunks [][]byte
	seq    uint64 // creation order, to break ties between equal Created times
}

func (d *dataset) copyInfo() *provider.DatasetInfo {
	info := d.info
	info.Metadata = cloneStrings(d.info.Metadata)
	return &info
}

// PutDataset stores a new version. It checks for an existing version before
// reading anything, so a duplicate is refused without consuming
// req.Content, and checks again when committing, so that of two concurrent
// puts of one version exactly one succeeds. A read error, a context that ends
// while reading (checked between chunks) or a duplicate found at commit leaves
// nothing behind.
func (p *Provider) PutDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	target := ""
	if req != nil {
		target = req.Name + "@" + req.Version
	}
	c, err := p.enter(ctx, "PutDataset", target)
	if err != nil {
		return nil, err
	}
	info, err := p.putDataset(ctx, req)
	return finish(c, info, err)
}

func (p *Provider) putDataset(ctx context.Context, req *provider.PutDatasetRequest) (*provider.DatasetInfo, error) {
	if req == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "PutDataset needs a request; got nil")
	}
	if err := provider.ValidateName("dataset name", req.Name); err != nil {
		return nil, err
	}
	if err := provider.ValidateVersion("dataset version", req.Version); err != nil {
		return nil, err
	}
	if err := p.checkRegion("dataset region", req.Region); err != nil {
		return nil, err
	}
	if err := provider.ValidateMetadata("dataset metadata", req.Metadata); err != nil {
		return nil, err
	}
	if req.Content == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "dataset %q version %q has no content; wrap the bytes with provider.NewContent", req.Name, req.Version)
	}
	md := cloneStrings(req.Metadata)

	p.mu.Lock()
	err := p.checkNewDatasetLocked(req.Name, req.Version)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}

	chunks, err := p.readChunks(ctx, req.Content)
	if err != nil {
		return nil, err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.checkNewDatasetLocked(req.Name, req.Version); err != nil {
		return nil, err
	}
	seq := p.nextLocked()
	d := &dataset{
		info: provider.DatasetInfo{
			Name:     req.Name,
			Version:  req.Version,
			Region:   req.Region,
			URI:      p.uri("datasets", req.Name, req.Version),
			Digest:   req.Content.Digest(),
			Size:     req.Content.Size(),
			Metadata: md,
			Created:  p.now(),
			ETag:     p.tagLocked(),
		},
		chunks: chunks,
		seq:    seq,
	}
	versions := p.datasets[req.Name]
	if versions == nil {
		versions = make(map[string]*dataset)
		p.datasets[req.Name] = versions
	}
	versions[req.Version] = d
	p.sorted = nil
	if cur := p.latest[req.Name]; cur == nil || laterVersion(d, cur) {
		p.latest[req.Name] = d
	}
	return d.copyInfo(), nil
}

// listOrder is ListDatasets's order among the versions of one name: by
// creation time, then by creation order.
func listOrder(a, b *dataset) int {
	return cmp.Or(a.info.Created.Compare(b.info.Created), cmp.Compare(a.seq, b.seq))
}

// laterVersion reports whether a comes after b in LatestDataset's order:
// whole numbers after other versions, higher numbers after lower ones,
// and otherwise ListDatasets's order.
func laterVersion(a, b *dataset) bool {
	na, aNum := provider.VersionNumber(a.info.Version)
	nb, bNum := provider.VersionNumber(b.info.Version)
	if aNum != bNum {
		return aNum
	}
	if aNum && na != nb {
		return na > nb
	}
	return listOrder(a, b) > 0
}

func (p *Provider) checkNewDatasetLocked(name, version string) error {
	if _, ok := p.datasets[name][version]; ok {
		return provider.Errorf(provider.AlreadyExists, "dataset %q version %q already exists; versions are immutable, so store the new bytes under a new version", name, version)
	}
	return nil
}

// firstRead is the size of the buffer the first bytes of each chunk are
// read into. Only data that fills it moves on to a whole chunk, so a small
// dataset costs about its own size rather than a chunk.
const firstRead = 64 << 10

// chunkPool and firstPool recycle the buffers a dataset's last chunk and
// its first bytes were read into, so that many datasets do not each leave
// a buffer of garbage. They belong to the package, not to a Provider: a
// pool inside the Provider would keep a dropped provider, and every dataset
// it holds, reachable until the pool is cleared a collection later.
var chunkPool, firstPool sync.Pool

// readChunks reads content to EOF into chunks, checking ctx before each one.
// A short last chunk is copied into a buffer of its own length when that
// saves more than half a chunk, and the full-size buffer is recycled.
func (p *Provider) readChunks(ctx context.Context, content *provider.Content) ([][]byte, error) {
	var chunks [][]byte
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		buf, n, err := readChunk(content)
		if n == len(buf) {
			chunks = append(chunks, buf)
			continue
		}
		// io.ReadFull turns an EOF after some bytes into ErrUnexpectedEOF;
		// Done tells that apart from a reader that failed with
		// ErrUnexpectedEOF itself, whose error must reach the caller as is.
		if !content.Done() || (err != io.EOF && err != io.ErrUnexpectedEOF) {
			putChunk(buf)
			return nil, err
		}
		switch {
		case n == 0:
			putChunk(buf)
		case n > chunkSize/2:
			chunks = append(chunks, buf[:n:n])
		default:
			tail := make([]byte, n)
			copy(tail, buf)
			putChunk(buf)
			chunks = append(chunks, tail)
		}
		return chunks, nil
	}
}

// readChunk reads the next chunk: into a buffer of firstRead bytes, and
// into a whole chunk only once that is full, so that neither a small
// dataset nor the read that finds the end of a large one costs a whole
// chunk. n is the bytes read into buf.
func readChunk(content *provider.Content) (buf []byte, n int, err error) {
	bp, ok := firstPool.Get().(*[]byte)
	if !ok {
		b := make([]byte, firstRead)
		bp = &b
	}
	small := *bp
	n, err = io.ReadFull(content, small)
	if n < len(small) {
		return small, n, err // putChunk recycles it
	}
	buf = getChunk()
	copy(buf, small)
	firstPool.Put(bp)
	m, err := io.ReadFull(content, buf[firstRead:])
	return buf, firstRead + m, err
}

func getChunk() []byte {
	if b, ok := chunkPool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, chunkSize)
}

// putChunk recycles a buffer getChunk or readChunk made; any other is
// left to the garbage collector.
func putChunk(b []byte) {
	switch cap(b) {
	case chunkSize:
		b = b[:chunkSize]
		chunkPool.Put(&b)
	case firstRead:
		b = b[:firstRead]
		firstPool.Put(&b)
	}
}

// GetDataset returns one version. Errors: NotFound.
func (p *Provider) GetDataset(ctx context.Context, name, version string) (*provider.DatasetInfo, error) {
	c, err := p.enter(ctx, "GetDataset", name+"@"+version)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	d, err := p.datasetLocked(name, version)
	var info *provider.DatasetInfo
	if err == nil {
		info = d.copyInfo()
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

func (p *Provider) datasetLocked(name, version string) (*dataset, error) {
	d, ok := p.datasets[name][version]
	if !ok {
		if len(p.datasets[name]) == 0 {
			return nil, provider.Errorf(provider.NotFound, "dataset %q does not exist; store a version with PutDataset first", name)
		}
		return nil, provider.Errorf(provider.NotFound, "dataset %q has no version %q; ListDatasets shows the versions it has", name, version)
	}
	return d, nil
}

// ListDatasets returns the versions of the named dataset, or of every
// dataset when name is empty, ordered by name and then by creation time
// (creation order when times are equal). An unknown name gives an empty list.
//
// The order of every version is kept between calls until a version is
// stored or deleted, so that listing everything again costs the copies
// alone.
func (p *Provider) ListDatasets(ctx context.Context, name string) ([]*provider.DatasetInfo, error) {
	c, err := p.enter(ctx, "ListDatasets", name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	var found []*dataset
	if name == "" {
		found = p.sortedLocked()
	} else {
		for _, d := range p.datasets[name] {
			found = append(found, d)
		}
		slices.SortFunc(found, listOrder)
	}
	out := make([]*provider.DatasetInfo, len(found))
	// The copies are made in blocks, which costs one allocation a block
	// rather than one a version, yet does not keep a whole list's copies
	// alive for the one a caller keeps.
	var block []provider.DatasetInfo
	for i, d := range found {
		if len(block) == 0 {
			block = make([]provider.DatasetInfo, min(len(found)-i, 256))
		}
		block[0] = d.info
		block[0].Metadata = cloneStrings(d.info.Metadata)
		out[i] = &block[0]
		block = block[1:]
	}
	p.mu.Unlock()
	return finish(c, out, nil)
}

// sortedLocked returns every version in ListDatasets's order, sorting only
// when a version was stored or deleted since the last call. p.mu is held;
// the caller must not modify the slice.
func (p *Provider) sortedLocked() []*dataset {
	if p.sorted != nil {
		return p.sorted
	}
	all := make([]*dataset, 0, len(p.datasets))
	for _, versions := range p.datasets {
		for _, d := range versions {
			all = append(all, d)
		}
	}
	slices.SortFunc(all, func(a, b *dataset) int {
		return cmp.Or(cmp.Compare(a.info.Name, b.info.Name), listOrder(a, b))
	})
	p.sorted = all
	return all
}

// LatestDataset returns the latest version of name, kept up to date as
// versions are stored and deleted, so that it costs the same however many
// versions name has: the highest whole-number version, or the one created
// last when none is a number. Errors: NotFound when name has no version.
func (p *Provider) LatestDataset(ctx context.Context, name string) (*provider.DatasetInfo, error) {
	c, err := p.enter(ctx, "LatestDataset", name)
	if err != nil {
		return nil, err
	}
	if err := provider.ValidateName("dataset name", name); err != nil {
		return finish[*provider.DatasetInfo](c, nil, err)
	}
	p.mu.Lock()
	var info *provider.DatasetInfo
	if d := p.latest[name]; d != nil {
		info = d.copyInfo()
	} else {
		err = provider.Errorf(provider.NotFound, "dataset %q has no version; store one with PutDataset first", name)
	}
	p.mu.Unlock()
	return finish(c, info, err)
}

// OpenDataset opens a version for reading. The reader shares the stored
// chunks, which are never written again, so opening copies nothing; it
// implements io.WriterTo, so io.Copy hands each chunk to the writer as is. A
// reader opened before DeleteDataset keeps reading the deleted bytes until it
// is closed. Errors: NotFound.
func (p *Provider) OpenDataset(ctx context.Context, name, version string) (io.ReadCloser, error) {
	c, err := p.enter(ctx, "OpenDataset", name+"@"+version)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	d, err := p.datasetLocked(name, version)
	var r io.ReadCloser
	if err == nil {
		r = &chunkReader{chunks: d.chunks}
	}
	p.mu.Unlock()
	return finish(c, r, err)
}

// UpdateDatasetMetadata merges md into a version's metadata, an empty value
// deleting a key. Every successful update gives a new ETag, even one that
// changed nothing, as a cloud's metadata write does. Errors: NotFound;
// Conflict if ifMatch is not empty and stale; InvalidArgument if md, or the
// merged result, breaks the metadata rules.
func (p *Provider) UpdateDatasetMetadata(ctx context.Context, name, version string, md map[string]string, ifMatch string) (*provider.DatasetInfo, error) {
	c, err := p.enter(ctx, "UpdateDatasetMetadata", name+"@"+version)
	if err != nil {
		return nil, err
	}
	info, err := p.updateDatasetMetadata(name, version, md, ifMatch)
	return finish(c, info, err)
}

func (p *Provider) updateDatasetMetadata(name, version string, md map[string]string, ifMatch string) (*provider.DatasetInfo, error) {
	if err := provider.ValidateMetadata("dataset metadata", md); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d, err := p.datasetLocked(name, version)
	if err != nil {
		return nil, err
	}
	if ifMatch != "" && ifMatch != d.info.ETag {
		return nil, provider.Errorf(provider.Conflict, "dataset %q version %q changed since it was read (ETag %q, now %q); read it again and reapply the change", name, version, ifMatch, d.info.ETag)
	}
	next := merged(d.info.Metadata, md)
	if err := provider.ValidateMetadata("dataset metadata after the merge", next); err != nil {
		return nil, err
	}
	d.info.Metadata = next
	d.info.ETag = p.tagLocked()
	return d.copyInfo(), nil
}

// DeleteDataset deletes a version. Errors: NotFound.
func (p *Provider) DeleteDataset(ctx context.Context, name, version string) error {
	c, err := p.enter(ctx, "DeleteDataset", name+"@"+version)
	if err != nil {
		return err
	}
	p.mu.Lock()
	_, err = p.datasetLocked(name, version)
	if err == nil {
		gone := p.datasets[name][version]
		delete(p.datasets[name], version)
		p.sorted = nil
		if len(p.datasets[name]) == 0 {
			delete(p.datasets, name)
			delete(p.latest, name)
		} else if p.latest[name] == gone {
			// The latest went: the next one is found among the rest, the
			// one time a version is looked for.
			var next *dataset
			for _, d := range p.datasets[name] {
				if next == nil || laterVersion(d, next) {
					next = d
				}
			}
			p.latest[name] = next
		}
	}
	p.mu.Unlock()
	return c.exit(err)
}

// errReaderClosed is what a closed dataset reader returns.
var errReaderClosed = errors.New("memprovider: read from a closed dataset reader")

var _ io.WriterTo = (*chunkReader)(nil)

// chunkReader reads a dataset's chunks in place. Like most readers it is not
// safe for concurrent use; open one per goroutine.
type chunkReader struct {
	chunks [][]byte // unread chunks; chunks[0][off:] is next
	off    int
	closed bool
}

func (r *chunkReader) Read(b []byte) (int, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	if len(r.chunks) == 0 {
		if len(b) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && len(r.chunks) > 0 {
		k := copy(b[n:], r.chunks[0][r.off:])
		n += k
		r.advance(k)
	}
	return n, nil
}

// WriteTo writes the unread bytes to w chunk by chunk, without copying them.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, errReaderClosed
	}
	var total int64
	for len(r.chunks) > 0 {
		rest := r.chunks[0][r.off:]
		n, err := w.Write(rest)
		total += int64(n)
		r.advance(n)
		if err != nil {
			return total, err
		}
		if n < len(rest) {
			return total, io.ErrShortWrite
		}
	}
	return total, nil
}

func (r *chunkReader) advance(n int) {
	r.off += n
	if r.off == len(r.chunks[0]) {
		// r.chunks shares the stored slice, so it is resliced, never written.
		r.chunks = r.chunks[1:]
		r.off = 0
	}
}

// Close releases the reader's hold on the chunks. Closing twice is harmless.
func (r *chunkReader) Close() error {
	r.closed = true
	r.chunks = nil
	return nil
}
