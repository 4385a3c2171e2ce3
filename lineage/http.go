package lineage

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/tideline-ml/tideline/secret"
)

// HTTPTransportOptions tunes NewHTTPTransport. The zero value is ready to
// use; zero fields take the defaults given.
type HTTPTransportOptions struct {
	// Client sends the requests. Default: a client made for this transport
	// alone, with its own connection pool and a 30s timeout per attempt.
	Client *http.Client

	// Token, when set, is sent as "Authorization: Bearer <Token>". It never
	// appears in errors: every message is scrubbed of it.
	Token string

	// Header holds extra request headers (copied at construction).
	Header http.Header

	// QueueSize bounds the events waiting to be sent. Default 1024. When
	// the queue is full, Emit drops the event, counts the drop and returns
	// ErrQueueFull at once.
	QueueSize int

	// MaxRetries bounds the attempts after the first one. Default 4;
	// negative means no retries.
	MaxRetries int

	// RetryWaitMin and RetryWaitMax bound the exponential backoff between
	// attempts when the server gives no Retry-After. Defaults 500ms, 30s.
	RetryWaitMin, RetryWaitMax time.Duration

	// MaxRetryAfter is the longest Retry-After (on 429 and 503) the
	// transport will wait for; a server asking for more makes it give up on
	// the event rather than retry early. Default 60s.
	MaxRetryAfter time.Duration

	// OnError, when set, receives a *SendError for each event given up on.
	// It runs on the transport's sending goroutine: it must not block for
	// long, and it must not call Close or Flush.
	OnError func(error)
}

// HTTPStats counts what an HTTPTransport did with the events offered to it.
type HTTPStats struct {
	Enqueued uint64 // accepted by Emit
	Sent     uint64 // answered with a 2xx status
	Failed   uint64 // given up on: retries spent, a status not worth retrying, or discarded by Close
	Dropped  uint64 // refused by Emit because the queue was full
	Retries  uint64 // attempts beyond the first
	Queued   int    // accepted and not yet sent or given up on
}

// SendError reports an event the HTTP transport gave up on. Its text never
// contains the bearer token, URL credentials or signed query strings.
type SendError struct {
	StatusCode int // the last HTTP status received, 0 when none was
	msg        string
}

func (e *SendError) Error() string { return e.msg }

// HTTPTransport POSTs events as JSON to an OpenLineage HTTP endpoint (such
// as Marquez's /api/v1/lineage) from a background goroutine, in the order
// they were emitted.
//
// Emit never blocks on the network: it validates the event and puts it on
// a bounded queue, or drops it when the queue is full. Each event is
// retried on connection errors, 408, 429 and 5xx (except 501), at most
// MaxRetries times, honouring Retry-After; other statuses fail it at once.
// Outcomes are counted in Stats and failures reported to OnError. Nothing
// is logged.
type HTTPTransport struct {
	endpoint   string
	logURL     string // endpoint with secrets scrubbed, for messages
	token      string
	header     http.Header
	client     *retryablehttp.Client
	httpClient *http.Client
	ownClient  bool
	onError    func(error)
	maxWait    time.Duration

	mu     sync.RWMutex // guards closed and the closing of queue
	closed bool
	queue  chan []byte

	pmu     sync.Mutex
	pending int
	idle    chan struct{} // closed while pending == 0

	ctx    context.Context // ends the sending goroutine's work when Close gives up
	cancel context.CancelFunc
	done   chan struct{}

	enqueued, sent, failed, dropped, retries atomic.Uint64
}

// NewHTTPTransport returns a transport posting to endpoint, an http or
// https URL, and starts its sending goroutine; call Close to stop it. opts
// may be nil.
func NewHTTPTransport(endpoint string, opts *HTTPTransportOptions) (*HTTPTransport, error) {
	var o HTTPTransportOptions
	if opts != nil {
		o = *opts
	}
	logURL := secret.Redact(secret.Scrub(endpoint), secret.NewSecret(o.Token))
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("lineage: HTTP transport endpoint %q must be an absolute http or https URL: %w", logURL, ErrInvalid)
	}
	if strings.IndexFunc(o.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, fmt.Errorf("lineage: HTTP transport token contains whitespace or control characters; pass the bare token without \"Bearer \": %w", ErrInvalid)
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 4
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.RetryWaitMin <= 0 {
		o.RetryWaitMin = 500 * time.Millisecond
	}
	if o.RetryWaitMax <= 0 {
		o.RetryWaitMax = 30 * time.Second
	}
	o.RetryWaitMax = max(o.RetryWaitMax, o.RetryWaitMin)
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &HTTPTransport{
		endpoint:   endpoint,
		logURL:     logURL,
		token:      o.Token,
		header:     o.Header.Clone(),
		httpClient: o.Client,
		onError:    o.OnError,
		maxWait:    o.MaxRetryAfter,
		queue:      make(chan []byte, o.QueueSize),
		idle:       make(chan struct{}),
		ctx:        ctx,
		cancel:     cancel,
		done:       make(chan struct{}),
	}
	close(t.idle)
	if t.httpClient == nil {
		t.httpClient = newHTTPClient()
		t.ownClient = true
	}
	t.client = &retryablehttp.Client{
		HTTPClient:   t.httpClient,
		Logger:       nil, // never log: requests carry a token
		RetryWaitMin: o.RetryWaitMin,
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.MaxRetries,
		CheckRetry:   t.checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, _ *http.Request, attempt int) {
			if attempt > 0 {
				t.retries.Add(1)
			}
		},
	}
	go t.run()
	return t, nil
}

