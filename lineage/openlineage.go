package lineage

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"time"

	"github.com/tideline-ml/tideline/internal/uuidtext"
)

// RunEventSchemaURL is the schemaURL of every RunEvent this package
// builds: the RunEvent definition of OpenLineage spec 2-0-2.
const RunEventSchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

// EventType is the run state transition an event reports.
type EventType string

// Event types of OpenLineage 2-0-2. A run sends one START and one of
// COMPLETE, FAIL or ABORT; RUNNING and OTHER may come in between or after.
const (
	EventStart    EventType = "START"
	EventRunning  EventType = "RUNNING"
	EventComplete EventType = "COMPLETE"
	EventAbort    EventType = "ABORT"
	EventFail     EventType = "FAIL"
	EventOther    EventType = "OTHER"
)

func (t EventType) valid() bool {
	switch t {
	case EventStart, EventRunning, EventComplete, EventAbort, EventFail, EventOther:
		return true
	}
	return false
}

// RunEvent is an OpenLineage RunEvent (spec 2-0-2). It marshals to the wire
// form and unmarshals any conforming event; facets this package does not
// model are kept as raw JSON in the Extra maps and written back unchanged.
type RunEvent struct {
	EventType EventType       `json:"eventType,omitempty"`
	EventTime time.Time       `json:"eventTime"`
	Run       Run             `json:"run"`
	Job       Job             `json:"job"`
	Inputs    []InputDataset  `json:"inputs,omitempty"`
	Outputs   []OutputDataset `json:"outputs,omitempty"`
	Producer  string          `json:"producer"`
	SchemaURL string          `json:"schemaURL"`
}

// Run identifies one run of a job.
type Run struct {
	RunID  string    `json:"runId"` // a UUID, the same in every event of the run
	Facets RunFacets `json:"facets,omitzero"`
}

// Job identifies a job; namespace and name stay the same across its runs.
type Job struct {
	Namespace string                     `json:"namespace"`
	Name      string                     `json:"name"`
	Facets    map[string]json.RawMessage `json:"facets,omitempty"`
}

// Dataset identifies a dataset read or written by a run.
type Dataset struct {
	Namespace string        `json:"namespace"`
	Name      string        `json:"name"`
	Facets    DatasetFacets `json:"facets,omitzero"`
}

// InputDataset is a dataset a run read.
type InputDataset struct {
	Dataset
	InputFacets map[string]json.RawMessage `json:"inputFacets,omitempty"`
}

// OutputDataset is a dataset a run wrote.
type OutputDataset struct {
	Dataset
	OutputFacets map[string]json.RawMessage `json:"outputFacets,omitempty"`
}

// Facet keys, as they appear in a facets object.
const (
	FacetParent         = "parent"             // ParentRunFacet
	FacetErrorMessage   = "errorMessage"       // ErrorMessageRunFacet
	FacetDatasetVersion = "version"            // DatasetVersionDatasetFacet
	FacetResidency      = "tideline_residency" // ResidencyDatasetFacet
	FacetPolicy         = "tideline_policy"    // PolicyRunFacet
)

// Schema URLs of the facets this package writes. The standard ones are the
// versions whose schemas this package is tested against; the custom ones
// name the schema files shipped in this package (see FacetSchemas).
const (
	ParentRunFacetSchemaURL             = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
	ErrorMessageRunFacetSchemaURL       = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	DatasetVersionDatasetFacetSchemaURL = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	ResidencyDatasetFacetSchemaURL      = "https://raw.githubusercontent.com/tideline-ml/tideline/main/lineage/schemas/1-0-0/TidelineResidencyDatasetFacet.json#/$defs/TidelineResidencyDatasetFacet"
	PolicyRunFacetSchemaURL             = "https://raw.githubusercontent.com/tideline-ml/tideline/main/lineage/schemas/1-0-0/TidelinePolicyRunFacet.json#/$defs/TidelinePolicyRunFacet"
)

// BaseFacet holds the fields every facet carries.
type BaseFacet struct {
	Producer  string `json:"_producer"`  // URI of the software that wrote the facet
	SchemaURL string `json:"_schemaURL"` // URL of the facet's JSON Schema definition
}

