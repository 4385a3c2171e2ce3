package mlops

import (
	"strings"
	"testing"
)

func TestParseImageRefParts(t *testing.T) {
	d := "sha256:" + strings.Repeat("0a", 32)
	for s, want := range map[string]imageRef{
		"python":                               {path: "python"},
		"python:3.12":                          {path: "python", tag: "3.12"},
		"team/x":                               {path: "team/x"},
		"localhost/x":                          {domain: "localhost", path: "x"},
		"localhost:5000/a/b:v1@" + d:           {domain: "localhost:5000", path: "a/b", tag: "v1", digest: d},
		"Reg/x":                                {domain: "Reg", path: "x"},
		"[::1]:5000/x":                         {domain: "[::1]:5000", path: "x"},
		"myreg.io/a.b/c__d/e---f/g_h:T_1":      {domain: "myreg.io", path: "a.b/c__d/e---f/g_h", tag: "T_1"},
		"x@sha512:" + strings.Repeat("ab", 64): {path: "x", digest: "sha512:" + strings.Repeat("ab", 64)},
		"x@multihash+base58:" + strings.Repeat("A1", 16): {path: "x", digest: "multihash+base58:" + strings.Repeat("A1", 16)},
	} {
		got, err := parseImageRef(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got != want {
			t.Errorf("%q: got %+v, want %+v", s, got, want)
		}
	}
	for _, s := range []string{
		"", ":1", "@" + d, "x:", "x@", "x@sha256", "x@:abc", "x@sha256:" + strings.Repeat("a", 63),
		"x@-sha:" + strings.Repeat("a", 32), "x@sha+:" + strings.Repeat("a", 32), "x@sha:" + strings.Repeat("a", 31),
		"a_-b", "a___b", "a..b", "-a", "a-", "A", "x/", "/x", "x//y",
		"reg.io:/x", "reg.io:0/x", "reg.io:65536/x", "reg.io:+1/x", "-reg.io/x", "reg-.io/x", "reg..io/x", ".reg/x",
		"[::1/x", "[]/x", "[::1]x/x", "[::g]/x",
		"x:" + strings.Repeat("t", 129), "x:.t", "x:t/u",
	} {
		if r, err := parseImageRef(s); err == nil {
			t.Errorf("%q parsed as %+v; want an error", s, r)
		}
	}
}

// Image references reach the policy from anyone who can submit a job:
// parsing never panics, and whatever parses renders back to itself and
// parses again to the same parts.
func FuzzParseImageRef(f *testing.F) {
	for _, s := range []string{
		"python:3.12", "registry.example/ml/train@sha256:" + strings.Repeat("0a", 32),
		"localhost:5000/a/b:v1", "[::1]:5000/x", "myreg.io/team/../x", "x\x00:1", "MyReg.IO/a__b/c--d:T",
		"index.docker.io/x", "x@sha512:" + strings.Repeat("ab", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseImageRef(s)
		if err != nil {
			return
		}
		if got := r.String(); got != s {
			t.Fatalf("%q parsed to %+v, which renders as %q", s, r, got)
		}
		again, err := parseImageRef(r.String())
		if err != nil || again != r {
			t.Fatalf("%q: rendering parses to %+v, %v; want %+v", s, again, err, r)
		}
		for _, c := range []string{r.registry(), r.repository()} {
			if c == "" || strings.ContainsAny(c, "@\x00\r\n ") {
				t.Fatalf("%q: registry %q, repository %q", s, r.registry(), r.repository())
			}
		}
		if strings.Contains(r.repository(), "..") || strings.HasPrefix(r.repository(), "/") {
			t.Fatalf("%q: repository %q", s, r.repository())
		}
		if PinnedByDigest(s) != strings.HasPrefix(r.digest, "sha256:") {
			t.Fatalf("%q: PinnedByDigest disagrees with the parse", s)
		}
	})
}

// Principal IDs come from configuration and contexts: normalising never
// panics, a normalised principal is normalised already, and comparing
// agrees with normalising.
func FuzzPrincipalNormalize(f *testing.F) {
	for _, s := range []string{"alice@example.com", " Alice@Example.com ", "alice\u200b@example.com", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "Pipeline-Nightly", "ſ@K", "\xff"} {
		f.Add(s, "risk")
	}
	f.Fuzz(func(t *testing.T, id, team string) {
		p, err := Principal{ID: id, Team: team}.normalize()
		if err != nil {
			return
		}
		q, err := p.normalize()
		if err != nil || q != p {
			t.Fatalf("%q: normalised %+v normalises to %+v, %v", id, p, q, err)
		}
		if !samePrincipal(id, p.ID) || !samePrincipal(p.ID, id) {
			t.Fatalf("%q and its normal form %q compare as different principals", id, p.ID)
		}
	})
}
