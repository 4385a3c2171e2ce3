package azaudit

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/provider"
)

// The service's limits on an append blob: one append carries at most
// 4 MiB (the limit of every service version), and a blob holds at most
// 50,000 appended blocks.
const (
	MaxAppendSize = 4 << 20
	MaxBlocks     = 50000
)

// DefaultTimeout bounds one call to the service when Options.Timeout is
// zero.
const DefaultTimeout = time.Minute

// tailChunk is how much of the blob's end Last reads first; a longer last
// line is read again with a range of audit.MaxRecordSize+1.
const tailChunk = 64 << 10

// Options configure New. A nil *Options means all defaults.
type Options struct {
	// Timeout bounds each call to the service (an append, a read of the
	// tail, a read back after a lost answer), since the Log hands Write a
	// context without a deadline; zero means DefaultTimeout.
	Timeout time.Duration
}

// Sink is an audit.ReadableSink on one Azure append blob. It is safe for
// concurrent use, although a Log calls it from one goroutine at a time.
type Sink struct {
	c       *appendblob.Client
	name    string // the blob's path, for messages
	timeout time.Duration

	// limits, replaced by the package's tests
	maxAppend int
	maxBlocks int

	mu     sync.Mutex
	size   int64 // bytes acknowledged: where the next append must start
	blocks int   // committed blocks
	broken error
	closed bool
}

var _ audit.ReadableSink = (*Sink)(nil)

// New returns a Sink on the append blob c addresses, creating the blob
// when it does not exist (If-None-Match: *, so two writers starting at once
// create it once). It reads the blob's length and block count and checks
// that the blob ends in a newline.
//
// Errors: FailedPrecondition when the blob is not an append blob, or when
// its container does not exist; a *audit.VerifyError of audit.KindTorn
// (matched by audit.ErrIntegrity) when the blob ends in a partial line,
// which this package never writes: another writer put it there, and an
// append blob cannot be cut, so the log must go on in a new blob; the
// service's errors with the codes of package provider otherwise.
func New(ctx context.Context, c *appendblob.Client, opts *Options) (*Sink, error) {
	if c == nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azaudit: New needs an append blob client (appendblob.NewClient and its siblings)")
	}
	s := &Sink{c: c, name: blobPath(c.URL()), timeout: DefaultTimeout, maxAppend: MaxAppendSize, maxBlocks: MaxBlocks}
	if opts != nil && opts.Timeout < 0 {
		return nil, provider.Errorf(provider.InvalidArgument, "azaudit: Options.Timeout %v is negative; use 0 for the default", opts.Timeout)
	}
	if opts != nil && opts.Timeout > 0 {
		s.timeout = opts.Timeout
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads the blob's length and block count, creating the blob first
// when it is missing, and checks its last byte.
func (s *Sink) load(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	props, err := s.c.GetProperties(cctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		star := azcore.ETagAny
		_, err = s.c.Create(cctx, &appendblob.CreateOptions{
			HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: ptr("application/x-ndjson")},
			AccessConditions: &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &star}},
		})
		if err != nil && !bloberror.HasCode(err, bloberror.BlobAlreadyExists) && !isStatus(err, http.StatusPreconditionFailed) {
			return s.fail("creating the append blob", err)
		}
		props, err = s.c.GetProperties(cctx, nil)
	}
	if err != nil {
		return s.fail("reading the append blob's properties", err)
	}
	if props.BlobType == nil || *props.BlobType != blob.BlobTypeAppendBlob {
		bt := "unknown"
		if props.BlobType != nil {
			bt = string(*props.BlobType)
		}
		return provider.Errorf(provider.FailedPrecondition, "azaudit: blob %s is a %s, not an append blob; give the audit log a blob of its own", s.name, bt)
	}
	s.size = deref(props.ContentLength)
	s.blocks = int(deref(props.BlobCommittedBlockCount))
	if s.size == 0 {
		return nil
	}
	tail, err := s.readRange(cctx, s.size-1, 1)
	if err != nil {
		return s.fail("reading the append blob's last byte", err)
	}
	if tail[0] != '\n' {
		start, err := s.lastLineStart(cctx, s.size)
		if err != nil {
			return err
		}
		return &audit.VerifyError{Kind: audit.KindTorn, Offset: start,
			Detail: fmt.Sprintf("append blob %s ends in %d bytes that are not a complete line; the sink appends whole lines only, so another writer left them; an append blob cannot be cut: keep this blob as evidence, download it and check it with audit.Verify, and go on in a new blob", s.name, s.size-start)}
	}
	return nil
}

