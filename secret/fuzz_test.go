package secret

import (
	"net/url"
	"strings"
	"testing"
)

// leakForms are the shapes in which a credential reaches error text. Each
// puts v where the credential goes.
var leakForms = []func(v string) string{
	func(v string) string { return "HF_TOKEN=" + v },
	func(v string) string { return "WANDB_API_KEY=" + v },
	func(v string) string { return "DB_PASSWORD: " + v },
	func(v string) string { return "MYSQL_PASSWD=" + v },
	func(v string) string { return "ORACLE_PWD = " + v },
	func(v string) string { return `{"password": "` + v + `"}` },
	func(v string) string { return `{"secret":"` + v + `","n":1}` },
	func(v string) string { return `{"token":"` + v + `"}` },
	func(v string) string { return `{"api_key":"` + v + `"}` },
	func(v string) string { return `{"client_secret":"` + v + `"}` },
	func(v string) string { return `{"access_token": "` + v + `"}` },
	func(v string) string { return `{\"password\":\"` + v + `\"}` },
	func(v string) string { return "Authorization: Basic " + v },
	func(v string) string { return "Authorization: Bearer " + v },
	func(v string) string { return "authorization=" + v },
	func(v string) string { return "AccountName=a;AccountKey=" + v + ";EndpointSuffix=core.windows.net" },
	func(v string) string { return "SharedAccessSignature=" + v },
	func(v string) string {
		return "https://a.blob.core.windows.net/c/b?sv=2024-11-04&sig=" + url.QueryEscape(v)
	},
	func(v string) string {
		return url.QueryEscape("https://a.blob.core.windows.net/c/b?sv=2024-11-04&sig=" + url.QueryEscape(v))
	},
	func(v string) string {
		return "https://proxy.example/get/" + url.QueryEscape("https://a.blob.core.windows.net/c?sig="+url.QueryEscape(v))
	},
	func(v string) string { return "https://user:" + url.QueryEscape(v) + "@host/x" },
	func(v string) string { return "sv%3D2024-11-04%26sig%3D" + url.QueryEscape(v) },
}

var (
	leakPrefixes = []string{"", "error: ", "GET ", `{"detail":"`, "\n", "job said: "}
	leakSuffixes = []string{"", " failed", "\n", `"}`, ".", ": 403"}
)

// tokenLike reports whether v looks like a credential: 8 to 128 characters of
// the alphabets keys, tokens and passwords are usually drawn from.
func tokenLike(v string) bool {
	if len(v) < 8 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+/=._~-", c) >= 0) {
			return false
		}
	}
	return true
}

// FuzzScrub checks that Scrub never panics, is idempotent, and — for a
// credential-like value placed in one of the known shapes — leaves neither
// the value nor its URL escapings in its output.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"GET https://a.blob.core.windows.net/c/b?sv=1&sig=abc: 403",
		"dial https://u:p@h/x", "Authorization: bearer t0k3n", `{"password": "x"}`,
		"https%3A%2F%2Fh%2Fp%3Fsig%3Dabc", "https%253A%252F%252Fu%253Ap%2540h", "AccountKey=a;x=y",
		`{\"token\":\"abc\"}`, "token=\"unterminated", "password=[REDACTED]x", "https://h/x?[REDACTED]]",
	} {
		f.Add(s, "c2VjcmV0LXZhbHVl", uint8(0), uint8(0), uint8(0))
	}
	for i := range leakForms {
		f.Add("", "hunter2hunter2", uint8(i), uint8(i), uint8(i))
		f.Add("x", "Zm9v+YmFy/YmF6==", uint8(i), uint8(i+1), uint8(i+2))
	}
	f.Fuzz(func(t *testing.T, text, v string, form, pre, suf uint8) {
		got := Scrub(text)
		if again := Scrub(got); again != got {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", text, got, again)
		}
		if !tokenLike(v) || strings.Contains(Placeholder, v) {
			return
		}
		shape := leakForms[int(form)%len(leakForms)]
		in := leakPrefixes[int(pre)%len(leakPrefixes)] + shape(v) + leakSuffixes[int(suf)%len(leakSuffixes)]
		if strings.Contains(shape(""), v) {
			return // the value is part of the shape's own text
		}
		out := Scrub(in)
		for _, leak := range []string{v, url.QueryEscape(v), url.PathEscape(v), url.QueryEscape(url.QueryEscape(v))} {
			if strings.Contains(out, leak) {
				t.Fatalf("Scrub(%q) = %q still holds %q", in, out, leak)
			}
		}
		if again := Scrub(out); again != out {
			t.Fatalf("not idempotent:\n in    %q\n once  %q\n twice %q", in, out, again)
		}
	})
}
