package secret

import (
	"net/url"
	"strings"
	"testing"
)

type scrubCase struct {
	in, want string
	leak     string // the credential; empty when want says it all
}

func checkScrub(t *testing.T, cases []scrubCase) {
	t.Helper()
	for _, tc := range cases {
		got := Scrub(tc.in)
		if got != tc.want {
			t.Errorf("Scrub(%q)\n got  %q\n want %q", tc.in, got, tc.want)
		}
		if tc.leak != "" {
			for _, v := range []string{tc.leak, url.QueryEscape(tc.leak), url.PathEscape(tc.leak)} {
				if strings.Contains(got, v) {
					t.Errorf("Scrub(%q) = %q still holds %q", tc.in, got, v)
				}
			}
		}
		if again := Scrub(got); again != got {
			t.Errorf("Scrub is not idempotent on %q: %q, then %q", tc.in, got, again)
		}
	}
}

// TestScrubCredentials holds the cases the scrubber has always handled.
func TestScrubCredentials(t *testing.T) {
	checkScrub(t, []scrubCase{
		{"GET https://a.blob.core.windows.net/c/b?sv=1&sig=abc: 403", "GET https://a.blob.core.windows.net/c/b?[REDACTED]: 403", "abc"},
		{"dial https://u:p4ssw0rd@h/x", "dial https://[REDACTED]@h/x", "p4ssw0rd"},
		{"sig=abc&se=2026", "sig=[REDACTED]&se=2026", "abc"},
		{"Authorization: bearer t0k3n", "Authorization: Bearer [REDACTED]", "t0k3n"},
		{"client_secret=xyz done", "client_secret=[REDACTED] done", "xyz"},
		{"no secrets at all", "no secrets at all", ""},
		{"open https://h/x#frag", "open https://h/x", ""},
		{"open https://h/x?", "open https://h/x?", ""},
		{"see https://h/x?a=1.", "see https://h/x?[REDACTED].", ""},
		{"(https://h/x?sig=abc)", "(https://h/x?[REDACTED])", "abc"},
		{`{"url":"https://h/x?sig=abc"}`, `{"url":"https://h/x?[REDACTED]"}`, "abc"},
		{`{\"url\":\"https://h/x?sig=abc\"}`, `{\"url\":\"https://h/x?[REDACTED]\"}`, "abc"},
		{"time 12:30 key=claims/v1 max_tokens=5", "time 12:30 key=claims/v1 max_tokens=5", ""},
	})
}

// TestScrubURLEncodedGrant: a SAS URL percent-encoded inside another URL or
// in plain text kept its signature.
func TestScrubURLEncodedGrant(t *testing.T) {
	const sig = "Zm9vYmFyYmF6cXV4"
	sas := "https://acct.blob.core.windows.net/claims/v1?sv=2024-11-04&sp=rl&sig=" + sig
	once := url.QueryEscape(sas)
	twice := url.QueryEscape(once)
	checkScrub(t, []scrubCase{
		{"fetching " + once + " failed", "fetching https%3A%2F%2Facct.blob.core.windows.net%2Fclaims%2Fv1%3F[REDACTED] failed", sig},
		{"fetching " + twice + ": 403", "fetching https%253A%252F%252Facct.blob.core.windows.net%252Fclaims%252Fv1%253F[REDACTED]: 403", sig},
		{"GET https://proxy.example/fetch/" + once + ": 502", "GET https://proxy.example/fetch/https%3A%2F%2Facct.blob.core.windows.net%2Fclaims%2Fv1%3F[REDACTED]: 502", sig},
		{"GET https://proxy.example/fetch?u=" + once, "GET https://proxy.example/fetch?[REDACTED]", sig},
		{"dial " + url.QueryEscape("https://user:hunter2hunter2@h/x"), "dial https%3A%2F%2F[REDACTED]%40h%2Fx", "hunter2hunter2"},
		{"grant sv%3D2024-11-04%26sig%3D" + sig + " expired", "grant sv%3D2024-11-04%26sig%3D[REDACTED] expired", sig},
	})
}

