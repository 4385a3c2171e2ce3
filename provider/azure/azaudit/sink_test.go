package azaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/internal/azuritetest"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

var testKey = secret.NewSecret("0123456789abcdef0123456789abcdef")

func azurite(tb testing.TB) string { tb.Helper(); return azuritetest.URL(tb) }

func sharedKey(tb testing.TB) *blob.SharedKeyCredential {
	tb.Helper()
	return azuritetest.SharedKey(tb)
}

// newBlobURL creates a container of the test's own and returns the URL of
// a blob in it that does not exist yet.
func newBlobURL(tb testing.TB) string {
	tb.Helper()
	accountURL := azurite(tb)
	return accountURL + "/" + azuritetest.NewContainer(tb, accountURL) + "/tideline.jsonl"
}

func client(tb testing.TB, blobURL string, tr policy.Transporter, retry *policy.RetryOptions) *appendblob.Client {
	tb.Helper()
	opts := &appendblob.ClientOptions{}
	if tr != nil {
		opts.Transport = tr
	}
	if retry != nil {
		opts.Retry = *retry
	}
	c, err := appendblob.NewClientWithSharedKeyCredential(blobURL, sharedKey(tb), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newSink(tb testing.TB, c *appendblob.Client) *Sink {
	tb.Helper()
	s, err := New(context.Background(), c, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func record(i int) audit.Record {
	return audit.Record{Principal: "alice@example.com", Action: "dataset.create", Target: fmt.Sprintf("datasets/claims@%d", i),
		Provider: "azure", Region: "westeurope", Decision: "allow", Outcome: "ok"}
}

// verify reads the whole blob through a new Sink and verifies the chain.
func verify(tb testing.TB, blobURL string) audit.Checkpoint {
	tb.Helper()
	s := newSink(tb, client(tb, blobURL, nil, nil))
	cp, err := audit.VerifySink(context.Background(), s, &audit.VerifyOptions{Key: testKey})
	if err != nil {
		tb.Fatalf("VerifySink: %v", err)
	}
	return cp
}

// TestAzuriteChainVerifies writes a chain through audit.New with the sink,
// from concurrent appenders (group commit: several records per block),
// resumes it with a second Log, and verifies the whole blob.
func TestAzuriteChainVerifies(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	s := newSink(t, client(t, blobURL, nil, nil))
	log, err := audit.New(ctx, s, &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := log.Append(ctx, record(i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	blocks := s.Blocks()
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if blocks < 1 || blocks > 40 {
		t.Errorf("40 records took %d blocks", blocks)
	}
	// A second Log resumes after the last record, read by a ranged GET.
	log2, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	big := record(41)
	big.Attrs = map[string]string{"note": strings.Repeat("x", 100<<10)} // longer than one tail read
	for _, r := range []audit.Record{record(40), big} {
		if _, err := log2.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	log2.Close()
	log3, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatalf("resuming after a 100 KiB record: %v", err)
	}
	if _, err := log3.Append(ctx, record(42)); err != nil {
		t.Fatal(err)
	}
	log3.Close()
	if cp := verify(t, blobURL); cp.Seq != 43 {
		t.Errorf("the blob verifies up to record %d, want 43", cp.Seq)
	}
}

// TestAzuriteStaleWriterConflict opens two writers on one blob. The second
// writes after the first appended, at a position that is stale: the
// service refuses it, the error has the code Conflict, and the blob holds
// the first writer's chain alone.
func TestAzuriteStaleWriterConflict(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	logA, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	logB, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logA.Append(ctx, record(1)); err != nil {
		t.Fatal(err)
	}
	_, err = logB.Append(ctx, record(2))
	if !errors.Is(err, audit.ErrSinkFailed) || provider.CodeOf(err) != provider.Conflict {
		t.Fatalf("the stale writer's append: %v (code %v); want ErrSinkFailed with code Conflict", err, provider.CodeOf(err))
	}
	if _, err := logA.Append(ctx, record(3)); err != nil {
		t.Fatalf("the first writer after the refusal: %v", err)
	}
	logA.Close()
	logB.Close()
	if cp := verify(t, blobURL); cp.Seq != 2 {
		t.Errorf("the blob verifies up to record %d, want 2 (the first writer's two)", cp.Seq)
	}
}

// lossyTransport forwards requests to Azurite; for the appends it is told
// to lose, it lets the service apply the request and then answers with a
// broken connection instead of the response.
type lossyTransport struct {
	lose    atomic.Int32 // appends still to lose
	fail    atomic.Int32 // appends still to fail without sending them
	skip    atomic.Int32 // appends to let through before failing
	appends atomic.Int32 // append requests seen
}

func (t *lossyTransport) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("comp") == "appendblock" {
		t.appends.Add(1)
		if t.skip.Load() > 0 {
			t.skip.Add(-1)
		} else if t.fail.Add(-1) >= 0 {
			return nil, io.ErrUnexpectedEOF
		} else if t.lose.Add(-1) >= 0 {
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			return nil, io.ErrUnexpectedEOF
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestAzuriteLostAppendAnswerIsNotDuplicated loses the answer of appends
// the service applied. With the SDK's retries, the retry is refused (the
// blob grew) and the read back shows the block is ours; without retries,
// the failed call is checked the same way. Either way every Append
// succeeds and the blob holds each record once.
func TestAzuriteLostAppendAnswerIsNotDuplicated(t *testing.T) {
	for _, c := range []struct {
		name  string
		retry *policy.RetryOptions
	}{
		{"with the SDK's retries", &policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: time.Millisecond}},
		{"without retries", &policy.RetryOptions{MaxRetries: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			blobURL := newBlobURL(t)
			tr := &lossyTransport{}
			log, err := audit.New(ctx, newSink(t, client(t, blobURL, tr, c.retry)), &audit.Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 6; i++ {
				if i%2 == 0 {
					tr.lose.Store(1)
				}
				if _, err := log.Append(ctx, record(i)); err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
			}
			log.Close()
			if n := tr.appends.Load(); c.retry.MaxRetries == 0 && n != 9 {
				t.Errorf("%d append requests, want 9 (three retried)", n)
			}
			if cp := verify(t, blobURL); cp.Seq != 6 {
				t.Errorf("the blob verifies up to record %d, want 6 (each record once)", cp.Seq)
			}
		})
	}
}

// TestAzuriteFailedAppendIsNotAcknowledged fails an append that never
// reached the service, with no retries: the Append fails, the Log stops,
// and a new Log resumes after the last stored record.
func TestAzuriteFailedAppendIsNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	tr := &lossyTransport{}
	log, err := audit.New(ctx, newSink(t, client(t, blobURL, tr, &policy.RetryOptions{MaxRetries: -1})), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(ctx, record(1)); err != nil {
		t.Fatal(err)
	}
	tr.fail.Store(1)
	if _, err := log.Append(ctx, record(2)); !errors.Is(err, audit.ErrSinkFailed) || provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("an append that failed: %v (code %v); want ErrSinkFailed, Unavailable", err, provider.CodeOf(err))
	}
	log.Close()
	log2, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := log2.Append(ctx, record(2)); err != nil || r.Seq != 2 {
		t.Fatalf("resuming: seq %d, %v", r.Seq, err)
	}
	log2.Close()
	if cp := verify(t, blobURL); cp.Seq != 2 {
		t.Errorf("verifies up to %d, want 2", cp.Seq)
	}
}

// encoded returns the lines of n chained records, as a Log writes them.
func encoded(t *testing.T, n int) [][]byte {
	t.Helper()
	ms := audit.NewMemorySink()
	log, err := audit.New(context.Background(), ms, &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := log.Append(context.Background(), record(i)); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.SplitAfter(ms.Bytes(), []byte("\n"))[:n]
}

// TestAzuriteCrashMidWrite writes a batch larger than one append, so it is
// cut between lines into several blocks, and stops the writer after the
// first block (its second append never reaches the service), as a crash
// would. The blob then holds whole records only; Verify accepts it up to
// the last whole block, and a new Log continues from there.
func TestAzuriteCrashMidWrite(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	lines := encoded(t, 10)
	tr := &lossyTransport{}
	s := newSink(t, client(t, blobURL, tr, &policy.RetryOptions{MaxRetries: -1}))
	s.maxAppend = 3*len(lines[0]) + 10 // three records a block
	if err := s.Write(ctx, bytes.Join(lines[:2], nil)); err != nil {
		t.Fatal(err)
	}
	tr.skip.Store(1)
	tr.fail.Store(1)
	if err := s.Write(ctx, bytes.Join(lines[2:], nil)); err == nil {
		t.Fatal("the write that lost its second block succeeded")
	}
	if n := tr.appends.Load(); n != 3 {
		t.Fatalf("%d appends, want 3: one, then the first block of the batch and the failing second", n)
	}
	if err := s.Write(ctx, lines[9]); err == nil {
		t.Error("the sink accepted a write after a failed one")
	}
	if cp := verify(t, blobURL); cp.Seq != 5 {
		t.Errorf("the blob verifies up to record %d, want 5 (the first write and the first block of the second)", cp.Seq)
	}
	log, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := log.Append(ctx, record(6)); err != nil || r.Seq != 6 {
		t.Fatalf("continuing after the crash: seq %d, %v", r.Seq, err)
	}
	log.Close()
	verify(t, blobURL)
}

// TestAzuriteForeignTail appends, beside the sink, a partial line (New
// refuses the blob as torn) and a complete line that is not a record
// (audit.New refuses to continue the chain): both are integrity errors.
func TestAzuriteForeignTail(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, tail string
		kind       audit.Kind
		atNew      bool
	}{
		{"partial line", `{"v":1,"seq":3,"ti`, audit.KindTorn, true},
		{"complete foreign line", "hello\n", audit.KindMalformed, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			blobURL := newBlobURL(t)
			log, err := audit.New(ctx, newSink(t, client(t, blobURL, nil, nil)), &audit.Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 2; i++ {
				if _, err := log.Append(ctx, record(i)); err != nil {
					t.Fatal(err)
				}
			}
			log.Close()
			if _, err := client(t, blobURL, nil, nil).AppendBlock(ctx, streaming.NopCloser(strings.NewReader(c.tail)), nil); err != nil {
				t.Fatal(err)
			}
			s, err := New(ctx, client(t, blobURL, nil, nil), nil)
			if !c.atNew {
				if err != nil {
					t.Fatal(err)
				}
				_, err = audit.New(ctx, s, &audit.Options{Key: testKey})
			}
			var ve *audit.VerifyError
			if !errors.As(err, &ve) || ve.Kind != c.kind || !errors.Is(err, audit.ErrIntegrity) {
				t.Fatalf("opening a blob with a %s at its end: %v; want a VerifyError of kind %v", c.name, err, c.kind)
			}
			if c.atNew && !strings.Contains(err.Error(), "new blob") {
				t.Errorf("the error does not say what to do: %v", err)
			}
		})
	}
}

// TestAzuriteFullBlob lowers the block limit to three: the write that
// would pass it is refused before anything is sent, with
// ResourceExhausted naming the blob and asking for a new one.
func TestAzuriteFullBlob(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	lines := encoded(t, 4)
	s := newSink(t, client(t, blobURL, nil, nil))
	s.maxBlocks = 3
	for _, l := range lines[:3] {
		if err := s.Write(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Write(ctx, lines[3])
	if provider.CodeOf(err) != provider.ResourceExhausted || !strings.Contains(err.Error(), "new blob") || !strings.Contains(err.Error(), "tideline.jsonl") {
		t.Fatalf("a write past the block limit: %v; want ResourceExhausted naming the blob and a new one", err)
	}
	if s.Blocks() != 3 || verify(t, blobURL).Seq != 3 {
		t.Errorf("blocks %d; the blob must hold the three records", s.Blocks())
	}
}

// TestNotAnAppendBlob points the sink at a block blob.
func TestAzuriteNotAnAppendBlob(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	bb, err := blockblob.NewClientWithSharedKeyCredential(blobURL, sharedKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bb.UploadBuffer(ctx, []byte("x\n"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = New(ctx, client(t, blobURL, nil, nil), nil)
	if provider.CodeOf(err) != provider.FailedPrecondition || !strings.Contains(err.Error(), "not an append blob") {
		t.Fatalf("New on a block blob: %v", err)
	}
}

// TestAzuriteMissingContainer: the sink does not create containers.
func TestAzuriteMissingContainer(t *testing.T) {
	_, err := New(context.Background(), client(t, azurite(t)+"/no-such-container/log.jsonl", nil, nil), nil)
	if provider.CodeOf(err) != provider.FailedPrecondition || !strings.Contains(err.Error(), "container does not exist") {
		t.Fatalf("New in a missing container: %v", err)
	}
}

// TestErrorsHoldNoSAS reaches the service through a SAS URL that it
// refuses: the error names the blob but holds no part of the SAS.
func TestAzuriteErrorsHoldNoSAS(t *testing.T) {
	blobURL := newBlobURL(t)
	const sig = "c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc%3D"
	c, err := appendblob.NewClientWithNoCredential(blobURL+"?sv=2023-11-03&sr=b&sp=racw&se=2099-01-01T00%3A00%3A00Z&sig="+sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), c, nil)
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("New with a bad SAS: %v; want PermissionDenied", err)
	}
	for _, leak := range []string{sig, "c2lnbmF0dXJl", "sig=", "sv=2023"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("the error holds %q: %v", leak, err)
		}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Error("the SDK's error is not reachable through errors.As")
	}
}

func TestNewRejects(t *testing.T) {
	if _, err := New(context.Background(), nil, nil); provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("New(nil): %v", err)
	}
	c, _ := appendblob.NewClientWithNoCredential("http://127.0.0.1:1/devstoreaccount1/c/b", nil)
	if _, err := New(context.Background(), c, &Options{Timeout: -1}); provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("a negative timeout: %v", err)
	}
}

func TestBlobPath(t *testing.T) {
	for in, want := range map[string]string{
		"https://acct.blob.core.windows.net/audit/tideline.jsonl?sig=x": "audit/tideline.jsonl",
		"http://127.0.0.1:10000/devstoreaccount1/audit/a/b.jsonl":       "audit/a/b.jsonl",
	} {
		if got := blobPath(in); got != want {
			t.Errorf("blobPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// slowTransport lets the service apply an append and then holds the
// answer back for delay, past the sink's timeout.
type slowTransport struct {
	delay time.Duration
	slow  atomic.Int32 // appends still to slow down
}

func (t *slowTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && req.URL.Query().Get("comp") == "appendblock" && t.slow.Add(-1) >= 0 {
		select {
		case <-time.After(t.delay):
		case <-req.Context().Done():
			resp.Body.Close()
			return nil, req.Context().Err()
		}
	}
	return resp, err
}

// TestAzuriteAppendTimedOutAfterApplied: the service applied an append
// whose answer came after the sink's timeout. The check of the blob that
// follows must have time of its own — with the append's expired context it
// failed, and the Log stopped although the record was stored once.
func TestAzuriteAppendTimedOutAfterApplied(t *testing.T) {
	ctx := context.Background()
	blobURL := newBlobURL(t)
	tr := &slowTransport{delay: time.Second}
	s, err := New(ctx, client(t, blobURL, tr, &policy.RetryOptions{MaxRetries: -1}), &Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(ctx, s, &audit.Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	tr.slow.Store(1)
	if _, err := log.Append(ctx, record(1)); err != nil {
		t.Fatalf("an append applied before its timeout ended: %v", err)
	}
	if _, err := log.Append(ctx, record(2)); err != nil {
		t.Fatal(err)
	}
	log.Close()
	if cp := verify(t, blobURL); cp.Seq != 2 {
		t.Errorf("verifies up to %d, want 2", cp.Seq)
	}
}
