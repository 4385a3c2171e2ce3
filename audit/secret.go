package audit

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// redacted is what every rendering of a Secret prints.
const redacted = "[REDACTED]"

// A Secret holds a credential — an HMAC key, a SAS token, a password — so
// that it does not leak through the usual ways values get printed. Its
// String, GoString and Format methods, its JSON and text encodings and its
// slog value all show "[REDACTED]"; only Reveal returns the value.
//
// The value sits inside a closure rather than a field because reflection
// cannot look into a func: fmt prints unexported struct fields, and debug
// dumpers follow pointers, without calling any method, but neither can read
// a captured variable. For the same reason a Secret is not comparable with ==.
//
// The zero Secret holds the empty string.
type Secret struct {
	reveal func() string
}

// NewSecret wraps v.
func NewSecret(v string) Secret {
	return Secret{reveal: func() string { return v }}
}

// Reveal returns the secret value. Call it only where the value is handed to
// the party that needs it, never to build a message.
func (s Secret) Reveal() string {
	if s.reveal == nil {
		return ""
	}
	return s.reveal()
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns a redacted Go expression, for %#v.
func (s Secret) GoString() string { return `audit.Secret("` + redacted + `")` }

// Format prints the redacted text for every verb, honouring width and flags,
// so that %x or %q cannot print the value either.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), redacted)
}

// MarshalJSON encodes the redacted text as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns the redacted text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer with the redacted text.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)

// Redact returns s with every occurrence of each secret's value replaced by
// "[REDACTED]". It also replaces the value's URL query and path escapings,
// because credentials most often reach messages inside URLs. Empty secrets
// are skipped. When one secret's value contains another's, the longer one is
// replaced first.
func Redact(s string, secrets ...Secret) string {
	r := newRedactor(secrets)
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// newRedactor builds one replacer for all secrets, or returns nil when there
// is nothing to replace.
func newRedactor(secrets []Secret) *strings.Replacer {
	var olds []string
	for _, sec := range secrets {
		v := sec.Reveal()
		if v == "" {
			continue
		}
		olds = append(olds, v, url.QueryEscape(v), url.PathEscape(v))
	}
	if olds == nil {
		return nil
	}
	// strings.Replacer tries the old strings in argument order at each
	// position, so longest first makes a secret that contains another be
	// replaced whole.
	slices.SortFunc(olds, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	olds = slices.Compact(olds)
	pairs := make([]string, 0, 2*len(olds))
	for _, o := range olds {
		pairs = append(pairs, o, redacted)
	}
	return strings.NewReplacer(pairs...)
}
