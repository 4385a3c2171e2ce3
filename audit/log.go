package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// Errors returned by Log methods besides *VerifyError and ErrInvalidRecord.
var (
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("audit: log is closed")
	// ErrSinkFailed: a sink write failed. The Log refuses every later
	// Append with the same error until a new Log is opened over the sink.
	ErrSinkFailed = errors.New("audit: sink write failed")
)

// Options configure a Log. A nil *Options means all defaults.
type Options struct {
	// Key, when set, makes the chain an HMAC-SHA256 chain under this key,
	// so that someone who can write the log but does not hold the key
	// cannot rewrite or add records undetected. Use at least 16 random
	// bytes; 32 is the usual choice. Empty means plain SHA-256, which
	// detects accidents and outsiders but not a writer who recomputes the
	// chain.
	Key secret.Secret
	// Clock stamps records; default time.Now. Its readings are converted
	// to UTC and must fall in the years 0 to 9999.
	Clock func() time.Time
	// MaxBatch caps how many records one sink write carries; default 512.
	// 1 turns group commit off: one write (and, for files, one fsync) per
	// record.
	MaxBatch int
}

const (
	defaultMaxBatch = 512
	// maxSpare bounds the buffer a Log keeps between batches.
	maxSpare = 1 << 20
)

// A Log appends records to a Sink as a hash chain.
//
// A Log is safe for concurrent use. Appends that arrive while the sink is
// busy are grouped and written together (group commit), so concurrency
// raises throughput without weakening durability: every record is durable
// before its Append returns.
type Log struct {
	sink     Sink
	clock    func() time.Time
	maxBatch int

	// Everything below is guarded by mu.
	mu         sync.Mutex
	idle       sync.Cond // signalled when flushing ends
	h          *hasher
	last       Checkpoint // last record assigned
	durable    Checkpoint // last record the sink acknowledged
	queue      []*batch   // assigned, not yet written; only the last may grow
	flushing   bool       // a goroutine is writing the queue
	lastBatch  int        // records in the last batch written
	spare      []byte     // a written batch's buffer, for the next batch
	spareBatch *batch     // a written batch no one refers to
	hashes     hashArena  // the strings of records' hashes
	times      timeCache  // the text of the last record's second
	closed     bool
	err        error // sticky sink failure
}

// A batch is a run of consecutive records that one sink write stores.
type batch struct {
	data  []byte
	n     int
	first uint64
	last  Checkpoint
	// written and err are set, under Log.mu, once the sink answered.
	written bool
	err     error
	// done is closed at that moment too. It is made only when a caller has
	// to wait, which spares the uncontended path an allocation.
	done chan struct{}
}

