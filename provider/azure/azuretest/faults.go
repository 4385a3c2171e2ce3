package azuretest

// FaultKind is what an injected fault does to a request.
type FaultKind int

// The faults.
const (
	// FaultThrottle answers 429 with Retry-After: Fault.RetryAfter
	// seconds, without applying the request.
	FaultThrottle FaultKind = iota + 1
	// FaultUnavailable answers 503 (with Retry-After when
	// Fault.RetryAfter is set), without applying the request.
	FaultUnavailable
	// FaultDrop closes the connection without applying the request.
	FaultDrop
	// FaultLoseResponse applies the request, then closes the connection
	// instead of answering: the client sees a broken connection for a
	// request that took effect.
	FaultLoseResponse
)

// Fault is one injected failure.
type Fault struct {
	Kind FaultKind
	// RetryAfter is the Retry-After, in seconds, of a throttle or an
	// unavailable answer.
	RetryAfter int
}

// Inject makes the next n requests that match route fail with f, after the
// faults injected before. route is a route's key, method and pattern as
// registered: "PUT jobs/{name}". The bearer token is checked first, so a
// request without a valid token gets 401, not the fault. Inject panics on
// an unknown route.
func (s *Server) Inject(route string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, rt := range s.routes {
		known = known || rt.key == route
	}
	if !known {
		panic("azuretest: Inject: no route " + route)
	}
	for range n {
		s.faults[route] = append(s.faults[route], f)
	}
}

// ClearFaults drops the faults injected for route and not yet used, or
// those of every route when route is "". It returns how many it dropped.
func (s *Server) ClearFaults(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for r, q := range s.faults {
		if route == "" || r == route {
			n += len(q)
			delete(s.faults, r)
		}
	}
	return n
}

// takeFault removes and returns the next fault for route.
func (s *Server) takeFault(route string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[route]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[route] = q[1:]
	return q[0], true
}
