package azuretest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resource is one stored resource: its answer body as a GET returns it
// ({"id","name","type","properties","systemData"}) and what the server
// keeps beside it.
type Resource struct {
	Kind, Key string
	// Body is the resource as the server answers with it.
	Body map[string]any
	// Request is the body of the PUT that created or last replaced it.
	Request map[string]any
	Created time.Time
	// Extra is the area's own state for the resource (a job's attempts).
	Extra map[string]any
}

func (r *Resource) clone() *Resource {
	c := *r
	c.Body = deepCopy(r.Body)
	c.Request = deepCopy(r.Request)
	c.Extra = deepCopy(r.Extra)
	return &c
}

// deepCopy copies a JSON-shaped map by a round trip.
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

type collection struct {
	items map[string]*Resource
	order []string // keys by creation
}

// coll returns the collection of kind; the caller holds s.mu.
func (s *Server) coll(kind string) *collection {
	c, ok := s.resources[kind]
	if !ok {
		c = &collection{items: map[string]*Resource{}}
		s.resources[kind] = c
	}
	return c
}

// Get returns a copy of the resource kind/key.
func (s *Server) Get(kind, key string) (*Resource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.GetLocked(kind, key)
}

// GetLocked is Get for a caller that holds Lock.
func (s *Server) GetLocked(kind, key string) (*Resource, bool) {
	r, ok := s.coll(kind).items[key]
	if !ok {
		return nil, false
	}
	return r.clone(), true
}

// PutLocked stores r under r.Kind and r.Key, keeping the creation order
// and time of a resource it replaces; the caller holds Lock.
func (s *Server) PutLocked(r *Resource) {
	c := s.coll(r.Kind)
	if old, ok := c.items[r.Key]; ok {
		r.Created = old.Created
	} else {
		c.order = append(c.order, r.Key)
		if r.Created.IsZero() {
			r.Created = time.Now()
		}
	}
	c.items[r.Key] = r.clone()
}

// Update changes the stored resource kind/key under the lock; it reports
// false when there is none.
func (s *Server) Update(kind, key string, change func(r *Resource)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.coll(kind).items[key]
	if !ok {
		return false
	}
	change(r)
	return true
}

// DeleteLocked removes kind/key and reports whether it was there; the
// caller holds Lock.
func (s *Server) DeleteLocked(kind, key string) bool {
	c := s.coll(kind)
	if _, ok := c.items[key]; !ok {
		return false
	}
	delete(c.items, key)
	c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
	return true
}

// List returns copies of the resources of kind whose key has prefix, in
// creation order.
func (s *Server) List(kind, prefix string) []*Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.coll(kind)
	var out []*Resource
	for _, k := range c.order {
		if strings.HasPrefix(k, prefix) {
			out = append(out, c.items[k].clone())
		}
	}
	return out
}

// Page answers a list request with one page of values: Options.PageSize
// values from the offset in $skipToken, and a nextLink to the rest.
func (s *Server) Page(r *Request, values []any) *Response {
	off := 0
	if t := r.URL.Query().Get("$skipToken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > len(values) {
			return Error(http.StatusBadRequest, "InvalidSkipToken", "the $skipToken is not one this server handed out")
		}
		off = n
	}
	end := min(off+s.opts.PageSize, len(values))
	page := map[string]any{"value": append([]any{}, values[off:end]...)}
	if end < len(values) {
		q := r.URL.Query()
		q.Set("$skipToken", strconv.Itoa(end))
		page["nextLink"] = s.URL + r.URL.EscapedPath() + "?" + q.Encode()
	}
	return JSON(http.StatusOK, page)
}

// armID is the resource id of a path relative to the workspace.
func (s *Server) armID(rel ...string) string {
	for i, p := range rel {
		rel[i] = url.PathEscape(p)
	}
	return s.WorkspacePath() + "/" + strings.Join(rel, "/")
}

// systemData is ARM's systemData for a resource created at t.
func systemData(created, modified time.Time) map[string]any {
	return map[string]any{
		"createdAt": created.UTC().Format(time.RFC3339Nano), "createdBy": "azuretest", "createdByType": "Application",
		"lastModifiedAt": modified.UTC().Format(time.RFC3339Nano), "lastModifiedBy": "azuretest", "lastModifiedByType": "Application",
	}
}
