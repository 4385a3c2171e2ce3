package azuretest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// The collections managed online endpoints and their deployments are
// stored in; a deployment's key is "endpoint/deployment".
const (
	EndpointKind   = "onlineEndpoints"
	DeploymentKind = "onlineDeployments"
)

// Limits of Azure Machine Learning and Azure Resource Manager that the
// server enforces the way the service does.
const (
	// MaxDeploymentsPerEndpoint is the documented default limit of
	// deployments on one managed online endpoint.
	MaxDeploymentsPerEndpoint = 20
	// MaxMirrorTraffic is the largest share of an endpoint's traffic that
	// may be mirrored, all mirrors together.
	MaxMirrorTraffic = 50
	// MaxTags, MaxTagNameLen and MaxTagValueLen are Resource Manager's
	// limits on a resource's tags (lengths in UTF-16 code units).
	MaxTags        = 50
	MaxTagNameLen  = 512
	MaxTagValueLen = 256
)

// Provisioning states of online endpoints and deployments.
const (
	StateCreating  = "Creating"
	StateUpdating  = "Updating"
	StateDeleting  = "Deleting"
	StateSucceeded = "Succeeded"
	StateFailed    = "Failed"
)

// servingRoutes serves managed online endpoints and their managed online
// deployments: PUT (create or replace, a long-running operation followed
// by Azure-AsyncOperation), GET, list with nextLink and DELETE (a
// long-running operation followed by Location). Requests are checked
// against Microsoft's examples, and traffic, mirror traffic, tags and the
// deployment limit as the service checks them. There is no ETag and no
// conditional request on these resources, as in the service: a PUT
// replaces whatever is there.
//
// A PUT that creates answers 201 with the resource Creating; one that
// replaces answers 200 with the stored resource Updating, and the new
// definition takes effect when the operation ends. A deployment's
// operation ends when the controller (SetDeploymentReady,
// SetDeploymentFailed) or FinishOperations says so, or after
// Options.OperationPolls polls of its status.
func (s *Server) servingRoutes() {
	const ep = "onlineEndpoints/"
	const dep = "onlineDeployments/ManagedOnlineDeployment/"
	// Fields of the 2025-12-01 API that the endpoint example leaves out.
	s.Supplement(ep+"createOrUpdate.json", "properties", map[string]any{
		"mirrorTraffic": map[string]any{"string": float64(1)}, "publicNetworkAccess": "string",
	})
	// The examples show tags as an empty object; tags map names to strings.
	s.Supplement(ep+"createOrUpdate.json", "tags", map[string]any{"string": "string"})
	s.Supplement(dep+"createOrUpdate.json", "tags", map[string]any{"string": "string"})
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "onlineEndpoints/{name}", Example: ep + "createOrUpdate.json"}, s.putEndpoint)
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "onlineEndpoints/{name}", Example: ep + "get.json"}, func(r *Request) *Response {
		res, ok := s.Get(EndpointKind, r.Vars["name"])
		if !ok {
			return NotFound("online endpoint " + r.Vars["name"])
		}
		return JSON(http.StatusOK, res.Body)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "onlineEndpoints", Example: ep + "list.json"}, func(r *Request) *Response {
		var values []any
		for _, res := range s.List(EndpointKind, "") {
			values = append(values, res.Body)
		}
		return s.Page(r, values)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "onlineEndpoints/{name}", Example: ep + "delete.json"}, s.deleteEndpoint)

	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "onlineEndpoints/{endpoint}/deployments/{name}", Example: dep + "createOrUpdate.json"}, s.putDeployment)
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "onlineEndpoints/{endpoint}/deployments/{name}", Example: dep + "get.json"}, func(r *Request) *Response {
		res, ok := s.Get(DeploymentKind, r.Vars["endpoint"]+"/"+r.Vars["name"])
		if !ok {
			return NotFound("online deployment " + r.Vars["endpoint"] + "/" + r.Vars["name"])
		}
		return JSON(http.StatusOK, res.Body)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "onlineEndpoints/{endpoint}/deployments", Example: "onlineDeployments/list.json"}, func(r *Request) *Response {
		if _, ok := s.Get(EndpointKind, r.Vars["endpoint"]); !ok {
			return NotFound("online endpoint " + r.Vars["endpoint"])
		}
		var values []any
		for _, res := range s.List(DeploymentKind, r.Vars["endpoint"]+"/") {
			values = append(values, res.Body)
		}
		return s.Page(r, values)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "onlineEndpoints/{endpoint}/deployments/{name}", Example: "onlineDeployments/delete.json"}, s.deleteDeployment)
}

