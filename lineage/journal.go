package lineage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/tideline-ml/tideline/internal/durable"
	"github.com/tideline-ml/tideline/internal/filelock"
)

// journalFormat names the file format in the first line of every journal;
// the version changes only with an incompatible format.
const (
	journalFormat  = "tideline-lineage-journal"
	journalVersion = 1
)

// journalRecord is the shape of one line of a journal, as encoding/json
// decodes it. Only changes are written: an idempotent repeat of a recorded
// fact leaves the journal untouched. The store writes lines with
// appendRecord and reads them with scanLine, which do without reflection;
// tests hold both to what encoding/json does with this type.
type journalRecord struct {
	Format  string `json:"format,omitempty"`  // header line only
	Version int    `json:"version,omitempty"` // header line only
	Op      string `json:"op,omitempty"`      // "node", "edge" or "retire"
	Node    *Node  `json:"node,omitempty"`
	Edge    *Edge  `json:"edge,omitempty"`
	ID      string `json:"id,omitempty"` // retire only
}

// FileStore is a Store whose graph lives in memory and whose every change is
// appended to a JSON-lines journal, replayed when the store is opened.
//
// A write returns once its line has been handed to the operating system, so
// a crash of the process loses nothing that was acknowledged; with
// FileStoreOptions.SyncWrites the line is also fsync'd before the write
// returns, so that a power loss does not either. A change is applied to the
// graph, and seen by reads, only once its line is written (and synced). A
// new journal's header and directory entry are fsync'd before OpenFileStore
// returns.
//
// Writes are grouped (group commit): changes that arrive while the journal
// is being written wait and then go out together, in one write and, with
// SyncWrites, one fsync, so concurrent writers share the cost of the disk
// instead of queueing for it one by one. Apply hands the store a whole
// Batch at once; that is the fast way to load many changes from one
// goroutine.
//
// A failed fsync leaves the journal in an unknown state (the system may have
// dropped the written pages), so the store does not try to repair it: the
// writes waiting for it and every later write, Sync and Close return the
// error, and reads keep answering from memory. Reopen the journal to go on.
// A failed write that the store can cut back cleanly is only reported, to
// every write that was grouped with it.
//
// One process at a time may have a journal open: OpenFileStore takes an
// exclusive lock on the file (flock, where the system has it) and fails at
// once while another holds it.
//
// Opening replays the whole journal, in time and memory proportional to its
// size. Lines are decoded by a scanner written for the journal's own record
// shapes instead of by encoding/json, whose reflection took three quarters
// of an open, and go straight into the graph's tables; reading, scanning
// and hashing ids run on a goroutine of their own beside the one applying,
// which reads the index slots of a group of lines at once so that their
// cache misses overlap (the rest of an open is mostly lookups of edge
// endpoints in a table too large for the cache). The format is
// unchanged, so every journal ever written opens as before, and the file
// stays one that any JSON tool reads. Snapshots or compaction would shorten
// what an open reads, but would add a second file that has to stay
// consistent with the journal through crashes, for little gain: a journal
// holds changes only, so it grows with the graph, not with the writes, and
// replaying a million nodes and three million edges takes a few seconds.
type FileStore struct {
	g    *Graph
	path string

	mu     sync.Mutex // guards everything below; taken before g.mu
	idle   sync.Cond  // signalled when flushing ends
	f      *os.File
	w      journalFile // f, or what a test put in its place
	size   int64       // length of the journal's intact prefix
	sync   bool
	closed bool
	broken error // set by a failed fsync, or a failed write that could not be undone
	torn   int64 // bytes of a torn last line cut off on open

	pend     *pending  // what queued commits will change
	queue    []*commit // encoded, not yet written; only the last one grows
	flushing bool      // a writer is writing the queue
	seq      uint64    // number of the last commit opened
	spare    []byte    // a written commit's buffer, for the next one
}

// A commit is a group of changes written to the journal with one write.
type commit struct {
	seq      uint64
	buf      []byte
	ops      []batchOp // applied to the graph once buf is written
	nodeIDs  []string  // pending entries to forget once applied
	edgeKeys [][2]string
	done     chan struct{} // closed when the commit is finished
	finished bool
	err      error
}

