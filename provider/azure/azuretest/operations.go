package azuretest

import (
	"net/http"
	"strconv"
)

// LROStyle is how a long-running operation tells the client where to poll.
type LROStyle int

// The styles.
const (
	// StyleLocation answers 202 with Location: polls answer 202 until the
	// operation ends, then 200 (or the operation's error).
	StyleLocation LROStyle = iota + 1
	// StyleAsyncOperation answers 202 with Azure-AsyncOperation (and
	// Location): the status resource's "status" is InProgress until the
	// operation ends Succeeded, Failed or Canceled.
	StyleAsyncOperation
)

// operation is one long-running operation.
type operation struct {
	id     string
	style  LROStyle
	polls  int
	done   bool
	code   string // the failure's error code; empty when it succeeded
	msg    string
	finish func() (code, message string)
}

// SetLROStyle sets how the route's long-running operations are followed;
// a route's own default applies until then. It panics on an unknown route.
func (s *Server) SetLROStyle(route string, style LROStyle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rt := range s.routes {
		if rt.key == route {
			s.lroStyle[route] = style
			return
		}
	}
	panic("azuretest: SetLROStyle: no route " + route)
}

// StartOperation answers r as an accepted long-running operation: status
// 202 (or status, when not zero, e.g. 201 for a create), body as given,
// Retry-After from Options and the header of the route's style, def unless
// SetLROStyle chose another. finish runs once, when the operation ends —
// after Options.OperationPolls polls, or at FinishOperations with
// HoldOperations — and returns an ARM error code and message for a
// failure, or "" for success. finish runs without the server's lock held.
func (s *Server) StartOperation(r *Request, status int, body any, def LROStyle, finish func() (code, message string)) *Response {
	id := s.newID()
	s.mu.Lock()
	style := def
	if st, ok := s.lroStyle[r.Route]; ok {
		style = st
	}
	s.ops[id] = &operation{id: id, style: style, finish: finish}
	s.opOrder = append(s.opOrder, id)
	s.mu.Unlock()
	h := http.Header{"Retry-After": {strconv.Itoa(s.opts.RetryAfter)}}
	base := s.URL + "/subscriptions/" + s.opts.SubscriptionID + "/providers/Microsoft.MachineLearningServices/locations/" + s.opts.Location
	h.Set("Location", base+"/mfeOperationResults/"+id+"?api-version="+r.URL.Query().Get("api-version"))
	if style == StyleAsyncOperation {
		h.Set("Azure-AsyncOperation", base+"/mfeOperationsStatus/"+id+"?api-version="+r.URL.Query().Get("api-version"))
	}
	return &Response{Status: cmpOr(status, http.StatusAccepted), Header: h, Body: body}
}

// FinishOperations ends every operation still running, as the cloud's
// controllers would, and returns how many it ended.
func (s *Server) FinishOperations() int {
	s.mu.Lock()
	var pending []*operation
	for _, id := range s.opOrder {
		if op := s.ops[id]; !op.done {
			pending = append(pending, op)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, op := range pending {
		if s.end(op) {
			n++
		}
	}
	return n
}

// end runs op's finish once; it reports whether this call ended it.
func (s *Server) end(op *operation) bool {
	s.mu.Lock()
	if op.done {
		s.mu.Unlock()
		return false
	}
	op.done = true
	s.mu.Unlock()
	code, msg := "", ""
	if op.finish != nil {
		code, msg = op.finish()
	}
	s.mu.Lock()
	op.code, op.msg = code, msg
	s.mu.Unlock()
	return true
}

// PendingOperations returns the number of operations not yet ended.
func (s *Server) PendingOperations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, op := range s.ops {
		if !op.done {
			n++
		}
	}
	return n
}

func (s *Server) operationRoutes() {
	const base = "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{location}/"
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: base + "mfeOperationsStatus/{id}"}, func(r *Request) *Response {
		op, resp := s.poll(r)
		if resp != nil {
			return resp
		}
		switch {
		case !op.done:
			return s.withRetryAfter(JSON(http.StatusOK, map[string]any{"status": "InProgress"}))
		case op.code == "":
			return JSON(http.StatusOK, map[string]any{"status": "Succeeded"})
		case op.code == "Canceled":
			return JSON(http.StatusOK, map[string]any{"status": "Canceled", "error": map[string]any{"code": op.code, "message": op.msg}})
		}
		return JSON(http.StatusOK, map[string]any{"status": "Failed", "error": map[string]any{"code": op.code, "message": op.msg}})
	})
	s.Handle(RouteSpec{Method: http.MethodGet, Pattern: base + "mfeOperationResults/{id}"}, func(r *Request) *Response {
		op, resp := s.poll(r)
		if resp != nil {
			return resp
		}
		switch {
		case !op.done:
			return s.withRetryAfter(&Response{Status: http.StatusAccepted, Header: http.Header{"Location": {s.URL + r.URL.RequestURI()}}})
		case op.code == "":
			return &Response{Status: http.StatusOK}
		}
		return Error(http.StatusConflict, op.code, op.msg)
	})
}

// poll counts a poll of the operation in r and ends it once it has been
// polled Options.OperationPolls times (unless operations are held).
func (s *Server) poll(r *Request) (*operation, *Response) {
	if r.Vars["sub"] != s.opts.SubscriptionID {
		return nil, Error(http.StatusNotFound, "SubscriptionNotFound", "the subscription was not found")
	}
	s.mu.Lock()
	op, ok := s.ops[r.Vars["id"]]
	if ok && !op.done {
		op.polls++
	}
	due := ok && !op.done && !s.opts.HoldOperations && op.polls >= s.opts.OperationPolls
	s.mu.Unlock()
	if !ok {
		return nil, NotFound("the operation")
	}
	if due {
		s.end(op)
	}
	s.mu.Lock()
	cp := *op
	s.mu.Unlock()
	return &cp, nil
}

func (s *Server) withRetryAfter(r *Response) *Response {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Retry-After", strconv.Itoa(s.opts.RetryAfter))
	return r
}
