package azuretest

import (
	"net/http"
	"strings"
)

// StorageAPIVersion is the api-version of the storage account route.
const StorageAPIVersion = "2024-01-01"

// workspaceRoutes serves GET of the workspace, modelled on Microsoft's
// example with the server's names, location and storage account.
func (s *Server) workspaceRoutes() {
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"}, func(r *Request) *Response {
		if r.Vars["sub"] != s.opts.SubscriptionID || r.Vars["rg"] != s.opts.ResourceGroup || r.Vars["ws"] != s.opts.Workspace {
			return Error(http.StatusNotFound, "WorkspaceNotFound", "the workspace was not found")
		}
		body := s.ExampleResponse("workspaces/get.json", http.StatusOK)
		body["id"] = s.WorkspacePath()
		body["name"] = s.opts.Workspace
		body["location"] = s.opts.Location
		if props, ok := body["properties"].(map[string]any); ok {
			props["storageAccount"] = s.StorageAccountID()
		}
		return JSON(http.StatusOK, body)
	})
}

// StorageAccountID is the resource ID of the workspace's storage account.
func (s *Server) StorageAccountID() string {
	return "/subscriptions/" + s.opts.SubscriptionID + "/resourceGroups/" + s.opts.ResourceGroup +
		"/providers/Microsoft.Storage/storageAccounts/" + s.opts.StorageAccount
}

// storageAccountRoutes serves GET of the workspace's storage account, the
// part of Microsoft.Storage's resource a driver reads to learn where the
// account is: the resource's ID, name, type, kind, location and blob
// endpoint. Microsoft's Azure Machine Learning examples do not cover it, so
// the answer follows Resource Manager's common resource shape.
func (s *Server) storageAccountRoutes() {
	s.Handle(RouteSpec{Method: http.MethodGet, APIVersion: StorageAPIVersion, Pattern: "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}"}, func(r *Request) *Response {
		if r.Vars["sub"] != s.opts.SubscriptionID || r.Vars["rg"] != s.opts.ResourceGroup || !strings.EqualFold(r.Vars["account"], s.opts.StorageAccount) {
			return Error(http.StatusNotFound, "ResourceNotFound", "the storage account was not found")
		}
		return JSON(http.StatusOK, map[string]any{
			"id":       s.StorageAccountID(),
			"name":     s.opts.StorageAccount,
			"type":     "Microsoft.Storage/storageAccounts",
			"kind":     "StorageV2",
			"location": s.opts.StorageLocation,
			"properties": map[string]any{
				"primaryLocation":  s.opts.StorageLocation,
				"primaryEndpoints": map[string]any{"blob": "https://" + s.opts.StorageAccount + ".blob.core.windows.net/"},
			},
		})
	})
}
