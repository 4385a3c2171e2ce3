package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
)

// A Sink stores encoded records for a Log. Sinks see bytes only: the Log
// encodes, chains and hashes, so a new store (an Azure append blob, say)
// needs nothing but durable appends and a way to read the last line back.
//
// A Log calls its sink's methods one at a time, never concurrently, and
// never calls Write again after a Write failed.
type Sink interface {
	// Last returns the last record stored, as its line (the trailing
	// newline may be included), or an empty slice when the sink holds no
	// record. The Log checks it and continues the chain after it.
	Last(ctx context.Context) ([]byte, error)

	// Write appends data, one or more complete lines each ending in '\n',
	// after everything written before. It returns nil only once all of data
	// is durable: a record is acknowledged to the caller of Append on that
	// nil and must survive any crash from then on. On error, any prefix of
	// data may have been stored. Write must not keep data after returning.
	// The Log passes a context without cancellation, because one write
	// serves many callers; a sink bounds its own I/O time.
	Write(ctx context.Context, data []byte) error

	// Close releases the sink. The Log calls it from Log.Close, after the
	// last Write returned.
	Close() error
}

// A ReadableSink can also be read back from its first line, which lets
// VerifySink check a whole log through its sink. It is an optional
// capability: a Log needs only Sink.
type ReadableSink interface {
	Sink
	// Open returns a reader of the stored lines, from the first up to the
	// end of the last write acknowledged when Open was called, so a
	// reader never sees a line that is still being written.
	Open(ctx context.Context) (io.ReadCloser, error)
}

// MemorySink is a Sink that keeps the log in memory, for tests and
// examples. It stores the encoded lines exactly as a file would hold them,
// so Bytes can be fed to Verify and tampered with in tests.
//
// Close does nothing: the contents stay readable, and a new Log over the
// same MemorySink resumes the chain, which is how tests model reopening.
// MemorySink is safe for concurrent use.
type MemorySink struct {
	mu sync.Mutex
	// Data is kept in chunks so that a growing log is never copied; one
	// growing slice would move every byte again each time it grows. The
	// data of one Write never spans two chunks.
	chunks [][]byte
}

const memoryChunk = 1 << 20

var _ ReadableSink = (*MemorySink)(nil)

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink { return &MemorySink{} }

// Last implements Sink.
func (m *MemorySink) Last(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.chunks) == 0 {
		return nil, nil
	}
	c := m.chunks[len(m.chunks)-1]
	return bytes.Clone(c[bytes.LastIndexByte(c[:len(c)-1], '\n')+1:]), nil
}

// Write implements Sink.
func (m *MemorySink) Write(_ context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		return errors.New("audit: memory sink: data does not end in a newline; a sink accepts complete lines only")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.chunks)
	if n == 0 || cap(m.chunks[n-1])-len(m.chunks[n-1]) < len(data) {
		m.chunks = append(m.chunks, make([]byte, 0, max(memoryChunk, len(data))))
		n++
	}
	m.chunks[n-1] = append(m.chunks[n-1], data...)
	return nil
}

// Close implements Sink; it does nothing.
func (m *MemorySink) Close() error { return nil }

// Open implements ReadableSink.
func (m *MemorySink) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(m.Bytes())), nil
}

// Bytes returns a copy of everything written: the log as JSON lines.
func (m *MemorySink) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Join(m.chunks, nil)
}

// Records decodes every stored record. It does not verify the chain; pass
// the result to VerifyRecords for that.
func (m *MemorySink) Records() ([]Record, error) {
	data := m.Bytes()
	var out []Record
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		r, err := ParseLine(data[:i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		data = data[i+1:]
	}
	return out, nil
}
