package secret

import (
	"regexp"
	"strings"
)

// The patterns Scrub looks for. They are compiled once and never change;
// Go's regexp runs in time linear in the input, so no input makes Scrub slow.
var (
	// A URL with its scheme spelt out. The backslash is excluded so that a
	// URL inside an escaped JSON string ends before the escaped quote.
	urlPlain = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>\\]+`)
	// A URL that was percent-encoded once or more ("https%3A%2F%2F…",
	// "https%253A%252F%252F…"), as when it travels in another URL.
	urlEncoded = regexp.MustCompile(`(?i)[a-z][a-z0-9+.\-]*%(?:25)*3a%(?:25)*2f%(?:25)*2f[^\s"'<>\\]+`)
	// An Authorization header or field, with an optional scheme.
	authHeader = regexp.MustCompile(`(?i)(authorization\\*["']?[ \t]*[:=][ \t]*\\*["']?)(?:(basic|bearer|digest|negotiate|ntlm|sharedkey|sharedkeylite|token|aws4-hmac-sha256)[ \t]+)?[^\s"',;]+`)
	// A bearer token anywhere.
	bearer = regexp.MustCompile(`(?i)\bbearer\s+[^\s"']+`)
)

// Scrub removes what looks like a credential from free text such as an
// error message or a job's output, and returns the text with each one
// replaced by "[REDACTED]":
//
//   - the user information and the whole query of a URL (an Azure SAS rides
//     in one), and its fragment, which is dropped — also when the URL was
//     percent-encoded, once or more, inside another URL or text;
//   - the credential of an Authorization header, whatever its scheme, and
//     any bearer token;
//   - the value of a name that ends in a secret-ish word — TOKEN, SECRET,
//     PASSWORD, PASSWD, APIKEY, ACCOUNTKEY, ACCESSKEY, SIGNATURE,
//     PASSPHRASE, or _KEY, _PWD, _PASS, _SIG, _AUTH after "_", "-" or
//     "." — or that is sig, pwd or pass, compared case-insensitively, in
//     the forms k=v, k: v, "k": "v" and k%3Dv (so HF_TOKEN=…,
//     DB_PASSWORD: …, {"client_secret": "…"}, AccountKey=… and
//     SharedAccessSignature=… all lose their values).
//
// Scrub is idempotent — scrubbing its output changes nothing — and never
// fails. It cannot know every secret: where the values are known, Redact
// them as well.
func Scrub(s string) string {
	if strings.Contains(s, "://") {
		s = urlPlain.ReplaceAllStringFunc(s, func(m string) string { return scrubURL(m, false) })
	}
	if strings.Contains(s, "%3") || strings.Contains(s, "%25") {
		s = urlEncoded.ReplaceAllStringFunc(s, func(m string) string { return scrubURL(m, true) })
	}
	if containsFold(s, "authorization") {
		s = replaceMatches(authHeader, s, func(b *strings.Builder, s string, m []int) {
			b.WriteString(s[m[2]:m[3]])
			if m[4] >= 0 {
				b.WriteString(s[m[4]:m[5]])
				b.WriteByte(' ')
			}
			b.WriteString(Placeholder)
		})
	}
	if containsFold(s, "bearer") {
		s = bearer.ReplaceAllString(s, "Bearer "+Placeholder)
	}
	return scrubKeyValues(s)
}

// replaceMatches returns s with every match of re replaced by what repl
// writes, given the match's submatch indexes; s itself when nothing matches.
func replaceMatches(re *regexp.Regexp, s string, repl func(b *strings.Builder, s string, m []int)) string {
	ms := re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(ms)*len(Placeholder))
	done := 0
	for _, m := range ms {
		b.WriteString(s[done:m[0]])
		repl(&b, s, m)
		done = m[1]
	}
	b.WriteString(s[done:])
	return b.String()
}

// scrubURL scrubs one URL found in text. With encoded set, the URL's
// delimiters may be percent-encoded any number of times.
func scrubURL(m string, encoded bool) string {
	// Punctuation closing a sentence or a "url: error" pair is not part of
	// the URL; a placeholder that ends it is.
	end := len(m)
	for end > 0 && strings.IndexByte(".,;:!?)]}", m[end-1]) >= 0 && !strings.HasSuffix(m[:end], Placeholder) {
		end--
	}
	u, tail := m[:end], m[end:]

	// The authority starts after "://" and ends at the first "/", "?" or "#".
	i, w, _ := nextDelim(u, 0, encoded, "/")
	i, w, _ = nextDelim(u, i+w, encoded, "/")
	auth := i + w
	authEnd, _, _ := nextDelim(u, auth, encoded, "/?#")
	var b strings.Builder
	b.Grow(len(u) + len(Placeholder))
	if at := lastDelim(u[auth:authEnd], encoded, '@'); at >= 0 {
		b.WriteString(u[:auth])
		b.WriteString(Placeholder)
		b.WriteString(u[auth+at : authEnd])
	} else {
		b.WriteString(u[:authEnd])
	}
	rest := u[authEnd:]
	switch q, w, c := nextDelim(rest, 0, encoded, "?#"); {
	case c == '#':
		b.WriteString(rest[:q])
	case c == '?':
		b.WriteString(rest[:q+w])
		if query := rest[q+w:]; query != "" {
			// The fragment goes with the query.
			b.WriteString(Placeholder)
		}
	default:
		b.WriteString(rest)
	}
	b.WriteString(tail)
	return b.String()
}

