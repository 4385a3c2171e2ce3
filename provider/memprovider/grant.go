package memprovider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

// maxGrantTTL is the longest a read grant may live, as a storage account's
// policy would cap a SAS.
const maxGrantTTL = 7 * 24 * time.Hour

var _ provider.Granter = (*Provider)(nil)

// GrantRead returns a read-only URL for one dataset version, signed with
// the provider's AccountKey like an Azure SAS: the version's path, an
// expiry ("se") and a permission ("sp=r"), and an HMAC-SHA256 signature
// ("sig") over them. ReadWithGrant accepts it until it expires. Errors:
// NotFound; InvalidArgument for a ttl that is not positive or exceeds seven
// days.
func (p *Provider) GrantRead(ctx context.Context, name, version string, ttl time.Duration) (provider.Grant, error) {
	c, err := p.enter(ctx, "GrantRead", name+"@"+version)
	if err != nil {
		return provider.Grant{}, err
	}
	var g provider.Grant
	if ttl <= 0 || ttl > maxGrantTTL {
		err = provider.Errorf(provider.InvalidArgument, "memprovider: grant lifetime %s is not between 0 and %s", ttl, maxGrantTTL)
	} else {
		p.mu.Lock()
		_, err = p.datasetLocked(name, version)
		p.mu.Unlock()
	}
	if err == nil {
		expires := p.clock.Now().Add(ttl).UTC().Truncate(time.Second)
		path := p.datasetPath(name, version)
		q := url.Values{"se": {expires.Format(time.RFC3339)}, "sp": {"r"}}
		q.Set("sig", p.sign(path, q.Get("se"), q.Get("sp")))
		g = provider.Grant{URL: secret.NewSecret("mem://" + p.name + path + "?" + q.Encode()), Expires: expires}
		p.mu.Lock()
		p.grants = append(p.grants, g.URL)
		p.mu.Unlock()
	}
	return finish(c, g, err)
}

func (p *Provider) datasetPath(name, version string) string {
	return "/datasets/" + name + "/" + version
}

func (p *Provider) sign(path, expiry, perm string) string {
	m := hmac.New(sha256.New, []byte(p.accountKey.Reveal()))
	fmt.Fprintf(m, "%s\n%s\n%s", path, expiry, perm)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ReadWithGrant opens a dataset version through a grant URL, as a job in
// another cloud would: the signature must match, the grant must not have
// expired, and it reads only the version it names. A bad grant is
// PermissionDenied, and the error never repeats the URL.
func (p *Provider) ReadWithGrant(ctx context.Context, grant secret.Secret) (io.ReadCloser, error) {
	u, err := url.Parse(grant.Reveal())
	if err != nil || u.Scheme != "mem" || u.Host != p.name {
		return nil, provider.Errorf(provider.PermissionDenied, "memprovider %s: the grant is not one of this provider's", p.name)
	}
	q := u.Query()
	want := p.sign(u.Path, q.Get("se"), q.Get("sp"))
	if !hmac.Equal([]byte(want), []byte(q.Get("sig"))) || q.Get("sp") != "r" {
		return nil, provider.Errorf(provider.PermissionDenied, "memprovider %s: the grant's signature does not match", p.name)
	}
	expires, err := time.Parse(time.RFC3339, q.Get("se"))
	if err != nil || !p.clock.Now().Before(expires) {
		return nil, provider.Errorf(provider.PermissionDenied, "memprovider %s: the grant has expired", p.name)
	}
	rest, ok := strings.CutPrefix(u.Path, "/datasets/")
	name, version, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return nil, provider.Errorf(provider.PermissionDenied, "memprovider %s: the grant names no dataset version", p.name)
	}
	return p.OpenDataset(ctx, name, version)
}

// Grants returns every grant issued so far, so that a test can check that
// none of them leaked into logs, errors or records.
func (p *Provider) Grants() []secret.Secret {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]secret.Secret(nil), p.grants...)
}
