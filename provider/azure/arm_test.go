package azure

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/internal/azuritetest"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
)

// recordingCred hands out the server's tokens and remembers them, so that a
// test can look for them in errors.
type recordingCred struct {
	inner  *azuretest.Credential
	mu     sync.Mutex
	tokens []string
}

func (c *recordingCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	t, err := c.inner.GetToken(ctx, o)
	c.mu.Lock()
	c.tokens = append(c.tokens, t.Token)
	c.mu.Unlock()
	return t, err
}

func (c *recordingCred) issued() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.tokens...)
}

// armEnv is a Workspace over a contract server.
type armEnv struct {
	srv  *azuretest.Server
	cred *recordingCred
	w    *Workspace
}

func newARMEnv(t *testing.T, opts azuretest.Options, edit func(*Config, *azuretest.Server)) *armEnv {
	t.Helper()
	srv := azuretest.NewServer(opts)
	t.Cleanup(srv.Close)
	cred := &recordingCred{inner: srv.Credential()}
	k, _ := container.NewSharedKeyCredential("acct", testKey)
	o := srv.Options()
	cfg := Config{
		AccountURL: "https://acct.blob.core.windows.net", Container: "data", Region: "westeurope",
		SharedKey: k, Credential: cred,
		SubscriptionID: o.SubscriptionID, ResourceGroup: o.ResourceGroup, Workspace: o.Workspace,
		ARMEndpoint: srv.URL, KeyVaultURL: srv.URL, Compute: "cpu-cluster",
		ClientOptions: srv.ClientOptions(),
		PollInterval:  5 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg, srv)
	}
	w, err := NewWorkspace(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &armEnv{srv: srv, cred: cred, w: w}
}

// newJobEnv is newARMEnv with the workspace's storage container on
// Azurite, where SubmitJob keeps the claims that make a job's creation
// exclusive.
func newJobEnv(t *testing.T, opts azuretest.Options, edit func(*Config, *azuretest.Server)) *armEnv {
	t.Helper()
	accountURL := azuritetest.URL(t)
	name := azuritetest.NewContainer(t, accountURL)
	return newARMEnv(t, opts, func(c *Config, srv *azuretest.Server) {
		c.AccountURL, c.Container, c.SharedKey = accountURL, name, azuritetest.SharedKey(t)
		if edit != nil {
			edit(c, srv)
		}
	})
}

// noToken fails the test when err's text holds a token the credential
// issued.
func (e *armEnv) noToken(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, tok := range e.cred.issued() {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("the error %q holds a bearer token", err)
		}
	}
	if strings.Contains(err.Error(), "azuretest.") {
		t.Errorf("the error %q holds what looks like a bearer token", err)
	}
}

