package lineage

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// DefaultNamespace is the job namespace used when EmitterOptions.Namespace
// is empty.
const DefaultNamespace = "tideline"

const modulePath = "github.com/tideline-ml/tideline"

// EmitterOptions tunes NewEmitter. The zero value is ready to use.
type EmitterOptions struct {
	// Namespace is the OpenLineage namespace of jobs, and of datasets that
	// do not name their own. Default DefaultNamespace.
	Namespace string

	// Producer is the URI written as the producer of events and facets.
	// Default: this module's repository at the version built in, or at
	// main when the build does not record one.
	Producer string

	// Now is the clock for eventTime. Default time.Now.
	Now func() time.Time

	// Redact, when set, is applied to error messages after the built-in
	// scrubbing of URL credentials, signed query strings and bearer
	// tokens, to remove secrets only the caller can recognise.
	Redact func(string) string
}

// Emitter turns job lifecycle facts into OpenLineage RunEvents and sends
// them through a Transport: START when a job is submitted, then COMPLETE,
// FAIL or ABORT when it ends, all with the same runId (see RunID).
type Emitter struct {
	transport Transport
	namespace string
	producer  string
	now       func() time.Time
	redact    func(string) string
}

// JobRun is what an Emitter needs to know about one run of a job. The same
// value (or one with more outputs) is passed to every event of the run.
type JobRun struct {
	// RunName identifies this run, e.g. the provider's job id; the runId is
	// derived from it and the namespace. Required.
	RunName string

	// Job is the job's name, the same for every run. Required.
	Job string

	// Namespace overrides the emitter's namespace for this run.
	Namespace string

	// Parent is the run that started this one, if any; Root is the run at
	// the top of the tree, when it is not the parent.
	Parent *RunRef
	Root   *RunRef

	Inputs  []DatasetRef
	Outputs []DatasetRef

	// Policy is the governance decision taken before the run, if any.
	Policy *PolicyDecision
}

// RunRef names another run.
type RunRef struct {
	RunName   string // as in JobRun.RunName
	Job       string // as in JobRun.Job
	Namespace string // default: the emitter's namespace
}

// DatasetRef describes one dataset version a run read or wrote.
type DatasetRef struct {
	// Namespace is where the dataset lives, e.g.
	// "wasbs://container@account.blob.core.windows.net"; default: the
	// emitter's namespace.
	Namespace string
	Name      string // required
	Version   string // the version label, e.g. "3"
	// Digest is the content digest. It is what the version facet carries,
	// because it identifies the bytes across every system that sees them;
	// Version is used when the digest is unknown.
	Digest    string
	Residency *Residency // becomes the tideline_residency facet when set
}

// Residency is the residency of a dataset version, as plain strings.
type Residency struct {
	Classification string // public, internal, confidential or restricted
	Constraint     string // the constraint's text form, e.g. "EU"
	Region         string // region of this copy, e.g. "westeurope"
	Country        string // ISO 3166-1 alpha-2 country of Region, e.g. "NL"
}

// PolicyDecision is a governance decision, as plain strings.
type PolicyDecision struct {
	Decision string   // e.g. "allow", "deny", "audit"
	Rules    []string // rules evaluated
	Reasons  []string // every reason given
}

// NewEmitter returns an Emitter sending through t. opts may be nil.
func NewEmitter(t Transport, opts *EmitterOptions) (*Emitter, error) {
	if t == nil {
		return nil, fmt.Errorf("lineage: NewEmitter needs a Transport (for tests, NewWriterTransport(io.Discard) will do): %w", ErrInvalid)
	}
	var o EmitterOptions
	if opts != nil {
		o = *opts
	}
	e := &Emitter{transport: t, namespace: o.Namespace, producer: o.Producer, now: o.Now, redact: o.Redact}
	if e.namespace == "" {
		e.namespace = DefaultNamespace
	}
	if e.producer == "" {
		e.producer = defaultProducer()
	}
	if !absoluteURI(e.producer) {
		return nil, fmt.Errorf("lineage: emitter producer %q must be an absolute URI naming the software, e.g. a repository URL at a tag: %w", e.producer, ErrInvalid)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

func defaultProducer() string {
	version := "main"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == modulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == modulePath && d.Version != "" {
				version = d.Version
			}
		}
	}
	return "https://github.com/" + modulePath[len("github.com/"):] + "/tree/" + version
}

// Start reports that the run was submitted.
func (e *Emitter) Start(ctx context.Context, r JobRun) error {
	return e.emit(ctx, EventStart, r, nil)
}

// Complete reports that the run finished successfully.
func (e *Emitter) Complete(ctx context.Context, r JobRun) error {
	return e.emit(ctx, EventComplete, r, nil)
}

// Fail reports that the run failed; cause becomes the errorMessage facet,
// with credentials scrubbed from its text.
func (e *Emitter) Fail(ctx context.Context, r JobRun, cause error) error {
	return e.emit(ctx, EventFail, r, cause)
}

