package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tideline-ml/tideline/secret"
)

// ErrIntegrity is matched (errors.Is) by every *VerifyError: the chain is
// broken or a stored record cannot be read.
var ErrIntegrity = errors.New("audit: log integrity check failed")

// Kind classifies a broken link.
type Kind int

// The kinds of breakage Verify reports.
const (
	// KindModified: a record's content does not match its hash, its Prev does
	// not match the previous record's hash, or its hash differs from the
	// checkpoint — bytes were changed after the record was written.
	KindModified Kind = iota + 1
	// KindDeleted: one or more records are missing; Seq is the first missing.
	KindDeleted
	// KindReordered: a record is out of place (swapped, moved or replayed);
	// Seq is the record expected at that position.
	KindReordered
	// KindTruncated: the log ends before the checkpoint; Seq is the first
	// missing record.
	KindTruncated
	// KindForged: with a key, a record's hash is the plain SHA-256 of its
	// content: it was written or rewritten by someone without the key.
	KindForged
	// KindMalformed: a line is not a record in the canonical encoding.
	KindMalformed
	// KindTorn: the input ends inside a line. That is what a crash leaves
	// before OpenFile repairs the file; every record before it verified.
	KindTorn
)

func (k Kind) String() string {
	switch k {
	case KindModified:
		return "modified"
	case KindDeleted:
		return "deleted"
	case KindReordered:
		return "reordered"
	case KindTruncated:
		return "truncated"
	case KindForged:
		return "forged"
	case KindMalformed:
		return "malformed"
	case KindTorn:
		return "torn"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// A VerifyError reports the first broken link of a chain.
type VerifyError struct {
	// Seq is the sequence number of the first record that cannot be
	// trusted: the one expected at the broken position. It is 0 when unknown
	// (a line parsed out of context).
	Seq  uint64
	Kind Kind
	// Offset is the byte offset of the offending line in the input, or -1
	// when the input was not a byte stream.
	Offset int64
	// Detail says what exactly does not match.
	Detail string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("audit: ")
	if e.Seq > 0 {
		fmt.Fprintf(&b, "record %d ", e.Seq)
	} else {
		b.WriteString("record ")
	}
	b.WriteString(e.Kind.String())
	if e.Offset >= 0 {
		fmt.Fprintf(&b, " (line at byte %d)", e.Offset)
	}
	b.WriteString(": ")
	b.WriteString(e.Detail)
	if e.Seq > 0 && e.Kind != KindTorn {
		fmt.Fprintf(&b, "; the log cannot be trusted from record %d on", e.Seq)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIntegrity) true.
func (e *VerifyError) Is(target error) bool { return target == ErrIntegrity }

// VerifyOptions configure Verify. The zero value verifies an unkeyed chain
// without a checkpoint.
type VerifyOptions struct {
	// Key is the HMAC key the log was written with; empty for a plain
	// SHA-256 chain. A keyed log verified without its key (or the reverse)
	// fails at its first record with KindModified.
	Key secret.Secret
	// Checkpoint, when Seq > 0, names a record the log must contain: the log
	// must reach at least Checkpoint.Seq (else KindTruncated) and, when Hash
	// is set, that record's hash must equal it (else KindModified). A hash
	// chain alone cannot tell a log whose tail was cut off from a shorter
	// log; a checkpoint kept elsewhere (see Log.Checkpoint) can.
	Checkpoint Checkpoint
}

// verifier holds the state of a chain walk. Every input form feeds it the
// same facts per record, so all report breaks identically.
type verifier struct {
	h    *hasher
	cp   Checkpoint
	next uint64 // expected sequence number
	prev [64]byte
}

func newVerifier(opts *VerifyOptions) *verifier {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	v := &verifier{h: newHasher(opts.Key.Reveal()), cp: opts.Checkpoint, next: 1}
	copy(v.prev[:], Genesis)
	return v
}

// check verifies one record given as its canonical body (without the final
// '}') plus the parsed seq, prev and hash. find reports whether a record
// with the given seq occurs later in the input; it is called only to tell a
// deletion from a reordering.
func (v *verifier) check(seq uint64, prev, hash, body []byte, off int64, find func(uint64) bool) *VerifyError {
	want := v.next
	fail := func(k Kind, format string, args ...any) *VerifyError {
		return &VerifyError{Seq: want, Kind: k, Offset: off, Detail: fmt.Sprintf(format, args...)}
	}
	// The hash comes first: when a byte changed, the sequence number read
	// from the record is not to be trusted.
	if sum := v.h.sumHex(body); !equalHex(sum[:], hash) {
		if v.h.keyed {
			if p := v.h.plainHex(body); equalHex(p[:], hash) {
				return fail(KindForged, "the hash is a plain SHA-256 of the content, not its HMAC under the key: the record was written without the key")
			}
		}
		return fail(KindModified, "the hash does not match the record's content: the record was changed after it was written (or the key is wrong)")
	}
	if seq != want {
		switch {
		case seq < want:
			return fail(KindReordered, "record %d appears after record %d", seq, want-1)
		case find != nil && find(want):
			return fail(KindReordered, "record %d appears before record %d", seq, want)
		case seq == want+1:
			return fail(KindDeleted, "record %d is missing", want)
		default:
			return fail(KindDeleted, "records %d to %d are missing", want, seq-1)
		}
	}
	if !bytes.Equal(prev, v.prev[:]) {
		if want == 1 {
			return fail(KindModified, "the first record's prev is not the genesis value")
		}
		return fail(KindModified, "prev does not match the hash of record %d: one of the two was replaced", want-1)
	}
	if v.cp.Seq == seq && v.cp.Hash != "" && !equalHex(hash, []byte(v.cp.Hash)) {
		return fail(KindModified, "the hash differs from the checkpoint's %s: history up to here was rewritten", v.cp.Hash)
	}
	v.next++
	copy(v.prev[:], hash)
	return nil
}

// finish applies the checkpoint's length requirement and returns the last
// record verified.
func (v *verifier) finish(off int64) (Checkpoint, error) {
	last := v.next - 1
	if v.cp.Seq > last {
		return Checkpoint{}, &VerifyError{Seq: last + 1, Kind: KindTruncated, Offset: off,
			Detail: fmt.Sprintf("the log ends after record %d but the checkpoint names record %d: records were cut off the end", last, v.cp.Seq)}
	}
	return Checkpoint{Seq: last, Hash: string(v.prev[:])}, nil
}

// VerifyRecords verifies records in the order given, as read back from a
// sink, and returns the last record's checkpoint. On the first broken link
// it returns a *VerifyError; Offset is -1.
func VerifyRecords(records []Record, opts *VerifyOptions) (Checkpoint, error) {
	v := newVerifier(opts)
	var buf []byte
	for i := range records {
		r := &records[i]
		buf = canonical(buf[:0], r)
		body := buf[:len(buf)-1]
		find := func(seq uint64) bool {
			for _, later := range records[i+1:] {
				if later.Seq == seq {
					return true
				}
			}
			return false
		}
		if err := v.check(r.Seq, []byte(r.Prev), []byte(r.Hash), body, -1, find); err != nil {
			return Checkpoint{}, err
		}
	}
	return v.finish(-1)
}

// Verify reads a JSON-lines log from r and verifies its chain, returning the
// last record's checkpoint. The first broken link is reported as a
// *VerifyError naming its sequence number and the line's byte offset; a
// failure to read r is returned as is.
//
// Verify allocates nothing per record; it checks ctx between records.
func Verify(ctx context.Context, r io.Reader, opts *VerifyOptions) (Checkpoint, error) {
	v := newVerifier(opts)
	lr := lineReader{br: bufio.NewReaderSize(r, 64<<10)}
	var d decoder
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Checkpoint{}, err
			}
		}
		line, off, err := lr.next()
		switch {
		case err == io.EOF:
			return v.finish(lr.off)
		case err == errTorn:
			return Checkpoint{}, &VerifyError{Seq: v.next, Kind: KindTorn, Offset: off,
				Detail: fmt.Sprintf("the input ends inside a line (%d bytes without a newline), as after a crash; opening the file with OpenFile removes it", len(line))}
		case err == errLong:
			return Checkpoint{}, &VerifyError{Seq: v.next, Kind: KindMalformed, Offset: off,
				Detail: fmt.Sprintf("line longer than %d bytes", MaxRecordSize)}
		case err != nil:
			return Checkpoint{}, fmt.Errorf("audit: reading the log at byte %d: %w", off, err)
		}
		info, err := d.decode(line)
		if err != nil {
			return Checkpoint{}, &VerifyError{Seq: v.next, Kind: KindMalformed, Offset: off, Detail: err.Error()}
		}
		find := func(seq uint64) bool {
			for {
				l, _, err := lr.next()
				if err != nil {
					return false
				}
				if s, ok := peekSeq(l); ok && s == seq {
					return true
				}
			}
		}
		if verr := v.check(info.seq, info.prev, info.hash, line[:info.body], off, find); verr != nil {
			return Checkpoint{}, verr
		}
	}
}

