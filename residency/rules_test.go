package residency_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

func TestDefaultRules(t *testing.T) {
	tests := []struct {
		c          residency.Classification
		name, text string
	}{
		{residency.Public, "public→anywhere", "anywhere"},
		{residency.Internal, "internal→anywhere", "anywhere"},
		{residency.Confidential, "confidential→EU/EEA, UK, CH", "EEA,GB,CH"},
		{residency.Restricted, "restricted→EU/EEA", "EEA"},
	}
	rs := residency.DefaultRules()
	for _, tt := range tests {
		r, err := rs.For(tt.c)
		if err != nil {
			t.Fatalf("For(%s): %v", tt.c, err)
		}
		if r.Name != tt.name || r.String() != tt.name || r.Classification != tt.c || r.Constraint.Encode() != tt.text {
			t.Errorf("For(%s) = %q %s %q, want %q %q", tt.c, r.Name, r.Classification, r.Constraint.Encode(), tt.name, tt.text)
		}
	}
	if all := rs.All(); len(all) != 4 || all[0].Classification != residency.Public || all[3].Classification != residency.Restricted {
		t.Errorf("All = %v", all)
	}
}

func TestRulesForRefuses(t *testing.T) {
	for _, c := range []residency.Classification{0, 5} {
		if _, err := residency.DefaultRules().For(c); !errors.Is(err, residency.ErrInvalid) || !strings.Contains(err.Error(), "classify") {
			t.Errorf("For(%d) = %v, want ErrInvalid asking to classify", c, err)
		}
	}
	var zero residency.Rules
	if _, err := zero.For(residency.Public); !errors.Is(err, residency.ErrInvalid) || !strings.Contains(err.Error(), "DefaultRules") {
		t.Errorf("zero Rules For = %v", err)
	}
	if zero.All() != nil {
		t.Error("zero Rules has rules")
	}
	if _, err := zero.With(residency.Rule{Classification: residency.Public, Constraint: residency.Anywhere()}); !errors.Is(err, residency.ErrInvalid) {
		t.Errorf("zero Rules With = %v", err)
	}
}

func TestRulesWith(t *testing.T) {
	de := residency.MustParseConstraint("DE")
	rs, err := residency.DefaultRules().With(residency.Rule{Classification: residency.Restricted, Constraint: de})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rs.For(residency.Restricted)
	if r.Name != "restricted→DE" || !r.Constraint.Equal(de) {
		t.Errorf("replaced rule = %q %s", r.Name, r.Constraint)
	}
	if orig, _ := residency.DefaultRules().For(residency.Restricted); orig.Name != "restricted→EU/EEA" {
		t.Errorf("With changed the defaults: %q", orig.Name)
	}
	rs, err = rs.With(residency.Rule{Name: "internal-no-asia", Classification: residency.Internal, Constraint: residency.MustParseConstraint("EEA,GB,CH,US")})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.For(residency.Internal); r.Name != "internal-no-asia" {
		t.Errorf("custom name = %q", r.Name)
	}
	// Internal in the US only would leave confidential data (EU/EEA, UK,
	// CH) free to go where internal data may not: a more sensitive class may
	// not be looser.
	if _, err := rs.With(residency.Rule{Classification: residency.Internal, Constraint: residency.MustParseConstraint("US")}); !errors.Is(err, residency.ErrInvalid) {
		t.Errorf("With making internal disjoint from restricted = %v", err)
	}
}

func TestNewRulesRefuses(t *testing.T) {
	anywhere := residency.Anywhere()
	eea := residency.MustParseConstraint("EEA")
	full := func(restricted residency.Constraint) []residency.Rule {
		return []residency.Rule{
			{Classification: residency.Public, Constraint: anywhere},
			{Classification: residency.Internal, Constraint: anywhere},
			{Classification: residency.Confidential, Constraint: eea},
			{Classification: residency.Restricted, Constraint: restricted},
		}
	}
	tests := []struct {
		name  string
		rules []residency.Rule
		want  string
	}{
		{"none", nil, "no rule for public, internal, confidential, restricted"},
		{"missing", full(eea)[:3], "no rule for restricted"},
		{"duplicate", append(full(eea), residency.Rule{Classification: residency.Public, Constraint: anywhere}), "two rules for public"},
		{"unclassified", append(full(eea), residency.Rule{Constraint: anywhere}), "unclassified"},
		{"looser restricted", full(residency.MustParseConstraint("EEA,US")), "restricted→EU/EEA, US allows more than rule confidential→EU/EEA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := residency.NewRules(tt.rules...)
			if !errors.Is(err, residency.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRules = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := residency.NewRules(full(eea)...); err != nil {
		t.Errorf("NewRules of a consistent set: %v", err)
	}
}
