package memprovider

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// isOperation reports whether op names a method that records calls and
// consults faults: every method of the provider contract that takes a
// context.
func isOperation(op string) bool {
	switch op {
	case "PutDataset", "GetDataset", "ListDatasets", "OpenDataset", "UpdateDatasetMetadata", "DeleteDataset", "GrantRead", "LatestDataset",
		"SubmitJob", "GetJob", "ListJobs", "CancelJob", "WatchJob", "JobLogs",
		"CreateModelVersion", "GetModelVersion", "ListModelVersions", "UpdateModelVersion", "LatestModelVersion",
		"SetAlias", "DeleteAlias", "Aliases",
		"CreateEndpoint", "GetEndpoint", "ListEndpoints", "DeleteEndpoint",
		"CreateDeployment", "GetDeployment", "ListDeployments", "DeleteDeployment", "UpdateEndpoint":
		return true
	}
	return false
}

// Fault makes calls fail or slow down, the way a client-go reactor does. A
// fault applies to the calls whose operation matches Op, counted from the
// moment it is injected.
//
// A fault fails the calls it applies to unless it only adds latency: one with
// Err nil, Latency positive and AfterEffect false delays the call and then
// lets it proceed.
type Fault struct {
	// Op is the method name ("PutDataset", "SubmitJob", "UpdateEndpoint",
	// ...); empty matches every method.
	Op string
	// Nth, when positive, applies the fault to the Nth matching call only
	// (1-based), so that a test can fail the second of three retries. Zero
	// applies it to every matching call.
	Nth int
	// Err is the error the call returns, unchanged. nil means an Unavailable
	// *provider.Error saying the fault was injected.
	Err error
	// Latency is slept before the call, on the real clock. If the call's
	// context ends first, the call returns ctx.Err().
	Latency time.Duration
	// AfterEffect performs the operation and then returns the error instead
	// of the operation's result, as when a response is lost after the work
	// was done: a retry then meets AlreadyExists, say.
	AfterEffect bool
}

func (f *Fault) fails() bool { return f.Err != nil || f.Latency == 0 || f.AfterEffect }

func (f *Fault) err(op string) error {
	if f.Err != nil {
		return f.Err
	}
	return provider.Errorf(provider.Unavailable, "memprovider: injected fault in %s", op)
}

type faultEntry struct {
	f    Fault
	seen int // matching calls since injection
}

// InjectFault adds a fault and returns a function that removes it; calling
// remove more than once is harmless. When several faults apply to one call,
// their latencies add up and the earliest injected failing fault decides the
// error, a fault before the effect winning over one after it.
//
// InjectFault panics if f.Op names no method of the provider contract or if
// Nth or Latency is negative: a misspelt fault that never fires would let a
// test pass that should not.
func (p *Provider) InjectFault(f Fault) (remove func()) {
	if f.Op != "" && !isOperation(f.Op) {
		panic("memprovider: InjectFault: no operation is called " + f.Op + "; use a contract method name such as PutDataset, or \"\" for every method")
	}
	if f.Nth < 0 {
		panic("memprovider: InjectFault: Nth is negative")
	}
	if f.Latency < 0 {
		panic("memprovider: InjectFault: Latency is negative")
	}
	e := &faultEntry{f: f}
	p.fmu.Lock()
	p.faults = append(p.faults, e)
	p.fmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.fmu.Lock()
			defer p.fmu.Unlock()
			p.faults = slices.DeleteFunc(p.faults, func(x *faultEntry) bool { return x == e })
		})
	}
}

// Call is one recorded call of a contract method. It never holds dataset
// bytes, metadata values or any other payload: only what was called on what,
// and how it ended.
type Call struct {
	// Op is the method name.
	Op string
	// Target names what the call was about: "claims@1" for a dataset or
	// model version, "train-abc" for a job, "fraud/champion" for an alias,
	// "ep/blue" for a deployment, the bare name for a list or a single
	// resource, "" for a list of everything.
	Target string
	// Code is the outcome; OK on success.
	Code provider.Code
}

// Calls returns the calls made so far, in the order they finished. The
// caller owns the slice.
func (p *Provider) Calls() []Call {
	p.fmu.Lock()
	defer p.fmu.Unlock()
	return slices.Clone(p.calls)
}

// ResetCalls forgets the recorded calls. Faults and their counts are kept.
func (p *Provider) ResetCalls() {
	p.fmu.Lock()
	defer p.fmu.Unlock()
	p.calls = nil
}

// call is one contract call in progress.
type call struct {
	p          *Provider
	op, target string
	// after is the error an AfterEffect fault returns once the work is done.
	after error
}

// enter begins a contract call: it counts the call against the faults, sleeps
// their latency, checks ctx and fails the call if a fault says so. On error
// the call is already recorded.
func (p *Provider) enter(ctx context.Context, op, target string) (*call, error) {
	c := &call{p: p, op: op, target: target}
	var latency time.Duration
	var before error
	p.fmu.Lock()
	for _, e := range p.faults {
		if e.f.Op != "" && e.f.Op != op {
			continue
		}
		e.seen++
		if e.f.Nth != 0 && e.seen != e.f.Nth {
			continue
		}
		latency += e.f.Latency
		if !e.f.fails() {
			continue
		}
		switch {
		case e.f.AfterEffect && c.after == nil:
			c.after = e.f.err(op)
		case !e.f.AfterEffect && before == nil:
			before = e.f.err(op)
		}
	}
	p.fmu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, c.record(ctx.Err())
		case <-t.C:
		}
	}
	if err := provider.CheckContext(ctx); err != nil {
		return nil, c.record(err)
	}
	if before != nil {
		return nil, c.record(before)
	}
	return c, nil
}

// exit ends a call whose operation returned err: an AfterEffect fault
// replaces the outcome. The call is recorded.
func (c *call) exit(err error) error {
	if c.after != nil {
		err = c.after
	}
	return c.record(err)
}

func (c *call) record(err error) error {
	c.p.fmu.Lock()
	c.p.calls = append(c.p.calls, Call{Op: c.op, Target: c.target, Code: provider.CodeOf(err)})
	c.p.fmu.Unlock()
	return err
}

// finish ends a call that returns a value. When a fault replaced the
// operation's error the value is dropped, as a lost response carries none.
func finish[T any](c *call, v T, err error) (T, error) {
	if c.after != nil {
		var zero T
		return zero, c.exit(err)
	}
	return v, c.exit(err)
}