// newHTTPClient builds a client owned by one transport, so that closing
// the transport can release its connections without touching anyone else's.
func newHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
}

// Emit implements Transport. It validates and encodes ev, then queues it
// without blocking; ctx is not used for the send, which outlives the call.
func (t *HTTPTransport) Emit(ctx context.Context, ev *RunEvent) error {
	b, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return fmt.Errorf("lineage: HTTP transport: %w", ErrClosed)
	}
	t.addPending(1)
	select {
	case t.queue <- b:
		t.enqueued.Add(1)
		return nil
	default:
		t.addPending(-1)
		t.dropped.Add(1)
		return fmt.Errorf("lineage: HTTP transport queue is full (%d events); %s event of run %s dropped; raise QueueSize or check the endpoint: %w",
			cap(t.queue), ev.EventType, ev.Run.RunID, ErrQueueFull)
	}
}

func (t *HTTPTransport) addPending(d int) {
	t.pmu.Lock()
	defer t.pmu.Unlock()
	if t.pending == 0 && d > 0 {
		t.idle = make(chan struct{})
	}
	t.pending += d
	if t.pending == 0 {
		close(t.idle)
	}
}

// Stats returns the transport's counters.
func (t *HTTPTransport) Stats() HTTPStats {
	t.pmu.Lock()
	q := t.pending
	t.pmu.Unlock()
	return HTTPStats{
		Enqueued: t.enqueued.Load(),
		Sent:     t.sent.Load(),
		Failed:   t.failed.Load(),
		Dropped:  t.dropped.Load(),
		Retries:  t.retries.Load(),
		Queued:   q,
	}
}

// Flush waits until every event accepted so far has been sent or given up
// on, or until ctx ends, in which case it returns ctx.Err().
func (t *HTTPTransport) Flush(ctx context.Context) error {
	t.pmu.Lock()
	idle := t.idle
	t.pmu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close implements Transport. It stops accepting events and waits for the
// queue to drain. If ctx ends first, the event in flight is abandoned, the
// rest are discarded and counted as failed, and Close returns ctx.Err()
// once the sending goroutine has stopped. Closing twice is safe.
func (t *HTTPTransport) Close(ctx context.Context) error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.queue)
	}
	t.mu.Unlock()
	var err error
	select {
	case <-t.done:
	case <-ctx.Done():
		t.cancel()
		<-t.done
		err = ctx.Err()
	}
	t.cancel()
	if t.ownClient {
		t.httpClient.CloseIdleConnections()
	}
	return err
}

func (t *HTTPTransport) run() {
	defer close(t.done)
	for b := range t.queue {
		t.send(b)
		t.addPending(-1)
	}
}

// maxErrorBody bounds how much of an error response is quoted in a SendError.
const maxErrorBody = 256

func (t *HTTPTransport) send(body []byte) {
	if t.ctx.Err() != nil {
		t.fail(0, "POST %s: event discarded because Close gave up waiting", t.logURL)
		return
	}
	req, err := retryablehttp.NewRequestWithContext(t.ctx, http.MethodPost, t.endpoint, body)
	if err != nil {
		t.fail(0, "POST %s: building request: %v", t.logURL, err)
		return
	}
	for k, vs := range t.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.token)
	}
	resp, err := t.client.Do(req)
	status, snippet := 0, ""
	if resp != nil {
		status = resp.StatusCode
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		snippet = strings.TrimSpace(string(b))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
		resp.Body.Close()
	}
	switch {
	case err != nil:
		t.fail(status, "POST %s: %v", t.logURL, err)
	case status >= 200 && status < 300:
		t.sent.Add(1)
	default:
		t.fail(status, "POST %s: server answered %d %s: %q", t.logURL, status, http.StatusText(status), snippet)
	}
}

func (t *HTTPTransport) fail(status int, format string, args ...any) {
	t.failed.Add(1)
	if t.onError == nil {
		return
	}
	msg := "lineage: giving up on event: " + fmt.Sprintf(format, args...)
	t.onError(&SendError{StatusCode: status, msg: secret.Redact(secret.Scrub(msg), secret.NewSecret(t.token))})
}

// checkRetry decides whether an attempt is worth repeating.
func (t *HTTPTransport) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		// Connection errors are retried; bad schemes, redirect loops and
		// certificate failures are not, as the library's policy knows.
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp, time.Now()); ok && d > t.maxWait {
			return false, fmt.Errorf("server answered %d asking to wait %s, longer than MaxRetryAfter (%s)", s, d, t.maxWait)
		}
		return true, nil
	case s == http.StatusRequestTimeout, s >= 500 && s != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff waits as long as a 429 or 503 asks through Retry-After, and
// otherwise doubles from min up to max with jitter, so that many producers
// recovering together do not retry in step.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp, time.Now()); ok {
			return d
		}
	}
	d := maxWait
	if attempt < 32 {
		if m := minWait << attempt; m > 0 && m < maxWait {
			d = m
		}
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header in either of its forms: a number of
// seconds or an HTTP date.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		// Clamp absurd values instead of overflowing; they exceed any
		// MaxRetryAfter and make the transport give up, as they should.
		return time.Duration(min(s, 1<<32)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}
