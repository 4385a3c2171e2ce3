package azure

import (
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func TestMetadataRoundTrip(t *testing.T) {
	user := map[string]string{
		"owner":          "risk-team",
		"class":          "a C# keyword as a key",
		"string":         "résumé — non-ASCII",
		"padded":         " leading and trailing spaces ",
		"empty":          "",
		"tilde":          "~looks encoded",
		"classification": "restricted",
	}
	s := storedMetadata{user: user, digest: "sha256:" + strings.Repeat("ab", 32), created: time.Date(2026, 12, 2, 10, 0, 0, 123456789, time.UTC)}
	enc, err := s.encode("md")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range enc {
		if !csharpIdentifier(k) || csharpKeywords[k] {
			t.Errorf("stored name %q is not a C# identifier", k)
		}
		if !plainValue(*v) && *v != "" {
			t.Errorf("stored value %q of %q is not plain header text", *v, k)
		}
	}
	// The service returns names in any case (HTTP header canonicalisation).
	shouted := map[string]*string{}
	for k, v := range enc {
		shouted[strings.ToUpper(k[:1])+k[1:]] = v
	}
	got, ok := decodeMetadata(shouted)
	if !ok {
		t.Fatal("decodeMetadata does not recognise what encode wrote")
	}
	if got.digest != s.digest || !got.created.Equal(s.created) {
		t.Errorf("digest %s created %v, want %s %v", got.digest, got.created, s.digest, s.created)
	}
	if len(got.user) != len(user) {
		t.Errorf("decoded %v, want %v", got.user, user)
	}
	for k, v := range user {
		if got.user[k] != v {
			t.Errorf("key %q decodes as %q, want %q", k, got.user[k], v)
		}
	}
}

func csharpIdentifier(s string) bool {
	for i, c := range s {
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			return false
		}
	}
	return s != ""
}

// TestMetadataAzureLimit checks the 8 KiB bound at its edge: the largest
// metadata the contract allows (8000 bytes of keys and values) fits with the
// driver's own entries, and text that base64 inflates past 8192 bytes is
// InvalidArgument.
func TestMetadataAzureLimit(t *testing.T) {
	base := storedMetadata{digest: "sha256:" + strings.Repeat("0", 64), created: time.Now()}
	full := contractMax()
	if err := provider.ValidateMetadata("md", full); err != nil {
		t.Fatalf("the test's metadata breaks the contract: %v", err)
	}
	s := base
	s.user = full
	enc, err := s.encode("md")
	if err != nil {
		t.Fatalf("the contract's largest metadata does not fit: %v", err)
	}
	if n := encodedSize(enc); n > maxAzureMetadata {
		t.Fatalf("encoded size %d > %d", n, maxAzureMetadata)
	}

	// Grow one encoded value until the total is exactly the limit, then
	// one byte more.
	s.user = map[string]string{}
	own := encodedSize(mustEncode(t, &s))
	room := maxAzureMetadata - own - len("pad")
	s.user["pad"] = strings.Repeat("x", room)
	if n := encodedSize(mustEncode(t, &s)); n != maxAzureMetadata {
		t.Fatalf("size %d, want exactly %d", n, maxAzureMetadata)
	}
	s.user["pad"] += "x"
	if _, err := s.encode("md"); provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("%d bytes encoded: err %v, want InvalidArgument", maxAzureMetadata+1, err)
	} else if !strings.Contains(err.Error(), "8192") {
		t.Errorf("the error %q does not state the limit", err)
	}

	// Non-ASCII within the contract's 8000 bytes, but over 8192 once
	// base64-encoded.
	s.user = map[string]string{}
	for i := range 3 {
		s.user["k"+string(rune('a'+i))] = strings.Repeat("é", 1000) // 2000 bytes each
	}
	s.user["kd"] = strings.Repeat("é", 995)
	if err := provider.ValidateMetadata("md", s.user); err != nil {
		t.Fatal(err)
	}
	if _, err := s.encode("md"); provider.CodeOf(err) != provider.InvalidArgument {
		t.Errorf("8 KB of non-ASCII text: err %v, want InvalidArgument", err)
	}
}

func mustEncode(t *testing.T, s *storedMetadata) map[string]*string {
	t.Helper()
	enc, err := s.encode("md")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func encodedSize(md map[string]*string) int {
	n := 0
	for k, v := range md {
		n += len(k) + len(*v)
	}
	return n
}

// contractMax is plain metadata of exactly provider.MaxMetaTotalLen bytes.
func contractMax() map[string]string {
	md := map[string]string{}
	total := 0
	for i := 0; total < provider.MaxMetaTotalLen; i++ {
		k := "key" + strings.Repeat("k", i%10) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		n := min(provider.MaxMetaValueLen, provider.MaxMetaTotalLen-total-len(k))
		md[k] = strings.Repeat("v", n)
		total += len(k) + n
	}
	return md
}

func TestForeignMetadataIsKept(t *testing.T) {
	v, d, c := "x", strings.Repeat("1", 64), "2026-12-02T10:00:00Z"
	s, ok := decodeMetadata(map[string]*string{"_other_tool": &v, "_tl_sha256": &d, "_tl_created": &c, "owner": &v})
	if !ok || s.foreign["_other_tool"] != "x" || len(s.user) != 1 {
		t.Fatalf("decoded %+v, ok=%v", s, ok)
	}
	enc := mustEncode(t, &s)
	if enc["_other_tool"] == nil || *enc["_other_tool"] != "x" {
		t.Errorf("an entry another tool wrote is lost on rewrite: %v", enc)
	}
}
