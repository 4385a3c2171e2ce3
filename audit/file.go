package audit

import (
	"bytes"
	"context"
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

// FileOptions configure OpenFile. A nil *FileOptions means all defaults.
type FileOptions struct {
	// Perm is the mode of a newly created file; default 0600, because an
	// audit log names principals and targets.
	Perm fs.FileMode
}

// FileSink is a Sink storing the log as a JSON-lines file: one record per
// line, appended and fsync'd before a write is acknowledged.
//
// OpenFile takes an exclusive advisory lock (flock) on Unix systems, so two
// processes cannot interleave two chains in one file; the lock ends with the
// process. Elsewhere, keeping one writer per file is up to the caller.
//
// A write or fsync that fails leaves the file in an unknown state (after a
// failed fsync the system may have dropped the written pages), so it is not
// retried: that Write and every later one return the error. Open the file
// again to go on; OpenFile cuts whatever partial line was left.
type FileSink struct {
	path string

	mu     sync.Mutex
	f      *os.File
	w      appendFile // f, or what a test put in its place
	size   int64
	torn   int64
	broken error // a failed write leaves the file in an unknown state
}

var _ ReadableSink = (*FileSink)(nil)

// appendFile is what a FileSink changes its file through. It is *os.File
// outside tests; a test substitutes a wrapper that counts or fails syncs, to
// show that nothing is acknowledged before it is synced.
type appendFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
}

// fileHooks replace a FileSink's file operations in tests.
type fileHooks struct {
	wrap    func(*os.File) appendFile
	syncDir func(dir string) error
}

// OpenFile opens the log file at path for appending, creating it if needed.
//
// A crash can leave a partial last line — a write that never completed and
// was never acknowledged. OpenFile cuts the file back to its last complete
// line and fsyncs that before returning; TornBytes reports how much it cut.
// The last complete line must then be a well-formed record; if it is not,
// the file was damaged other than by a crash and OpenFile fails with a
// *VerifyError of KindMalformed rather than guess: inspect the file with
// VerifyFile.
func OpenFile(ctx context.Context, path string, opts *FileOptions) (*FileSink, error) {
	return openFile(ctx, path, opts, fileHooks{})
}

func openFile(ctx context.Context, path string, opts *FileOptions, hooks fileHooks) (*FileSink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	perm := fs.FileMode(0o600)
	if opts != nil && opts.Perm != 0 {
		perm = opts.Perm
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, perm)
	if err != nil {
		return nil, fmt.Errorf("audit: opening the log file: %w", err)
	}
	s := &FileSink{path: path, f: f, w: f}
	if hooks.wrap != nil {
		s.w = hooks.wrap(f)
	}
	syncDirFn := durable.SyncDir
	if hooks.syncDir != nil {
		syncDirFn = hooks.syncDir
	}
	if err := s.open(created, syncDirFn); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *FileSink) open(created bool, syncDir func(string) error) error {
	if err := filelock.Lock(s.f); err != nil {
		return fmt.Errorf("audit: %s is in use by another writer (another process or FileSink); close it or use another file: %w", s.path, err)
	}
	if created {
		// The file's directory entry must be durable too, or the first
		// acknowledged records could vanish with it.
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("audit: making the new log file's directory entry durable: %w", err)
		}
	}
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("audit: reading the log file's size: %w", err)
	}
	size := st.Size()
	end, err := lastLineEnd(s.f, size)
	if err != nil {
		return err
	}
	if end < size {
		if err := s.w.Truncate(end); err != nil {
			return fmt.Errorf("audit: cutting a torn last line off the log file: %w", err)
		}
		if err := s.w.Sync(); err != nil {
			return fmt.Errorf("audit: syncing the log file after cutting a torn line: %w", err)
		}
		s.torn = size - end
	}
	s.size = end
	last, off, err := readLastLine(s.f, end)
	if err != nil {
		return err
	}
	if len(last) > 0 {
		var d decoder
		if _, err := d.decode(last[:len(last)-1]); err != nil {
			return &VerifyError{Kind: KindMalformed, Offset: off,
				Detail: "the last complete line of " + s.path + " is not a record (" + err.Error() + "); it was not left by a crash: run VerifyFile and restore the file"}
		}
	}
	return nil
}

// lastLineEnd returns the offset just after the last newline in the first
// size bytes of f, or 0 when there is none.
func lastLineEnd(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		chunk := buf[:end-start]
		if _, err := f.ReadAt(chunk, start); err != nil {
			return 0, fmt.Errorf("audit: reading the log file's tail: %w", err)
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// readLastLine returns the line that ends at end (newline included) and its
// offset, or nil for an empty file.
func readLastLine(f *os.File, end int64) ([]byte, int64, error) {
	if end == 0 {
		return nil, 0, nil
	}
	n := min(end, int64(MaxRecordSize)+1)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, end-n); err != nil {
		return nil, 0, fmt.Errorf("audit: reading the log file's last record: %w", err)
	}
	i := bytes.LastIndexByte(buf[:n-1], '\n')
	if i < 0 && n < end {
		return nil, 0, &VerifyError{Kind: KindMalformed, Offset: end - n,
			Detail: fmt.Sprintf("the last line is longer than %d bytes", MaxRecordSize)}
	}
	return buf[i+1:], end - n + int64(i) + 1, nil
}

// Path returns the file's path.
func (s *FileSink) Path() string { return s.path }

// TornBytes returns how many bytes of a torn last line OpenFile removed;
// non-zero means the previous writer crashed mid-write.
func (s *FileSink) TornBytes() int64 { return s.torn }

// Last implements Sink.
func (s *FileSink) Last(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil, fmt.Errorf("audit: %s: %w", s.path, fs.ErrClosed)
	}
	line, _, err := readLastLine(s.f, s.size)
	return line, err
}

// Open implements ReadableSink. The reader has its own file descriptor
// and stops at the end of the last acknowledged write, so it may be used
// while a Log appends.
func (s *FileSink) Open(ctx context.Context) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	size, closed := s.size, s.f == nil
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("audit: %s: %w", s.path, fs.ErrClosed)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("audit: opening the log file to read it: %w", err)
	}
	return sectionCloser{io.NewSectionReader(f, 0, size), f}, nil
}

type sectionCloser struct {
	*io.SectionReader
	io.Closer
}

// Write implements Sink: one write and one fsync for all of data. The file
// cannot be cancelled mid-write, so ctx is not consulted.
func (s *FileSink) Write(_ context.Context, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.f == nil:
		return fmt.Errorf("audit: %s: %w", s.path, fs.ErrClosed)
	case s.broken != nil:
		return fmt.Errorf("audit: %s is in an unknown state after an earlier failure; open it again: %w", s.path, s.broken)
	}
	n, err := s.w.Write(data)
	if err == nil {
		// Sync rather than Fdatasync: the file grows, so its size (metadata)
		// must reach the disk as well, and Sync is portable.
		err = s.w.Sync()
	}
	if err != nil {
		s.broken = err
		return fmt.Errorf("audit: appending to %s: %w", s.path, err)
	}
	s.size += int64(n)
	return nil
}

// Close implements Sink.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