// Abort reports that the run was cancelled before it finished.
func (e *Emitter) Abort(ctx context.Context, r JobRun) error {
	return e.emit(ctx, EventAbort, r, nil)
}

func (e *Emitter) emit(ctx context.Context, t EventType, r JobRun, cause error) error {
	ev, err := e.Build(t, r, cause)
	if err != nil {
		return err
	}
	return e.transport.Emit(ctx, ev)
}

// Build returns the event Start, Complete, Fail or Abort would send,
// without sending it. cause is used for FAIL events only. A JobRun missing
// required fields, or producing an invalid event, fails with ErrInvalid.
func (e *Emitter) Build(t EventType, r JobRun, cause error) (*RunEvent, error) {
	if !t.valid() {
		return nil, fmt.Errorf("lineage: event type %q is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER: %w", t, ErrInvalid)
	}
	if r.RunName == "" || r.Job == "" {
		return nil, fmt.Errorf("lineage: JobRun needs RunName and Job (got %q, %q): %w", r.RunName, r.Job, ErrInvalid)
	}
	ns := e.ns(r.Namespace)
	ev := &RunEvent{
		EventType: t,
		EventTime: e.now(),
		Run:       Run{RunID: RunID(ns, r.RunName)},
		Job:       Job{Namespace: ns, Name: r.Job},
		Producer:  e.producer,
		SchemaURL: RunEventSchemaURL,
	}
	if r.Parent != nil {
		p := &ParentRunFacet{
			BaseFacet: e.base(ParentRunFacetSchemaURL),
			Run:       ParentRun{RunID: RunID(e.ns(r.Parent.Namespace), r.Parent.RunName)},
			Job:       ParentJob{Namespace: e.ns(r.Parent.Namespace), Name: r.Parent.Job},
		}
		if r.Root != nil {
			p.Root = &ParentRoot{
				Run: ParentRun{RunID: RunID(e.ns(r.Root.Namespace), r.Root.RunName)},
				Job: ParentJob{Namespace: e.ns(r.Root.Namespace), Name: r.Root.Job},
			}
		}
		ev.Run.Facets.Parent = p
	}
	if t == EventFail {
		msg := "the run failed without an error message"
		if cause != nil {
			msg = secret.Scrub(cause.Error())
		}
		if e.redact != nil {
			msg = e.redact(msg)
		}
		ev.Run.Facets.ErrorMessage = &ErrorMessageRunFacet{
			BaseFacet:           e.base(ErrorMessageRunFacetSchemaURL),
			Message:             msg,
			ProgrammingLanguage: "GO",
		}
	}
	if r.Policy != nil {
		ev.Run.Facets.Policy = &PolicyRunFacet{
			BaseFacet: e.base(PolicyRunFacetSchemaURL),
			Decision:  r.Policy.Decision,
			Rules:     append([]string(nil), r.Policy.Rules...),
			Reasons:   append([]string(nil), r.Policy.Reasons...),
		}
	}
	for _, d := range r.Inputs {
		ds, err := e.dataset(d)
		if err != nil {
			return nil, err
		}
		ev.Inputs = append(ev.Inputs, InputDataset{Dataset: ds})
	}
	for _, d := range r.Outputs {
		ds, err := e.dataset(d)
		if err != nil {
			return nil, err
		}
		ev.Outputs = append(ev.Outputs, OutputDataset{Dataset: ds})
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

func (e *Emitter) ns(override string) string {
	if override != "" {
		return override
	}
	return e.namespace
}

func (e *Emitter) base(schemaURL string) BaseFacet {
	return BaseFacet{Producer: e.producer, SchemaURL: schemaURL}
}

func (e *Emitter) dataset(d DatasetRef) (Dataset, error) {
	// A dataset's identity has no query string; one here is most likely a
	// signed URL (an Azure SAS), which must never reach lineage. The value
	// is left out of the message for the same reason.
	if strings.Contains(d.Namespace, "?") || strings.Contains(d.Name, "?") {
		return Dataset{}, fmt.Errorf("lineage: dataset namespace or name contains a query string; pass the location without it, never a signed URL: %w", ErrInvalid)
	}
	out := Dataset{Namespace: e.ns(d.Namespace), Name: d.Name}
	if v := cmp.Or(d.Digest, d.Version); v != "" {
		out.Facets.Version = &DatasetVersionDatasetFacet{BaseFacet: e.base(DatasetVersionDatasetFacetSchemaURL), DatasetVersion: v}
	}
	if r := d.Residency; r != nil {
		out.Facets.Residency = &ResidencyDatasetFacet{
			BaseFacet:      e.base(ResidencyDatasetFacetSchemaURL),
			Classification: r.Classification,
			Constraint:     r.Constraint,
			Region:         r.Region,
			Country:        r.Country,
		}
	}
	return out, nil
}
