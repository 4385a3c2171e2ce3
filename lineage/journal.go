package lineage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

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
// FileStoreOptions.SyncWrites each line is also fsync'd, so that a power
// loss does not either. A crash in the middle of a write leaves a torn last
// line, which the next OpenFileStore cuts off. One process at a time may
// have a journal open: OpenFileStore takes an exclusive lock on the file
// (flock, where the system has it) and fails at once while another holds it.
type FileStore struct {
	g *Graph

	mu     sync.Mutex // serializes writers so journal order is apply order
	f      *os.File
	size   int64 // length of the journal's intact prefix
	sync   bool
	closed bool
	broken error // set when a failed write could not be undone
}

// FileStoreOptions tunes OpenFileStore. The zero value is ready to use.
type FileStoreOptions struct {
	// SyncWrites fsyncs the journal after every write. It makes each write
	// durable across power loss at the cost of a disk flush per write.
	SyncWrites bool

	// ExpectedNodes pre-sizes the in-memory graph (see GraphOptions).
	ExpectedNodes int
}

// OpenFileStore opens the journal at path, creating it (mode 0600) when it
// does not exist, and replays it. A torn last line is cut off; any other
// line that cannot be replayed fails the open with ErrCorrupt and the line
// number. opts may be nil.
func OpenFileStore(ctx context.Context, path string, opts *FileStoreOptions) (*FileStore, error) {
	if opts == nil {
		opts = &FileStoreOptions{}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lineage: open journal: %w", err)
	}
	if err := filelock.Lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lineage: journal %s is open in another process (one writer at a time; close it there or read a copy): %w", path, err)
	}
	g := NewGraph(&GraphOptions{ExpectedNodes: opts.ExpectedNodes})
	good, err := loadJournal(bufio.NewReaderSize(f, 1<<16), g)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lineage: journal %s: %w", path, err)
	}
	s := &FileStore{g: g, f: f, size: good, sync: opts.SyncWrites}
	if err := s.truncateLocked(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lineage: journal %s: cutting off a torn last line: %w", path, err)
	}
	if good == 0 {
		if err := s.appendLocked(journalRecord{Format: journalFormat, Version: journalVersion}); err != nil {
			f.Close()
			return nil, fmt.Errorf("lineage: journal %s: writing header: %w", path, err)
		}
	}
	return s, nil
}

// loadJournal replays r into g. It returns the length of the prefix that
// holds whole lines, or 0 when there is no header yet; whatever follows that
// prefix is a torn write to discard.
func loadJournal(r *bufio.Reader, g *Graph) (good int64, err error) {
	ctx := context.Background()
	header := false
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// b is a last line without its newline: a write that was torn
			// before it was acknowledged, so it is dropped, not applied.
			if !header {
				return 0, nil
			}
			return good, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading line %d: %w", line, err)
		}
		n := int64(len(b))
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			good += n
			continue
		}
		var rec journalRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return 0, fmt.Errorf("line %d: %v: %w", line, err, ErrCorrupt)
		}
		if !header {
			if rec.Format != journalFormat {
				return 0, fmt.Errorf("line %d: not a lineage journal (first line lacks format %q): %w", line, journalFormat, ErrCorrupt)
			}
			if rec.Version != journalVersion {
				return 0, fmt.Errorf("line %d: journal version %d, this build reads version %d: %w", line, rec.Version, journalVersion, ErrCorrupt)
			}
			header = true
			good += n
			continue
		}
		switch {
		case rec.Op == "node" && rec.Node != nil:
			err = g.AddNode(ctx, *rec.Node)
		case rec.Op == "edge" && rec.Edge != nil:
			err = g.AddEdge(ctx, *rec.Edge)
		case rec.Op == "retire" && rec.ID != "":
			err = g.Retire(ctx, rec.ID)
		default:
			err = fmt.Errorf("unknown record (op %q)", rec.Op)
		}
		if err != nil {
			return 0, fmt.Errorf("line %d: %v: %w", line, err, ErrCorrupt)
		}
		good += n
	}
}

// appendLocked writes rec as one line with a single write call, so that a
// crash tears at most this line. If the write fails it cuts the journal back
// to its last intact line; if even that fails the store refuses further
// writes rather than append after a partial line.
func (s *FileStore) appendLocked(rec journalRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("lineage: encoding journal record: %w", err)
	}
	b = append(b, '\n')
	n, err := s.f.Write(b)
	if err == nil && s.sync {
		err = s.f.Sync()
	}
	if err != nil {
		if n > 0 {
			if terr := s.truncateLocked(); terr != nil {
				s.broken = fmt.Errorf("lineage: journal left with a partial line after %v; reopen the store to repair it: %w", err, terr)
			}
		}
		return fmt.Errorf("lineage: writing journal: %w", err)
	}
	s.size += int64(n)
	return nil
}

func (s *FileStore) truncateLocked() error {
	if err := s.f.Truncate(s.size); err != nil {
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

// Sync flushes the journal to stable storage.
func (s *FileStore) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("lineage: file store: %w", ErrClosed)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("lineage: syncing journal: %w", err)
	}
	return nil
}

// Close syncs and closes the journal. Later writes fail with ErrClosed;
// reads keep answering from memory. Closing twice is a no-op.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	serr := s.f.Sync()
	cerr := s.f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("lineage: closing journal: %w", err)
	}
	return nil
}
