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

var (
	_ provider.Granter      = (*Provider)(nil)
	_ provider.GrantRevoker = (*Provider)(nil)
)

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
		p.mu.Lock()
		// Each grant has an identifier of its own, so that one can be
		// revoked without the others issued in the same second.
		q := url.Values{"se": {expires.Format(time.RFC3339)}, "sp": {"r"}, "si": {fmt.Sprintf("g%d", len(p.grants)+1)}}
		q.Set("sig", p.sign(path, q.Get("se"), q.Get("sp"), q.Get("si")))
		g = provider.Grant{URL: secret.NewSecret("mem://" + p.name + path + "?" + q.Encode()), Expires: expires}
		p.grants = append(p.grants, g.URL)
		p.mu.Unlock()
	}
	return finish(c, g, err)
}

func (p *Provider) datasetPath(name, version string) string {
	return "/datasets/" + name + "/" + version
}

func (p *Provider) sign(path, expiry, perm, id string) string {
	m := hmac.New(sha256.New, []byte(p.accountKey.Reveal()))
	fmt.Fprintf(m, "%s\n%s\n%s\n%s", path, expiry, perm, id)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ReadWithGrant opens a dataset version through a grant URL, as a job in
// another cloud would: the signature must match, the grant must not have
// expired, and it reads only the version it names. A bad grant is
// PermissionDenied, and the error never repeats the URL.
func (p *Provider) ReadWithGrant(ctx context.Context, grant secret.Secret) (io.ReadCloser, error) {
	name, version, err := p.grantTarget(grant)
	if err != nil {
		return nil, err
	}
	if err := p.CheckGrant(grant, "r", name, version); err != nil {
		return nil, err
	}
	return p.OpenDataset(ctx, name, version)
}

// CheckGrant decides, as a storage service does before it serves a request
// signed with a SAS, whether grant allows perm on the dataset version
// name@version: the grant must be this provider's, its signature must match
// that version's path (a grant applied to another version's address fails
// here), it must not have expired, and its permission must include perm —
// "r" to read, "w" to write, "d" to delete. Grants from GrantRead allow "r"
// alone. Errors: PermissionDenied, whose message never repeats the URL;
// InvalidArgument for a perm other than those three.
func (p *Provider) CheckGrant(grant secret.Secret, perm, name, version string) error {
	if perm != "r" && perm != "w" && perm != "d" {
		return provider.Errorf(provider.InvalidArgument, "memprovider: grant permission %q is not r, w or d", perm)
	}
	u, err := url.Parse(grant.Reveal())
	if err != nil || u.Scheme != "mem" || u.Host != p.name {
		return provider.Errorf(provider.PermissionDenied, "memprovider: the grant is not one of this provider's")
	}
	q := u.Query()
	path := p.datasetPath(name, version)
	if want := p.sign(path, q.Get("se"), q.Get("sp"), q.Get("si")); !hmac.Equal([]byte(want), []byte(q.Get("sig"))) {
		return provider.Errorf(provider.PermissionDenied, "memprovider: the grant's signature does not match dataset %s@%s", name, version)
	}
	if !strings.Contains(q.Get("sp"), perm) {
		return provider.Errorf(provider.PermissionDenied, "memprovider: the grant for dataset %s@%s does not allow %q (it allows %q)", name, version, perm, q.Get("sp"))
	}
	p.mu.Lock()
	revoked := p.revoked[q.Get("sig")]
	p.mu.Unlock()
	if revoked {
		return provider.Errorf(provider.PermissionDenied, "memprovider: the grant for dataset %s@%s was revoked", name, version)
	}
	expires, err := time.Parse(time.RFC3339, q.Get("se"))
	if err != nil || !p.clock.Now().Before(expires) {
		return provider.Errorf(provider.PermissionDenied, "memprovider: the grant for dataset %s@%s has expired", name, version)
	}
	return nil
}

// grantTarget returns the dataset version a grant URL's path names.
func (p *Provider) grantTarget(grant secret.Secret) (name, version string, err error) {
	u, perr := url.Parse(grant.Reveal())
	rest, ok := "", false
	if perr == nil {
		rest, ok = strings.CutPrefix(u.Path, "/datasets/")
	}
	name, version, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return "", "", provider.Errorf(provider.PermissionDenied, "memprovider: the grant names no dataset version")
	}
	return name, version, nil
}

// Grants returns every grant issued so far, so that a test can check that
// none of them leaked into logs, errors or records.
func (p *Provider) Grants() []secret.Secret {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]secret.Secret(nil), p.grants...)
}

// RevokeGrant ends a grant this provider issued: CheckGrant and
// ReadWithGrant refuse it from then on, as a storage account refuses a SAS
// whose stored access policy was removed. Revoking twice succeeds.
// Errors: InvalidArgument for a grant this provider did not sign.
func (p *Provider) RevokeGrant(ctx context.Context, g provider.Grant) error {
	c, err := p.enter(ctx, "RevokeGrant", "")
	if err != nil {
		return err
	}
	name, version, err := p.grantTarget(g.URL)
	if err == nil {
		u, _ := url.Parse(g.URL.Reveal())
		q := u.Query()
		if u.Host != p.name || !hmac.Equal([]byte(p.sign(p.datasetPath(name, version), q.Get("se"), q.Get("sp"), q.Get("si"))), []byte(q.Get("sig"))) {
			err = provider.Errorf(provider.InvalidArgument, "memprovider: the grant to revoke was not issued by this provider")
		} else {
			p.mu.Lock()
			if p.revoked == nil {
				p.revoked = make(map[string]bool)
			}
			p.revoked[q.Get("sig")] = true
			p.mu.Unlock()
		}
	} else {
		err = provider.Errorf(provider.InvalidArgument, "memprovider: the grant to revoke names no dataset version")
	}
	return c.exit(err)
}

// Revoked reports how many grants were revoked, for tests.
func (p *Provider) Revoked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.revoked)
}
