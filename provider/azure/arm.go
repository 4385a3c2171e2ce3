package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/tideline-ml/tideline/provider"
)

// Defaults of the Azure Machine Learning settings of Config.
const (
	DefaultARMEndpoint = "https://management.azure.com"
	DefaultAPIVersion  = "2025-12-01"
	// DefaultPollInterval is the pause between two polls of a long-running
	// operation whose answer carries no Retry-After, and the shortest pause
	// the driver takes whatever Retry-After says.
	DefaultPollInterval = 2 * time.Second
	// MaxPollInterval is the longest pause between two polls: a longer
	// Retry-After is cut to it, so that a cancellation is seen within a
	// minute of the service finishing it.
	MaxPollInterval = time.Minute

	// armAudience is Azure Resource Manager's token audience in the public
	// cloud; ClientOptions.Cloud overrides it for a sovereign cloud.
	armAudience = "https://management.azure.com"

	telemetryModule  = "tideline/provider/azure"
	telemetryVersion = "v0"

	// maxPages bounds a listing, so that a service that hands back its own
	// nextLink forever ends in an error instead of a loop.
	maxPages = 10000
)

// armClient calls Azure Resource Manager for the resources of one Azure
// Machine Learning workspace, through an azcore pipeline: a bearer token
// for the ARM audience on every try, the retry policy (429, 5xx and broken
// connections, waiting as Retry-After says), telemetry and logging from
// Config.ClientOptions. It is safe for concurrent use.
type armClient struct {
	pl runtime.Pipeline
	// endpoint is scheme://host of ARM, without a trailing slash.
	endpoint string
	host     string
	// workspace is the workspace's resource path:
	// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}.
	workspace  string
	apiVersion string
	pollEvery  time.Duration
}

// armSettings is what newARMClient needs, checked by the caller.
type armSettings struct {
	subscription, resourceGroup, workspace string
	endpoint, apiVersion                   string
	pollEvery                              time.Duration
	cred                                   azcore.TokenCredential
	opts                                   azcore.ClientOptions
}

func newARMClient(s armSettings) (*armClient, error) {
	u, err := url.Parse(s.endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, provider.Errorf(provider.InvalidArgument, "azure: Config.ARMEndpoint %q is not an https endpoint such as %s (no path, query or credentials)", redactURL(s.endpoint), DefaultARMEndpoint)
	}
	audience := armAudience
	if rm, ok := s.opts.Cloud.Services[cloud.ResourceManager]; ok && rm.Audience != "" {
		audience = rm.Audience
	}
	bearer := runtime.NewBearerTokenPolicy(s.cred, []string{strings.TrimRight(audience, "/") + "/.default"}, nil)
	pl := runtime.NewPipeline(telemetryModule, telemetryVersion, runtime.PipelineOptions{
		PerRetry: []policy.Policy{bearer},
		// api-version and $skipToken name no secret; logging them helps.
		AllowedQueryParameters: []string{"api-version", "$skipToken"},
	}, &s.opts)
	return &armClient{
		pl:       pl,
		endpoint: u.Scheme + "://" + u.Host,
		host:     u.Host,
		workspace: "/subscriptions/" + url.PathEscape(s.subscription) +
			"/resourceGroups/" + url.PathEscape(s.resourceGroup) +
			"/providers/Microsoft.MachineLearningServices/workspaces/" + url.PathEscape(s.workspace),
		apiVersion: s.apiVersion,
		pollEvery:  s.pollEvery,
	}, nil
}

// armResponse is a successful answer, its body read.
type armResponse struct {
	status int
	header http.Header
	body   []byte
}

