package azuretest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Credential is a fake azcore.TokenCredential: it issues tokens for the
// one scope it is asked for ("<audience>/.default"), signed with a key of
// its own, and verifies them (it is a TokenVerifier). A token names its
// audience, so a token for storage is refused by an ARM route. Tokens are
// opaque strings, not JWTs.
type Credential struct {
	key    [32]byte
	issued atomic.Int64
	// TTL is a token's lifetime; zero means an hour.
	TTL time.Duration
}

// NewCredential returns a Credential with a fresh key.
func NewCredential() *Credential {
	c := &Credential{}
	rand.Read(c.key[:])
	return c
}

const tokenPrefix = "azuretest."

// GetToken issues a token for opts' one scope. It fails for no scope,
// several scopes or a scope that is not "<audience>/.default".
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if len(opts.Scopes) != 1 || !strings.HasSuffix(opts.Scopes[0], "/.default") {
		return azcore.AccessToken{}, errors.New("azuretest: a token is issued for exactly one scope of the form <audience>/.default")
	}
	aud := strings.TrimSuffix(opts.Scopes[0], "/.default")
	var nonce [12]byte
	rand.Read(nonce[:])
	ttl := c.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	exp := time.Now().Add(ttl)
	payload := base64.RawURLEncoding.EncodeToString([]byte(aud)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(exp.UTC().Format(time.RFC3339))) + "." +
		base64.RawURLEncoding.EncodeToString(nonce[:])
	c.issued.Add(1)
	return azcore.AccessToken{Token: tokenPrefix + payload + "." + c.sign(payload), ExpiresOn: exp}, nil
}

// Issued returns the number of tokens issued.
func (c *Credential) Issued() int { return int(c.issued.Load()) }

func (c *Credential) sign(payload string) string {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyToken accepts a token this credential issued for audience that has
// not expired. Its errors never hold the token.
func (c *Credential) VerifyToken(token, audience string) error {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	parts := strings.Split(rest, ".")
	if !ok || len(parts) != 4 {
		return errors.New("not a token of the test credential")
	}
	payload := strings.Join(parts[:3], ".")
	if !hmac.Equal([]byte(c.sign(payload)), []byte(parts[3])) {
		return errors.New("the token's signature does not verify")
	}
	aud, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	exp, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return errors.New("the token is malformed")
	}
	if strings.TrimRight(string(aud), "/") != strings.TrimRight(audience, "/") {
		return errors.New("the token's audience is " + string(aud) + ", not " + audience)
	}
	at, err := time.Parse(time.RFC3339, string(exp))
	if err != nil || time.Now().After(at) {
		return errors.New("the token has expired")
	}
	return nil
}
