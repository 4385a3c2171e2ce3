package azuretest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Audiences the server's routes expect tokens for.
const (
	ARMAudience   = "https://management.azure.com"
	VaultAudience = "https://vault.azure.net"
)

// The workspace a Server answers for when Options leave it empty: the
// values of Microsoft's examples.
const (
	DefaultSubscriptionID = "00000000-1111-2222-3333-444444444444"
	DefaultResourceGroup  = "test-rg"
	DefaultWorkspace      = "my-aml-workspace"
	DefaultLocation       = "westeurope"
	DefaultStorageAccount = "devstoreaccount1"
)

// TokenVerifier decides whether a bearer token may call a route whose
// audience is audience. The error's text becomes the 401 answer's message,
// so it must not hold the token.
type TokenVerifier interface {
	VerifyToken(token, audience string) error
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// SubscriptionID, ResourceGroup and Workspace name the one workspace
	// the server answers for; empty means the Default* constants. A
	// request for another workspace gets 404 WorkspaceNotFound (or
	// ResourceGroupNotFound, SubscriptionNotFound).
	SubscriptionID, ResourceGroup, Workspace string
	// Location is the workspace's region; empty means DefaultLocation.
	Location string
	// StorageAccount names the workspace's storage account, which the
	// server also answers for (in the same resource group); empty means
	// DefaultStorageAccount. StorageLocation is its region; empty means
	// Location.
	StorageAccount, StorageLocation string

	// Verifier checks every request's bearer token; nil means the
	// server's own Credential.
	Verifier TokenVerifier

	// PageSize is the number of elements in one page of a list; zero
	// means 10.
	PageSize int

	// RetryAfter is the Retry-After, in whole seconds, that the server
	// puts on long-running operations' answers; zero sends
	// "Retry-After: 0".
	RetryAfter int
	// OperationPolls is how many polls a long-running operation answers
	// "in progress" before it finishes by itself; zero means 1. With
	// HoldOperations the operations finish only when
	// Server.FinishOperations is called.
	OperationPolls int
	HoldOperations bool

	// APIVersion is the api-version the server speaks on Resource
	// Manager's routes; empty means "2025-12-01", the examples' version.
	// A request with another gets 400 InvalidApiVersionParameter.
	APIVersion string

	// Lenient turns off the check of request bodies against Microsoft's
	// examples. Checked requests that differ get 400
	// ExampleMismatch and are listed by Server.Violations.
	Lenient bool
}

// Server is the contract server: Azure Resource Manager's REST surface for
// one Azure Machine Learning workspace, and a key vault's secrets, over
// TLS. Create it with NewServer and Close it when done. Its methods are
// safe for concurrent use.
type Server struct {
	// URL is the server's base URL, https://127.0.0.1:<port>: the
	// ARMEndpoint and the key vault's URL of a provider under test.
	URL string

	ts       *httptest.Server
	cred     *Credential
	verifier TokenVerifier
	opts     Options
	examples *exampleSet
	routes   []*route

	mu         sync.Mutex
	faults     map[string][]Fault // by route key
	lroStyle   map[string]LROStyle
	ops        map[string]*operation
	opOrder    []string
	resources  map[string]*collection
	ext        map[string]any
	requests   []RequestRecord
	violations []string
	seq        int64
}

// routeSets are the route registrations NewServer calls, one per area.
// An area adds its routes with one line here and its handlers in files of
// its own.
var routeSets = []func(*Server){
	(*Server).operationRoutes,
	(*Server).workspaceRoutes,
	(*Server).storageAccountRoutes,
	(*Server).jobRoutes,
	(*Server).vaultRoutes,
	(*Server).registryRoutes,
	(*Server).servingRoutes,
}

