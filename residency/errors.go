package residency

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrUnknownRegion: a provider's region is not in the catalog. An
	// unknown region is never allowed anywhere.
	ErrUnknownRegion = errors.New("residency: unknown region")
	// ErrInvalid: malformed input — a constraint or classification that
	// does not parse, a region the catalog refuses, an incomplete rule set.
	ErrInvalid = errors.New("residency: invalid input")
	// ErrNotAllowed: a region lies outside a constraint. The error is a
	// *Violation.
	ErrNotAllowed = errors.New("residency: region not allowed")
	// ErrLoosened: a constraint was replaced by one that allows more. The
	// error is a *LooseningError.
	ErrLoosened = errors.New("residency: constraint loosened")
)

// taggedError carries its own message and matches a sentinel, plus an
// optional cause, without repeating the sentinel's text.
type taggedError struct {
	msg   string
	kind  error
	cause error
}

func (e *taggedError) Error() string { return e.msg }

func (e *taggedError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func invalidf(format string, args ...any) error {
	return &taggedError{msg: "residency: " + fmt.Sprintf(format, args...), kind: ErrInvalid}
}

// Violation is the error Constraint.Check returns for a region outside the
// constraint. errors.Is(err, ErrNotAllowed) reports true for it.
type Violation struct {
	// Region is the region that was checked.
	Region Region
	// Constraint is the constraint it failed.
	Constraint Constraint
}

func (v *Violation) Error() string {
	r := v.Region
	var b strings.Builder
	b.WriteString("residency: region ")
	if r.Provider == "" || r.Name == "" {
		fmt.Fprintf(&b, "%q of provider %q is incomplete; look regions up through a Catalog", r.Name, r.Provider)
		return b.String()
	}
	b.WriteString(r.describe())
	if _, ok := countryIndex(r.Country); !ok {
		fmt.Fprintf(&b, " has no valid country (%q); look regions up through a Catalog, or give the region an ISO 3166-1 alpha-2 country", r.Country)
		return b.String()
	}
	b.WriteString(" is in ")
	b.WriteString(r.whereabouts())
	if v.Constraint.IsNowhere() {
		b.WriteString(", but the constraint allows nowhere: the constraints it combines have no place in common, so no region may hold this data")
		return b.String()
	}
	b.WriteString(", outside ")
	b.WriteString(v.Constraint.String())
	b.WriteString("; choose a region in ")
	b.WriteString(v.Constraint.String())
	return b.String()
}

func (v *Violation) Unwrap() error { return ErrNotAllowed }

// LooseningError is the error Constraint.Tighten returns when the proposed
// constraint allows a place the current one does not. errors.Is(err,
// ErrLoosened) reports true for it.
type LooseningError struct {
	// Current is the constraint in force; Proposed the one that loosens it.
	Current, Proposed Constraint
	// Outside lists, as explanations write them, the places of Proposed
	// that are not within Current.
	Outside []string
}

func (e *LooseningError) Error() string {
	verb := "is"
	if len(e.Outside) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("residency: constraint %s would loosen %s: %s %s not within it; a constraint may only be tightened, so choose places within %s (intersecting the two constraints does that)",
		e.Proposed, e.Current, joinAnd(e.Outside), verb, e.Current)
}

// joinAnd joins items as "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func (e *LooseningError) Unwrap() error { return ErrLoosened }
