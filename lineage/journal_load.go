package lineage

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"sync"
)

// loadJournal replays r into g. It returns the length of the prefix that
// holds whole records, or 0 when there is no header yet; whatever follows
// that prefix is a torn write to discard. unterminated reports that the
// prefix ends in a whole record without its newline.
//
// Lines are decoded by scanLine, which reads the journal's record shapes
// without reflection and agrees with encoding/json on every line, and are
// applied to the graph without building a Node on the way, so that opening
// costs time and memory in proportion to the journal's size. Reading and
// scanning run on a goroutine of their own, a chunk of lines ahead of the
// caller, which applies them in order: applying is mostly lookups in the
// graph's index and cannot be shared, but scanning can go alongside it.
func loadJournal(r io.Reader, g *Graph) (good int64, unterminated bool, err error) {
	return loadJournalChunks(r, g, scanChunkSize)
}

// loadJournalChunks is loadJournal reading chunkSize bytes at a time (more
// when a line is longer); tests make it small to cut lines at every place.
func loadJournalChunks(r io.Reader, g *Graph, chunkSize int) (good int64, unterminated bool, err error) {
	chunks, free, stop, wait := startScanning(r, chunkSize, g.index.seed)
	defer func() {
		close(stop)
		wait()
	}()
	g.mu.Lock()
	defer g.mu.Unlock()
	l := loader{g: g, keys: make(map[string]string)}
	header := false
	line := 0
	for c := range chunks {
		for i := range c.lines {
			ln := &c.lines[i]
			line++
			if ln.blank {
				if ln.last {
					break // the end, or blanks a torn write left
				}
				good += ln.n
				continue
			}
			if ln.err != nil {
				if ln.last {
					// A line without its newline that is not a record was
					// torn before it was acknowledged: dropped, not applied.
					break
				}
				return 0, false, fmt.Errorf("line %d: %v: %w", line, ln.err, ErrCorrupt)
			}
			if i%prefetchGroup == 0 {
				l.prefetch(c.lines[i:min(i+prefetchGroup, len(c.lines))])
			}
			if err := l.apply(ln, header); err != nil {
				return 0, false, fmt.Errorf("line %d: %v: %w", line, err, ErrCorrupt)
			}
			header = true
			good += ln.n
			if ln.last {
				return good, true, nil
			}
		}
		if c.err != nil {
			return 0, false, fmt.Errorf("reading line %d: %w", line+1, c.err)
		}
		free <- c
	}
	if !header {
		return 0, false, nil
	}
	return good, false, nil
}

// loader applies scanned records to a graph whose lock it holds.
type loader struct {
	g     *Graph
	keys  map[string]string // attribute keys, interned
	pairs []int             // scratch for sorting attributes

	// recent holds the nodes added last. Edges are mostly journaled right
	// after one of their endpoints (a job's inputs after the job), and
	// finding that endpoint here spares a lookup in the graph's index,
	// which at a million nodes costs a cache miss or two.
	recent [8]recentNode
	next   int

	sink uint32 // what prefetch read, kept so the reads stay
}

type recentNode struct {
	id string
	h  uint64 // id's hash in the index
	i  int32
}

// maxInternedKeys bounds the attribute keys a loader interns; keys past it
// are allocated per node, as a journal with so many is unusual.
const maxInternedKeys = 1024

func (l *loader) remember(id string, h uint64, i int32) {
	l.recent[l.next] = recentNode{id, h, i}
	l.next = (l.next + 1) % len(l.recent)
}

// lookup returns the index of the node with the given id, whose hash in
// the graph's index is h.
func (l *loader) lookup(id []byte, h uint64) (int32, bool) {
	for _, r := range &l.recent {
		if r.h == h && r.id == string(id) && r.id != "" {
			return r.i, true
		}
	}
	return l.g.index.findBytes(id, h)
}

// prefetchGroup is how many lines the loader prepares at once before
// applying them: it reads the index slot of each edge's source, then the
// id and the adjacency each slot leads to, each step in a tight loop of
// reads that do not depend on one another. The processor overlaps those
// cache misses instead of meeting them one at a time, as the lookups
// themselves would, each behind the work of applying the line before.
const prefetchGroup = 32

// prefetch prepares the lookups of lines, which the caller applies next.
// The reads are hints: whatever they find, the lookups decide.
func (l *loader) prefetch(lines []scannedLine) {
	x := &l.g.index
	var acc uint32
	for i := range lines {
		switch {
		case lines[i].isEdge:
			acc += x.touch(lines[i].fromHash)
		case lines[i].isNode:
			acc += x.touch(lines[i].nodeHash)
		}
	}
	for i := range lines {
		if !lines[i].isEdge {
			continue
		}
		h := lines[i].fromHash
		if s := &x.slots[h&x.mask]; s.tag == uint32(h>>32) && s.id != "" {
			acc += uint32(s.id[0])
			acc += uint32(len(l.g.out[s.i]))
		}
	}
	for i := range lines {
		if !lines[i].isEdge {
			continue
		}
		h := lines[i].fromHash
		if s := &x.slots[h&x.mask]; s.tag == uint32(h>>32) && s.id != "" {
			if out := l.g.out[s.i]; len(out) > 0 {
				acc += uint32(out[len(out)-1])
			}
		}
	}
	l.sink += acc
}