// maxCommitBytes caps how much one commit gathers before later changes
// start the next one; a single batch is never split.
const maxCommitBytes = 1 << 20

// FileStoreOptions tunes OpenFileStore. The zero value is ready to use.
type FileStoreOptions struct {
	// SyncWrites fsyncs the journal before a write returns. It makes each
	// acknowledged write durable across power loss at the cost of a disk
	// flush per group of writes (see FileStore).
	SyncWrites bool

	// ExpectedNodes pre-sizes the in-memory graph (see GraphOptions).
	ExpectedNodes int
}

// journalFile is what a FileStore changes its journal through. It is
// *os.File outside tests; a test substitutes a wrapper that counts or fails
// syncs, to show that nothing is acknowledged before it is synced.
type journalFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
}

// journalHooks replace a FileStore's file operations in tests.
type journalHooks struct {
	wrap    func(*os.File) journalFile
	syncDir func(dir string) error
}

// OpenFileStore opens the journal at path, creating it (mode 0600) when it
// does not exist, and replays it. opts may be nil.
//
// A crash can leave the last line unfinished. A last line that lacks only
// its newline but is a whole record is applied, and the newline is written
// and fsync'd, so no recorded fact is lost. A last line that does not parse
// as JSON is a write torn before it was acknowledged: it is cut off, the cut
// is fsync'd, and TornBytes reports how many bytes went. Any other line that
// cannot be replayed fails the open with ErrCorrupt and the line number, and
// the file is left as it was.
func OpenFileStore(ctx context.Context, path string, opts *FileStoreOptions) (*FileStore, error) {
	return openFileStore(ctx, path, opts, journalHooks{})
}

func openFileStore(ctx context.Context, path string, opts *FileStoreOptions, hooks journalHooks) (*FileStore, error) {
	if opts == nil {
		opts = &FileStoreOptions{}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lineage: open journal: %w", err)
	}
	s, err := openJournal(f, path, created, opts, hooks)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func openJournal(f *os.File, path string, created bool, opts *FileStoreOptions, hooks journalHooks) (*FileStore, error) {
	if err := filelock.Lock(f); err != nil {
		return nil, fmt.Errorf("lineage: journal %s is open in another process (one writer at a time; close it there or read a copy): %w", path, err)
	}
	if created {
		syncDir := durable.SyncDir
		if hooks.syncDir != nil {
			syncDir = hooks.syncDir
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: making the new file's directory entry durable: %w", path, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("lineage: journal %s: %w", path, err)
	}
	g := NewGraph(&GraphOptions{ExpectedNodes: opts.ExpectedNodes})
	good, unterminated, err := loadJournal(f, g)
	if err != nil {
		return nil, fmt.Errorf("lineage: journal %s: %w", path, err)
	}
	s := &FileStore{g: g, path: path, f: f, w: f, size: good, sync: opts.SyncWrites, pend: newPending()}
	s.idle.L = &s.mu
	if hooks.wrap != nil {
		s.w = hooks.wrap(f)
	}
	switch {
	case unterminated:
		// A whole record that lacks its newline: finish the line.
		if _, err := f.Seek(good, io.SeekStart); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: %w", path, err)
		}
		if _, err := s.w.Write([]byte{'\n'}); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: terminating the last record: %w", path, err)
		}
		if err := s.w.Sync(); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: syncing the terminated last record: %w", path, err)
		}
		s.size++
	case good < st.Size():
		if err := s.truncateLocked(); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: cutting off a torn last line: %w", path, err)
		}
		if err := s.w.Sync(); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: syncing after cutting off a torn last line: %w", path, err)
		}
		s.torn = st.Size() - good
	}
	if good == 0 {
		// A new journal, or one whose header was torn: write the header and
		// make it durable whatever SyncWrites says, once.
		header := fmt.Appendf(nil, `{"format":%q,"version":%d}`+"\n", journalFormat, journalVersion)
		n, err := s.w.Write(header)
		if err != nil {
			return nil, fmt.Errorf("lineage: journal %s: writing header: %w", path, err)
		}
		s.size += int64(n)
		if err := s.w.Sync(); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: syncing header: %w", path, err)
		}
	}
	return s, nil
}