// nextDelim finds the first byte of set in s at or after from, also in
// percent-encoded form (once or more) when encoded is set. It returns its
// index, the width of its spelling and the byte, or len(s), 0, 0.
func nextDelim(s string, from int, encoded bool, set string) (int, int, byte) {
	for i := from; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) >= 0 {
			return i, 1, s[i]
		}
		if encoded && s[i] == '%' {
			if c, w := decodeEscape(s[i:]); c != 0 && strings.IndexByte(set, c) >= 0 {
				return i, w, c
			}
		}
	}
	return len(s), 0, 0
}

// lastDelim returns the index of the last c in s, plain or percent-encoded
// when encoded is set, or -1.
func lastDelim(s string, encoded bool, c byte) int {
	last, set := -1, string(c)
	for i := 0; ; {
		j, w, d := nextDelim(s, i, encoded, set)
		if d == 0 {
			return last
		}
		last, i = j, j+w
	}
}

// decodeEscape decodes the percent-escape at the start of s, following "%25"
// (an encoded "%") any number of times: "%3F" and "%253F" are both '?'. It
// returns the byte and the width of its spelling, or 0, 0.
func decodeEscape(s string) (byte, int) {
	if len(s) < 3 || s[0] != '%' {
		return 0, 0
	}
	for i := 1; i+2 <= len(s); {
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return 0, 0
		}
		i += 2
		if c := byte(hi<<4 | lo); c != '%' {
			return c, i
		}
	}
	return 0, 0
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// containsFold reports whether s contains the lower-case ASCII word w in
// any case, without allocating.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i]|0x20 == w[0] && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// scrubKeyValues replaces the value of every secret-named key: a name, an
// optional closing quote, "=", ":" or a percent-encoded "=", and a value,
// quoted or not. It scans for separators and looks back for the name, which
// is much faster than a regular expression with submatches.
func scrubKeyValues(s string) string {
	var b strings.Builder
	done := 0 // s[:done] has been written to b
	for i := 0; i < len(s); i++ {
		sepStart, sepEnd := i, i+1
		switch s[i] {
		case '=', ':':
		case '%':
			c, w := decodeEscape(s[i:])
			if c != '=' {
				continue
			}
			sepEnd = i + w
		default:
			continue
		}
		spaced := s[i] != '%'
		// Back over blanks, a closing quote with its escapes, and the name.
		j := sepStart
		if spaced {
			for j > done && (s[j-1] == ' ' || s[j-1] == '\t') {
				j--
			}
		}
		if j > done && (s[j-1] == '"' || s[j-1] == '\'') {
			j--
			for j > done && s[j-1] == '\\' {
				j--
			}
		}
		nameEnd := j
		for j > done && isNameByte(s[j-1]) {
			j--
		}
		if j == nameEnd || !secretName(s[j:nameEnd], j > 0 && s[j-1] == '%') {
			i = sepEnd - 1
			continue
		}
		// Forward over blanks and an opening quote with its escapes.
		k := sepEnd
		if spaced {
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
		}
		q := k
		for q < len(s) && s[q] == '\\' {
			q++
		}
		quote := ""
		if q < len(s) && (s[q] == '"' || s[q] == '\'') {
			quote, k = s[k:q+1], q+1
		}
		ve := valueEnd(s, k, quote)
		if ve == k || s[k:ve] == Placeholder {
			i = max(ve, sepEnd) - 1
			continue
		}
		if done == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done:k])
		b.WriteString(Placeholder)
		done = ve
		i = ve - 1
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// valueEnd returns where the value starting at s[vs:] ends. A quoted value
// runs to its closing quote (honouring backslash escapes) or the end of the
// line; an unquoted one to white space, a quote or a separator.
func valueEnd(s string, vs int, quote string) int {
	switch {
	case quote == "":
		i := vs
		for ; i < len(s); i++ {
			c := s[i]
			if strings.IndexByte(" \t\r\n\"'&;,<>)}", c) >= 0 ||
				c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'') {
				break
			}
		}
		return i
	case len(quote) == 1:
		q := quote[0]
		for i := vs; i < len(s); i++ {
			switch s[i] {
			case q, '\n':
				return i
			case '\\':
				i++
			}
		}
		return len(s)
	default: // an escaped quote, as in an escaped JSON string
		i := strings.Index(s[vs:], quote)
		if nl := strings.IndexByte(s[vs:], '\n'); i < 0 || nl >= 0 && nl < i {
			i = nl
		}
		if i < 0 {
			return len(s)
		}
		return vs + i
	}
}

// looseSuffixes end a secret name however they are attached; tightSuffixes
// only after a separator ("api_key", not "monkey"), or as the whole name.
var (
	looseSuffixes = []string{"token", "secret", "password", "passwd", "passphrase", "apikey", "accountkey",
		"accesskey", "privatekey", "sharedaccesskey", "signature"}
	tightSuffixes = []string{"key", "pwd", "pass", "sig", "auth"}
	wholeNames    = []string{"sig", "pwd", "pass"}
)

// secretName reports whether a key names a credential. afterPercent says
// the name directly follows a "%", so that it begins with the rest of an
// escape ("26sig" from "%26sig").
func secretName(name string, afterPercent bool) bool {
	if afterPercent {
		for len(name) >= 2 && unhex(name[0]) >= 0 && unhex(name[1]) >= 0 {
			enc := name[:2]
			name = name[2:]
			if enc != "25" {
				break
			}
		}
	}
	if len(name) < 3 {
		return false
	}
	n := strings.ToLower(name)
	for _, w := range looseSuffixes {
		if strings.HasSuffix(n, w) {
			return true
		}
	}
	for _, w := range tightSuffixes {
		if len(n) > len(w) && strings.HasSuffix(n, w) && strings.IndexByte("_-.", n[len(n)-len(w)-1]) >= 0 {
			return true
		}
	}
	for _, w := range wholeNames {
		if n == w {
			return true
		}
	}
	return false
}
