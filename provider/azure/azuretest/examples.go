package azuretest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tideline-ml/tideline/internal/fixtures"
)

// The check of a request body against Microsoft's example for its
// operation (parameters.body of the example file) compares structure, not
// values:
//
//   - every field of the request must be a field of the example at the
//     same place, or a field the server's supplement adds there (fields the
//     API defines that the example leaves out, such as the uri of a
//     uri_folder input; see Supplement);
//   - a field's JSON type must be the example's: object, array, string,
//     number or boolean; an example's null allows any type;
//   - an example object whose only key is a placeholder — "string", or a
//     GUID — is a map: every key of the request's object is checked
//     against that key's value (inputs, outputs, tags, environment
//     variables);
//   - an array's elements are checked against the example's first
//     element;
//   - values are never compared: the examples' strings are placeholders
//     ("string") or one sample of an enumeration, and the handlers check
//     the values they act on;
//   - fields the example has and the request lacks are not reported:
//     examples do not say which fields are required, handlers do.
//
// Answers are modelled on the examples' answers: a handler starts from the
// fields of the example's response (id, name, type, properties,
// systemData) and fills them from its state.

type exampleSet struct {
	mu    sync.Mutex
	files map[string]map[string]any // by path under the examples folder
	// bodies are the request bodies with supplements merged in.
	bodies map[string]map[string]any
}

func loadExamples() *exampleSet {
	fsys, err := fs.Sub(fixtures.AzureML(), fixtures.AzureMLExamples)
	if err != nil {
		panic(err)
	}
	es := &exampleSet{files: map[string]map[string]any{}, bodies: map[string]map[string]any{}}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		es.files[p] = m
		if params, ok := m["parameters"].(map[string]any); ok {
			if body, ok := params["body"].(map[string]any); ok {
				es.bodies[p] = deepCopy(body)
			}
		}
		return nil
	})
	if err != nil {
		panic("azuretest: reading the examples: " + err.Error())
	}
	for file, sups := range supplements {
		for at, fields := range sups {
			es.supplement(file, at, fields)
		}
	}
	return es
}

// get returns the example file, nil when there is none.
func (es *exampleSet) get(file string) map[string]any {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.files[file]
}

// Example returns a copy of Microsoft's example file (its parameters and
// responses), nil when there is none; handlers model answers on it.
func (s *Server) Example(file string) map[string]any { return deepCopy(s.examples.get(file)) }

// ExampleResponse returns a copy of the example's answer body for status,
// nil when the example has none.
func (s *Server) ExampleResponse(file string, status int) map[string]any {
	f := s.examples.get(file)
	resp, _ := f["responses"].(map[string]any)
	r, _ := resp[fmt.Sprint(status)].(map[string]any)
	body, _ := r["body"].(map[string]any)
	return deepCopy(body)
}

// supplements are the fields the API defines that the examples leave out,
// by example file and place (dot-separated; "*" is a map's value), as a
// JSON value of the field's type. Each one is a field of the 2025-12-01
// API reference that the driver sends.
var supplements = map[string]map[string]map[string]any{
	"jobs/CommandJob/createOrUpdate.json": {
		// The example's input is a literal; uri_folder and uri_file
		// inputs have a uri, a mode and an optional path on the compute.
		"properties.inputs.*": {"uri": "string", "mode": "string", "pathOnCompute": "string"},
		// PyTorch and Mpi distributions count processes per instance.
		"properties.distribution": {"processCountPerInstance": 1},
	},
}

// Supplement lets the request bodies checked against an example carry
// fields the example leaves out: fields, a JSON object of sample values of
// the right types, is merged at place at (dot-separated, "*" a map's
// value) in the example's body. Areas call it from their registration
// function; it panics when the example or the place does not exist.
func (s *Server) Supplement(example, at string, fields map[string]any) {
	s.examples.supplement(example, at, fields)
}

func (es *exampleSet) supplement(file, at string, fields map[string]any) {
	es.mu.Lock()
	defer es.mu.Unlock()
	body, ok := es.bodies[file]
	if !ok {
		panic("azuretest: no request body in example " + file)
	}
	obj := body
	if at != "" {
		for _, part := range strings.Split(at, ".") {
			var next any
			if part == "*" {
				if k, ok := placeholderKey(obj); ok {
					next = obj[k]
				}
			} else {
				next = obj[part]
			}
			o, ok := next.(map[string]any)
			if !ok {
				panic("azuretest: example " + file + " has no object at " + at)
			}
			obj = o
		}
	}
	// A round trip gives Go values their JSON types (an int becomes a
	// float64, as a parsed request's numbers are).
	for k, v := range deepCopy(fields) {
		if _, ok := obj[k]; !ok {
			obj[k] = v
		}
	}
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// placeholderKey reports whether the example object is a map written as
// one placeholder key, and returns the key.
func placeholderKey(o map[string]any) (string, bool) {
	if len(o) != 1 {
		return "", false
	}
	for k := range o {
		if k == "string" || guidRE.MatchString(k) {
			return k, true
		}
	}
	return "", false
}

// checkExample checks r's body against its route's example; a mismatch
// is recorded and answered with 400 ExampleMismatch.
func (s *Server) checkExample(rt *route, r *Request) *Response {
	if rt.example == "" || s.opts.Lenient || r.JSON == nil {
		return nil
	}
	s.examples.mu.Lock()
	want := s.examples.bodies[rt.example]
	s.examples.mu.Unlock()
	if want == nil {
		return nil
	}
	var problems []string
	compareShape("", want, map[string]any(r.JSON), &problems)
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	s.mu.Lock()
	for _, p := range problems {
		s.violations = append(s.violations, rt.key+": "+p)
	}
	s.mu.Unlock()
	return Error(http.StatusBadRequest, "ExampleMismatch", "the request body differs from Microsoft's example "+rt.example+": "+strings.Join(problems, "; "))
}

// CheckShape compares got with want by the rules above and returns the
// differences, one line each; tests use it to hold answers to the
// examples' answers.
func CheckShape(want, got any) []string {
	var problems []string
	compareShape("", want, got, &problems)
	sort.Strings(problems)
	return problems
}

func compareShape(at string, want, got any, problems *[]string) {
	if want == nil {
		return
	}
	if kindOf(want) != kindOf(got) {
		*problems = append(*problems, fmt.Sprintf("%s is %s, the example has %s", orRoot(at), kindOf(got), kindOf(want)))
		return
	}
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		if k, ok := placeholderKey(w); ok {
			for gk, gv := range g {
				compareShape(at+"."+gk, w[k], gv, problems)
			}
			return
		}
		for gk, gv := range g {
			wv, ok := w[gk]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s is not a field of the example (it has %s)", strings.TrimPrefix(at+"."+gk, "."), strings.Join(sortedKeys(w), ", ")))
				continue
			}
			compareShape(at+"."+gk, wv, gv, problems)
		}
	case []any:
		if len(w) == 0 {
			return
		}
		for i, gv := range got.([]any) {
			compareShape(fmt.Sprintf("%s[%d]", at, i), w[0], gv, problems)
		}
	}
}

func orRoot(at string) string {
	if at == "" {
		return "the body"
	}
	return strings.TrimPrefix(at, ".")
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
