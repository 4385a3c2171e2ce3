package azuretest

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The collections the registry's and the data assets' resources are kept
// in; a version's key is "<name>/<version>".
const (
	ModelKind        = "models"
	ModelVersionKind = "modelVersions"
	DataKind         = "data"
	DataVersionKind  = "dataVersions"
)

// registryRoutes serves model containers and versions, and (data.go) data
// containers and versions, modelled on Microsoft's examples.
//
// Like Azure Machine Learning's API, these routes offer no conditional
// write: the resources carry no etag, and If-Match and If-None-Match are
// ignored, so a PUT always creates or replaces. A version's PUT needs its
// container to exist (404 otherwise), the stricter of the behaviours a
// client may meet, so that a client is tested creating the container. A
// container's latestVersion and nextVersion are kept by the server, as
// Azure keeps them: the highest whole-number version, and the number after
// it.
func (s *Server) registryRoutes() {
	const mc, mv = "models/ModelContainer/", "models/ModelVersion/"
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "models/{name}", Example: mc + "createOrUpdate.json"}, func(r *Request) *Response {
		return s.putContainer(r, ModelKind, ModelVersionKind, "Microsoft.MachineLearningServices/workspaces/models", nil)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "models/{name}", Example: mc + "get.json"}, func(r *Request) *Response {
		return s.getContainer(r, ModelKind, ModelVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "models", Example: mc + "list.json"}, func(r *Request) *Response {
		return s.listContainers(r, ModelKind, ModelVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "models/{name}"}, func(r *Request) *Response {
		return s.deleteContainer(r, ModelKind, ModelVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "models/{name}/versions/{version}", Example: mv + "createOrUpdate.json"}, func(r *Request) *Response {
		return s.putVersion(r, ModelKind, ModelVersionKind, "Microsoft.MachineLearningServices/workspaces/models/versions", func(props map[string]any) *Response {
			if u, _ := props["modelUri"].(string); u == "" {
				return Error(http.StatusBadRequest, "UserError", "a model version needs properties.modelUri")
			}
			return nil
		})
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "models/{name}/versions/{version}", Example: mv + "get.json"}, func(r *Request) *Response {
		return s.getVersion(r, ModelVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "models/{name}/versions", Example: mv + "list.json"}, func(r *Request) *Response {
		return s.listVersions(r, ModelVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "models/{name}/versions/{version}"}, func(r *Request) *Response {
		return s.deleteVersion(r, ModelVersionKind)
	})
	s.dataRoutes()
}

// putContainer creates or replaces a container; the versions stay.
func (s *Server) putContainer(r *Request, kind, versionKind, typ string, check func(props map[string]any) *Response) *Response {
	name := r.Vars["name"]
	props, _ := r.JSON["properties"].(map[string]any)
	if props == nil {
		return Error(http.StatusBadRequest, "UserError", "the body has no properties")
	}
	if check != nil {
		if resp := check(props); resp != nil {
			return resp
		}
	}
	now := time.Now()
	s.Lock()
	defer s.Unlock()
	_, existed := s.GetLocked(kind, name)
	res := &Resource{Kind: kind, Key: name, Request: r.JSON, Created: now, Extra: map[string]any{"modified": now.UnixNano()}}
	s.PutLocked(res)
	body := s.containerBodyLocked(kind, versionKind, name, typ)
	if existed {
		return JSON(http.StatusOK, body)
	}
	return JSON(http.StatusCreated, body)
}

// containerBodyLocked builds a container's answer: the PUT's properties,
// with latestVersion and nextVersion for a model container (read-only
// fields of the API that Microsoft's example leaves out).
func (s *Server) containerBodyLocked(kind, versionKind, name, typ string) map[string]any {
	res, _ := s.GetLocked(kind, name)
	props, _ := deepCopy(res.Request)["properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	if kind == ModelKind {
		delete(props, "latestVersion")
		delete(props, "nextVersion")
		latest, next := s.latestLocked(versionKind, name)
		if latest != "" {
			props["latestVersion"] = latest
		}
		props["nextVersion"] = next
	}
	modified := time.Unix(0, int64(num(res.Extra["modified"])))
	return map[string]any{
		"id": s.armID(kind, name), "name": name, "type": typ,
		"properties": props, "systemData": systemData(res.Created, modified),
	}
}

func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int64:
		return float64(n)
	case int:
		return float64(n)
	}
	return 0
}

// latestLocked returns the container's highest whole-number version (the
// most recently created version when none is a whole number) and the
// number after the highest.
func (s *Server) latestLocked(versionKind, name string) (latest, next string) {
	var highest uint64
	found := false
	for _, key := range s.coll(versionKind).order {
		n, v, ok := cutKey(key)
		if !ok || n != name {
			continue
		}
		if x, err := strconv.ParseUint(v, 10, 63); err == nil {
			if !found || x > highest {
				highest, found = x, true
			}
			continue
		}
		if !found {
			latest = v
		}
	}
	if found {
		return strconv.FormatUint(highest, 10), strconv.FormatUint(highest+1, 10)
	}
	return latest, "1"
}

func cutKey(key string) (name, version string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return "", "", false
}

func (s *Server) getContainer(r *Request, kind, versionKind string) *Response {
	name := r.Vars["name"]
	s.Lock()
	defer s.Unlock()
	res, ok := s.GetLocked(kind, name)
	if !ok {
		return NotFound("container " + name)
	}
	return JSON(http.StatusOK, s.containerBodyLocked(kind, versionKind, name, typeOf(res)))
}

func typeOf(res *Resource) string {
	if res.Kind == ModelKind {
		return "Microsoft.MachineLearningServices/workspaces/models"
	}
	return "Microsoft.MachineLearningServices/workspaces/data"
}

func (s *Server) listContainers(r *Request, kind, versionKind string) *Response {
	s.Lock()
	var values []any
	for _, key := range s.coll(kind).order {
		res := s.coll(kind).items[key]
		values = append(values, s.containerBodyLocked(kind, versionKind, key, typeOf(res)))
	}
	s.Unlock()
	return s.Page(r, values)
}

// deleteContainer removes a container and its versions; a missing one is
// 204.
func (s *Server) deleteContainer(r *Request, kind, versionKind string) *Response {
	name := r.Vars["name"]
	s.Lock()
	defer s.Unlock()
	if !s.DeleteLocked(kind, name) {
		return &Response{Status: http.StatusNoContent}
	}
	for _, key := range slices.Clone(s.coll(versionKind).order) {
		if n, _, _ := cutKey(key); n == name {
			s.DeleteLocked(versionKind, key)
		}
	}
	return &Response{Status: http.StatusOK}
}

// putVersion creates or replaces a version of an existing container.
func (s *Server) putVersion(r *Request, kind, versionKind, typ string, check func(props map[string]any) *Response) *Response {
	name, version := r.Vars["name"], r.Vars["version"]
	props, _ := r.JSON["properties"].(map[string]any)
	if props == nil {
		return Error(http.StatusBadRequest, "UserError", "the body has no properties")
	}
	if resp := check(props); resp != nil {
		return resp
	}
	now := time.Now()
	s.Lock()
	defer s.Unlock()
	if _, ok := s.GetLocked(kind, name); !ok {
		return NotFound("container " + name)
	}
	key := name + "/" + version
	old, existed := s.GetLocked(versionKind, key)
	created := now
	if existed {
		created = old.Created
	}
	body := deepCopy(r.JSON)
	body["id"] = s.armID(kind, name, "versions", version)
	body["name"] = version
	body["type"] = typ
	body["systemData"] = systemData(created, now)
	s.PutLocked(&Resource{Kind: versionKind, Key: key, Body: body, Request: r.JSON, Created: created})
	if existed {
		return JSON(http.StatusOK, body)
	}
	return JSON(http.StatusCreated, body)
}

func (s *Server) getVersion(r *Request, versionKind string) *Response {
	key := r.Vars["name"] + "/" + r.Vars["version"]
	s.Lock()
	res, ok := s.GetLocked(versionKind, key)
	s.Unlock()
	if !ok {
		return NotFound("version " + key)
	}
	return JSON(http.StatusOK, res.Body)
}

// listVersions lists a container's versions, the most recent first, as
// Azure orders them by default; an unknown container gives an empty list.
func (s *Server) listVersions(r *Request, versionKind string) *Response {
	var values []any
	for _, res := range s.List(versionKind, r.Vars["name"]+"/") {
		values = append(values, res.Body)
	}
	slices.Reverse(values)
	return s.Page(r, values)
}

// deleteVersion removes a version; a missing one is 204.
func (s *Server) deleteVersion(r *Request, versionKind string) *Response {
	key := r.Vars["name"] + "/" + r.Vars["version"]
	s.Lock()
	defer s.Unlock()
	if !s.DeleteLocked(versionKind, key) {
		return &Response{Status: http.StatusNoContent}
	}
	return &Response{Status: http.StatusOK}
}