func TestARMErrorMapping(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, nil)
	// The route answers with the status and code its path names, and
	// echoes the request's Authorization header in the message, which the
	// driver must not carry into its errors.
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodGet, Pattern: "probe/{status}/{code}"}, func(r *azuretest.Request) *azuretest.Response {
		var status int
		json.Unmarshal([]byte(r.Vars["status"]), &status)
		resp := azuretest.Error(status, r.Vars["code"], "echo: "+r.Header.Get("Authorization"))
		if status == http.StatusTooManyRequests || status >= 500 {
			resp.Header = http.Header{"Retry-After": {"0"}}
		}
		return resp
	})
	for _, tc := range []struct {
		status int
		code   string
		want   provider.Code
	}{
		{404, "ResourceNotFound", provider.NotFound},
		{404, "ResourceGroupNotFound", provider.FailedPrecondition},
		{404, "WorkspaceNotFound", provider.FailedPrecondition},
		{409, "Conflict", provider.Conflict},
		{412, "PreconditionFailed", provider.Conflict},
		{403, "AuthorizationFailed", provider.PermissionDenied},
		{401, "InvalidAuthenticationToken", provider.PermissionDenied},
		{400, "UserError", provider.InvalidArgument},
		{400, "QuotaExceeded", provider.ResourceExhausted},
		{409, "ResourceQuotaLimitExceeded", provider.ResourceExhausted},
		{429, "TooManyRequests", provider.Unavailable},
		{503, "ServiceUnavailable", provider.Unavailable},
		{500, "InternalServerError", provider.Unavailable},
	} {
		t.Run(tc.code, func(t *testing.T) {
			err := armError(op{what: "probing"}, e.w.arm.getJSON(t.Context(), armPath("probe", jsonInt(tc.status), tc.code), nil))
			if provider.CodeOf(err) != tc.want {
				t.Fatalf("%d %s: %v (code %v), want %v", tc.status, tc.code, err, provider.CodeOf(err), tc.want)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tc.status || re.ErrorCode != tc.code {
				t.Errorf("errors.As(*azcore.ResponseError) = %v, %+v; want status %d code %s", errors.As(err, &re), re, tc.status, tc.code)
			}
			if !strings.Contains(err.Error(), tc.code) || !strings.HasPrefix(err.Error(), "azure: probing") {
				t.Errorf("the message %q does not say what failed and ARM's code", err)
			}
			e.noToken(t, err)
			if strings.Contains(err.Error(), "echo") {
				t.Errorf("the message %q carries the response body", err)
			}
		})
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestARMTransportFailureIsUnavailable(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, nil)
	e.srv.Inject("GET jobs/{name}", 4, azuretest.Fault{Kind: azuretest.FaultDrop})
	err := armError(op{what: "reading job x"}, e.w.arm.getJSON(t.Context(), armPath("jobs", "x"), nil))
	if provider.CodeOf(err) != provider.Unavailable {
		t.Fatalf("%v, want Unavailable", err)
	}
	e.noToken(t, err)
}

func TestARMPagingFollowsNextLink(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{PageSize: 2}, nil)
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodGet, Pattern: "things"}, func(r *azuretest.Request) *azuretest.Response {
		return r.Server().Page(r, []any{"a", "b", "c", "d", "e"})
	})
	var got []string
	for v, err := range listOf[string](t.Context(), e.w.arm, "things") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("listed %v, want a b c d e", got)
	}
	pages := 0
	for _, r := range e.srv.Requests() {
		if r.Route == "GET things" {
			pages++
			if r.Query.Get("api-version") != DefaultAPIVersion {
				t.Errorf("page request without api-version %s: %v", DefaultAPIVersion, r.Query)
			}
		}
	}
	if pages != 3 {
		t.Errorf("%d page requests, want 3 (5 elements, 2 a page)", pages)
	}

	// Stopping the loop early fetches no further page.
	before := len(e.srv.Requests())
	for range listOf[string](t.Context(), e.w.arm, "things") {
		break
	}
	if n := len(e.srv.Requests()) - before; n != 1 {
		t.Errorf("breaking out after the first element made %d requests, want 1", n)
	}
}

func TestARMNextLinkToAnotherHostIsRefused(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, nil)
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodGet, Pattern: "things"}, func(r *azuretest.Request) *azuretest.Response {
		return azuretest.JSON(200, map[string]any{"value": []any{"a"}, "nextLink": "https://elsewhere.example.com/things?$skipToken=1"})
	})
	err := e.w.arm.list(t.Context(), "things", func(json.RawMessage) error { return nil })
	if provider.CodeOf(err) != provider.Internal || !strings.Contains(err.Error(), "elsewhere.example.com") {
		t.Fatalf("%v, want Internal naming the foreign host", err)
	}
}

func TestARMLongRunningOperation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		style    azuretest.LROStyle
		failCode string
		want     provider.Code
	}{
		{"Location", azuretest.StyleLocation, "", provider.OK},
		{"AsyncOperation", azuretest.StyleAsyncOperation, "", provider.OK},
		{"LocationFailed", azuretest.StyleLocation, "Conflict", provider.Conflict},
		{"AsyncOperationFailed", azuretest.StyleAsyncOperation, "QuotaExceeded", provider.ResourceExhausted},
		{"AsyncOperationCanceled", azuretest.StyleAsyncOperation, "Canceled", provider.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newARMEnv(t, azuretest.Options{OperationPolls: 3}, nil)
			finished := false
			e.srv.Handle(azuretest.RouteSpec{Method: http.MethodPost, Pattern: "things/{name}/act"}, func(r *azuretest.Request) *azuretest.Response {
				return r.Server().StartOperation(r, 0, nil, tc.style, func() (string, string) {
					finished = true
					return tc.failCode, "the operation failed"
				})
			})
			r, err := e.w.arm.postJSON(t.Context(), "things/x/act", nil, nil)
			if err != nil || r.status != http.StatusAccepted {
				t.Fatalf("POST: %v, %+v", err, r)
			}
			err = e.w.arm.wait(t.Context(), "acting on x", r)
			if provider.CodeOf(err) != tc.want {
				t.Fatalf("wait: %v (%v), want %v", err, provider.CodeOf(err), tc.want)
			}
			if !finished {
				t.Error("wait returned before the operation finished")
			}
			polls := 0
			for _, req := range e.srv.Requests() {
				if strings.Contains(req.Path, "mfeOperation") {
					polls++
					if tc.style == azuretest.StyleAsyncOperation && !strings.Contains(req.Path, "mfeOperationsStatus") {
						t.Errorf("polled %s, want the Azure-AsyncOperation URL", req.Path)
					}
				}
			}
			if polls != 3 {
				t.Errorf("%d polls, want 3", polls)
			}
			var oe *OperationError
			if tc.style == azuretest.StyleAsyncOperation && tc.failCode != "" && (!errors.As(err, &oe) || oe.Code != tc.failCode) {
				t.Errorf("errors.As(*OperationError) = %+v, want code %s", oe, tc.failCode)
			}
			e.noToken(t, err)
		})
	}
}