// apply checks the header, when none has been seen, or applies the line's
// record.
func (l *loader) apply(ln *scannedLine, header bool) error {
	g, rec := l.g, &ln.rec
	if !header {
		if string(rec.format) != journalFormat {
			return fmt.Errorf("not a lineage journal (first line lacks format %q)", journalFormat)
		}
		if rec.version != journalVersion {
			return fmt.Errorf("journal version %d, this build reads version %d", rec.version, journalVersion)
		}
		return nil
	}
	switch op := string(rec.op); {
	case op == "node" && rec.hasNode:
		spec := nodeSpec{kind: rec.node.kind, id: string(rec.node.id), live: rec.node.live, attrs: l.attrs(rec.node.attrs),
			hash: ln.nodeHash, hashed: true}
		changed, err := g.checkNodeLocked(&spec)
		if err != nil || !changed {
			return err
		}
		l.remember(spec.id, spec.hash, g.applyNodeLocked(&spec))
		return nil
	case op == "edge" && rec.hasEdge:
		e := &rec.edge
		from, ok := l.lookup(e.from, ln.fromHash)
		if !ok {
			return errNoSource(string(e.from), string(e.to))
		}
		to, ok := l.lookup(e.to, ln.toHash)
		if !ok {
			return errNoTarget(string(e.from), string(e.to))
		}
		if err := checkEdgeKinds(g.ids[from], g.ids[to], Kind(g.meta[from]&^metaLive), Kind(g.meta[to]&^metaLive), e.kind); err != nil {
			return err
		}
		if !g.hasEdgeLocked(from, to) {
			g.applyEdgeLocked(from, to)
		}
		return nil
	case op == "retire" && len(rec.id) > 0:
		i, changed, err := g.checkRetireLocked(string(rec.id))
		if err == nil && changed {
			g.meta[i] &^= metaLive
		}
		return err
	}
	return fmt.Errorf("unknown record (op %q)", rec.op)
}

// attrs turns scanned key, value pairs into the graph's form: sorted by
// key, the last of duplicate keys winning, as in a decoded map.
func (l *loader) attrs(kv [][]byte) []string {
	if len(kv) == 0 {
		return nil
	}
	l.pairs = l.pairs[:0]
	for j := 0; j < len(kv); j += 2 {
		l.pairs = append(l.pairs, j)
	}
	if len(l.pairs) > 1 {
		slices.SortStableFunc(l.pairs, func(a, b int) int { return bytes.Compare(kv[a], kv[b]) })
	}
	out := make([]string, 0, len(kv))
	for i, j := range l.pairs {
		if i+1 < len(l.pairs) && bytes.Equal(kv[j], kv[l.pairs[i+1]]) {
			continue // a later duplicate wins
		}
		out = append(out, l.key(kv[j]), string(kv[j+1]))
	}
	return out
}

func (l *loader) key(b []byte) string {
	if k, ok := l.keys[string(b)]; ok {
		return k
	}
	k := string(b)
	if len(l.keys) < maxInternedKeys {
		l.keys[k] = k
	}
	return k
}

// syncFailed marks the store broken by a failed fsync and returns the error
// every later write reports.
func (s *FileStore) syncFailed(err error) error {
	s.broken = fmt.Errorf("lineage: syncing journal %s failed, so what it holds is unknown; it takes no more writes: reopen the store: %w", s.path, err)
	return s.broken
}

func (s *FileStore) truncateLocked() error {
	if err := s.w.Truncate(s.size); err != nil {
		return err
	}
	_, err := s.f.Seek(s.size, io.SeekStart)
	return err
}

func (s *FileStore) writable(ctx context.Context) error {
	if s.closed {
		return fmt.Errorf("lineage: file store: %w", ErrClosed)
	}
	if s.broken != nil {
		return s.broken
	}
	return ctx.Err()
}

// AddNode implements Store. The node is journaled before it is applied.
func (s *FileStore) AddNode(ctx context.Context, n Node) error {
	return s.submit(ctx, []batchOp{{kind: opNode, node: specOf(n)}})
}

// AddEdge implements Store. The edge is journaled before it is applied.
func (s *FileStore) AddEdge(ctx context.Context, e Edge) error {
	return s.submit(ctx, []batchOp{{kind: opEdge, from: e.From, to: e.To, edgeKind: e.Kind}})
}

