package mlops

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/secret"
)

// Known secrets are kept once each, forgotten when they expire, and never
// printable from the Client.
func TestKnownSecretsDedupeAndExpire(t *testing.T) {
	var k knownSecrets
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	k.add(t0, time.Time{}, secret.NewSecret("env-value"), secret.NewSecret("env-value"))
	k.add(t0, t0.Add(time.Hour), secret.NewSecret("grant-a"))
	k.add(t0, t0.Add(2*time.Hour), secret.NewSecret("grant-a")) // a later expiry wins
	if n := len(k.list()); n != 2 {
		t.Fatalf("%d secrets kept, want 2", n)
	}
	k.add(t0.Add(90*time.Minute), time.Time{})
	if n := len(k.list()); n != 2 {
		t.Fatalf("grant-a forgotten before its later expiry: %d kept", n)
	}
	k.add(t0.Add(3*time.Hour), time.Time{}, secret.NewSecret("env-value"))
	if got := k.list(); len(got) != 1 || got[0].Reveal() != "env-value" {
		t.Fatalf("after expiry: %d kept, want only the secret that never expires", len(got))
	}
	if s := fmt.Sprintf("%+v %#v", &k, &k); strings.Contains(s, "env-value") || strings.Contains(s, "grant-a") {
		t.Fatalf("a printed knownSecrets shows a value: %s", s)
	}
}
