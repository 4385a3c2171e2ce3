package secret

import (
	"cmp"
	"net/url"
	"slices"
	"strings"
)

// Redact returns s with every occurrence of each secret's value replaced by
// "[REDACTED]". It also replaces the value's URL query and path escapings,
// because credentials most often reach messages inside URLs. Empty secrets
// are skipped. When one secret's value contains another's, the longer one is
// replaced first.
//
// To redact many strings with the same secrets, build a Redactor once.
func Redact(s string, secrets ...Secret) string {
	return NewRedactor(secrets...).Redact(s)
}

// A Redactor replaces the values of a fixed set of secrets, as Redact does,
// without rebuilding its tables for every string. A nil *Redactor, which
// NewRedactor returns when there is nothing to replace, returns its input
// unchanged. It is safe for concurrent use.
type Redactor struct {
	r *strings.Replacer
}

// NewRedactor returns a Redactor for secrets, or nil when every secret is
// empty.
func NewRedactor(secrets ...Secret) *Redactor {
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
		pairs = append(pairs, o, Placeholder)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Redact returns s with the secrets' values replaced.
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	return r.r.Replace(s)
}
