package residency

import "strings"

// Rule maps a classification to the constraint data of that classification
// starts with.
type Rule struct {
	// Name identifies the rule in messages and audit records. NewRules sets
	// an empty Name to "<classification>→<constraint>", as in
	// "restricted→EU/EEA".
	Name           string
	Classification Classification
	Constraint     Constraint
}

// String returns the rule's name.
func (r Rule) String() string { return r.Name }

// Rules holds one Rule per classification. The zero Rules has none, and For
// fails for every classification; start from DefaultRules or NewRules.
// Rules is an immutable value, safe to copy and share.
type Rules struct {
	byClass [Restricted]Rule // index c-1
	set     bool
}

// DefaultRules returns the built-in rules:
//
//	restricted   → EU/EEA          (EEA)
//	confidential → EU/EEA, UK, CH  (EEA,GB,CH)
//	internal     → anywhere
//	public       → anywhere
//
// The EEA is the EU plus Iceland, Liechtenstein and Norway. Confidential
// data may also go to the United Kingdom and Switzerland, the European
// countries outside the EEA whose data protection the European Commission
// has recognised as adequate; restricted data stays in the EEA.
func DefaultRules() Rules {
	rs, err := NewRules(
		Rule{Classification: Restricted, Constraint: MustParseConstraint("EEA")},
		Rule{Classification: Confidential, Constraint: MustParseConstraint("EEA,GB,CH")},
		Rule{Classification: Internal, Constraint: Anywhere()},
		Rule{Classification: Public, Constraint: Anywhere()},
	)
	if err != nil {
		panic(err) // the defaults are checked by the package's tests
	}
	return rs
}

// NewRules returns rules made of exactly one rule for each of the four
// classifications. A more sensitive classification must not allow a region
// that a less sensitive one refuses, so that reclassifying data upwards only
// ever tightens where it may go; NewRules reports any rule that breaks this.
// Errors match ErrInvalid.
func NewRules(rules ...Rule) (Rules, error) {
	var rs Rules
	var seen [Restricted]bool
	for _, r := range rules {
		if !r.Classification.Valid() {
			return Rules{}, invalidf("rule %q: %s is not one of public, internal, confidential, restricted", r.Name, r.Classification)
		}
		i := r.Classification - 1
		if seen[i] {
			return Rules{}, invalidf("two rules for %s; give one rule per classification (Rules.With replaces one)", r.Classification)
		}
		seen[i] = true
		if r.Name == "" {
			r.Name = r.Classification.String() + "→" + r.Constraint.String()
		}
		rs.byClass[i] = r
	}
	var missing []string
	for i, ok := range seen {
		if !ok {
			missing = append(missing, Classification(i+1).String())
		}
	}
	if len(missing) > 0 {
		return Rules{}, invalidf("no rule for %s; give one rule per classification (public, internal, confidential, restricted)", strings.Join(missing, ", "))
	}
	for lo := range rs.byClass {
		for hi := lo + 1; hi < len(rs.byClass); hi++ {
			l, h := rs.byClass[lo], rs.byClass[hi]
			if !h.Constraint.Within(l.Constraint) {
				return Rules{}, invalidf("rule %s allows more than rule %s: a more sensitive classification must not be allowed where a less sensitive one is not", h.Name, l.Name)
			}
		}
	}
	rs.set = true
	return rs, nil
}

// With returns a copy of rs in which r replaces the rule for
// r.Classification, checked as NewRules checks.
func (rs Rules) With(r Rule) (Rules, error) {
	if !rs.set {
		return Rules{}, invalidf("Rules has no rules to replace one of; start from DefaultRules or NewRules")
	}
	if !r.Classification.Valid() {
		return Rules{}, invalidf("rule %q: %s is not one of public, internal, confidential, restricted", r.Name, r.Classification)
	}
	all := rs.All()
	all[r.Classification-1] = r
	return NewRules(all...)
}

// For returns the rule for c: its constraint and its name for messages.
// It fails, matching ErrInvalid, when c is not Valid or rs has no rules.
func (rs Rules) For(c Classification) (Rule, error) {
	if !c.Valid() {
		return Rule{}, invalidf("data is %s; classify it as public, internal, confidential or restricted before placing it", c)
	}
	if !rs.set {
		return Rule{}, invalidf("no rule for %s: the Rules value is empty; start from DefaultRules or NewRules", c)
	}
	return rs.byClass[c-1], nil
}

// All returns the rules from public to restricted.
func (rs Rules) All() []Rule {
	if !rs.set {
		return nil
	}
	return append([]Rule(nil), rs.byClass[:]...)
}
