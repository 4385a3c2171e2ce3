package providertest

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// grantTests check the Granter contract: a grant reads exactly the version
// it was issued for, nothing else; it cannot write or delete; it stops
// working when it expires; and it never shows itself. Using a grant is the
// business of the cloud's storage, so the suite does it through the
// harness's GrantUser, as a job in another cloud would.
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
			if g.Expires.After(before.Add(time.Hour + time.Minute + e.o.ClockSkew)) {
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
		{name: "GrantReadsItsVersion", fn: func(t *testing.T, e *env) {
			e.needGrantUser(t)
			name := e.name("grant")
			data := payload(name, 5000)
			e.mustPut(t, name, "1", data, nil)
			g := e.mustGrant(t, name, "1", time.Hour)
			got, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpRead, name, "1", nil)
			must(t, err, "reading the version through its grant")
			if !bytes.Equal(got, data) {
				t.Errorf("reading through the grant gave %d bytes that differ from the %d stored", len(got), len(data))
			}
		}},
		{name: "GrantReadsOnlyItsVersion", fn: func(t *testing.T, e *env) {
			e.needGrantUser(t)
			name, other := e.name("grant"), e.name("other")
			e.mustPut(t, name, "1", []byte("version one"), nil)
			e.mustPut(t, name, "2", []byte("version two"), nil)
			e.mustPut(t, other, "1", []byte("another dataset"), nil)
			g := e.mustGrant(t, name, "1", time.Hour)
			for _, c := range []struct{ what, name, version string }{
				{"another version of its dataset", name, "2"},
				{"another dataset", other, "1"},
			} {
				got, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpRead, c.name, c.version, nil)
				if err == nil {
					t.Errorf("a grant for %s@1 read %s (%s@%s, %d bytes); a grant reads exactly its version", name, c.what, c.name, c.version, len(got))
					continue
				}
				checkCode(t, err, provider.PermissionDenied, "reading "+c.what+" through a grant")
			}
		}},
		{name: "GrantIsReadOnly", fn: func(t *testing.T, e *env) {
			e.needGrantUser(t)
			name := e.name("grant")
			data := []byte("version one")
			e.mustPut(t, name, "1", data, nil)
			g := e.mustGrant(t, name, "1", time.Hour)
			_, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpWrite, name, "1", []byte("overwritten"))
			if err == nil {
				t.Error("a read grant overwrote the version it was issued for; a grant is read-only")
			} else {
				checkCode(t, err, provider.PermissionDenied, "writing through a read grant")
			}
			_, err = e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpWrite, name, "9", []byte("new"))
			if err == nil {
				t.Error("a read grant created a new version; a grant is read-only")
			} else {
				checkCode(t, err, provider.PermissionDenied, "creating a version through a read grant")
			}
			_, err = e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpDelete, name, "1", nil)
			if err == nil {
				t.Error("a read grant deleted the version it was issued for; a grant is read-only")
			} else {
				checkCode(t, err, provider.PermissionDenied, "deleting through a read grant")
			}
			if b := e.readAll(t, name, "1"); !bytes.Equal(b, data) {
				t.Errorf("after writes and a delete through a read grant the version reads %q, want %q", b, data)
			}
			_, err = e.ds.GetDataset(e.ctx, name, "9")
			checkCode(t, err, provider.NotFound, "GetDataset of the version written through a read grant")
		}},
		{name: "ExpiredGrantIsRefused", fn: func(t *testing.T, e *env) {
			e.needGrantUser(t)
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			// Short enough to wait for, long enough that the grant still
			// works when the suite first uses it, whatever the skew.
			g := e.mustGrant(t, name, "1", 2*time.Second+2*e.o.ClockSkew)
			if time.Until(g.Expires) > e.o.ClockSkew+250*time.Millisecond {
				_, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpRead, name, "1", nil)
				must(t, err, "reading through the grant before it expires")
			}
			wait := time.Until(g.Expires) + e.o.ClockSkew + 10*time.Millisecond
			if wait > e.o.Timeout {
				t.Fatalf("the grant expires at %v, %v from now; more than Options.Timeout (%v) for a grant asked for %v", g.Expires, wait, e.o.Timeout, 2*time.Second+2*e.o.ClockSkew)
			}
			select {
			case <-e.ctx.Done():
				t.Fatal(e.ctx.Err())
			case <-time.After(wait):
			}
			_, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpRead, name, "1", nil)
			if err == nil {
				t.Fatalf("a grant that expired at %v is still honoured %v later; an expired grant is refused", g.Expires, time.Since(g.Expires))
			}
			checkCode(t, err, provider.PermissionDenied, "reading through an expired grant")
		}},
		{name: "RevokedGrantIsRefused", fn: func(t *testing.T, e *env) {
			r, ok := e.p.(provider.GrantRevoker)
			if !ok {
				t.Skip("the provider does not revoke single grants (provider.GrantRevoker); its grants lapse at expiry")
			}
			e.needGrantUser(t)
			name := e.name("grant")
			e.mustPut(t, name, "1", []byte("rows"), nil)
			keep := e.mustGrant(t, name, "1", time.Hour)
			drop := e.mustGrant(t, name, "1", time.Hour)
			must(t, r.RevokeGrant(e.ctx, drop), "RevokeGrant")
			must(t, r.RevokeGrant(e.ctx, drop), "RevokeGrant of a revoked grant")
			_, err := e.grantUser.UseGrant(e.ctx, e.p, drop, GrantOpRead, name, "1", nil)
			if err == nil {
				t.Fatal("a revoked grant is still honoured")
			}
			checkCode(t, err, provider.PermissionDenied, "reading through a revoked grant")
			_, err = e.grantUser.UseGrant(e.ctx, e.p, keep, GrantOpRead, name, "1", nil)
			must(t, err, "reading through another grant of the same version, not revoked")
		}},
		{name: "GrantNeverPrintsItself", fn: func(t *testing.T, e *env) {
			name := e.name("grant")
			put := e.mustPut(t, name, "1", []byte("rows"), nil)
			e.mustPut(t, name, "2", []byte("more rows"), nil)
			g := e.mustGrant(t, name, "1", time.Hour)
			cred := grantSecrets(g)
			if g.URL.Reveal() == put.URI {
				t.Errorf("the grant is the version's plain URI; either the URI carries a credential or the grant carries none")
			}
			checkNoLeak(t, "the printed grant", g, cred)
			checkNoLeak(t, "the printed *Grant", &g, cred)
			got, err := e.ds.GetDataset(e.ctx, name, "1")
			checkNoLeak(t, "the DatasetInfo GetDataset returned", mustInfo(t, got, err, "GetDataset"), cred)
			list, err := e.ds.ListDatasets(e.ctx, name)
			must(t, err, "ListDatasets")
			for _, d := range list {
				checkNoLeak(t, "the DatasetInfo ListDatasets returned", d, cred)
			}
			if e.grantUser != nil {
				// The storage's refusal names what was refused, not the
				// credential it refused.
				_, err := e.grantUser.UseGrant(e.ctx, e.p, g, GrantOpRead, name, "2", nil)
				if err != nil {
					checkNoLeak(t, "the error of reading another version through the grant", err.Error(), cred)
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

func (e *env) mustGrant(t *testing.T, name, version string, ttl time.Duration) provider.Grant {
	t.Helper()
	g, err := e.granter.GrantRead(e.ctx, name, version, ttl)
	must(t, err, fmt.Sprintf("GrantRead(%s@%s, %v)", name, version, ttl))
	if g.IsZero() {
		t.Fatalf("GrantRead(%s@%s) returned an empty grant and no error", name, version)
	}
	return g
}

// grantSecrets is what of a grant must never show: the whole URL and, when
// it has one, its query, where a SAS token or a signature lives.
func grantSecrets(g provider.Grant) []secretValue {
	raw := g.URL.Reveal()
	out := []secretValue{{"the grant's URL", raw}}
	if u, err := url.Parse(raw); err == nil && len(u.RawQuery) >= 8 {
		out = append(out, secretValue{"the grant's credential (its URL's query)", u.RawQuery})
	} else if _, q, ok := strings.Cut(raw, "?"); ok && len(q) >= 8 {
		out = append(out, secretValue{"the grant's credential (its URL's query)", q})
	}
	return out
}