// lastLineStart returns the offset after the last newline before end, or 0.
func (s *Sink) lastLineStart(ctx context.Context, end int64) (int64, error) {
	for end > 0 {
		start := max(end-tailChunk, 0)
		b, err := s.readRange(ctx, start, end-start)
		if err != nil {
			return 0, s.fail("reading the append blob's tail", err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// Name returns the blob's path: container and blob name.
func (s *Sink) Name() string { return s.name }

// Size returns the bytes acknowledged so far: the blob's length as far as
// this Sink knows it.
func (s *Sink) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// Blocks returns the blob's committed block count as far as this Sink
// knows it; at MaxBlocks the blob is full.
func (s *Sink) Blocks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocks
}

// Last implements audit.Sink with ranged reads of the blob's end: 64 KiB,
// and audit.MaxRecordSize+1 bytes when the last line is longer.
func (s *Sink) Last(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	size, err := s.usable()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	n := min(size, tailChunk)
	for {
		b, err := s.readRange(ctx, size-n, n)
		if err != nil {
			return nil, s.fail("reading the last record", err)
		}
		i := bytes.LastIndexByte(b[:len(b)-1], '\n')
		if i >= 0 || n == size {
			return b[i+1:], nil
		}
		if n > tailChunk {
			return nil, &audit.VerifyError{Kind: audit.KindMalformed, Offset: size - n,
				Detail: fmt.Sprintf("the last line of append blob %s is longer than %d bytes", s.name, audit.MaxRecordSize)}
		}
		n = min(size, int64(audit.MaxRecordSize)+1)
	}
}

// Open implements audit.ReadableSink: it streams the blob from its first
// byte to the end of the last write this Sink acknowledged, resuming a
// broken download a few times.
func (s *Sink) Open(ctx context.Context) (io.ReadCloser, error) {
	s.mu.Lock()
	size, err := s.usable()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	resp, err := s.c.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: 0, Count: size}})
	if err != nil {
		return nil, s.fail("reading the log", err)
	}
	return resp.NewRetryReader(ctx, &blob.RetryReaderOptions{MaxRetries: 3}), nil
}

func (s *Sink) usable() (int64, error) {
	if s.closed {
		return 0, fmt.Errorf("azaudit: append blob %s: %w", s.name, audit.ErrClosed)
	}
	return s.size, nil
}

// Write implements audit.Sink. It appends data as one block when it fits
// MaxAppendSize, and otherwise as several blocks cut between lines, so
// that a failure between them leaves only whole lines stored. Each append
// is conditional on the blob's length (If-Append-Position-Equal): when
// another writer appended since this Sink last wrote, the service refuses
// it and Write returns Conflict.
//
// When an append's answer is lost and the SDK's retry is refused because
// the blob already grew, or the append fails for another reason, Write
// reads the blob's length: grown by exactly this block, and the block read
// back equal to what was sent, is the append having worked; anything else
// is an error. After an error the Sink refuses further writes, as a
// FileSink does: open a new Sink (and Log) to go on.
//
// A blob at MaxBlocks is full: Write returns ResourceExhausted before
// sending anything, asking for a new blob.
func (s *Sink) Write(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		return provider.Errorf(provider.InvalidArgument, "azaudit: data does not end in a newline; the sink accepts complete lines only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.usable(); err != nil {
		return err
	}
	if s.broken != nil {
		return fmt.Errorf("azaudit: append blob %s is in an unknown state after an earlier failure; open a new Sink and Log over it: %w", s.name, s.broken)
	}
	chunks, err := s.split(data)
	if err != nil {
		return err
	}
	if s.blocks+len(chunks) > s.maxBlocks {
		return provider.Errorf(provider.ResourceExhausted, "azaudit: append blob %s holds %d blocks and this write needs %d more, past the %d an append blob holds; roll the log: close this Log and start a new one on a new blob (see the package documentation)", s.name, s.blocks, len(chunks), s.maxBlocks)
	}
	for _, chunk := range chunks {
		if err := s.append(ctx, chunk); err != nil {
			s.broken = err
			return err
		}
	}
	return nil
}