// NewServer starts a contract server. Close it when done.
func NewServer(opts Options) *Server {
	opts.SubscriptionID = cmpOr(opts.SubscriptionID, DefaultSubscriptionID)
	opts.ResourceGroup = cmpOr(opts.ResourceGroup, DefaultResourceGroup)
	opts.Workspace = cmpOr(opts.Workspace, DefaultWorkspace)
	opts.Location = cmpOr(opts.Location, DefaultLocation)
	opts.StorageAccount = cmpOr(opts.StorageAccount, DefaultStorageAccount)
	opts.StorageLocation = cmpOr(opts.StorageLocation, opts.Location)
	opts.PageSize = cmpOr(opts.PageSize, 10)
	opts.OperationPolls = cmpOr(opts.OperationPolls, 1)
	opts.APIVersion = cmpOr(opts.APIVersion, "2025-12-01")
	s := &Server{
		cred:      NewCredential(),
		opts:      opts,
		examples:  loadExamples(),
		faults:    map[string][]Fault{},
		lroStyle:  map[string]LROStyle{},
		ops:       map[string]*operation{},
		resources: map[string]*collection{},
		ext:       map[string]any{},
	}
	s.verifier = opts.Verifier
	if s.verifier == nil {
		s.verifier = s.cred
	}
	for _, register := range routeSets {
		register(s)
	}
	s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// Client returns an HTTP client that trusts the server's certificate. It
// is a policy.Transporter, for azcore.ClientOptions.Transport.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// ClientOptions returns azcore client options for the server: its
// transport, and retries that wait at most a second between tries (the
// server's faults ask for Retry-After seconds, which the retry policy
// honours up to MaxRetryDelay).
func (s *Server) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: s.Client(),
		Retry:     policy.RetryOptions{MaxRetries: 3, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 5 * time.Second},
	}
}

// Credential returns the fake credential whose tokens the default verifier
// accepts.
func (s *Server) Credential() *Credential { return s.cred }

// Options returns the options the server runs with, defaults applied.
func (s *Server) Options() Options { return s.opts }

// WorkspacePath is the workspace's resource path,
// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}.
func (s *Server) WorkspacePath() string {
	return "/subscriptions/" + s.opts.SubscriptionID + "/resourceGroups/" + s.opts.ResourceGroup +
		"/providers/Microsoft.MachineLearningServices/workspaces/" + s.opts.Workspace
}