// resolve turns ref into a request URL with the api-version. ref is one of:
//
//   - a path relative to the workspace ("jobs/x"), whose segments the
//     caller escaped (armPath does);
//   - an absolute path ("/subscriptions/...");
//   - a full URL, as a nextLink or a Location header carries it, which must
//     be on the configured ARM host: the bearer token goes nowhere else.
func (c *armClient) resolve(ref string) (string, error) {
	var u *url.URL
	var err error
	switch {
	case strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://"):
		u, err = url.Parse(ref)
		if err != nil {
			return "", provider.Errorf(provider.Internal, "azure: the service handed back a link that is not a URL")
		}
		if u.Scheme != "https" || u.Host != c.host {
			return "", provider.Errorf(provider.Internal, "azure: the service handed back a link to %s://%s, not to the configured endpoint %s; refusing to send the credential there", u.Scheme, u.Host, c.endpoint)
		}
	case strings.HasPrefix(ref, "/"):
		u, err = url.Parse(c.endpoint + ref)
	default:
		u, err = url.Parse(c.endpoint + c.workspace + "/" + ref)
	}
	if err != nil {
		return "", provider.Errorf(provider.Internal, "azure: building a request URL: %v", err)
	}
	q := u.Query()
	if q.Get("api-version") == "" {
		q.Set("api-version", c.apiVersion)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// armPath joins escaped path segments: armPath("jobs", name, "cancel").
func armPath(segments ...string) string {
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.Join(segments, "/")
}

// do sends one request through the pipeline. body, when not nil, is sent as
// JSON; header adds request headers. A 2xx answer is returned with its body
// read; anything else is an *azcore.ResponseError (whose ErrorCode azcore
// reads from ARM's {"error":{"code"}} body) for the caller to map with
// armError.
func (c *armClient) do(ctx context.Context, method, ref string, body any, header http.Header) (*armResponse, error) {
	u, err := c.resolve(ref)
	if err != nil {
		return nil, err
	}
	req, err := runtime.NewRequest(ctx, method, u)
	if err != nil {
		return nil, provider.Errorf(provider.Internal, "azure: building a request: %v", err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Raw().Header[k] = v
	}
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return nil, provider.Errorf(provider.Internal, "azure: encoding a request body: %v", err)
		}
	}
	resp, err := c.pl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, runtime.NewResponseError(resp)
	}
	b, err := runtime.Payload(resp)
	if err != nil {
		return nil, err
	}
	return &armResponse{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// decode unmarshals r's body into out; an empty body leaves out alone.
func (r *armResponse) decode(out any) error {
	if out == nil || len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		return provider.Errorf(provider.Internal, "azure: the service's answer (%d) is not the JSON expected: %v", r.status, err)
	}
	return nil
}

// getJSON GETs ref into out.
func (c *armClient) getJSON(ctx context.Context, ref string, out any) error {
	r, err := c.do(ctx, http.MethodGet, ref, nil, nil)
	if err != nil {
		return err
	}
	return r.decode(out)
}

// putJSON PUTs in to ref and decodes the answer into out (when not nil).
// It returns the answer, whose status and headers tell whether the PUT is
// a long-running operation to follow with wait.
func (c *armClient) putJSON(ctx context.Context, ref string, in, out any, header http.Header) (*armResponse, error) {
	r, err := c.do(ctx, http.MethodPut, ref, in, header)
	if err != nil {
		return nil, err
	}
	return r, r.decode(out)
}

// postJSON POSTs in (nil for no body) to ref; see putJSON.
func (c *armClient) postJSON(ctx context.Context, ref string, in, out any) (*armResponse, error) {
	r, err := c.do(ctx, http.MethodPost, ref, in, nil)
	if err != nil {
		return nil, err
	}
	return r, r.decode(out)
}

// deleteRef DELETEs ref and returns the answer, to follow with wait.
func (c *armClient) deleteRef(ctx context.Context, ref string) (*armResponse, error) {
	return c.do(ctx, http.MethodDelete, ref, nil, nil)
}

// armPage is one page of an ARM list.
type armPage struct {
	Value    []json.RawMessage `json:"value"`
	NextLink string            `json:"nextLink"`
}

// list GETs ref and every page its nextLink chain leads to, calling each
// for every element in order. It stops at the first error, from the
// service or from each.
func (c *armClient) list(ctx context.Context, ref string, each func(json.RawMessage) error) error {
	seen := map[string]bool{}
	for n := 0; ref != ""; n++ {
		if n >= maxPages || seen[ref] {
			return provider.Errorf(provider.Internal, "azure: the service's list does not end (page %d links back to an earlier page or the list exceeds %d pages)", n+1, maxPages)
		}
		seen[ref] = true
		var page armPage
		if err := c.getJSON(ctx, ref, &page); err != nil {
			return err
		}
		for _, v := range page.Value {
			if err := each(v); err != nil {
				return err
			}
		}
		ref = page.NextLink
	}
	return nil
}

// listOf iterates over the elements of an ARM list, decoded as T, following
// nextLink pages as the loop asks for them. A failure is yielded once, with
// a zero T, and ends the iteration.
func listOf[T any](ctx context.Context, c *armClient, ref string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		stop := errors.New("stop")
		err := c.list(ctx, ref, func(raw json.RawMessage) error {
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return provider.Errorf(provider.Internal, "azure: a listed element is not the JSON expected: %v", err)
			}
			if !yield(v, nil) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			var zero T
			yield(zero, err)
		}
	}
}

// armErrorBody is ARM's error answer and an operation's failure.
type armErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e armErrorBody) String() string {
	if e.Code == "" {
		return "no error code"
	}
	return e.Code
}

// fmtDuration renders a pause for a message.
func fmtDuration(d time.Duration) string { return fmt.Sprint(d.Round(time.Millisecond)) }
