package providertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// grantTests check the Granter contract: a grant for an existing version
// that expires within its lifetime and never shows itself when printed.
// Reading through a grant is the cloud's own business (a SAS URL, a signed
// object URL), so the harness's provider test covers that.
func grantTests() []test {
	return []test{
		{name: "GrantForExistingVersion", fn: func(t *testing.T, e *env) {
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			before := time.Now()
			g, err := e.granter.GrantRead(e.ctx, name, "1", time.Hour)
			must(t, err, "GrantRead")
			if g.IsZero() {
				t.Fatal("GrantRead returned an empty grant and no error")
			}
			if g.Expires.After(before.Add(time.Hour + time.Minute)) {
				t.Errorf("grant expires at %v, later than the hour asked for", g.Expires)
			}
			if !g.Expires.After(before) {
				t.Errorf("grant expires at %v, already past", g.Expires)
			}
		}},
		{name: "GrantMissingIsNotFound", fn: func(t *testing.T, e *env) {
			_, err := e.granter.GrantRead(e.ctx, e.name("grant"), "1", time.Hour)
			checkCode(t, err, provider.NotFound, "GrantRead of a missing version")
		}},
		{name: "GrantBadLifetimeIsInvalidArgument", fn: func(t *testing.T, e *env) {
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			for _, ttl := range []time.Duration{0, -time.Minute} {
				_, err := e.granter.GrantRead(e.ctx, name, "1", ttl)
				checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("GrantRead with ttl %v", ttl))
			}
		}},
		{name: "GrantNeverPrintsItself", fn: func(t *testing.T, e *env) {
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			g, err := e.granter.GrantRead(e.ctx, name, "1", time.Hour)
			must(t, err, "GrantRead")
			secret := g.URL.Reveal()
			js, _ := json.Marshal(g)
			for _, shown := range []string{fmt.Sprint(g), fmt.Sprintf("%+v", g), fmt.Sprintf("%#v", g), string(js)} {
				if strings.Contains(shown, secret) {
					t.Fatalf("a printed grant shows its URL: %s", shown)
				}
			}
		}},
		{name: "GrantCanceledContext", fn: func(t *testing.T, e *env) {
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			_, err := e.granter.GrantRead(e.canceledCtx(), name, "1", time.Hour)
			checkCode(t, err, provider.Canceled, "GrantRead with a canceled context")
		}},
	}
}
