package azuretest

import "net/http"

// dataTypes are the data asset types of the 2025-12-01 API.
var dataTypes = map[string]bool{"uri_file": true, "uri_folder": true, "mltable": true}

// dataRoutes serves data containers and versions (data assets), with the
// rules of registryRoutes: no conditional write, a version needs its
// container.
func (s *Server) dataRoutes() {
	const dc, dv = "data/DataContainer/", "data/DataVersionBase/"
	checkType := func(props map[string]any) *Response {
		if t, _ := props["dataType"].(string); !dataTypes[t] {
			return Error(http.StatusBadRequest, "UserError", "properties.dataType must be uri_file, uri_folder or mltable")
		}
		return nil
	}
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "data/{name}", Example: dc + "createOrUpdate.json"}, func(r *Request) *Response {
		return s.putContainer(r, DataKind, DataVersionKind, "Microsoft.MachineLearningServices/workspaces/data", checkType)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "data/{name}", Example: dc + "get.json"}, func(r *Request) *Response {
		return s.getContainer(r, DataKind, DataVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "data", Example: dc + "list.json"}, func(r *Request) *Response {
		return s.listContainers(r, DataKind, DataVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "data/{name}"}, func(r *Request) *Response {
		return s.deleteContainer(r, DataKind, DataVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "data/{name}/versions/{version}", Example: dv + "createOrUpdate.json"}, func(r *Request) *Response {
		return s.putVersion(r, DataKind, DataVersionKind, "Microsoft.MachineLearningServices/workspaces/data/versions", func(props map[string]any) *Response {
			if resp := checkType(props); resp != nil {
				return resp
			}
			if u, _ := props["dataUri"].(string); u == "" {
				return Error(http.StatusBadRequest, "UserError", "a data version needs properties.dataUri")
			}
			return nil
		})
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "data/{name}/versions/{version}", Example: dv + "get.json"}, func(r *Request) *Response {
		return s.getVersion(r, DataVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "data/{name}/versions", Example: dv + "list.json"}, func(r *Request) *Response {
		return s.listVersions(r, DataVersionKind)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "data/{name}/versions/{version}"}, func(r *Request) *Response {
		return s.deleteVersion(r, DataVersionKind)
	})
}
