package azure

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
)

// Recognisable credentials: none of them may appear in an error.
const (
	testToken = "tok-RECOGNISABLE-7f3a9c"
	testKey   = "UkVDT0dOSVNBQkxFLUtFWS0wMTIzNDU2Nzg5"
)

type fakeToken struct{ calls int }

func (f *fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls++
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// fakeStorage answers with the handler it is given and remembers what it
// was asked.
type fakeStorage struct {
	mu   sync.Mutex
	reqs []*http.Request
	at   []time.Time
	body []string
	h    func(w http.ResponseWriter, r *http.Request, n int)
}

func (f *fakeStorage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, r)
	f.at = append(f.at, time.Now())
	f.body = append(f.body, string(b))
	f.mu.Unlock()
	f.h(w, r, n)
}

// refuse answers like the service, and echoes the request's credentials in
// the body, which the driver must not carry into its errors.
func refuse(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>`+code+`</Code><Message>echo: `+
			xmlEscape(r.Header.Get("Authorization"))+` `+xmlEscape(r.URL.RawQuery)+`</Message></Error>`)
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// versionHeaders answers a HEAD of a dataset version.
func versionHeaders(w http.ResponseWriter, etag string) {
	h := w.Header()
	h.Set("x-ms-meta-_tl_sha256", strings.Repeat("0", 64))
	h.Set("x-ms-meta-_tl_created", "2026-12-02T10:00:00.5Z")
	h.Set("x-ms-meta-owner", "risk")
	h.Set("ETag", etag)
	h.Set("Content-Length", "0")
	h.Set("x-ms-blob-type", "BlockBlob")
}

func newTestProvider(t *testing.T, f *fakeStorage, token bool) *Provider {
	return newTestProviderRetry(t, f, token, policy.RetryOptions{MaxRetries: 2, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 20 * time.Millisecond})
}

func newTestProviderRetry(t *testing.T, f *fakeStorage, token bool, retry policy.RetryOptions) *Provider {
	t.Helper()
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	cfg := Config{
		AccountURL: srv.URL + "/devstoreaccount1", Container: "data", Region: "westeurope",
		ClientOptions: azcore.ClientOptions{
			Transport: srv.Client(),
			Retry:     retry,
		},
	}
	if token {
		cfg.Credential = &fakeToken{}
	} else {
		k, err := container.NewSharedKeyCredential("devstoreaccount1", testKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.SharedKey = k
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkNoSecret fails when err's text holds a credential of the test.
func checkNoSecret(t *testing.T, err error, f *fakeStorage) {
	t.Helper()
	text := err.Error()
	secrets := []string{testToken, testKey}
	f.mu.Lock()
	for _, r := range f.reqs {
		if a := r.Header.Get("Authorization"); a != "" {
			secrets = append(secrets, a, strings.TrimPrefix(a, "Bearer "))
			if _, sig, ok := strings.Cut(a, ":"); ok {
				secrets = append(secrets, sig)
			}
		}
	}
	f.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the error %q holds a credential (%q)", text, s)
		}
	}
	if strings.Contains(text, "echo:") || strings.Contains(text, "<Error>") {
		t.Errorf("the error %q carries the response body", text)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		status    int
		errorCode string
		want      provider.Code
	}{
		{404, "BlobNotFound", provider.NotFound},
		{404, "ContainerNotFound", provider.FailedPrecondition},
		{403, "AuthorizationFailure", provider.PermissionDenied},
		{401, "InvalidAuthenticationInfo", provider.PermissionDenied},
		{400, "InvalidHeaderValue", provider.InvalidArgument},
		{429, "ServerBusy", provider.Unavailable},
		{503, "ServerBusy", provider.Unavailable},
		{500, "InternalError", provider.Unavailable},
		{418, "Teapot", provider.Unknown},
	} {
		for _, token := range []bool{false, true} {
			t.Run(tc.errorCode+map[bool]string{false: "/SharedKey", true: "/Token"}[token], func(t *testing.T) {
				f := &fakeStorage{h: func(w http.ResponseWriter, r *http.Request, _ int) {
					w.Header().Set("Retry-After", "0")
					refuse(w, r, tc.status, tc.errorCode)
				}}
				p := newTestProvider(t, f, token)
				_, err := p.GetDataset(context.Background(), "claims", "v1")
				if got := provider.CodeOf(err); got != tc.want {
					t.Fatalf("%d %s: code %v (%v), want %v", tc.status, tc.errorCode, got, err, tc.want)
				}
				var re *azcore.ResponseError
				if !errors.As(err, &re) || re.StatusCode != tc.status {
					t.Errorf("errors.As does not reach the *azcore.ResponseError of %d: %v", tc.status, err)
				}
				if !strings.Contains(err.Error(), "claims@v1") || !strings.Contains(err.Error(), tc.errorCode) {
					t.Errorf("the error %q names neither the dataset nor the service's code", err)
				}
				checkNoSecret(t, err, f)
			})
		}
	}
}

// TestErrorMappingWrites checks the codes that depend on the call: a 409
// on the conditional commit is AlreadyExists, a 412 on a metadata update is
// Conflict.
func TestErrorMappingWrites(t *testing.T) {
	f := &fakeStorage{h: func(w http.ResponseWriter, r *http.Request, _ int) {
		q := r.URL.Query()
		switch {
		case r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/exists"):
			versionHeaders(w, `"0x1"`)
		case r.Method == http.MethodHead:
			refuse(w, r, 404, "BlobNotFound")
		case q.Get("comp") == "block":
			w.WriteHeader(http.StatusCreated)
		case q.Get("comp") == "blocklist":
			if r.Header.Get("If-None-Match") != "*" {
				t.Errorf("the commit is not conditional: If-None-Match %q", r.Header.Get("If-None-Match"))
			}
			refuse(w, r, 409, "BlobAlreadyExists")
		case q.Get("comp") == "metadata":
			if r.Header.Get("If-Match") != `"0x1"` {
				t.Errorf("the metadata write has If-Match %q, want the ETag read", r.Header.Get("If-Match"))
			}
			refuse(w, r, 412, "ConditionNotMet")
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			refuse(w, r, 400, "Unexpected")
		}
	}}
	p := newTestProvider(t, f, false)
	ctx := context.Background()
	_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "v1", Region: "westeurope",
		Content: provider.NewContent(strings.NewReader("rows"), nil)})
	if provider.CodeOf(err) != provider.AlreadyExists {
		t.Errorf("a 409 on the commit: %v, want AlreadyExists", err)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 {
		t.Errorf("errors.As does not reach the 409: %v", err)
	}
	checkNoSecret(t, err, f)
	_, err = p.UpdateDatasetMetadata(ctx, "claims", "exists", map[string]string{"stage": "clean"}, `"0x1"`)
	if provider.CodeOf(err) != provider.Conflict {
		t.Errorf("a 412 on the metadata write: %v, want Conflict", err)
	}
	checkNoSecret(t, err, f)
	_, err = p.UpdateDatasetMetadata(ctx, "claims", "exists", map[string]string{"stage": "clean"}, `"0x0"`)
	if provider.CodeOf(err) != provider.Conflict {
		t.Errorf("a stale ETag: %v, want Conflict", err)
	}
}

// TestRetryAfterIsHonoured: a 429 with Retry-After: 1 is retried no sooner
// than a second later, and the call then succeeds. A Retry-After longer
// than the retry policy's MaxRetryDelay ends the retries at once (the SDK's
// rule): the call is Unavailable after one attempt.
func TestRetryAfterIsHonoured(t *testing.T) {
	f := &fakeStorage{h: func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			refuse(w, r, 429, "ServerBusy")
			return
		}
		versionHeaders(w, `"0x1"`)
	}}
	p := newTestProviderRetry(t, f, false, policy.RetryOptions{MaxRetries: 2, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 2 * time.Second})
	info, err := p.GetDataset(context.Background(), "claims", "v1")
	if err != nil {
		t.Fatalf("GetDataset after one 429: %v", err)
	}
	if info.Metadata["owner"] != "risk" {
		t.Errorf("metadata %v", info.Metadata)
	}
	if len(f.at) != 2 {
		t.Fatalf("%d requests, want 2", len(f.at))
	}
	if gap := f.at[1].Sub(f.at[0]); gap < time.Second {
		t.Errorf("the retry came %v after the 429 with Retry-After: 1", gap)
	}

	long := &fakeStorage{h: func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", "30")
		refuse(w, r, 429, "ServerBusy")
	}}
	p = newTestProviderRetry(t, long, false, policy.RetryOptions{MaxRetries: 2, RetryDelay: 5 * time.Millisecond, MaxRetryDelay: 2 * time.Second})
	start := time.Now()
	_, err = p.GetDataset(context.Background(), "claims", "v1")
	if provider.CodeOf(err) != provider.Unavailable || len(long.reqs) != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("Retry-After: 30 over MaxRetryDelay 2s: %v after %d attempts in %v, want Unavailable after 1", err, len(long.reqs), time.Since(start))
	}
}

// TestUnavailableAfterRetries: a 503 that persists is retried as configured
// (MaxRetries 2: three attempts) and is then Unavailable.
func TestUnavailableAfterRetries(t *testing.T) {
	f := &fakeStorage{h: func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Retry-After", "0")
		refuse(w, r, 503, "ServerBusy")
	}}
	p := newTestProvider(t, f, false)
	err := p.DeleteDataset(context.Background(), "claims", "v1")
	if provider.CodeOf(err) != provider.Unavailable || !provider.CodeOf(err).IsRetryable() {
		t.Fatalf("persistent 503: %v, want Unavailable", err)
	}
	if len(f.reqs) != 3 {
		t.Errorf("%d attempts, want 3", len(f.reqs))
	}
	checkNoSecret(t, err, f)
}

// TestUserDelegationGrant checks the request shape of a grant made with a
// token credential: a user-delegation key asked for with the bearer token
// for the grant's lifetime, and a SAS signed with it that reads one blob.
// Azurite does not issue user-delegation keys, so this is its only test.
func TestUserDelegationGrant(t *testing.T) {
	keyValue := base64.StdEncoding.EncodeToString([]byte("user-delegation-key-0123456789ab"))
	var keyReq struct {
		Start, Expiry string
	}
	f := &fakeStorage{}
	f.h = func(w http.ResponseWriter, r *http.Request, n int) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
			t.Errorf("request %d has Authorization %q, want the bearer token", n, got)
		}
		switch {
		case r.Method == http.MethodHead:
			versionHeaders(w, `"0x1"`)
		case r.Method == http.MethodPost && r.URL.Query().Get("restype") == "service" && r.URL.Query().Get("comp") == "userdelegationkey":
			f.mu.Lock()
			body := f.body[n]
			f.mu.Unlock()
			if err := xml.Unmarshal([]byte(body), &keyReq); err != nil {
				t.Errorf("the key request's body %q: %v", body, err)
			}
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid-1</SignedOid><SignedTid>tid-1</SignedTid><SignedStart>`+
				keyReq.Start+`</SignedStart><SignedExpiry>`+keyReq.Expiry+`</SignedExpiry><SignedService>b</SignedService><SignedVersion>2025-01-05</SignedVersion><Value>`+
				keyValue+`</Value></UserDelegationKey>`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			refuse(w, r, 400, "Unexpected")
		}
	}
	p := newTestProvider(t, f, true)
	g, err := p.GrantRead(context.Background(), "claims", "v1", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(g.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(u.Path, "/devstoreaccount1/data/datasets/claims/v1") {
		t.Errorf("the grant addresses %s, want the version's blob", u.Path)
	}
	q := u.Query()
	for k, want := range map[string]string{"sp": "r", "sr": "b", "spr": "https", "skoid": "oid-1", "sktid": "tid-1", "se": keyReq.Expiry} {
		if q.Get(k) != want {
			t.Errorf("SAS %s=%q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("sig") == "" {
		t.Error("the SAS is not signed")
	}
	if exp, _ := time.Parse(time.RFC3339, keyReq.Expiry); !exp.Equal(g.Expires) {
		t.Errorf("the key expires %v, the grant %v", exp, g.Expires)
	}
	if d := time.Until(g.Expires); d > 2*time.Hour || d < 2*time.Hour-time.Minute {
		t.Errorf("the grant expires in %v, want 2h", d)
	}
	if strings.Contains(g.URL.String(), "sig") {
		t.Error("the grant prints its URL")
	}
}