// validResourceName is the rule of endpoint and deployment names: 3 to 32
// letters, digits and single hyphens, starting with a letter and not
// ending with a hyphen.
func validResourceName(n string) bool {
	if len(n) < 3 || len(n) > 32 || n[len(n)-1] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		case c == '-' && i > 0 && n[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

func userError(format string, args ...any) *Response {
	return Error(http.StatusBadRequest, "UserError", fmt.Sprintf(format, args...))
}

// checkTags checks a body's tags against Resource Manager's limits.
func checkTags(body map[string]any) *Response {
	raw, ok := body["tags"]
	if !ok || raw == nil {
		return nil
	}
	tags, ok := raw.(map[string]any)
	if !ok {
		return Error(http.StatusBadRequest, "InvalidTag", "tags must be an object of strings")
	}
	if len(tags) > MaxTags {
		return Error(http.StatusBadRequest, "InvalidTag", fmt.Sprintf("a resource holds at most %d tags; the request has %d", MaxTags, len(tags)))
	}
	for k, v := range tags {
		sv, ok := v.(string)
		switch {
		case !ok:
			return Error(http.StatusBadRequest, "InvalidTag", "the value of tag "+k+" is not a string")
		case k == "" || utf16Len(k) > MaxTagNameLen || strings.ContainsAny(k, `<>%&\?/`):
			return Error(http.StatusBadRequest, "InvalidTagName", "the tag name "+k+" is empty, too long or holds a character tag names may not hold")
		case utf16Len(sv) > MaxTagValueLen:
			return Error(http.StatusBadRequest, "InvalidTagValueLength", fmt.Sprintf("the value of tag %s has %d characters; the limit is %d", k, utf16Len(sv), MaxTagValueLen))
		}
	}
	return nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// shares reads a traffic map: deployment name to a whole percentage.
func shares(v any, field string) (map[string]int, *Response) {
	out := map[string]int{}
	if v == nil {
		return out, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, userError("%s must be an object of whole percentages", field)
	}
	for k, raw := range m {
		f, ok := raw.(float64)
		if !ok || f != math.Trunc(f) || f < 0 || f > 100 {
			return nil, userError("%s of %s must be a whole percentage from 0 to 100", field, k)
		}
		out[k] = int(f)
	}
	return out, nil
}

// checkTraffic checks an endpoint's traffic and mirror traffic against its
// deployments, as the service does: every name is a deployment of the
// endpoint, the live shares sum to 100 (or to 0), the mirror shares sum to
// at most 50 and go to one deployment alone, and no deployment takes both
// live and mirrored traffic. The caller holds the lock.
func (s *Server) checkTraffic(endpoint string, props map[string]any) *Response {
	traffic, resp := shares(props["traffic"], "traffic")
	if resp != nil {
		return resp
	}
	mirror, resp := shares(props["mirrorTraffic"], "mirrorTraffic")
	if resp != nil {
		return resp
	}
	have := map[string]bool{}
	for _, d := range s.listLocked(DeploymentKind, endpoint+"/") {
		have[d.Body["name"].(string)] = true
	}
	sum, msum, mirrors := 0, 0, 0
	for _, k := range slices.Sorted(mapsKeys(traffic)) {
		if !have[k] {
			return userError("traffic names deployment %s, which endpoint %s does not have", k, endpoint)
		}
		sum += traffic[k]
	}
	for _, k := range slices.Sorted(mapsKeys(mirror)) {
		if !have[k] {
			return userError("mirrorTraffic names deployment %s, which endpoint %s does not have", k, endpoint)
		}
		if mirror[k] > 0 {
			mirrors++
			if traffic[k] > 0 {
				return userError("deployment %s cannot take live and mirrored traffic at once", k)
			}
		}
		msum += mirror[k]
	}
	switch {
	case sum != 100 && sum != 0:
		return userError("traffic values sum to %d; they must sum to 100", sum)
	case msum > MaxMirrorTraffic:
		return userError("mirrorTraffic values sum to %d; at most %d%% of the traffic may be mirrored", msum, MaxMirrorTraffic)
	case mirrors > 1:
		return userError("traffic can be mirrored to one deployment alone; the request mirrors to %d", mirrors)
	}
	return nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// listLocked is List for a caller that holds the lock.
func (s *Server) listLocked(kind, prefix string) []*Resource {
	c := s.coll(kind)
	var out []*Resource
	for _, k := range c.order {
		if strings.HasPrefix(k, prefix) {
			out = append(out, c.items[k])
		}
	}
	return out
}

func sameLocation(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	return norm(a) == norm(b)
}

func provisioningState(body map[string]any) string {
	st, _ := body["properties"].(map[string]any)["provisioningState"].(string)
	return st
}

func setProvisioningState(body map[string]any, st string) {
	if props, ok := body["properties"].(map[string]any); ok {
		props["provisioningState"] = st
	}
}

// randomGUID returns a random GUID; it takes no lock, so handlers may call
// it while they hold the server's.
func randomGUID() string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// putEndpoint creates or replaces a managed online endpoint.
func (s *Server) putEndpoint(r *Request) *Response {
	name := r.Vars["name"]
	if !validResourceName(name) {
		return userError("endpoint name %s is not valid: 3 to 32 letters, digits and hyphens, starting with a letter", name)
	}
	props, _ := r.JSON["properties"].(map[string]any)
	if props == nil {
		return userError("the body has no properties")
	}
	if loc, _ := r.JSON["location"].(string); !sameLocation(loc, s.opts.Location) {
		return userError("location %q is not the workspace's location %s", loc, s.opts.Location)
	}
	switch props["authMode"] {
	case "AMLToken", "Key", "AADToken":
	default:
		return userError("properties.authMode must be AMLToken, Key or AADToken")
	}
	if resp := checkTags(r.JSON); resp != nil {
		return resp
	}
	now := time.Now()
	s.Lock()
	old, exists := s.GetLocked(EndpointKind, name)
	if exists && provisioningState(old.Body) == StateDeleting {
		s.Unlock()
		return Error(http.StatusConflict, "Conflict", "endpoint "+name+" is being deleted")
	}
	if resp := s.checkTraffic(name, props); resp != nil {
		s.Unlock()
		return resp
	}
	created := now
	if exists {
		created = old.Created
	}
	body := s.endpointBody(name, r.JSON, created, now)
	if !exists {
		setProvisioningState(body, StateCreating)
		s.PutLocked(&Resource{Kind: EndpointKind, Key: name, Body: body, Request: r.JSON, Created: now})
		s.Unlock()
		return s.StartOperation(r, http.StatusCreated, body, StyleAsyncOperation, func() (string, string) {
			s.Update(EndpointKind, name, func(res *Resource) {
				if provisioningState(res.Body) == StateCreating {
					setProvisioningState(res.Body, StateSucceeded)
				}
			})
			return "", ""
		})
	}
	// The new definition takes effect when the operation ends; until then
	// the endpoint reads as it was, Updating.
	setProvisioningState(old.Body, StateUpdating)
	s.PutLocked(old)
	s.Unlock()
	answer := deepCopy(body)
	setProvisioningState(answer, StateUpdating)
	req := deepCopy(r.JSON)
	return s.StartOperation(r, http.StatusOK, answer, StyleAsyncOperation, func() (string, string) {
		applied := false
		s.Update(EndpointKind, name, func(res *Resource) {
			if provisioningState(res.Body) == StateDeleting {
				return
			}
			setProvisioningState(body, StateSucceeded)
			res.Body, res.Request = body, req
			applied = true
		})
		if !applied {
			return "Conflict", "the endpoint was deleted before the update finished"
		}
		return "", ""
	})
}

// endpointBody is the stored answer for an endpoint defined by def,
// modelled on the example's answer.
func (s *Server) endpointBody(name string, def map[string]any, created, modified time.Time) map[string]any {
	d := deepCopy(def)
	props, _ := d["properties"].(map[string]any)
	if props["traffic"] == nil {
		props["traffic"] = map[string]any{}
	}
	if props["mirrorTraffic"] == nil {
		props["mirrorTraffic"] = map[string]any{}
	}
	host := url.PathEscape(name) + "." + strings.ToLower(s.opts.Location) + ".inference.ml.azure.com"
	props["scoringUri"] = "https://" + host + "/score"
	props["swaggerUri"] = "https://" + host + "/swagger.json"
	body := map[string]any{
		"id": s.armID("onlineEndpoints", name), "name": name, "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
		"location": s.opts.Location, "properties": props, "systemData": systemData(created, modified),
	}
	if tags, ok := d["tags"].(map[string]any); ok {
		body["tags"] = tags
	} else {
		body["tags"] = map[string]any{}
	}
	for _, k := range []string{"kind", "sku"} {
		if v, ok := d[k]; ok {
			body[k] = v
		}
	}
	// The service gives an endpoint a system-assigned identity unless the
	// request names another, and answers with its principal.
	id, _ := d["identity"].(map[string]any)
	if id == nil {
		id = map[string]any{"type": "SystemAssigned"}
	}
	id["principalId"] = randomGUID()
	id["tenantId"] = randomGUID()
	body["identity"] = id
	return body
}

// deleteEndpoint deletes an endpoint and its deployments when its
// operation ends; a missing endpoint is 204.
func (s *Server) deleteEndpoint(r *Request) *Response {
	name := r.Vars["name"]
	found := s.Update(EndpointKind, name, func(res *Resource) { setProvisioningState(res.Body, StateDeleting) })
	if !found {
		return &Response{Status: http.StatusNoContent}
	}
	return s.StartOperation(r, http.StatusAccepted, nil, StyleLocation, func() (string, string) {
		s.Lock()
		defer s.Unlock()
		s.DeleteLocked(EndpointKind, name)
		for _, d := range s.listLocked(DeploymentKind, name+"/") {
			s.DeleteLocked(DeploymentKind, d.Key)
		}
		return "", ""
	})
}

// putDeployment creates or replaces a managed online deployment.
func (s *Server) putDeployment(r *Request) *Response {
	ep, name := r.Vars["endpoint"], r.Vars["name"]
	if !validResourceName(name) {
		return userError("deployment name %s is not valid: 3 to 32 letters, digits and hyphens, starting with a letter", name)
	}
	props, _ := r.JSON["properties"].(map[string]any)
	if props == nil {
		return userError("the body has no properties")
	}
	if props["endpointComputeType"] != "Managed" {
		return userError("properties.endpointComputeType must be Managed for a managed online deployment")
	}
	for _, f := range []string{"model", "instanceType"} {
		if v, _ := props[f].(string); v == "" {
			return userError("properties.%s is required", f)
		}
	}
	if loc, _ := r.JSON["location"].(string); !sameLocation(loc, s.opts.Location) {
		return userError("location %q is not the workspace's location %s", loc, s.opts.Location)
	}
	sku, _ := r.JSON["sku"].(map[string]any)
	if c, ok := sku["capacity"].(float64); !ok || c < 1 || c != math.Trunc(c) {
		return userError("sku.capacity must be a whole number of instances, at least 1")
	}
	if resp := checkTags(r.JSON); resp != nil {
		return resp
	}
	key := ep + "/" + name
	now := time.Now()
	s.Lock()
	epRes, ok := s.GetLocked(EndpointKind, ep)
	if !ok {
		s.Unlock()
		return NotFound("online endpoint " + ep)
	}
	if provisioningState(epRes.Body) == StateDeleting {
		s.Unlock()
		return Error(http.StatusConflict, "Conflict", "endpoint "+ep+" is being deleted")
	}
	old, exists := s.GetLocked(DeploymentKind, key)
	if !exists && len(s.listLocked(DeploymentKind, ep+"/")) >= MaxDeploymentsPerEndpoint {
		s.Unlock()
		return userError("endpoint %s already holds %d deployments, the most an endpoint may hold", ep, MaxDeploymentsPerEndpoint)
	}
	created := now
	if exists {
		created = old.Created
	}
	body := s.deploymentBody(ep, name, r.JSON, created, now)
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	setProvisioningState(body, StateCreating)
	if exists {
		setProvisioningState(body, StateUpdating)
	}
	res := &Resource{Kind: DeploymentKind, Key: key, Body: body, Request: r.JSON, Created: created, Extra: map[string]any{}}
	s.PutLocked(res)
	s.Unlock()
	resp := s.StartOperation(r, status, body, StyleAsyncOperation, func() (string, string) {
		var code, msg string
		s.Update(DeploymentKind, key, func(res *Resource) {
			switch provisioningState(res.Body) {
			case StateCreating, StateUpdating:
				setProvisioningState(res.Body, StateSucceeded)
			case StateFailed:
				code, msg = "DeploymentFailed", fmt.Sprint(res.Extra["message"])
			}
		})
		return code, msg
	})
	// Remember the operation, so that the controller hooks can end it.
	if loc := resp.Header.Get("Location"); loc != "" {
		id := loc[strings.LastIndex(loc, "/")+1:]
		if i := strings.IndexByte(id, '?'); i >= 0 {
			id = id[:i]
		}
		s.Update(DeploymentKind, key, func(res *Resource) { res.Extra["op"] = id })
	}
	return resp
}

// deploymentBody is the stored answer for a deployment defined by def.
func (s *Server) deploymentBody(ep, name string, def map[string]any, created, modified time.Time) map[string]any {
	d := deepCopy(def)
	body := map[string]any{
		"id": s.armID("onlineEndpoints", ep, "deployments", name), "name": name,
		"type":     "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
		"location": s.opts.Location, "properties": d["properties"], "systemData": systemData(created, modified),
	}
	for _, k := range []string{"tags", "sku", "kind", "identity"} {
		if v, ok := d[k]; ok {
			body[k] = v
		}
	}
	if body["tags"] == nil {
		body["tags"] = map[string]any{}
	}
	return body
}

// deleteDeployment deletes a deployment when its operation ends, and with
// it any share it still holds in its endpoint's traffic; a missing
// deployment is 204.
func (s *Server) deleteDeployment(r *Request) *Response {
	ep, name := r.Vars["endpoint"], r.Vars["name"]
	key := ep + "/" + name
	found := s.Update(DeploymentKind, key, func(res *Resource) { setProvisioningState(res.Body, StateDeleting) })
	if !found {
		return &Response{Status: http.StatusNoContent}
	}
	return s.StartOperation(r, http.StatusAccepted, nil, StyleLocation, func() (string, string) {
		s.Lock()
		defer s.Unlock()
		s.DeleteLocked(DeploymentKind, key)
		if c := s.coll(EndpointKind).items[ep]; c != nil {
			props, _ := c.Body["properties"].(map[string]any)
			for _, f := range []string{"traffic", "mirrorTraffic"} {
				if m, ok := props[f].(map[string]any); ok {
					delete(m, name)
				}
			}
		}
		return "", ""
	})
}

// SetDeploymentReady ends the provisioning of a deployment successfully,
// as the service's controller does once its instances serve: the
// provisioning state becomes Succeeded and its operation ends.
func (s *Server) SetDeploymentReady(endpoint, name string) error {
	return s.settleDeployment(endpoint, name, StateSucceeded, "")
}

// SetDeploymentFailed ends the provisioning of a deployment with a
// failure: the provisioning state becomes Failed and its operation ends
// Failed with message.
func (s *Server) SetDeploymentFailed(endpoint, name, message string) error {
	return s.settleDeployment(endpoint, name, StateFailed, message)
}

func (s *Server) settleDeployment(endpoint, name, state, message string) error {
	var opID string
	found := s.Update(DeploymentKind, endpoint+"/"+name, func(res *Resource) {
		setProvisioningState(res.Body, state)
		res.Extra["message"] = message
		opID, _ = res.Extra["op"].(string)
	})
	if !found {
		return fmt.Errorf("azuretest: no deployment %s/%s", endpoint, name)
	}
	s.mu.Lock()
	op := s.ops[opID]
	s.mu.Unlock()
	if op != nil {
		s.end(op)
	}
	return nil
}

// OnlineEndpoint returns a copy of an endpoint as a GET answers it.
func (s *Server) OnlineEndpoint(name string) (map[string]any, bool) {
	res, ok := s.Get(EndpointKind, name)
	if !ok {
		return nil, false
	}
	return res.Body, true
}

// OnlineDeployments returns copies of an endpoint's deployments as a GET
// answers them, in creation order.
func (s *Server) OnlineDeployments(endpoint string) []map[string]any {
	var out []map[string]any
	for _, res := range s.List(DeploymentKind, endpoint+"/") {
		out = append(out, res.Body)
	}
	return out
}