// scanChunk is a run of whole lines read from a journal and their scans.
// The scans point into buf.
type scanChunk struct {
	buf   []byte
	lines []scannedLine
	err   error // a read error after the lines
}

type scannedLine struct {
	n     int64 // bytes, newline included
	blank bool  // nothing but white space
	last  bool  // the end of the input, without a newline
	err   error // from scanLine
	rec   scanRecord

	// For an edge record, the hashes of its endpoints in the graph's index;
	// for a node record, nodeHash is its id's. They are computed here, off
	// the goroutine that applies the records.
	isEdge, isNode   bool
	fromHash, toHash uint64
	nodeHash         uint64
}

const (
	scanChunkSize = 256 << 10
	scanChunks    = 3 // in flight: one being scanned, one waiting, one being applied
)

// startScanning reads r in chunks of whole lines and scans them on a new
// goroutine. The caller receives chunks in order from chunks and hands
// each back on free when done with it; closing stop ends the goroutine,
// and wait waits for that. chunks is closed after the last line.
func startScanning(r io.Reader, chunkSize int, seed maphash.Seed) (chunks <-chan *scanChunk, free chan<- *scanChunk, stop chan struct{}, wait func()) {
	out := make(chan *scanChunk, 1)
	back := make(chan *scanChunk, scanChunks)
	for range scanChunks {
		// Small at first, so that a small journal costs little; a chunk
		// grows to chunkSize while the input lasts.
		back <- &scanChunk{buf: make([]byte, 0, min(chunkSize, 4<<10))}
	}
	stop = make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(out)
		var carry []byte // the start of a line the last chunk cut
		for eof := false; !eof; {
			var c *scanChunk
			select {
			case c = <-back:
			case <-stop:
				return
			}
			c.err = nil
			c.buf = append(c.buf[:0], carry...)
			// Fill the chunk, growing it up to chunkSize, and past that
			// while it does not hold one whole line.
			for {
				if len(c.buf) == cap(c.buf) {
					if cap(c.buf) >= chunkSize && bytes.LastIndexByte(c.buf, '\n') >= 0 {
						break
					}
					c.buf = slices.Grow(c.buf, cap(c.buf))
				}
				n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
				c.buf = c.buf[:len(c.buf)+n]
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				if err != nil {
					c.err, eof = err, true
					break
				}
			}
			whole := len(c.buf)
			if !eof || c.err != nil {
				whole = bytes.LastIndexByte(c.buf, '\n') + 1
			}
			carry = append(carry[:0], c.buf[whole:]...)
			c.scan(c.buf[:whole], eof && c.err == nil, seed)
			select {
			case out <- c:
			case <-stop:
				return
			}
		}
	})
	return out, back, stop, wg.Wait
}

// scan splits b into lines and scans each. When end is set, b ends the
// input: a last piece without a newline (or nothing) is marked last.
func (c *scanChunk) scan(b []byte, end bool, seed maphash.Seed) {
	c.lines = c.lines[:0]
	for len(b) > 0 || end {
		i := bytes.IndexByte(b, '\n')
		var raw []byte
		last := i < 0
		if last {
			if !end {
				break
			}
			raw, b = b, nil
		} else {
			raw, b = b[:i+1], b[i+1:]
		}
		// Reuse the line's scan (and its attrs' memory) from the last time
		// the chunk went round; scanLine resets it.
		if len(c.lines) < cap(c.lines) {
			c.lines = c.lines[:len(c.lines)+1]
		} else {
			c.lines = append(c.lines, scannedLine{})
		}
		ln := &c.lines[len(c.lines)-1]
		ln.n, ln.last, ln.blank, ln.err, ln.isEdge, ln.isNode = int64(len(raw)), last, false, nil, false, false
		if t := bytes.TrimSpace(raw); len(t) == 0 {
			ln.blank = true
		} else {
			ln.err = scanLine(t, &ln.rec)
			if ln.err == nil && ln.rec.hasEdge && string(ln.rec.op) == "edge" {
				ln.isEdge = true
				ln.fromHash = maphash.Bytes(seed, ln.rec.edge.from)
				ln.toHash = maphash.Bytes(seed, ln.rec.edge.to)
			}
			if ln.err == nil && ln.rec.hasNode && string(ln.rec.op) == "node" {
				ln.isNode = true
				ln.nodeHash = maphash.Bytes(seed, ln.rec.node.id)
			}
		}
		if last {
			break
		}
	}
}