// RequestRecord is one request the server received, without its
// Authorization header.
type RequestRecord struct {
	Time   time.Time
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Route is the matched route's key ("PUT jobs/{name}"), empty when
	// none matched.
	Route string
	// Status is the answer's status; 0 when the connection was closed
	// instead.
	Status int
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Violations returns the differences from Microsoft's examples found in
// request bodies so far, one line each.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// route is one registered operation.
type route struct {
	key      string // method + " " + pattern
	method   string
	pattern  string
	segs     []string
	absolute bool // pattern is from the host's root, not the workspace's
	audience string
	// apiVersion is the route's api-version; empty means the server's.
	apiVersion string
	// example is the fixture under the examples folder whose request body
	// checks the request's and whose answers model the handler's; empty
	// for routes Microsoft's examples do not cover.
	example string
	handle  func(r *Request) *Response
}

// RouteSpec describes a route to register with Server.Handle.
type RouteSpec struct {
	// Method and Pattern select the requests. Pattern is relative to the
	// workspace's resource path ("jobs/{name}"), or from the host's root
	// when it starts with "/" ("/secrets/{name}"); {x} matches one path
	// segment, which Request.Vars["x"] holds.
	Method, Pattern string
	// Audience is the token audience the route requires; empty means
	// ARMAudience.
	Audience string
	// APIVersion is the api-version the route speaks when it is not the
	// server's (Options.APIVersion): another resource provider's, such as
	// Microsoft.Storage's.
	APIVersion string
	// Example names a file under the examples folder
	// ("jobs/CommandJob/createOrUpdate.json") whose request body the
	// request's must match; empty skips the check.
	Example string
}

// Handle registers a route. Areas call it from their registration
// function in routeSets; tests may call it before the first request to
// add a route of their own. It panics on a malformed spec or an unknown
// example, which are programming errors.
func (s *Server) Handle(spec RouteSpec, h func(r *Request) *Response) {
	p := spec.Pattern
	abs := strings.HasPrefix(p, "/")
	rt := &route{
		key: spec.Method + " " + p, method: spec.Method, pattern: p, absolute: abs, apiVersion: spec.APIVersion,
		segs: strings.Split(strings.Trim(p, "/"), "/"), audience: cmpOr(spec.Audience, ARMAudience),
		example: spec.Example, handle: h,
	}
	if spec.Example != "" && s.examples.get(spec.Example) == nil {
		panic("azuretest: no example " + spec.Example)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.routes {
		if o.key == rt.key {
			panic("azuretest: route " + rt.key + " registered twice")
		}
	}
	s.routes = append(s.routes, rt)
}

// Request is a matched request, its body read.
type Request struct {
	*http.Request
	// Vars holds the pattern's {x} segments, unescaped.
	Vars map[string]string
	// Body is the request body; JSON is it parsed, nil when empty.
	Body []byte
	JSON map[string]any
	// Route is the route's key.
	Route  string
	server *Server
}

// Server returns the server that received the request.
func (r *Request) Server() *Server { return r.server }

// Response is a handler's answer. Body, when not nil, is written as JSON.
type Response struct {
	Status int
	Header http.Header
	Body   any
}

// JSON returns a response with a JSON body.
func JSON(status int, body any) *Response { return &Response{Status: status, Body: body} }

// Error returns ARM's error answer {"error":{"code","message"}}.
func Error(status int, code, message string) *Response {
	return &Response{Status: status, Body: map[string]any{"error": map[string]any{"code": code, "message": message}}}
}

// NotFound is the answer for a missing resource.
func NotFound(what string) *Response {
	return Error(http.StatusNotFound, "ResourceNotFound", what+" was not found")
}

// serve is the server's handler: it records the request, checks the
// token, matches a route, applies a fault or checks the body against the
// example, runs the handler and writes its answer.
func (s *Server) serve(w http.ResponseWriter, hr *http.Request) {
	body, _ := io.ReadAll(hr.Body)
	rec := RequestRecord{Time: time.Now(), Method: hr.Method, Path: hr.URL.Path, Query: hr.URL.Query(), Header: hr.Header.Clone(), Body: body}
	rec.Header.Del("Authorization")
	idx := s.record(rec)
	status := s.serveMatched(w, hr, body, idx)
	s.mu.Lock()
	s.requests[idx].Status = status
	s.mu.Unlock()
}

func (s *Server) record(rec RequestRecord) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	return len(s.requests) - 1
}

func (s *Server) serveMatched(w http.ResponseWriter, hr *http.Request, body []byte, idx int) int {
	rt, vars, miss := s.match(hr)
	if rt == nil {
		return s.write(w, miss)
	}
	s.mu.Lock()
	s.requests[idx].Route = rt.key
	s.mu.Unlock()

	if resp := s.authorize(hr, rt); resp != nil {
		return s.write(w, resp)
	}
	if rt.audience == ARMAudience {
		want := cmpOr(rt.apiVersion, s.opts.APIVersion)
		switch v := hr.URL.Query().Get("api-version"); v {
		case want:
		case "":
			return s.write(w, Error(http.StatusBadRequest, "MissingApiVersionParameter", "the api-version query parameter is required"))
		default:
			return s.write(w, Error(http.StatusBadRequest, "InvalidApiVersionParameter", "the api-version "+v+" is not supported; the route speaks "+want))
		}
	}
	req := &Request{Request: hr, Vars: vars, Body: body, Route: rt.key, server: s}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req.JSON); err != nil {
			return s.write(w, Error(http.StatusBadRequest, "InvalidRequestContent", "the request body is not a JSON object: "+err.Error()))
		}
	}
	if f, ok := s.takeFault(rt.key); ok {
		switch f.Kind {
		case FaultThrottle:
			r := Error(http.StatusTooManyRequests, "TooManyRequests", "the request was throttled")
			r.Header = http.Header{"Retry-After": {strconv.Itoa(f.RetryAfter)}}
			return s.write(w, r)
		case FaultUnavailable:
			r := Error(http.StatusServiceUnavailable, "ServiceUnavailable", "the service is unavailable")
			if f.RetryAfter > 0 {
				r.Header = http.Header{"Retry-After": {strconv.Itoa(f.RetryAfter)}}
			}
			return s.write(w, r)
		case FaultDrop:
			s.hangUp(w)
			return 0
		case FaultLoseResponse:
			if resp := s.checkExample(rt, req); resp == nil {
				rt.handle(req)
			}
			s.hangUp(w)
			return 0
		}
	}
	if resp := s.checkExample(rt, req); resp != nil {
		return s.write(w, resp)
	}
	return s.write(w, rt.handle(req))
}