// Retire implements Store. The retirement is journaled before it is applied.
func (s *FileStore) Retire(ctx context.Context, id string) error {
	return s.submit(ctx, []batchOp{{kind: opRetire, id: id}})
}

// Apply records the batch's changes in order, all or nothing, as
// Graph.Apply does, and journals them before they are applied: its lines go
// out in one write (and, with SyncWrites, one fsync) together with whatever
// other writers queued at the same time. When Apply returns nil every
// change is written (and synced) and applied. A crash while the write is
// under way can leave the journal with some of the batch's lines and not
// the others; as writes are idempotent, applying the same batch again
// completes it.
func (s *FileStore) Apply(ctx context.Context, b *Batch) error {
	return s.submit(ctx, b.ops)
}

// submit checks ops against the graph and the queued changes, adds those
// that change something to the open commit and returns once that commit is
// written (and synced) and applied. A change that changes nothing returns
// at once, unless what makes it a repeat is itself still queued: then it
// waits for that, so that nothing is acknowledged before it is durable.
// The context is consulted before the changes are queued, not after: a
// write cannot be called back once it may be grouped with others.
func (s *FileStore) submit(ctx context.Context, ops []batchOp) error {
	s.mu.Lock()
	if err := s.writable(ctx); err != nil {
		s.mu.Unlock()
		return err
	}
	c := s.openCommit()
	mark, markOps, markNodes, markEdges := len(c.buf), len(c.ops), len(c.nodeIDs), len(c.edgeKeys)
	var undo undoLog
	var wait *commit
	changed := false
	s.g.mu.RLock()
	for i := range ops {
		op := &ops[i]
		ch, w, err := s.pend.check(s.g, op, c, &undo)
		if err != nil {
			s.g.mu.RUnlock()
			s.pend.undo(&undo)
			c.buf, c.ops = c.buf[:mark], c.ops[:markOps]
			c.nodeIDs, c.edgeKeys = c.nodeIDs[:markNodes], c.edgeKeys[:markEdges]
			if markOps == 0 {
				s.spare = c.buf // a new commit that was never queued
			}
			s.mu.Unlock()
			return batchError(i, len(ops), err)
		}
		if !ch {
			if w != nil && (wait == nil || w.seq > wait.seq) {
				wait = w
			}
			continue
		}
		changed = true
		c.buf = appendRecord(c.buf, op)
		c.ops = append(c.ops, *op)
		switch op.kind {
		case opNode:
			c.nodeIDs = append(c.nodeIDs, op.node.id)
		case opRetire:
			c.nodeIDs = append(c.nodeIDs, op.id)
		case opEdge:
			c.edgeKeys = append(c.edgeKeys, [2]string{op.from, op.to})
		}
	}
	s.g.mu.RUnlock()
	if !changed {
		if markOps == 0 {
			s.spare = c.buf // a new commit that was never queued
		}
		s.mu.Unlock()
		if wait == nil {
			return nil
		}
		<-wait.done
		return wait.err
	}
	if markOps == 0 {
		s.queue = append(s.queue, c)
	}
	if !s.flushing {
		s.flushing = true
		s.flush(c)
	}
	if c.finished {
		err := c.err
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	<-c.done
	return c.err
}

// openCommit returns the commit new changes join: the last queued one
// while it has room, or a new one that the caller queues when it adds the
// first change. s.mu is held.
func (s *FileStore) openCommit() *commit {
	if n := len(s.queue); n > 0 && len(s.queue[n-1].buf) < maxCommitBytes {
		return s.queue[n-1]
	}
	s.seq++
	c := &commit{seq: s.seq, buf: s.spare, done: make(chan struct{})}
	s.spare = nil
	return c
}

// flush writes queued commits in order: each with one write, and with
// SyncWrites one fsync, then applies its changes to the graph. s.mu is held
// on entry and on return, and released around the file operations. The
// writer whose changes are in mine writes until mine is finished and hands
// what queued meanwhile to a new goroutine, so that no writer waits for
// changes queued after its own.
func (s *FileStore) flush(mine *commit) {
	for len(s.queue) > 0 {
		c := s.queue[0]
		n := copy(s.queue, s.queue[1:])
		s.queue[n] = nil
		s.queue = s.queue[:n]

		s.mu.Unlock()
		written, err := s.w.Write(c.buf)
		var serr error
		if err == nil && s.sync {
			serr = s.w.Sync()
		}
		s.mu.Lock()
		switch {
		case err != nil:
			err = fmt.Errorf("lineage: writing journal %s: %w", s.path, err)
			if written > 0 {
				if terr := s.truncateLocked(); terr != nil {
					s.broken = fmt.Errorf("lineage: journal %s left with a partial line after %v; reopen the store to repair it: %w", s.path, err, terr)
					err = s.broken
				}
			}
			s.failQueued(c, err)
		case serr != nil:
			s.failQueued(c, s.syncFailed(serr))
		default:
			s.size += int64(written)
			s.g.mu.Lock()
			for i := range c.ops {
				s.g.applyOpLocked(&c.ops[i])
			}
			s.g.mu.Unlock()
			s.pend.forget(c)
		}
		s.finish(c)
		if c == mine && len(s.queue) > 0 {
			go s.drain()
			return
		}
	}
	s.flushing = false
	s.idle.Broadcast()
}

func (s *FileStore) drain() {
	s.mu.Lock()
	s.flush(nil)
	s.mu.Unlock()
}

// failQueued fails c and every commit queued after it: they were checked
// against what c would have changed. The queued state is dropped with them.
func (s *FileStore) failQueued(c *commit, err error) {
	c.err = err
	for _, q := range s.queue {
		q.err = err
		s.finish(q)
	}
	clear(s.queue)
	s.queue = s.queue[:0]
	s.pend = newPending()
}

// finish releases the writers waiting for c and keeps its buffer for the
// next commit. s.mu is held.
func (s *FileStore) finish(c *commit) {
	if c.finished {
		return
	}
	c.finished = true
	if cap(c.buf) <= maxCommitBytes*2 {
		s.spare = c.buf[:0]
	}
	c.buf, c.ops, c.nodeIDs, c.edgeKeys = nil, nil, nil, nil
	close(c.done)
}

// TornBytes returns how many bytes of a torn last line OpenFileStore cut
// off; non-zero means the previous writer crashed in the middle of a write.
func (s *FileStore) TornBytes() int64 { return s.torn }

// Node implements Store. Reads keep working after Close.
func (s *FileStore) Node(ctx context.Context, id string) (Node, error) { return s.g.Node(ctx, id) }

// Out implements Store.
func (s *FileStore) Out(ctx context.Context, id string) ([]Edge, error) { return s.g.Out(ctx, id) }

// In implements Store.
func (s *FileStore) In(ctx context.Context, id string) ([]Edge, error) { return s.g.In(ctx, id) }

// Upstream implements Querier.
func (s *FileStore) Upstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error) {
	return s.g.Upstream(ctx, id, opts)
}

