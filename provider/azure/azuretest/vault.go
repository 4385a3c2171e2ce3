package azuretest

import (
	"net/http"
	"time"
)

// VaultKind is the collection the key vault's secrets are stored in; a
// Resource's Extra["value"] holds the value.
const VaultKind = "secrets"

// vaultRoutes serves a key vault's secrets from the same host, under
// /secrets/{name}, for tokens of the key vault's audience. The server's
// URL is the vault's URL.
func (s *Server) vaultRoutes() {
	s.Handle(RouteSpec{Method: http.MethodPut, Pattern: "/secrets/{name}", Audience: VaultAudience}, func(r *Request) *Response {
		v, ok := r.JSON["value"].(string)
		if !ok {
			return Error(http.StatusBadRequest, "BadParameter", "a secret needs a string value")
		}
		tags, _ := r.JSON["tags"].(map[string]any)
		extra := map[string]any{"value": v, "tags": tags}
		if attrs, ok := r.JSON["attributes"].(map[string]any); ok {
			extra["exp"] = attrs["exp"]
		}
		s.Lock()
		s.PutLocked(&Resource{Kind: VaultKind, Key: r.Vars["name"], Extra: extra})
		s.Unlock()
		return JSON(http.StatusOK, s.secretBody(r.Vars["name"], tags))
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: "/secrets/{name}", Audience: VaultAudience}, func(r *Request) *Response {
		res, ok := s.Get(VaultKind, r.Vars["name"])
		if !ok {
			return Error(http.StatusNotFound, "SecretNotFound", "the secret was not found")
		}
		tags, _ := res.Extra["tags"].(map[string]any)
		b := s.secretBody(r.Vars["name"], tags)
		b["value"] = res.Extra["value"]
		return JSON(http.StatusOK, b)
	})
	s.Handle(RouteSpec{Method: http.MethodDelete, Pattern: "/secrets/{name}", Audience: VaultAudience}, func(r *Request) *Response {
		s.Lock()
		ok := s.DeleteLocked(VaultKind, r.Vars["name"])
		s.Unlock()
		if !ok {
			return Error(http.StatusNotFound, "SecretNotFound", "the secret was not found")
		}
		return JSON(http.StatusOK, s.secretBody(r.Vars["name"], nil))
	})
}

func (s *Server) secretBody(name string, tags map[string]any) map[string]any {
	now := time.Now().Unix()
	b := map[string]any{"id": s.URL + "/secrets/" + name, "attributes": map[string]any{"enabled": true, "created": now, "updated": now}}
	if tags != nil {
		b["tags"] = tags
	}
	return b
}

// SecretExpiry returns the expiry (attributes.exp) the secret was stored
// with; zero when it has none.
func (s *Server) SecretExpiry(name string) time.Time {
	res, ok := s.Get(VaultKind, name)
	if !ok {
		return time.Time{}
	}
	if exp, ok := res.Extra["exp"].(float64); ok {
		return time.Unix(int64(exp), 0)
	}
	return time.Time{}
}

// SecretValue returns the value stored in the key vault under name.
func (s *Server) SecretValue(name string) (string, bool) {
	res, ok := s.Get(VaultKind, name)
	if !ok {
		return "", false
	}
	v, _ := res.Extra["value"].(string)
	return v, true
}