// VerifyFile verifies the log file at path; see Verify. It only reads the
// file, so it may run while a Log appends to it — it may then report the
// line being written as KindTorn.
func VerifyFile(ctx context.Context, path string, opts *VerifyOptions) (Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: opening the log to verify it: %w", err)
	}
	defer f.Close()
	return Verify(ctx, f, opts)
}

// VerifySink verifies the log held by sink, which must implement
// ReadableSink (MemorySink and FileSink do); see Verify. For a FileSink in
// use it checks the records acknowledged when it starts.
func VerifySink(ctx context.Context, sink Sink, opts *VerifyOptions) (Checkpoint, error) {
	rs, ok := sink.(ReadableSink)
	if !ok {
		return Checkpoint{}, fmt.Errorf("audit: a %T cannot be read back through the Sink interface; verify its storage with Verify", sink)
	}
	r, err := rs.Open(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	defer r.Close()
	return Verify(ctx, r, opts)
}

var (
	errTorn = errors.New("audit: torn line")
	errLong = errors.New("audit: line too long")
)

// lineReader splits a stream into lines without copying short ones.
type lineReader struct {
	br   *bufio.Reader
	off  int64 // offset of the next line
	long []byte
}

// next returns the next line without its newline and the line's offset.
// At the end it returns io.EOF, or errTorn with the partial line when the
// input does not end in a newline.
func (lr *lineReader) next() ([]byte, int64, error) {
	off := lr.off
	line, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(lr.long) > MaxRecordSize {
				return nil, off, errLong
			}
			line, err = lr.br.ReadSlice('\n')
			lr.long = append(lr.long, line...)
		}
		line = lr.long
	}
	lr.off += int64(len(line))
	switch {
	case err == io.EOF && len(line) == 0:
		return nil, off, io.EOF
	case err == io.EOF:
		return line, off, errTorn
	case err != nil:
		return nil, off, err
	case len(line) > MaxRecordSize:
		return nil, off, errLong
	}
	return line[:len(line)-1], off, nil
}

// checkLast verifies a stored line by itself — its syntax and its own hash
// — which is what a Log does with the tail of a sink before resuming the
// chain from it.
func checkLast(line []byte, h *hasher) (Checkpoint, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	var d decoder
	info, err := d.decode(line)
	if err != nil {
		return Checkpoint{}, &VerifyError{Kind: KindMalformed, Offset: -1, Detail: "last record: " + err.Error()}
	}
	if sum := h.sumHex(line[:info.body]); !equalHex(sum[:], info.hash) {
		kind := KindModified
		if p := h.plainHex(line[:info.body]); h.keyed && equalHex(p[:], info.hash) {
			kind = KindForged
		}
		return Checkpoint{}, &VerifyError{Seq: info.seq, Kind: kind, Offset: -1,
			Detail: "the last record's hash does not verify with this key: the key is wrong or the record was altered; run VerifyFile with the right key to find the first broken record"}
	}
	return Checkpoint{Seq: info.seq, Hash: string(info.hash)}, nil
}
