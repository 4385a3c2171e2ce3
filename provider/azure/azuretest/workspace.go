package azuretest

import "net/http"

// workspaceRoutes serves GET of the workspace, modelled on Microsoft's
// example with the server's names and location.
func (s *Server) workspaceRoutes() {
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"}, func(r *Request) *Response {
		if r.Vars["sub"] != s.opts.SubscriptionID || r.Vars["rg"] != s.opts.ResourceGroup || r.Vars["ws"] != s.opts.Workspace {
			return Error(http.StatusNotFound, "WorkspaceNotFound", "the workspace was not found")
		}
		body := s.ExampleResponse("workspaces/get.json", http.StatusOK)
		body["id"] = s.WorkspacePath()
		body["name"] = s.opts.Workspace
		body["location"] = s.opts.Location
		return JSON(http.StatusOK, body)
	})
}
