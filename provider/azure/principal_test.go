package azure_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

const (
	testTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testClientID = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"
	testAppOID   = "11111111-2222-3333-4444-555555555555"
	testSecret   = "recognisable-client-secret-Zq8~w"
	storageScope = "https://storage.azure.com/.default"
)

func tokenServer(t *testing.T) *azuretest.TokenServer {
	t.Helper()
	s := azuretest.NewTokenServer(testTenant)
	t.Cleanup(s.Close)
	s.AddApp(azuretest.App{ClientID: testClientID, Secret: testSecret, ObjectID: testAppOID})
	return s
}

// staticToken is a TokenCredential that hands out one token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestPrincipalFromClientSecretCredential gets a token through
// azidentity's ClientSecretCredential from the local token endpoint, names
// the service principal from its claims, and shows an mlops.Client
// configured with that principal writing an audit record that names it.
func TestPrincipalFromClientSecretCredential(t *testing.T) {
	ctx := context.Background()
	s := tokenServer(t)
	cred, err := s.Credential(testClientID, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := azure.Principal(ctx, cred, storageScope)
	if err != nil {
		t.Fatal(err)
	}
	want := "app:" + strings.ToLower(testClientID) + ";oid=" + testAppOID
	if id != want {
		t.Fatalf("Principal = %q, want %q", id, want)
	}
	if s.Issued() != 1 {
		t.Errorf("the token server issued %d tokens, want 1", s.Issued())
	}

	hook := mlops.NewMemoryAuditHook()
	c, err := mlops.NewClient(mlops.Providers{"lab": memprovider.New(nil)}, &mlops.ClientOptions{
		Principal: mlops.Principal{ID: id},
		Policy:    mlops.Permissive(),
		Hooks:     []mlops.Hook{hook},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDataset(ctx, "claims", "1", strings.NewReader("id,amount\n1,120\n"),
		&mlops.CreateDatasetOptions{Location: mlops.Location{Provider: "lab", Region: "westeurope"}}); err != nil {
		t.Fatal(err)
	}
	recs, err := hook.MemorySink().Records()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no audit record")
	}
	for _, r := range recs {
		if r.Principal != want {
			t.Errorf("audit record %d (%s) names %q, want %q", r.Seq, r.Action, r.Principal, want)
		}
		if strings.Contains(fmt.Sprintf("%+v", r), testSecret) {
			t.Errorf("audit record %d holds the client secret", r.Seq)
		}
	}
}

// TestPrincipalOfAUser reads a user's token: the UPN (lower-cased) and the
// object id.
func TestPrincipalOfAUser(t *testing.T) {
	s := tokenServer(t)
	tok := s.UserToken("Alice@Contoso.com", "AAAAAAAA-1111-2222-3333-444444444444", testClientID, "https://storage.azure.com")
	id, err := azure.Principal(context.Background(), staticToken(tok), storageScope)
	if err != nil {
		t.Fatal(err)
	}
	if want := "alice@contoso.com;oid=aaaaaaaa-1111-2222-3333-444444444444"; id != want {
		t.Errorf("Principal = %q, want %q", id, want)
	}
}

// TestPrincipalRejects: tokens that name no principal, and credentials
// that get no token, are typed errors that hold neither the token nor the
// secret.
func TestPrincipalRejects(t *testing.T) {
	ctx := context.Background()
	s := tokenServer(t)
	jwt := func(claims string) string {
		return "eyJhbGciOiJub25lIn0." + strings.TrimRight(b64url(claims), "=") + ".c2ln"
	}
	wrongSecret, err := s.Credential(testClientID, "wrong-secret-Yx7", nil)
	if err != nil {
		t.Fatal(err)
	}
	right, err := s.Credential(testClientID, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		cred   azcore.TokenCredential
		scope  string
		code   provider.Code
		notJWT bool
		leak   string
	}{
		{"an opaque token", staticToken("opaque-token-Kp3vQ"), storageScope, provider.FailedPrecondition, true, "opaque-token-Kp3vQ"},
		{"claims that are not JSON", staticToken("a.bm90IGpzb24.c"), storageScope, provider.FailedPrecondition, true, "bm90IGpzb24"},
		{"no oid", staticToken(jwt(`{"upn":"a@b.c"}`)), storageScope, provider.FailedPrecondition, false, ""},
		{"neither upn nor appid", staticToken(jwt(`{"oid":"` + testAppOID + `"}`)), storageScope, provider.FailedPrecondition, false, ""},
		{"a upn with a space", staticToken(jwt(`{"oid":"` + testAppOID + `","upn":"a b@c.d"}`)), storageScope, provider.FailedPrecondition, false, ""},
		{"a wrong secret", wrongSecret, storageScope, provider.PermissionDenied, false, "wrong-secret-Yx7"},
		{"an audience the server does not know", right, "https://vault.azure.net/.default", provider.PermissionDenied, false, testSecret},
		{"no scope", right, " ", provider.InvalidArgument, false, ""},
		{"no credential", nil, storageScope, provider.InvalidArgument, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := azure.Principal(ctx, c.cred, c.scope)
			if provider.CodeOf(err) != c.code || errors.Is(err, azure.ErrTokenNotJWT) != c.notJWT {
				t.Fatalf("Principal = %q, %v (code %v); want code %v, ErrTokenNotJWT %v", id, err, provider.CodeOf(err), c.code, c.notJWT)
			}
			if c.leak != "" && strings.Contains(err.Error(), c.leak) {
				t.Errorf("the error holds %q: %v", c.leak, err)
			}
		})
	}
	// The credential's own error stays reachable.
	_, err = azure.Principal(ctx, wrongSecret, storageScope)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Errorf("the credential's error is not reachable: %v", err)
	}
}

// TestTokenServerVerify checks the verifier a contract server uses: the
// server's own tokens for the right audience pass; another audience,
// another server's token, a changed claim, an expired token and garbage
// do not, and the errors hold no token.
func TestTokenServerVerify(t *testing.T) {
	ctx := context.Background()
	s := tokenServer(t)
	cred, err := s.Credential(testClientID, testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{storageScope}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(tok.Token, "https://storage.azure.com/"); err != nil {
		t.Fatalf("the server's own token: %v", err)
	}
	other := azuretest.NewTokenServer(testTenant)
	defer other.Close()
	parts := strings.Split(tok.Token, ".")
	tampered := parts[0] + "." + b64url(strings.Replace(mustB64(t, parts[1]), testAppOID, "99999999-2222-3333-4444-555555555555", 1)) + "." + parts[2]
	s2 := tokenServer(t)
	s2.TTL = -time.Minute
	expired := s2.UserToken("a@b.c", testAppOID, testClientID, "https://storage.azure.com")
	for _, c := range []struct{ name, token, aud, want string }{
		{"another audience", tok.Token, "https://management.azure.com", "audience"},
		{"another server's token", other.UserToken("a@b.c", testAppOID, testClientID, "https://storage.azure.com"), "https://storage.azure.com", "signature"},
		{"a changed claim", tampered, "https://storage.azure.com", "signature"},
		{"garbage", "not-a-token", "https://storage.azure.com", "not a JWT"},
	} {
		err := s.Verify(c.token, c.aud)
		if !errors.Is(err, azuretest.ErrInvalidToken) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), c.token) {
			t.Errorf("%s: %v; want ErrInvalidToken about %q, without the token", c.name, err, c.want)
		}
	}
	if err := s2.Verify(expired, "https://storage.azure.com"); !errors.Is(err, azuretest.ErrInvalidToken) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token: %v", err)
	}
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustB64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
