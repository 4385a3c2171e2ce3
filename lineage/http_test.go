package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "tok-8f2c1e-SECRET"

// errorLog collects what a transport reports to OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func testEvent(t testing.TB, runName string) *RunEvent {
	t.Helper()
	e := testEmitter(t, NewWriterTransport(io.Discard))
	ev, err := e.Build(EventStart, JobRun{RunName: runName, Job: "train"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestHTTPTransportRetriesThenStoresOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		attempts []time.Time
		stored   []RunEvent
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+testToken ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Team") != "ml-platform" {
			http.Error(w, "bad request headers", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		switch len(attempts) {
		case 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "warming up", http.StatusServiceUnavailable)
		default:
			var ev RunEvent
			if err := json.Unmarshal(body, &ev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			stored = append(stored, ev)
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer srv.Close()

	var errs errorLog
	tr, err := NewHTTPTransport(srv.URL+"/api/v1/lineage", &HTTPTransportOptions{
		Client:       srv.Client(),
		Token:        testToken,
		Header:       http.Header{"X-Team": {"ml-platform"}},
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
		OnError:      errs.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	first, second := testEvent(t, "run-1"), testEvent(t, "run-2")
	if err := tr.Emit(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if err := tr.Emit(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := tr.Close(withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(stored) != 2 || stored[0].Run.RunID != first.Run.RunID || stored[1].Run.RunID != second.Run.RunID {
		t.Fatalf("stored %d events (%+v); want each event exactly once, in order", len(stored), stored)
	}
	if len(attempts) != 4 {
		t.Errorf("%d attempts, want 4 (429, 503, 201 for the first event; 201 for the second)", len(attempts))
	}
	if wait := attempts[1].Sub(attempts[0]); wait < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1; the header was not honoured", wait)
	}
	want := HTTPStats{Enqueued: 2, Sent: 2, Retries: 2}
	if got := tr.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if e := errs.all(); len(e) != 0 {
		t.Errorf("OnError called: %v", e)
	}
}

func TestHTTPTransportServerDown(t *testing.T) {
	// A port that was listening a moment ago refuses connections now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String() + "/api/v1/lineage?api_key=" + testToken
	l.Close()

	var errs errorLog
	tr, err := NewHTTPTransport(endpoint, &HTTPTransportOptions{
		Token:        testToken,
		MaxRetries:   2,
		RetryWaitMin: time.Millisecond,
		RetryWaitMax: 2 * time.Millisecond,
		OnError:      errs.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 3 {
		if err := tr.Emit(context.Background(), testEvent(t, "down-"+string(rune('a'+i)))); err != nil {
			t.Fatalf("Emit: %v", err)
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Emit blocked for %v while the server was down", d)
	}
	if err := tr.Flush(withTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := tr.Close(withTimeout(t, 5*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := HTTPStats{Enqueued: 3, Failed: 3, Retries: 6}
	if got := tr.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v (3 events, 2 retries each, all failed)", got, want)
	}
	reported := errs.all()
	if len(reported) != 3 {
		t.Fatalf("OnError got %d errors, want 3", len(reported))
	}
	for _, err := range reported {
		var se *SendError
		if !errors.As(err, &se) || se.StatusCode != 0 {
			t.Errorf("reported %T %v, want *SendError without status", err, err)
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error leaks the token: %v", err)
		}
		if !strings.Contains(err.Error(), "giving up") {
			t.Errorf("error does not say what happened: %v", err)
		}
	}
}

func TestHTTPTransportCloseAbandonsBackoff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close()
	tr, err := NewHTTPTransport(endpoint, &HTTPTransportOptions{MaxRetries: 5, RetryWaitMin: time.Minute, RetryWaitMax: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := tr.Emit(context.Background(), testEvent(t, "r"+string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err = tr.Close(withTimeout(t, 100*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v despite its deadline", d)
	}
	if s := tr.Stats(); s.Failed != 3 || s.Queued != 0 {
		t.Errorf("Stats after abandoned Close = %+v; want 3 failed, none queued", s)
	}
	if err := tr.Emit(context.Background(), testEvent(t, "late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Emit after Close = %v, want ErrClosed", err)
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestHTTPTransportBoundedQueue(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	tr, err := NewHTTPTransport(srv.URL, &HTTPTransportOptions{QueueSize: 2, Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Emit(context.Background(), testEvent(t, "in-flight")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("first event never reached the server")
	}
	start := time.Now()
	var full int
	for i := range 9 {
		err := tr.Emit(context.Background(), testEvent(t, "burst-"+string(rune('a'+i))))
		switch {
		case errors.Is(err, ErrQueueFull):
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("9 Emits took %v against a stuck server", d)
	}
	if full != 7 {
		t.Errorf("%d events refused, want 7 (1 in flight, 2 queued)", full)
	}
	if s := tr.Stats(); s.Dropped != 7 || s.Enqueued != 3 || s.Queued != 3 {
		t.Errorf("Stats = %+v; want 7 dropped, 3 enqueued, 3 queued", s)
	}
	if err := tr.Flush(withTimeout(t, 50*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with a stuck server = %v, want context.DeadlineExceeded", err)
	}
	if err := tr.Close(withTimeout(t, 100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if s := tr.Stats(); s.Failed != 3 || s.Sent != 0 || s.Queued != 0 {
		t.Errorf("Stats after Close = %+v; want the 3 accepted events failed", s)
	}
}

func TestHTTPTransportPermanentFailures(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		retryAfter  string
		wantRetries uint64
		wantText    string
	}{
		{"client error is not retried", http.StatusBadRequest, "", 0, "400"},
		{"not implemented is not retried", http.StatusNotImplemented, "", 0, "501"},
		{"Retry-After beyond the limit", http.StatusTooManyRequests, "3600", 0, "MaxRetryAfter"},
		{"server errors until retries run out", http.StatusBadGateway, "", 1, "502"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				// A careless server echoing the credential it was given.
				http.Error(w, "rejected "+r.Header.Get("Authorization"), tc.status)
			}))
			defer srv.Close()
			var errs errorLog
			tr, err := NewHTTPTransport(srv.URL, &HTTPTransportOptions{
				Client: srv.Client(), Token: testToken, MaxRetries: 1, RetryWaitMin: time.Millisecond,
				MaxRetryAfter: time.Second, OnError: errs.add,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Emit(context.Background(), testEvent(t, "r")); err != nil {
				t.Fatal(err)
			}
			if err := tr.Close(withTimeout(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
			s := tr.Stats()
			if s.Failed != 1 || s.Sent != 0 || s.Retries != tc.wantRetries || calls.Load() != int32(tc.wantRetries+1) {
				t.Errorf("Stats = %+v after %d calls; want 1 failed and %d retries", s, calls.Load(), tc.wantRetries)
			}
			reported := errs.all()
			if len(reported) != 1 {
				t.Fatalf("OnError got %v", reported)
			}
			msg := reported[0].Error()
			if !strings.Contains(msg, tc.wantText) || strings.Contains(msg, testToken) {
				t.Errorf("error %q should mention %q and never the token", msg, tc.wantText)
			}
			var se *SendError
			if !errors.As(reported[0], &se) || se.StatusCode != tc.status {
				t.Errorf("SendError status = %+v, want %d", se, tc.status)
			}
		})
	}
}

func TestHTTPTransportInjectedClient(t *testing.T) {
	var through atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	base := srv.Client().Transport
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		through.Add(1)
		return base.RoundTrip(r)
	})}
	tr, err := NewHTTPTransport(srv.URL, &HTTPTransportOptions{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Emit(context.Background(), testEvent(t, "r")); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(withTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if through.Load() != 1 || tr.Stats().Sent != 1 {
		t.Errorf("injected client carried %d requests; stats %+v", through.Load(), tr.Stats())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNewHTTPTransportErrors(t *testing.T) {
	cases := []struct {
		name, endpoint, token string
	}{
		{"relative", "/api/v1/lineage", ""},
		{"wrong scheme", "ftp://127.0.0.1/x", ""},
		{"no host", "http:///x", ""},
		{"unparsable with token inside", "http://[::1/?key=" + testToken, testToken},
		{"token with newline", "http://127.0.0.1/x", testToken + "\r\nX-Evil: 1"},
		{"token with Bearer prefix", "http://127.0.0.1/x", "Bearer " + testToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := NewHTTPTransport(tc.endpoint, &HTTPTransportOptions{Token: tc.token})
			if !errors.Is(err, ErrInvalid) {
				if tr != nil {
					tr.Close(context.Background())
				}
				t.Fatalf("NewHTTPTransport = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestHTTPTransportRejectsInvalidEvent(t *testing.T) {
	tr, err := NewHTTPTransport("http://127.0.0.1:1/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(context.Background())
	ev := testEvent(t, "r")
	ev.Run.RunID = "not-a-uuid"
	if err := tr.Emit(context.Background(), ev); !errors.Is(err, ErrInvalid) {
		t.Errorf("Emit(invalid) = %v, want ErrInvalid", err)
	}
	if err := tr.Emit(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Emit(nil) = %v, want ErrInvalid", err)
	}
	if s := tr.Stats(); s != (HTTPStats{}) {
		t.Errorf("invalid events were counted: %+v", s)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, true},
		{"99999999999999", 1 << 32 * time.Second, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		resp := &http.Response{Header: http.Header{}}
		if tc.header != "" {
			resp.Header.Set("Retry-After", tc.header)
		}
		got, ok := retryAfter(resp, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
	if d := backoff(time.Second, 4*time.Second, 10, nil); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("backoff past the cap = %v, want within [2s, 4s]", d)
	}
	if d := backoff(time.Millisecond, time.Second, 1, nil); d < time.Millisecond || d > 2*time.Millisecond {
		t.Errorf("second backoff = %v, want within [1ms, 2ms]", d)
	}
}
