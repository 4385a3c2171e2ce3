package memprovider

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

func TestGrantReadsExactlyOneVersionUntilItExpires(t *testing.T) {
	p, clock := newFake(t, &Options{AccountKey: secret.NewSecret("grant-test-key")})
	ctx := context.Background()
	for _, v := range []string{"1", "2"} {
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: v, Region: "westeurope", Content: contentOf([]byte("version " + v))})
		mustOK(t, err)
	}
	g, err := p.GrantRead(ctx, "claims", "1", time.Hour)
	mustOK(t, err)
	if !g.Expires.Equal(clock.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("Expires = %v", g.Expires)
	}
	rc, err := p.ReadWithGrant(ctx, g.URL)
	mustOK(t, err)
	b, _ := io.ReadAll(rc)
	if string(b) != "version 1" {
		t.Fatalf("read %q", b)
	}
	if len(p.Grants()) != 1 || p.Grants()[0].Reveal() != g.URL.Reveal() {
		t.Error("Grants does not list the grant")
	}

	// Pointing the grant at another version breaks the signature.
	other := strings.Replace(g.URL.Reveal(), "/claims/1?", "/claims/2?", 1)
	_, err = p.ReadWithGrant(ctx, secret.NewSecret(other))
	wantCode(t, err, provider.PermissionDenied)
	// So does widening the permission.
	u, _ := url.Parse(g.URL.Reveal())
	q := u.Query()
	q.Set("sp", "rw")
	u.RawQuery = q.Encode()
	_, err = p.ReadWithGrant(ctx, secret.NewSecret(u.String()))
	wantCode(t, err, provider.PermissionDenied)
	// Another provider's key does not sign for this one.
	q2, _ := newFake(t, &Options{AccountKey: secret.NewSecret("another-key")})
	_, err = q2.ReadWithGrant(ctx, g.URL)
	wantCode(t, err, provider.PermissionDenied)

	clock.Advance(time.Hour)
	_, err = p.ReadWithGrant(ctx, g.URL)
	wantCode(t, err, provider.PermissionDenied)
	if strings.Contains(err.Error(), "sig=") || strings.Contains(err.Error(), g.URL.Reveal()) {
		t.Errorf("the error repeats the grant: %v", err)
	}
}

func TestGrantBadInput(t *testing.T) {
	p, _ := newFake(t, nil)
	ctx := context.Background()
	_, err := p.GrantRead(ctx, "claims", "1", time.Hour)
	wantCode(t, err, provider.NotFound)
	_, err = p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: contentOf([]byte("x"))})
	mustOK(t, err)
	for _, ttl := range []time.Duration{0, -time.Second, 8 * 24 * time.Hour} {
		_, err = p.GrantRead(ctx, "claims", "1", ttl)
		wantCode(t, err, provider.InvalidArgument)
	}
	if n := len(p.Grants()); n != 0 {
		t.Errorf("%d grants issued by failed calls", n)
	}
	for _, bad := range []string{"", "not a url", "https://elsewhere/datasets/claims/1?sig=x", "mem://mem/datasets/claims/1"} {
		_, err = p.ReadWithGrant(ctx, secret.NewSecret(bad))
		wantCode(t, err, provider.PermissionDenied)
	}
}

func TestGrantFaultsAndCalls(t *testing.T) {
	p, _ := newFake(t, nil)
	ctx := context.Background()
	_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope", Content: contentOf([]byte("x"))})
	mustOK(t, err)
	p.InjectFault(Fault{Op: "GrantRead", Nth: 1})
	_, err = p.GrantRead(ctx, "claims", "1", time.Hour)
	wantCode(t, err, provider.Unavailable)
	_, err = p.GrantRead(ctx, "claims", "1", time.Hour)
	mustOK(t, err)
	for _, c := range p.Calls() {
		if strings.Contains(c.Target, "sig") {
			t.Errorf("recorded call carries the grant: %+v", c)
		}
	}
}

func TestCheckGrantAllowsOnlyReadingItsVersion(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	for _, name := range []string{"claims", "other"} {
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: name, Version: "1", Region: "westeurope", Content: contentOf([]byte(name))})
		mustOK(t, err)
	}
	g, err := p.GrantRead(ctx, "claims", "1", time.Minute)
	mustOK(t, err)
	mustOK(t, p.CheckGrant(g.URL, "r", "claims", "1"))
	for _, c := range []struct{ perm, name, version string }{
		{"w", "claims", "1"}, {"d", "claims", "1"}, {"r", "claims", "2"}, {"r", "other", "1"},
	} {
		err := p.CheckGrant(g.URL, c.perm, c.name, c.version)
		wantCode(t, err, provider.PermissionDenied)
		if strings.Contains(err.Error(), g.URL.Reveal()) || strings.Contains(err.Error(), "sig=") {
			t.Errorf("%+v: the error repeats the grant: %v", c, err)
		}
	}
	wantCode(t, p.CheckGrant(g.URL, "x", "claims", "1"), provider.InvalidArgument)
	clock.Advance(time.Minute)
	wantCode(t, p.CheckGrant(g.URL, "r", "claims", "1"), provider.PermissionDenied)
}
