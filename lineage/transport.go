package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Transport delivers RunEvents somewhere.
//
// Emit validates the event (ErrInvalid) and either delivers it or, for
// asynchronous transports, queues it; it never keeps a reference to ev, so
// the caller may reuse it. After Close, Emit fails with ErrClosed. Close
// waits, within ctx, for queued events to be delivered. Implementations are
// safe for concurrent use.
type Transport interface {
	Emit(ctx context.Context, ev *RunEvent) error
	Close(ctx context.Context) error
}

// Compile-time checks.
var (
	_ Transport = (*WriterTransport)(nil)
	_ Transport = (*FileTransport)(nil)
	_ Transport = (*HTTPTransport)(nil)
)

// encodeEvent validates ev and returns it as one JSON line.
func encodeEvent(ev *RunEvent) ([]byte, error) {
	if ev == nil {
		return nil, fmt.Errorf("lineage: nil RunEvent: %w", ErrInvalid)
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("lineage: encoding RunEvent: %v: %w", err, ErrInvalid)
	}
	return append(b, '\n'), nil
}

// WriterTransport writes each event as one line of JSON to an io.Writer,
// synchronously, with one Write call per event.
type WriterTransport struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

// NewWriterTransport returns a transport writing to w. Close does not close
// w; its owner does.
func NewWriterTransport(w io.Writer) *WriterTransport { return &WriterTransport{w: w} }

// Emit implements Transport.
func (t *WriterTransport) Emit(ctx context.Context, ev *RunEvent) error {
	b, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("lineage: writer transport: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := t.w.Write(b); err != nil {
		return fmt.Errorf("lineage: writing RunEvent: %w", err)
	}
	return nil
}

// Close implements Transport. It does not close the writer.
func (t *WriterTransport) Close(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

// FileTransport appends each event as one JSON line to a file. It is a
// WriterTransport over the file that may fsync after every event.
type FileTransport struct {
	WriterTransport
	f *os.File
}

// syncedFile writes to a file and, when asked, fsyncs after each write.
type syncedFile struct {
	f    *os.File
	sync bool
}

func (s syncedFile) Write(b []byte) (int, error) {
	n, err := s.f.Write(b)
	if err == nil && s.sync {
		if err = s.f.Sync(); err != nil {
			err = fmt.Errorf("syncing event file: %w", err)
		}
	}
	return n, err
}

// FileTransportOptions tunes NewFileTransport. The zero value is ready to use.
type FileTransportOptions struct {
	// SyncWrites fsyncs the file after every event, so that an emitted
	// event survives a power loss.
	SyncWrites bool
}

// NewFileTransport opens path for appending, creating it with mode 0600.
// A torn last line left by a crash is cut off first, so that the next event
// starts on a line of its own. opts may be nil.
func NewFileTransport(path string, opts *FileTransportOptions) (*FileTransport, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lineage: open event file: %w", err)
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lineage: event file %s: cutting off a torn last line: %w", path, err)
	}
	w := syncedFile{f: f, sync: opts != nil && opts.SyncWrites}
	return &FileTransport{WriterTransport: WriterTransport{w: w}, f: f}, nil
}

// cutTornLine truncates f after its last newline.
func cutTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				if pos+i+1 == end {
					return nil
				}
				return f.Truncate(pos + i + 1)
			}
		}
	}
	if end == 0 {
		return nil
	}
	return f.Truncate(0)
}

// Close implements Transport: it syncs and closes the file. Closing twice
// is a no-op.
func (t *FileTransport) Close(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if err := errors.Join(t.f.Sync(), t.f.Close()); err != nil {
		return fmt.Errorf("lineage: closing event file: %w", err)
	}
	return nil
}
