package residency

import (
	"strconv"
	"strings"
)

// Classification says how sensitive data is. The values are ordered from
// least to most sensitive, so the comparison operators, max and cmp.Compare
// work on them: a model trained on internal and restricted data is
// max(Internal, Restricted) = Restricted.
//
// The zero value is "unclassified": it is not Valid, and Rules refuse it,
// so data that was never classified is never placed by accident.
type Classification uint8

// The classifications, least sensitive first.
const (
	Public Classification = iota + 1
	Internal
	Confidential
	Restricted
)

var classificationNames = [...]string{"unclassified", "public", "internal", "confidential", "restricted"}

// Valid reports whether c is one of Public, Internal, Confidential and
// Restricted.
func (c Classification) Valid() bool { return c >= Public && c <= Restricted }

// String returns the lower-case name ("restricted"); "unclassified" for the
// zero value and "classification(N)" for a value out of range.
func (c Classification) String() string {
	if int(c) < len(classificationNames) {
		return classificationNames[c]
	}
	return "classification(" + strconv.Itoa(int(c)) + ")"
}

// ParseClassification parses a classification's name, ignoring case and
// surrounding spaces. "unclassified" and anything else is an error matching
// ErrInvalid.
func ParseClassification(s string) (Classification, error) {
	t := strings.TrimSpace(s)
	for c := Public; c <= Restricted; c++ {
		if strings.EqualFold(t, classificationNames[c]) {
			return c, nil
		}
	}
	return 0, invalidf("classification %s is not one of public, internal, confidential, restricted", quoteShort(s))
}

// MarshalText implements encoding.TextMarshaler; it fails for a
// classification that is not Valid, so the zero value is never stored as
// if it were a decision.
func (c Classification) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, invalidf("cannot encode %s: set one of public, internal, confidential, restricted", c)
	}
	return []byte(c.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with
// ParseClassification. On error c is unchanged.
func (c *Classification) UnmarshalText(text []byte) error {
	v, err := ParseClassification(string(text))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
