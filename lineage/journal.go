package lineage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// journalRecord is one line of a journal. Only changes are written: an
// idempotent repeat of a recorded fact leaves the journal untouched.
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
// FileStoreOptions.SyncWrites each line is also fsync'd before the write
// returns, so that a power loss does not either. A new journal's header and
// directory entry are fsync'd before OpenFileStore returns.
//
// A failed fsync leaves the journal in an unknown state (the system may have
// dropped the written pages), so the store does not try to repair it: that
// write and every later write, Sync and Close return the error, and reads
// keep answering from memory. Reopen the journal to go on. A failed write
// that the store can cut back cleanly is only reported.
//
// One process at a time may have a journal open: OpenFileStore takes an
// exclusive lock on the file (flock, where the system has it) and fails at
// once while another holds it.
type FileStore struct {
	g    *Graph
	path string

	mu     sync.Mutex // serializes writers so journal order is apply order
	f      *os.File
	w      journalFile // f, or what a test put in its place
	size   int64       // length of the journal's intact prefix
	sync   bool
	closed bool
	broken error // set by a failed fsync, or a failed write that could not be undone
	torn   int64 // bytes of a torn last line cut off on open
}

// FileStoreOptions tunes OpenFileStore. The zero value is ready to use.
type FileStoreOptions struct {
	// SyncWrites fsyncs the journal after every write. It makes each write
	// durable across power loss at the cost of a disk flush per write.
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
	good, unterminated, err := loadJournal(bufio.NewReaderSize(f, 1<<16), g)
	if err != nil {
		return nil, fmt.Errorf("lineage: journal %s: %w", path, err)
	}
	s := &FileStore{g: g, path: path, f: f, w: f, size: good, sync: opts.SyncWrites}
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
		if err := s.appendLocked(journalRecord{Format: journalFormat, Version: journalVersion}); err != nil {
			return nil, fmt.Errorf("lineage: journal %s: writing header: %w", path, err)
		}
		if !s.sync {
			if err := s.w.Sync(); err != nil {
				return nil, fmt.Errorf("lineage: journal %s: syncing header: %w", path, err)
			}
		}
	}
	return s, nil
}

// loadJournal replays r into g. It returns the length of the prefix that
// holds whole records, or 0 when there is no header yet; whatever follows
// that prefix is a torn write to discard. unterminated reports that the
// prefix ends in a whole record without its newline.
func loadJournal(r *bufio.Reader, g *Graph) (good int64, unterminated bool, err error) {
	ctx := context.Background()
	header := false
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		last := errors.Is(err, io.EOF)
		if err != nil && !last {
			return 0, false, fmt.Errorf("reading line %d: %w", line, err)
		}
		n := int64(len(b))
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			if last {
				break // the end, or blanks a torn write left
			}
			good += n
			continue
		}
		var rec journalRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			if last {
				// A line without its newline that is not even JSON was torn
				// before it was acknowledged: dropped, not applied.
				break
			}
			return 0, false, fmt.Errorf("line %d: %v: %w", line, err, ErrCorrupt)
		}
		if err := applyRecord(ctx, g, &rec, header); err != nil {
			return 0, false, fmt.Errorf("line %d: %v: %w", line, err, ErrCorrupt)
		}
		header = true
		good += n
		if last {
			return good, true, nil
		}
	}
	if !header {
		return 0, false, nil
	}
	return good, false, nil
}

// applyRecord checks the header, when none has been seen, or applies rec.
func applyRecord(ctx context.Context, g *Graph, rec *journalRecord, header bool) error {
	if !header {
		if rec.Format != journalFormat {
			return fmt.Errorf("not a lineage journal (first line lacks format %q)", journalFormat)
		}
		if rec.Version != journalVersion {
			return fmt.Errorf("journal version %d, this build reads version %d", rec.Version, journalVersion)
		}
		return nil
	}
	switch {
	case rec.Op == "node" && rec.Node != nil:
		return g.AddNode(ctx, *rec.Node)
	case rec.Op == "edge" && rec.Edge != nil:
		return g.AddEdge(ctx, *rec.Edge)
	case rec.Op == "retire" && rec.ID != "":
		return g.Retire(ctx, rec.ID)
	}
	return fmt.Errorf("unknown record (op %q)", rec.Op)
}

// appendLocked writes rec as one line with a single write call, so that a
// crash tears at most this line, and with SyncWrites fsyncs it. A failed
// write is cut back to the last intact line; if even that fails, or the
// fsync fails, the store is broken: it refuses further writes rather than
// build on a file whose contents are unknown.
func (s *FileStore) appendLocked(rec journalRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("lineage: encoding journal record: %w", err)
	}
	b = append(b, '\n')
	n, err := s.w.Write(b)
	if err != nil {
		if n > 0 {
			if terr := s.truncateLocked(); terr != nil {
				s.broken = fmt.Errorf("lineage: journal %s left with a partial line after %v; reopen the store to repair it: %w", s.path, err, terr)
				return s.broken
			}
		}
		return fmt.Errorf("lineage: writing journal %s: %w", s.path, err)
	}
	s.size += int64(n)
	if s.sync {
		if err := s.w.Sync(); err != nil {
			return s.syncFailed(err)
		}
	}
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	s.g.mu.RLock()
	changed, err := s.g.checkNodeLocked(n)
	s.g.mu.RUnlock()
	if err != nil || !changed {
		return err
	}
	n = n.Clone()
	if err := s.appendLocked(journalRecord{Op: "node", Node: &n}); err != nil {
		return err
	}
	return s.g.AddNode(ctx, n)
}

// AddEdge implements Store. The edge is journaled before it is applied.
func (s *FileStore) AddEdge(ctx context.Context, e Edge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	s.g.mu.RLock()
	_, _, changed, err := s.g.checkEdgeLocked(e)
	s.g.mu.RUnlock()
	if err != nil || !changed {
		return err
	}
	if err := s.appendLocked(journalRecord{Op: "edge", Edge: &e}); err != nil {
		return err
	}
	return s.g.AddEdge(ctx, e)
}

// Retire implements Store. The retirement is journaled before it is applied.
func (s *FileStore) Retire(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(ctx); err != nil {
		return err
	}
	s.g.mu.RLock()
	_, changed, err := s.g.checkRetireLocked(id)
	s.g.mu.RUnlock()
	if err != nil || !changed {
		return err
	}
	if err := s.appendLocked(journalRecord{Op: "retire", ID: id}); err != nil {
		return err
	}
	return s.g.Retire(ctx, id)
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