// ParentRunFacet links a run to the run that started it, and optionally to
// the root of a tree of runs.
type ParentRunFacet struct {
	BaseFacet
	Run  ParentRun   `json:"run"`
	Job  ParentJob   `json:"job"`
	Root *ParentRoot `json:"root,omitempty"`
}

// ParentRun identifies the parent (or root) run.
type ParentRun struct {
	RunID string `json:"runId"`
}

// ParentJob identifies the parent (or root) job.
type ParentJob struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// ParentRoot identifies the root of a tree of runs.
type ParentRoot struct {
	Run ParentRun `json:"run"`
	Job ParentJob `json:"job"`
}

// ErrorMessageRunFacet carries why a run failed.
type ErrorMessageRunFacet struct {
	BaseFacet
	Message             string `json:"message"`
	ProgrammingLanguage string `json:"programmingLanguage"`
	StackTrace          string `json:"stackTrace,omitempty"`
}

// DatasetVersionDatasetFacet names the version of a dataset a run read or
// wrote. This package puts the content digest there when it is known (see
// DatasetRef).
type DatasetVersionDatasetFacet struct {
	BaseFacet
	DatasetVersion string `json:"datasetVersion"`
}

// ResidencyDatasetFacet (key "tideline_residency") records where a dataset
// may live: its classification (public, internal, confidential or
// restricted), its residency constraint as text, and the region and ISO
// 3166-1 alpha-2 country where this copy is stored.
type ResidencyDatasetFacet struct {
	BaseFacet
	Classification string `json:"classification"`
	Constraint     string `json:"constraint"`
	Region         string `json:"region,omitempty"`
	Country        string `json:"country,omitempty"`
}

// PolicyRunFacet (key "tideline_policy") records the policy decision taken
// before the run was started: the decision, the rules that were evaluated
// and every reason given.
type PolicyRunFacet struct {
	BaseFacet
	Decision string   `json:"decision"`
	Rules    []string `json:"rules,omitempty"`
	Reasons  []string `json:"reasons,omitempty"`
}

// RunFacets is the facets object of a run. Known facets decode into their
// fields; every other key is kept in Extra. A typed field wins over an
// Extra entry with the same key.
type RunFacets struct {
	Parent       *ParentRunFacet
	ErrorMessage *ErrorMessageRunFacet
	Policy       *PolicyRunFacet
	Extra        map[string]json.RawMessage
}

// IsZero reports whether no facet is set, so that an empty facets object
// is left out of the JSON.
func (f RunFacets) IsZero() bool {
	return f.Parent == nil && f.ErrorMessage == nil && f.Policy == nil && len(f.Extra) == 0
}

// MarshalJSON writes all facets as one object with sorted keys.
func (f RunFacets) MarshalJSON() ([]byte, error) {
	return marshalFacets(f.Extra, map[string]any{
		FacetParent:       f.Parent,
		FacetErrorMessage: f.ErrorMessage,
		FacetPolicy:       f.Policy,
	})
}

// UnmarshalJSON reads a facets object.
func (f *RunFacets) UnmarshalJSON(b []byte) error {
	*f = RunFacets{}
	return unmarshalFacets(b, &f.Extra, map[string]any{
		FacetParent:       &f.Parent,
		FacetErrorMessage: &f.ErrorMessage,
		FacetPolicy:       &f.Policy,
	})
}

// DatasetFacets is the facets object of a dataset; it works like RunFacets.
type DatasetFacets struct {
	Version   *DatasetVersionDatasetFacet
	Residency *ResidencyDatasetFacet
	Extra     map[string]json.RawMessage
}

// IsZero reports whether no facet is set.
func (f DatasetFacets) IsZero() bool {
	return f.Version == nil && f.Residency == nil && len(f.Extra) == 0
}

// MarshalJSON writes all facets as one object with sorted keys.
func (f DatasetFacets) MarshalJSON() ([]byte, error) {
	return marshalFacets(f.Extra, map[string]any{
		FacetDatasetVersion: f.Version,
		FacetResidency:      f.Residency,
	})
}