// Downstream implements Querier.
func (s *FileStore) Downstream(ctx context.Context, id string, opts *QueryOptions) ([]Path, error) {
	return s.g.Downstream(ctx, id, opts)
}

// Impact implements Querier.
func (s *FileStore) Impact(ctx context.Context, datasetID string) ([]Path, error) {
	return s.g.Impact(ctx, datasetID)
}

// Size returns the number of nodes and edges.
func (s *FileStore) Size() (nodes, edges int) { return s.g.Size() }

// Sync flushes the journal to stable storage. A failure breaks the store
// (see FileStore).
func (s *FileStore) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("lineage: file store: %w", ErrClosed)
	case s.broken != nil:
		return s.broken
	}
	if err := s.w.Sync(); err != nil {
		return s.syncFailed(err)
	}
	return nil
}

// Close syncs and closes the journal. Later writes fail with ErrClosed;
// reads keep answering from memory. Closing twice is a no-op. A broken
// store is closed without a sync and reports what broke it.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for s.flushing {
		s.idle.Wait()
	}
	serr := s.broken
	if serr == nil {
		if err := s.w.Sync(); err != nil {
			serr = fmt.Errorf("lineage: closing journal %s: %w", s.path, err)
		}
	}
	if err := s.f.Close(); err != nil {
		return errors.Join(serr, fmt.Errorf("lineage: closing journal %s: %w", s.path, err))
	}
	return serr
}