// split cuts data into pieces of at most s.maxAppend bytes, each ending in
// a newline.
func (s *Sink) split(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > s.maxAppend {
		i := bytes.LastIndexByte(data[:s.maxAppend], '\n')
		if i < 0 {
			return nil, provider.Errorf(provider.InvalidArgument, "azaudit: a line is longer than %d bytes, the most one append carries", s.maxAppend)
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return append(out, data), nil
}

// append stores chunk at s.size. s.mu is held.
func (s *Sink) append(ctx context.Context, chunk []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pos := s.size
	sum := md5.Sum(chunk)
	resp, err := s.c.AppendBlock(ctx, streaming.NopCloser(bytes.NewReader(chunk)), &appendblob.AppendBlockOptions{
		TransactionalValidation:        blob.TransferValidationTypeMD5(sum[:]),
		AppendPositionAccessConditions: &appendblob.AppendPositionAccessConditions{AppendPosition: &pos},
	})
	if err == nil {
		s.size = pos + int64(len(chunk))
		if resp.BlobCommittedBlockCount != nil {
			s.blocks = int(*resp.BlobCommittedBlockCount)
		} else {
			s.blocks++
		}
		return nil
	}
	if bloberror.HasCode(err, bloberror.BlockCountExceedsLimit) {
		return provider.Wrap(provider.ResourceExhausted, &serviceError{describe(err), err},
			"azaudit: append blob "+s.name+" is full (50,000 blocks); roll the log to a new blob (see the package documentation)")
	}
	// The append failed, or its answer was lost and the retry found the
	// blob grown. Which one, the blob says; it is asked with time of its
	// own, since the append may have used up ctx's.
	ctx, cancel2 := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel2()
	props, perr := s.c.GetProperties(ctx, nil)
	if perr != nil {
		return s.fail(fmt.Sprintf("appending %d bytes at offset %d failed (%s), and reading the blob's length afterwards too", len(chunk), pos, describe(err)), perr)
	}
	got := deref(props.ContentLength)
	switch {
	case got == pos+int64(len(chunk)):
		back, rerr := s.readRange(ctx, pos, int64(len(chunk)))
		if rerr != nil {
			return s.fail(fmt.Sprintf("appending at offset %d: the answer was lost and reading the block back failed", pos), rerr)
		}
		if bytes.Equal(back, chunk) {
			s.size = got
			s.blocks = int(deref(props.BlobCommittedBlockCount))
			return nil
		}
	case got == pos && !isStatus(err, http.StatusPreconditionFailed):
		return s.fail(fmt.Sprintf("appending %d bytes at offset %d; nothing was stored", len(chunk), pos), err)
	}
	return provider.Wrap(provider.Conflict, &serviceError{describe(err), err},
		fmt.Sprintf("azaudit: append blob %s was %d bytes long when this writer appended and is %d bytes now, with bytes it did not write: another writer appends to it. Keep one writer per blob; open a new Sink and Log to continue after what is stored", s.name, pos, got))
}

// readRange reads n bytes at off.
func (s *Sink) readRange(ctx context.Context, off, n int64) ([]byte, error) {
	resp, err := s.c.DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: off, Count: n}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Close implements audit.Sink. The blob stays as it is.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// serviceError keeps the SDK's error reachable through errors.As while its
// text holds the status and the service's error code alone: never the
// request URL, which may carry a SAS.
type serviceError struct {
	text string
	err  error
}

func (e *serviceError) Error() string { return e.text }
func (e *serviceError) Unwrap() error { return e.err }

// fail maps an error of the SDK to the provider's codes.
func (s *Sink) fail(what string, err error) error {
	code := provider.Unknown
	var re *azcore.ResponseError
	switch {
	case errors.Is(err, context.Canceled):
		code = provider.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = provider.DeadlineExceeded
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		code = provider.FailedPrecondition
		what += ": the container does not exist; create it first"
	case errors.As(err, &re):
		switch st := re.StatusCode; {
		case st == http.StatusNotFound:
			code = provider.NotFound
		case st == http.StatusConflict || st == http.StatusPreconditionFailed:
			code = provider.Conflict
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			code = provider.PermissionDenied
			what += ": check the credential and its role on the storage account"
		case st == http.StatusBadRequest || st == http.StatusRequestEntityTooLarge:
			code = provider.InvalidArgument
		case st == http.StatusTooManyRequests || st >= 500:
			code = provider.Unavailable
		}
	default:
		code = provider.Unavailable // the connection failed
	}
	return provider.Wrap(code, &serviceError{describe(err), err}, "azaudit: "+s.name+": "+what)
}

// describe is an error's text without a request URL, header or body.
func describe(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		t := "the storage service answered " + strconv.Itoa(re.StatusCode) + " " + http.StatusText(re.StatusCode)
		if re.ErrorCode != "" {
			t += " (" + re.ErrorCode + ")"
		}
		return t
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func isStatus(err error, status int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

// blobPath is the container and blob name of a blob URL, without the
// account and the query.
func blobPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable blob URL)"
	}
	p := u.Path
	// An emulator's URL puts the account first: /devstoreaccount1/c/b.
	if u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
		if i := indexNth(p, '/', 2); i >= 0 {
			p = p[i:]
		}
	}
	if len(p) > 0 && p[0] == '/' {
		p = p[1:]
	}
	return p
}

func indexNth(s string, c byte, n int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return -1
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