// UnmarshalJSON reads a facets object.
func (f *DatasetFacets) UnmarshalJSON(b []byte) error {
	*f = DatasetFacets{}
	return unmarshalFacets(b, &f.Extra, map[string]any{
		FacetDatasetVersion: &f.Version,
		FacetResidency:      &f.Residency,
	})
}

func marshalFacets(extra map[string]json.RawMessage, typed map[string]any) ([]byte, error) {
	out := make(map[string]any, len(extra)+len(typed))
	for k, v := range extra {
		out[k] = v
	}
	for k, v := range typed {
		// A typed nil pointer inside an interface is not == nil; ask JSON.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		if string(b) != "null" {
			out[k] = json.RawMessage(b)
		}
	}
	return json.Marshal(out)
}

func unmarshalFacets(b []byte, extra *map[string]json.RawMessage, typed map[string]any) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		if dst, ok := typed[k]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("facet %q: %w", k, err)
			}
			continue
		}
		if *extra == nil {
			*extra = make(map[string]json.RawMessage)
		}
		(*extra)[k] = v
	}
	return nil
}

// Clone returns a deep copy of ev, so that a queued event cannot be changed
// by its sender.
func (ev *RunEvent) Clone() *RunEvent {
	c := *ev
	c.Run.Facets = ev.Run.Facets.clone()
	c.Job.Facets = maps.Clone(ev.Job.Facets)
	c.Inputs = make([]InputDataset, len(ev.Inputs))
	for i, d := range ev.Inputs {
		d.Facets = d.Facets.clone()
		d.InputFacets = maps.Clone(d.InputFacets)
		c.Inputs[i] = d
	}
	c.Outputs = make([]OutputDataset, len(ev.Outputs))
	for i, d := range ev.Outputs {
		d.Facets = d.Facets.clone()
		d.OutputFacets = maps.Clone(d.OutputFacets)
		c.Outputs[i] = d
	}
	if ev.Inputs == nil {
		c.Inputs = nil
	}
	if ev.Outputs == nil {
		c.Outputs = nil
	}
	return &c
}

func (f RunFacets) clone() RunFacets {
	if f.Parent != nil {
		p := *f.Parent
		if p.Root != nil {
			r := *p.Root
			p.Root = &r
		}
		f.Parent = &p
	}
	if f.ErrorMessage != nil {
		e := *f.ErrorMessage
		f.ErrorMessage = &e
	}
	if f.Policy != nil {
		p := *f.Policy
		p.Rules = append([]string(nil), p.Rules...)
		p.Reasons = append([]string(nil), p.Reasons...)
		f.Policy = &p
	}
	f.Extra = maps.Clone(f.Extra)
	return f
}

func (f DatasetFacets) clone() DatasetFacets {
	if f.Version != nil {
		v := *f.Version
		f.Version = &v
	}
	if f.Residency != nil {
		r := *f.Residency
		f.Residency = &r
	}
	f.Extra = maps.Clone(f.Extra)
	return f
}

// Validate reports, wrapping ErrInvalid, the first way ev would fail the
// OpenLineage 2-0-2 schema or the schemas of the facets this package
// models: missing required fields, a runId that is not a UUID, a producer
// or schema URL that is not an absolute URI, a facet without _producer or
// _schemaURL. Transports validate before sending.
func (ev *RunEvent) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("lineage: invalid RunEvent: "+format+": %w", append(args, ErrInvalid)...)
	}
	if ev.EventType != "" && !ev.EventType.valid() {
		return bad("eventType %q is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER", ev.EventType)
	}
	if ev.EventTime.IsZero() {
		return bad("eventTime is not set")
	}
	if y := ev.EventTime.Year(); y < 1 || y > 9999 {
		return bad("eventTime year %d cannot be written as RFC 3339", y)
	}
	if !absoluteURI(ev.Producer) {
		return bad("producer %q is not an absolute URI", ev.Producer)
	}
	if !absoluteURI(ev.SchemaURL) {
		return bad("schemaURL %q is not an absolute URI", ev.SchemaURL)
	}
	if !uuidtext.Valid(ev.Run.RunID) {
		return bad("run.runId %q is not a UUID", ev.Run.RunID)
	}
	if err := ev.Run.Facets.validate(); err != nil {
		return bad("run facet %v", err)
	}
	if ev.Job.Namespace == "" || ev.Job.Name == "" {
		return bad("job needs both namespace and name (got %q, %q)", ev.Job.Namespace, ev.Job.Name)
	}
	if err := validateRawFacets(ev.Job.Facets); err != nil {
		return bad("job facet %v", err)
	}
	for i, d := range ev.Inputs {
		if err := d.Dataset.validate(); err != nil {
			return bad("inputs[%d]: %v", i, err)
		}
		if err := validateRawFacets(d.InputFacets); err != nil {
			return bad("inputs[%d] input facet %v", i, err)
		}
	}
	for i, d := range ev.Outputs {
		if err := d.Dataset.validate(); err != nil {
			return bad("outputs[%d]: %v", i, err)
		}
		if err := validateRawFacets(d.OutputFacets); err != nil {
			return bad("outputs[%d] output facet %v", i, err)
		}
	}
	return nil
}

