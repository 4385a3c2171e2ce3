package residency_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tideline-ml/tideline/residency"
)

func TestClassificationOrder(t *testing.T) {
	order := []residency.Classification{residency.Public, residency.Internal, residency.Confidential, residency.Restricted}
	for i := 1; i < len(order); i++ {
		if !(order[i-1] < order[i]) || cmp.Compare(order[i], order[i-1]) != 1 {
			t.Errorf("%s is not less sensitive than %s", order[i-1], order[i])
		}
	}
	if got := max(residency.Internal, residency.Restricted, residency.Public); got != residency.Restricted {
		t.Errorf("max = %s, want restricted", got)
	}
}

func TestClassificationString(t *testing.T) {
	tests := []struct {
		c     residency.Classification
		want  string
		valid bool
	}{
		{0, "unclassified", false},
		{residency.Public, "public", true},
		{residency.Internal, "internal", true},
		{residency.Confidential, "confidential", true},
		{residency.Restricted, "restricted", true},
		{5, "classification(5)", false},
		{255, "classification(255)", false},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Classification(%d).String() = %q, want %q", tt.c, got, tt.want)
		}
		if got := tt.c.Valid(); got != tt.valid {
			t.Errorf("Classification(%d).Valid() = %v, want %v", tt.c, got, tt.valid)
		}
		b, err := tt.c.MarshalText()
		if tt.valid != (err == nil) {
			t.Errorf("Classification(%d).MarshalText() = %q, %v", tt.c, b, err)
		}
		if err != nil && !errors.Is(err, residency.ErrInvalid) {
			t.Errorf("MarshalText error %v does not match ErrInvalid", err)
		}
	}
}

func TestParseClassification(t *testing.T) {
	good := map[string]residency.Classification{
		"public": residency.Public, "Internal": residency.Internal, " CONFIDENTIAL ": residency.Confidential,
		"restricted": residency.Restricted, "Restricted\n": residency.Restricted,
	}
	for in, want := range good {
		if got, err := residency.ParseClassification(in); err != nil || got != want {
			t.Errorf("ParseClassification(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "unclassified", "secret", "restrict", "public,internal", "1", "classification(5)", "pub lic"} {
		got, err := residency.ParseClassification(in)
		if !errors.Is(err, residency.ErrInvalid) || got != 0 {
			t.Errorf("ParseClassification(%q) = %v, %v; want ErrInvalid", in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "public, internal, confidential, restricted") {
			t.Errorf("message %q does not list the classifications", err)
		}
	}
}

func TestClassificationJSON(t *testing.T) {
	type dataset struct {
		Class residency.Classification `json:"class"`
	}
	b, err := json.Marshal(dataset{Class: residency.Confidential})
	if err != nil || string(b) != `{"class":"confidential"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var d dataset
	if err := json.Unmarshal(b, &d); err != nil || d.Class != residency.Confidential {
		t.Errorf("Unmarshal = %v, %v", d.Class, err)
	}
	if _, err := json.Marshal(dataset{}); err == nil {
		t.Error("an unclassified dataset was marshalled")
	}
	d.Class = residency.Public
	if err := d.Class.UnmarshalText([]byte("secret")); err == nil || d.Class != residency.Public {
		t.Errorf("UnmarshalText of bad text = %v and changed the value to %v", err, d.Class)
	}
}