// TestScrubSecretNamesAfterUnderscore: \b never fires after "_", so
// environment-style names such as HF_TOKEN and DB_PASSWORD kept their values.
func TestScrubSecretNamesAfterUnderscore(t *testing.T) {
	checkScrub(t, []scrubCase{
		{"env HF_TOKEN=hf_aBcDeFgHiJkLmN set", "env HF_TOKEN=[REDACTED] set", "hf_aBcDeFgHiJkLmN"},
		{"WANDB_API_KEY=0123456789abcdef0123", "WANDB_API_KEY=[REDACTED]", "0123456789abcdef0123"},
		{"connect: DB_PASSWORD=hunter2hunter2 rejected", "connect: DB_PASSWORD=[REDACTED] rejected", "hunter2hunter2"},
		{"db_password: hunter2hunter2", "db_password: [REDACTED]", "hunter2hunter2"},
		{"MYSQL_PASSWD = s3cr3t-passwd", "MYSQL_PASSWD = [REDACTED]", "s3cr3t-passwd"},
		{"ORACLE_PWD=s3cr3t-pwd", "ORACLE_PWD=[REDACTED]", "s3cr3t-pwd"},
		{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "AWS_SECRET_ACCESS_KEY=[REDACTED]", "wJalrXUtnFEMI/K7MDENG"},
		{"azure_client_secret='c1i3nt~s3cr3t'", "azure_client_secret='[REDACTED]'", "c1i3nt~s3cr3t"},
		{"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXkxMjM0NTY=;EndpointSuffix=core.windows.net",
			"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED];EndpointSuffix=core.windows.net", "bXlrZXkxMjM0NTY="},
		{"BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=c2lnbmF0dXJl",
			"BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=[REDACTED]", "c2lnbmF0dXJl"},
		{"map[GITHUB_TOKEN:ghp_0123456789 user:bob]", "map[GITHUB_TOKEN:[REDACTED] user:bob]", "ghp_0123456789"},
	})
}

// TestScrubJSONSecretKeys: a JSON body echoed in an error kept its secret
// fields.
func TestScrubJSONSecretKeys(t *testing.T) {
	checkScrub(t, []scrubCase{
		{`400: {"user": "bob", "password": "hunter2hunter2"}`, `400: {"user": "bob", "password": "[REDACTED]"}`, "hunter2hunter2"},
		{`{"secret":"s3cr3tvalue"}`, `{"secret":"[REDACTED]"}`, "s3cr3tvalue"},
		{`{"token":"t0k3nvalue","n":1}`, `{"token":"[REDACTED]","n":1}`, "t0k3nvalue"},
		{`{"api_key" : "k3yvalue12"}`, `{"api_key" : "[REDACTED]"}`, "k3yvalue12"},
		{`{"client_secret":"cl13nt\"s3cr3t"}`, `{"client_secret":"[REDACTED]"}`, `s3cr3t`},
		{`{"access_token":"eyJhbGciOi.eyJzdWIi.c2ln","expires_in":3599}`, `{"access_token":"[REDACTED]","expires_in":3599}`, "eyJhbGciOi.eyJzdWIi.c2ln"},
		{`{"refresh_token": 123456789}`, `{"refresh_token": [REDACTED]}`, "123456789"},
		{`msg: "{\"password\":\"hunter2hunter2\"}"`, `msg: "{\"password\":\"[REDACTED]\"}"`, "hunter2hunter2"},
	})
}

// TestScrubBasicAuthorization: only bearer tokens were scrubbed, so a Basic
// (or any other scheme's) Authorization header kept its credential.
func TestScrubBasicAuthorization(t *testing.T) {
	checkScrub(t, []scrubCase{
		{"Authorization: Basic dXNlcjpodW50ZXIy", "Authorization: Basic [REDACTED]", "dXNlcjpodW50ZXIy"},
		{`"Authorization": "Basic dXNlcjpodW50ZXIy"`, `"Authorization": "Basic [REDACTED]"`, "dXNlcjpodW50ZXIy"},
		{"proxy-authorization: dXNlcjpodW50ZXIy", "proxy-authorization: [REDACTED]", "dXNlcjpodW50ZXIy"},
		{"Authorization: SharedKey acct:c2lnbmF0dXJl", "Authorization: SharedKey [REDACTED]", "c2lnbmF0dXJl"},
	})
}