// New opens a Log over sink. When the sink already holds records, New reads
// the last one, checks its syntax and its hash under opts.Key, and
// continues the chain after it; a last record that does not verify (wrong
// key, or an altered tail) is a *VerifyError and the Log is not opened,
// because appending to a chain of unknown integrity would vouch for it.
// New does not verify earlier records; use Verify or VerifyFile for that.
//
// The Log owns the sink from then on and closes it in Close.
func New(ctx context.Context, sink Sink, opts *Options) (*Log, error) {
	if sink == nil {
		return nil, errors.New("audit: New needs a sink; use NewMemorySink or OpenFile")
	}
	if opts == nil {
		opts = &Options{}
	}
	key := opts.Key.Reveal()
	if key != "" && len(key) < 16 {
		return nil, fmt.Errorf("audit: the HMAC key is %d bytes; use at least 16 random bytes (32 recommended)", len(key))
	}
	if opts.MaxBatch < 0 {
		return nil, fmt.Errorf("audit: MaxBatch is %d; use 0 for the default or a positive cap", opts.MaxBatch)
	}
	l := &Log{
		sink:     sink,
		clock:    opts.Clock,
		maxBatch: opts.MaxBatch,
		h:        newHasher(key),
		last:     Checkpoint{Hash: Genesis},
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	if l.maxBatch == 0 {
		l.maxBatch = defaultMaxBatch
	}
	l.idle.L = &l.mu
	line, err := sink.Last(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the last record to resume the chain: %w", err)
	}
	if len(line) > 0 {
		if l.last, err = checkLast(line, l.h); err != nil {
			return nil, fmt.Errorf("audit: cannot resume the log: %w", err)
		}
	}
	l.durable = l.last
	return l, nil
}

// Append adds r to the log and returns it as stored, with Seq, Time, Prev
// and Hash filled in. It returns only after the sink acknowledged the
// record as durable; an error means the record must be treated as not
// written, and the audited operation must not proceed.
//
// The record is rejected with ErrInvalidRecord when it is invalid (see
// Record). After a sink failure every Append returns an error wrapping
// ErrSinkFailed and the sink's error; after Close, ErrClosed. When ctx ends
// while the record waits for the sink, Append returns ctx's error; the
// record may still be stored, keeping the sequence gapless.
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := r.validate(); err != nil {
		return Record{}, err
	}
	// Encode the caller's fields here, before taking the lock, so that
	// concurrent appenders do this part of the work in parallel; under the
	// lock only the parts that depend on the chain remain. The scratch
	// buffer holds a typical record on the stack; larger ones grow onto
	// the heap.
	var scratch [1024]byte
	valid := true
	fields := appendFields(scratch[:0], &r, &valid)
	if !valid {
		return Record{}, invalid(r.encodingProblems())
	}
	l.mu.Lock()
	b, err := l.enqueue(&r, fields)
	if err != nil {
		l.mu.Unlock()
		return Record{}, err
	}
	if !l.flushing {
		l.flushing = true
		l.flush(ctx, b)
	}
	if b.written {
		err := b.err
		if b.done == nil {
			// No one else joined this batch (a joiner would have made
			// done), so nothing refers to it any more.
			*b = batch{}
			l.spareBatch = b
		}
		l.mu.Unlock()
		if err != nil {
			return Record{}, err
		}
		return r, nil
	}
	if b.done == nil {
		b.done = make(chan struct{})
	}
	done := b.done
	l.mu.Unlock()

	// Prefer the sink's answer when the context ends at the same moment.
	select {
	case <-done:
	default:
		select {
		case <-done:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
	if b.err != nil {
		return Record{}, b.err
	}
	return r, nil
}

// enqueue numbers and stamps r, completes its encoding around fields (see
// appendFields), hashes it and adds it to the open batch. l.mu is held. On
// error nothing has changed.
func (l *Log) enqueue(r *Record, fields []byte) (*batch, error) {
	if l.closed {
		return nil, ErrClosed
	}
	if l.err != nil {
		return nil, l.err
	}
	seq := l.last.Seq + 1
	now := l.clock().Round(0).UTC()
	if s := now.Unix(); s < minUnix || s >= maxUnix {
		return nil, fmt.Errorf("audit: the clock reads %v, outside the years 0 to 9999 the format allows; check Options.Clock", now)
	}
	var headBuf [maxHeadLen]byte
	head := appendHead(headBuf[:0], seq, now, &l.times)
	// A stored line is the body (head, fields and the quoted prev: the
	// canonical encoding less its final brace), the hash field, the hash,
	// the closing quotation mark and brace, and a newline.
	bodyLen := len(head) + len(fields) + 1 + len(l.last.Hash) + 1
	if lineLen := bodyLen + len(hashField) + 2*sha256.Size + 3; lineLen > MaxRecordSize {
		return nil, fmt.Errorf("%w: the record encodes to %d bytes, more than the %d allowed; shorten its attrs or messages", ErrInvalidRecord, lineLen, MaxRecordSize)
	}

	// Write straight into the buffer the record will be written from: the
	// open batch's, or a recycled one for a new batch.
	b := l.open()
	buf := b.data
	start := len(buf)
	buf = append(buf, head...)
	buf = append(buf, fields...)
	buf = append(buf, '"')
	buf = append(buf, l.last.Hash...) // hex digits: nothing to escape
	buf = append(buf, '"')
	sum := l.h.sumHex(buf[start:])
	buf = append(buf, hashField...)
	buf = append(buf, sum[:]...)
	buf = append(buf, '"', '}', '\n')

	r.Seq, r.Time, r.Prev, r.Hash = seq, now, l.last.Hash, l.hashes.string(sum[:])
	if b.n == 0 {
		b.first = seq
		l.queue = append(l.queue, b)
	}
	b.data = buf
	b.n++
	b.last = Checkpoint{Seq: seq, Hash: r.Hash}
	l.last = b.last
	return b, nil
}

// hashArena makes the strings of records' hashes. It carves them from
// blocks of hashArenaSize bytes (64 hashes), so that Append does not
// allocate for every record; a hash a caller keeps keeps its whole block
// alive.
// Every byte is written once, before the string over it is made, and never
// changed: strings.Builder only appends, and moves to a new buffer rather
// than overwrite the old one.
type hashArena struct{ b strings.Builder }

const hashArenaSize = 64 * 2 * sha256.Size

func (a *hashArena) string(h []byte) string {
	if a.b.Cap()-a.b.Len() < len(h) {
		a.b = strings.Builder{}
		a.b.Grow(max(hashArenaSize, len(h)))
	}
	start := a.b.Len()
	a.b.Write(h)
	return a.b.String()[start:]
}

// The range of Unix times the format can spell: the years 0 to 9999.
const (
	minUnix = -62167219200 // 0000-01-01T00:00:00Z
	maxUnix = 253402300800 // 10000-01-01T00:00:00Z
)

// open returns the batch the next record joins: the last queued one while
// it has room, or else a new (recycled) batch, not yet queued, with a
// recycled buffer. l.mu is held.
func (l *Log) open() *batch {
	if n := len(l.queue); n > 0 && l.queue[n-1].n < l.maxBatch {
		return l.queue[n-1]
	}
	b := l.spareBatch
	l.spareBatch = nil
	if b == nil {
		b = new(batch)
	}
	b.data, l.spare = l.spare[:0], nil
	return b
}

// flush writes queued batches in order. l.mu is held on entry and on
// return, released around each sink write. The caller whose record is in
// mine writes until mine is done and hands whatever queued meanwhile to a
// new goroutine, so that no caller waits for records other than its own and
// those grouped with it.
func (l *Log) flush(ctx context.Context, mine *batch) {
	// The write must not be cut short when ctx ends: it carries other
	// callers' records too. A context that can never be cancelled (Done
	// returns nil) needs no detaching, which spares an allocation.
	wctx := ctx
	if ctx.Done() != nil {
		wctx = context.WithoutCancel(ctx)
	}
	for len(l.queue) > 0 {
		// Callers released by the previous write usually append again at
		// once. While the batch is smaller than the last one and still
		// growing, yield so they can join it (a few times at most);
		// otherwise writers settle into two alternating half-size groups
		// and every fsync carries half as many records as it could. A
		// lone writer (batches of one) never yields here.
		for tries := 0; len(l.queue) == 1 && l.queue[0].n < l.lastBatch && tries < 4; tries++ {
			n := l.queue[0].n
			l.mu.Unlock()
			runtime.Gosched()
			l.mu.Lock()
			if tries > 0 && l.queue[0].n == n {
				break // no one came during the last yield
			}
		}
		// Shift rather than reslice, so that the queue keeps its capacity
		// and queuing the next batch does not allocate.
		b := l.queue[0]
		n := copy(l.queue, l.queue[1:])
		l.queue[n] = nil
		l.queue = l.queue[:n]
		if l.err == nil {
			l.mu.Unlock()
			err := l.sink.Write(wctx, b.data)
			l.mu.Lock()
			if err != nil {
				l.err = fmt.Errorf("%w while storing records %d to %d; the log refuses further appends until it is reopened: %w",
					ErrSinkFailed, b.first, b.last.Seq, err)
			} else {
				l.durable = b.last
			}
			l.lastBatch = b.n
		}
		// Sinks do not keep data after Write, so the buffer can carry the
		// next batch; reusing it keeps the hot path free of allocation.
		if cap(b.data) <= maxSpare {
			l.spare = b.data[:0]
		}
		b.written, b.err, b.data = true, l.err, nil
		if b.done != nil {
			close(b.done)
		}
		if b == mine && len(l.queue) > 0 {
			go l.drain(wctx)
			return
		}
	}
	l.flushing = false
	l.idle.Broadcast()
}

func (l *Log) drain(ctx context.Context) {
	l.mu.Lock()
	l.flush(ctx, nil)
	l.mu.Unlock()
}

// Checkpoint returns the last record known to be durable. Store it outside
// the log (another system, or printed in a ticket) and pass it to Verify
// later: it is what lets Verify detect that the tail was cut off.
func (l *Log) Checkpoint() Checkpoint {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.durable
}

// Close waits until every appended record is written, then closes the sink.
// Appends after Close return ErrClosed; so does a second Close.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	for l.flushing {
		l.idle.Wait()
	}
	l.mu.Unlock()
	if err := l.sink.Close(); err != nil {
		return fmt.Errorf("audit: closing the sink: %w", err)
	}
	return nil
}
