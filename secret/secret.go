package secret

import (
	"fmt"
	"log/slog"
)

// Placeholder is what stands in for a secret wherever one is printed,
// encoded, Placeholder or scrubbed.
const Placeholder = "[REDACTED]"

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
func (s Secret) String() string { return Placeholder }

// GoString returns a Placeholder Go expression, for %#v.
func (s Secret) GoString() string { return `secret.Secret("` + Placeholder + `")` }

// Format prints the Placeholder text for every verb, honouring width and flags,
// so that %x or %q cannot print the value either.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), Placeholder)
}

// MarshalJSON encodes the Placeholder text as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Placeholder + `"`), nil }

// MarshalText returns the Placeholder text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Placeholder), nil }

// LogValue implements slog.LogValuer with the Placeholder text.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Placeholder) }

var (
	_ fmt.Stringer   = Secret{}
	_ fmt.GoStringer = Secret{}
	_ fmt.Formatter  = Secret{}
	_ slog.LogValuer = Secret{}
)