// match finds the route for hr; without one it returns the 404 to send.
func (s *Server) match(hr *http.Request) (*route, map[string]string, *Response) {
	path := hr.URL.EscapedPath()
	ws := s.WorkspacePath()
	inWorkspace := strings.HasPrefix(path, ws+"/")
	var rel []string
	if inWorkspace {
		rel = strings.Split(strings.TrimPrefix(path, ws+"/"), "/")
	}
	abs := strings.Split(strings.Trim(path, "/"), "/")
	s.mu.Lock()
	routes := slices.Clone(s.routes)
	s.mu.Unlock()
	pathMatched := false
	for _, rt := range routes {
		segs := abs
		if !rt.absolute {
			if !inWorkspace {
				continue
			}
			segs = rel
		}
		vars, ok := matchSegs(rt.segs, segs)
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method == hr.Method {
			return rt, vars, nil
		}
	}
	if pathMatched {
		return nil, nil, Error(http.StatusMethodNotAllowed, "MethodNotAllowed", "the method is not allowed on this resource")
	}
	// Say which part of the workspace path is wrong, as ARM would.
	p := strings.Split(strings.Trim(path, "/"), "/")
	if len(p) >= 2 && strings.EqualFold(p[0], "subscriptions") && p[1] != s.opts.SubscriptionID {
		return nil, nil, Error(http.StatusNotFound, "SubscriptionNotFound", "the subscription was not found")
	}
	if len(p) >= 4 && strings.EqualFold(p[2], "resourceGroups") && p[3] != s.opts.ResourceGroup {
		return nil, nil, Error(http.StatusNotFound, "ResourceGroupNotFound", "the resource group was not found")
	}
	if len(p) >= 8 && strings.EqualFold(p[6], "workspaces") && p[7] != s.opts.Workspace {
		return nil, nil, Error(http.StatusNotFound, "WorkspaceNotFound", "the workspace was not found")
	}
	return nil, nil, Error(http.StatusNotFound, "NoRegisteredProviderFound", "no route for "+hr.Method+" "+path)
}

func matchSegs(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			v, err := url.PathUnescape(segs[i])
			if err != nil || v == "" {
				return nil, false
			}
			vars[p[1:len(p)-1]] = v
			continue
		}
		if !strings.EqualFold(p, segs[i]) {
			return nil, false
		}
	}
	return vars, true
}

// authorize checks the bearer token; a refusal is 401 without the token.
func (s *Server) authorize(hr *http.Request, rt *route) *Response {
	h := hr.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		r := Error(http.StatusUnauthorized, "AuthenticationFailed", "the request has no bearer token")
		r.Header = http.Header{"WWW-Authenticate": {`Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"`}}
		return r
	}
	if err := s.verifier.VerifyToken(tok, rt.audience); err != nil {
		return Error(http.StatusUnauthorized, "InvalidAuthenticationToken", "the bearer token was refused: "+err.Error())
	}
	return nil
}

func (s *Server) write(w http.ResponseWriter, r *Response) int {
	if r == nil {
		r = Error(http.StatusInternalServerError, "InternalServerError", "the handler gave no answer")
	}
	for k, v := range r.Header {
		w.Header()[k] = v
	}
	w.Header().Set("x-ms-request-id", s.newID())
	if r.Body == nil {
		w.WriteHeader(r.Status)
		return r.Status
	}
	b, err := json.Marshal(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if e, ok := r.Body.(map[string]any)["error"].(map[string]any); ok {
		if c, ok := e["code"].(string); ok {
			w.Header().Set("x-ms-error-code", c)
		}
	}
	w.WriteHeader(r.Status)
	w.Write(b)
	return r.Status
}

// hangUp closes the connection without an answer.
func (s *Server) hangUp(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("azuretest: the connection cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if buf != nil {
		buf.Writer = bufio.NewWriter(io.Discard)
	}
	conn.Close()
}

// newID returns a fresh identifier for operations and request ids.
func (s *Server) newID() string {
	var b [8]byte
	rand.Read(b[:])
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("%08x-%s", n, hex.EncodeToString(b[:]))
}

// State returns the value an area keeps under key, making it with mk the
// first time. Areas hang their own state here (a registry's versions, an
// endpoint's traffic) rather than in Server's fields; the value guards
// itself or is used under Lock.
func (s *Server) State(key string, mk func() any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.ext[key]
	if !ok {
		v = mk()
		s.ext[key] = v
	}
	return v
}

// Lock and Unlock guard every resource collection and the operations;
// handlers that read and then write a collection hold them across both.
func (s *Server) Lock()   { s.mu.Lock() }
func (s *Server) Unlock() { s.mu.Unlock() }

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