func (d Dataset) validate() error {
	if d.Namespace == "" || d.Name == "" {
		return fmt.Errorf("dataset needs both namespace and name (got %q, %q)", d.Namespace, d.Name)
	}
	if err := d.Facets.validate(); err != nil {
		return fmt.Errorf("dataset %s/%s facet %v", d.Namespace, d.Name, err)
	}
	return nil
}

func (b BaseFacet) validate(key string) error {
	if !absoluteURI(b.Producer) {
		return fmt.Errorf("%q: _producer %q is not an absolute URI", key, b.Producer)
	}
	if !absoluteURI(b.SchemaURL) {
		return fmt.Errorf("%q: _schemaURL %q is not an absolute URI", key, b.SchemaURL)
	}
	return nil
}

func (f RunFacets) validate() error {
	if p := f.Parent; p != nil {
		if err := p.BaseFacet.validate(FacetParent); err != nil {
			return err
		}
		if !uuidtext.Valid(p.Run.RunID) {
			return fmt.Errorf("%q: run.runId %q is not a UUID", FacetParent, p.Run.RunID)
		}
		if p.Job.Namespace == "" || p.Job.Name == "" {
			return fmt.Errorf("%q: job needs both namespace and name", FacetParent)
		}
		if r := p.Root; r != nil && (!uuidtext.Valid(r.Run.RunID) || r.Job.Namespace == "" || r.Job.Name == "") {
			return fmt.Errorf("%q: root needs a UUID runId and a job namespace and name", FacetParent)
		}
	}
	if e := f.ErrorMessage; e != nil {
		if err := e.BaseFacet.validate(FacetErrorMessage); err != nil {
			return err
		}
	}
	if p := f.Policy; p != nil {
		if err := p.BaseFacet.validate(FacetPolicy); err != nil {
			return err
		}
		if p.Decision == "" {
			return fmt.Errorf("%q: decision is empty", FacetPolicy)
		}
	}
	return validateRawFacets(f.Extra)
}

func (f DatasetFacets) validate() error {
	if v := f.Version; v != nil {
		if err := v.BaseFacet.validate(FacetDatasetVersion); err != nil {
			return err
		}
	}
	if r := f.Residency; r != nil {
		if err := r.BaseFacet.validate(FacetResidency); err != nil {
			return err
		}
		switch r.Classification {
		case "public", "internal", "confidential", "restricted":
		default:
			return fmt.Errorf("%q: classification %q is not public, internal, confidential or restricted", FacetResidency, r.Classification)
		}
		if r.Constraint == "" {
			return fmt.Errorf("%q: constraint is empty", FacetResidency)
		}
		if r.Country != "" && !isCountryCode(r.Country) {
			return fmt.Errorf("%q: country %q is not an ISO 3166-1 alpha-2 code such as \"NL\"", FacetResidency, r.Country)
		}
	}
	return validateRawFacets(f.Extra)
}

// validateRawFacets checks the envelope the core schema demands of every
// facet; their bodies are the business of their own schemas.
func validateRawFacets(m map[string]json.RawMessage) error {
	for k, raw := range m {
		var b BaseFacet
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("%q is not a facet object: %v", k, err)
		}
		if err := b.validate(k); err != nil {
			return err
		}
	}
	return nil
}

func absoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
