package lineagetest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tideline-ml/tideline/internal/fixtures"
	"github.com/tideline-ml/tideline/lineage"
)

// maxLineErrors bounds the per-line errors ValidateLines reports, so that a
// systematic defect in a long stream reads as a few examples and a count.
const maxLineErrors = 10

// Validator checks encoded OpenLineage events against the official core and
// facet schemas and this module's custom facet schemas. Create one with
// NewValidator; it is safe for concurrent use.
type Validator struct {
	core     *jsonschema.Schema
	coreFile string // $id of the core schema file
	// keys holds, per schema file $id, the facet keys the file declares in
	// its top-level properties. Read-only after NewValidator.
	keys map[string][]string

	mu     sync.Mutex // guards c and facets: Compile mutates the compiler
	c      *jsonschema.Compiler
	facets map[string]*jsonschema.Schema // compiled, by _schemaURL
}

// NewValidator loads the official OpenLineage schemas this module embeds
// (the core OpenLineage.json and facets/*.json, derived from the official
// files with their descriptions removed; see internal/fixtures) and
// lineage.FacetSchemas, each under its $id, so that no schema is ever
// fetched. It fails the test when a schema does not parse or compile.
func NewValidator(tb testing.TB) *Validator {
	tb.Helper()
	schemas := fixtures.OpenLineage()
	coreFile, _, _ := strings.Cut(lineage.RunEventSchemaURL, "#")
	v := &Validator{
		keys:     map[string][]string{},
		c:        jsonschema.NewCompiler(),
		facets:   map[string]*jsonschema.Schema{},
		coreFile: coreFile,
	}
	v.c.UseLoader(offlineLoader{})
	v.c.AssertFormat()
	v.c.DefaultDraft(jsonschema.Draft2020)

	files, err := fs.Glob(schemas, fixtures.OpenLineageFacets)
	if err != nil || len(files) == 0 {
		tb.Fatalf("lineagetest: no facet schemas embedded under %s: %v", fixtures.OpenLineageFacets, err)
	}
	files = append(files, fixtures.OpenLineageCore)
	for _, f := range files {
		b, err := fs.ReadFile(schemas, f)
		if err != nil {
			tb.Fatalf("lineagetest: the embedded OpenLineage schemas are incomplete: %v", err)
		}
		if err := v.add(b); err != nil {
			tb.Fatalf("lineagetest: schema file %s: %v", f, err)
		}
	}
	for id, b := range lineage.FacetSchemas() {
		if err := v.add(b); err != nil {
			tb.Fatalf("lineagetest: lineage.FacetSchemas()[%q]: %v", id, err)
		}
	}
	v.core, err = v.c.Compile(coreFile)
	if err != nil {
		tb.Fatalf("lineagetest: compiling the OpenLineage core schema %s, which lineage.RunEventSchemaURL names: %v; "+
			"the embedded OpenLineage.json must be that spec version", coreFile, err)
	}
	return v
}

// add registers one schema document under its $id and records the facet
// keys it declares.
func (v *Validator) add(b []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	obj, _ := doc.(map[string]any)
	id, _ := obj["$id"].(string)
	if id == "" {
		return errors.New("no $id to register it under; every OpenLineage schema file declares one")
	}
	if _, dup := v.keys[id]; dup {
		return fmt.Errorf("a second schema file with $id %s", id)
	}
	if err := v.c.AddResource(id, doc); err != nil {
		return err
	}
	props, _ := obj["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	v.keys[id] = keys
	return nil
}

// ValidateCore checks one encoded event against the core schema alone,
// leaving facet bodies unchecked. It is for events written by others whose
// facets name schemas the Validator does not hold.
func (v *Validator) ValidateCore(raw []byte) error {
	_, err := v.coreInstance(raw)
	return err
}

// coreInstance decodes raw and validates it against the core schema.
func (v *Validator) coreInstance(raw []byte) (map[string]any, error) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("event is not a single JSON value: %w", err)
	}
	if err := v.core.Validate(inst); err != nil {
		return nil, fmt.Errorf("event does not match the OpenLineage core schema %s: %w", v.coreFile, err)
	}
	ev, ok := inst.(map[string]any)
	if !ok {
		// The core schema admits only objects; this guards against a
		// replaced OpenLineage.json that does not.
		return nil, fmt.Errorf("event is a JSON %T, not an object", inst)
	}
	return ev, nil
}