func TestARMWaitEndsWithContext(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{HoldOperations: true}, nil)
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodPost, Pattern: "things/{name}/act"}, func(r *azuretest.Request) *azuretest.Response {
		return r.Server().StartOperation(r, 0, nil, azuretest.StyleLocation, nil)
	})
	r, err := e.w.arm.postJSON(t.Context(), "things/x/act", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := e.w.arm.wait(ctx, "acting", r); provider.CodeOf(err) != provider.DeadlineExceeded {
		t.Fatalf("%v, want DeadlineExceeded", err)
	}
}

func TestARMThrottleHonoursRetryAfter(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, nil)
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodGet, Pattern: "things"}, func(r *azuretest.Request) *azuretest.Response {
		return r.Server().Page(r, []any{"a"})
	})
	e.srv.Inject("GET things", 1, azuretest.Fault{Kind: azuretest.FaultThrottle, RetryAfter: 2})
	start := time.Now()
	if err := e.w.arm.list(t.Context(), "things", func(json.RawMessage) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for _, r := range e.srv.Requests() {
		if r.Route == "GET things" {
			at = append(at, r.Time)
		}
	}
	if len(at) != 2 {
		t.Fatalf("%d requests, want the throttled one and its retry", len(at))
	}
	gap := at[1].Sub(at[0])
	t.Logf("Retry-After: 2 → retried after %v (call took %v)", gap, time.Since(start))
	if gap < 2*time.Second || gap > 4*time.Second {
		t.Errorf("the retry came %v after the 429 with Retry-After: 2, want 2 s (up to 4 s)", gap)
	}
}

func TestARMRetryAfterBounds(t *testing.T) {
	c := &armClient{pollEvery: 100 * time.Millisecond}
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 100 * time.Millisecond},
		{"0", 100 * time.Millisecond},
		{"2", 2 * time.Second},
		{"3600", MaxPollInterval},
		{"soon", 100 * time.Millisecond},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := c.retryAfter(h); got != tc.want {
			t.Errorf("Retry-After %q: pause %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestARMRequestsCarryTokenForARMAudience(t *testing.T) {
	// A credential that hands out key vault tokens is refused by ARM.
	e2 := newARMEnv(t, azuretest.Options{}, func(c *Config, srv *azuretest.Server) {
		c.Credential = &audienceCred{inner: srv.Credential(), scope: azuretest.VaultAudience + "/.default"}
	})
	err := armError(op{what: "reading job x"}, e2.w.arm.getJSON(t.Context(), armPath("jobs", "x"), nil))
	if provider.CodeOf(err) != provider.PermissionDenied {
		t.Fatalf("%v, want PermissionDenied for a token of another audience", err)
	}
}

// audienceCred asks for a fixed scope whatever it is asked for.
type audienceCred struct {
	inner *azuretest.Credential
	scope string
}

func (c *audienceCred) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return c.inner.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
}

func TestARMConfiguredAPIVersionIsSent(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, func(c *Config, _ *azuretest.Server) { c.APIVersion = "2024-10-01" })
	_, err := e.w.GetJob(t.Context(), "some-job")
	if provider.CodeOf(err) != provider.InvalidArgument || !strings.Contains(err.Error(), "InvalidApiVersionParameter") {
		t.Fatalf("%v, want the server's refusal of api-version 2024-10-01 as InvalidArgument", err)
	}
	if q := e.srv.Requests()[0].Query.Get("api-version"); q != "2024-10-01" {
		t.Errorf("api-version %q sent, want the configured 2024-10-01", q)
	}
}

func TestARMListThatLinksBackEnds(t *testing.T) {
	e := newARMEnv(t, azuretest.Options{}, nil)
	e.srv.Handle(azuretest.RouteSpec{Method: http.MethodGet, Pattern: "things"}, func(r *azuretest.Request) *azuretest.Response {
		return azuretest.JSON(200, map[string]any{"value": []any{"a"}, "nextLink": r.Server().URL + r.URL.EscapedPath() + "?api-version=" + DefaultAPIVersion})
	})
	n := 0
	err := e.w.arm.list(t.Context(), "things", func(json.RawMessage) error { n++; return nil })
	if provider.CodeOf(err) != provider.Internal || n > 3 {
		t.Fatalf("%v after %d elements, want Internal once the list links back to a page it read", err, n)
	}
}
