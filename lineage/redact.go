package lineage

import (
	"net/url"
	"regexp"
	"strings"
)

// Patterns for secrets that commonly ride along in error text: URLs with
// credentials or signed query strings (an Azure SAS is one), key=value
// secrets, and bearer tokens. They are compiled once and never change.
var (
	urlInText    = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)
	secretParam  = regexp.MustCompile(`(?i)\b(sig|signature|token|access_token|api_key|apikey|password|secret|client_secret)=([^&\s"']+)`)
	bearerInText = regexp.MustCompile(`(?i)\bbearer\s+[^\s"']+`)
)

const redacted = "REDACTED"

// ScrubCredentials removes what looks like a credential from free text such
// as an error message: URL userinfo and query strings (an Azure SAS rides in
// one), secret-looking parameters and bearer tokens. It cannot know every
// secret, which is why callers can add their own redaction of the values
// they know.
func ScrubCredentials(s string) string {
	s = urlInText.ReplaceAllStringFunc(s, func(m string) string {
		// Punctuation closing a sentence or a "url: error" pair is not part
		// of the URL.
		trimmed := strings.TrimRight(m, ".,;:!?)]}")
		tail := m[len(trimmed):]
		m = trimmed
		u, err := url.Parse(m)
		if err != nil {
			scheme, _, _ := strings.Cut(m, "://")
			return scheme + "://" + redacted + tail
		}
		if u.User != nil {
			u.User = url.User(redacted)
		}
		if u.RawQuery != "" {
			u.RawQuery = redacted
		}
		u.Fragment, u.RawFragment = "", ""
		return u.String() + tail
	})
	s = secretParam.ReplaceAllString(s, "${1}="+redacted)
	return bearerInText.ReplaceAllString(s, "Bearer "+redacted)
}

// redactToken replaces every occurrence of token in s. Unlike ScrubCredentials
// it is exact: it is used where the secret is known.
func redactToken(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, redacted)
}