// Validate checks one encoded event: the envelope against the core schema,
// then every facet — under run, job, and each input and output dataset —
// against the schema definition its _schemaURL names, and the key the facet
// sits under against the keys its schema file declares. A facet error is a
// *FacetError; facets are checked in a fixed order, so the error reported
// for an event is always the same.
func (v *Validator) Validate(raw []byte) error {
	ev, err := v.coreInstance(raw)
	if err != nil {
		return err
	}
	type facetMap struct {
		where string
		m     any
	}
	facetMaps := []facetMap{
		{"run.facets", field(ev["run"], "facets")},
		{"job.facets", field(ev["job"], "facets")},
	}
	for _, side := range []string{"inputs", "outputs"} {
		list, _ := ev[side].([]any)
		for i, d := range list {
			for _, name := range []string{"facets", "inputFacets", "outputFacets"} {
				facetMaps = append(facetMaps, facetMap{fmt.Sprintf("%s[%d].%s", side, i, name), field(d, name)})
			}
		}
	}
	for _, fm := range facetMaps {
		m, _ := fm.m.(map[string]any)
		for _, key := range slices.Sorted(maps.Keys(m)) {
			if err := v.validateFacet(fm.where, key, m[key]); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateFacet checks one facet found under key in the facet map at where.
func (v *Validator) validateFacet(where, key string, facet any) error {
	url, _ := field(facet, "_schemaURL").(string)
	fail := func(format string, args ...any) error {
		return &FacetError{Key: key, Where: where, SchemaURL: url, Err: fmt.Errorf(format, args...)}
	}
	if url == "" {
		return fail("no _schemaURL; every facet names the schema it conforms to")
	}
	sch, err := v.compile(url)
	if err != nil {
		return fail("its _schemaURL cannot be resolved: %w", err)
	}
	if err := sch.Validate(facet); err != nil {
		return fail("%w", err)
	}
	file, _, _ := strings.Cut(url, "#")
	if keys := v.keys[file]; !slices.Contains(keys, key) {
		return fail("its schema file %s declares the facet key %s, not %q; put the facet under that key",
			file, strings.Join(keys, " or "), key)
	}
	return nil
}

// compile returns the schema a _schemaURL names, compiling it on first use.
func (v *Validator) compile(url string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.facets[url]; ok {
		return s, nil
	}
	s, err := v.c.Compile(url)
	if err != nil {
		return nil, err
	}
	v.facets[url] = s
	return s, nil
}

// ValidateLines checks a JSON-lines stream, such as lineage.FileTransport or
// lineage.WriterTransport writes: one event per line, each checked as
// Validate does. A final newline is optional and a trailing carriage return
// on a line is ignored; an empty line in between is an error. Each error
// names its line, counting from 1; after the first few, the rest are
// counted rather than listed. The errors of all bad lines are joined, so
// errors.As reaches a *FacetError among them. An empty stream is valid: a
// test that expects events counts them itself.
func (v *Validator) ValidateLines(data []byte) error {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	var errs []error
	bad := 0
	for i, line := range lines {
		line = bytes.TrimSuffix(line, []byte("\r"))
		var err error
		if len(bytes.TrimSpace(line)) == 0 {
			err = errors.New("empty line; a JSON-lines stream holds exactly one event per line")
		} else {
			err = v.Validate(line)
		}
		if err == nil {
			continue
		}
		bad++
		if bad <= maxLineErrors {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
		}
	}
	if bad > maxLineErrors {
		errs = append(errs, fmt.Errorf("%d more of the %d lines are invalid", bad-maxLineErrors, len(lines)))
	}
	return errors.Join(errs...)
}

// FacetError reports a facet that does not conform to its schema, names a
// schema the Validator does not hold, or sits under a key its schema file
// does not declare.
type FacetError struct {
	Key       string // the key the facet sits under, e.g. "parent"
	Where     string // the facet map holding it, e.g. "run.facets", "inputs[0].facets"
	SchemaURL string // the facet's _schemaURL, "" when it has none
	Err       error  // what is wrong
}

func (e *FacetError) Error() string {
	return fmt.Sprintf("facet %q in %s (_schemaURL %q): %v", e.Key, e.Where, e.SchemaURL, e.Err)
}

func (e *FacetError) Unwrap() error { return e.Err }

// offlineLoader refuses every schema that was not registered up front, so
// that a _schemaURL in an event under test can make the Validator neither
// reach the network nor read a local file.
type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not registered: the validator holds the official OpenLineage schemas "+
		"embedded in this module and lineage.FacetSchemas, and fetches nothing", url)
}

// field returns m[key] when m is a JSON object, else nil.
func field(m any, key string) any {
	if obj, ok := m.(map[string]any); ok {
		return obj[key]
	}
	return nil
}
