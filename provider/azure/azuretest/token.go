package azuretest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// DefaultTokenTTL is how long the tokens of a TokenServer live unless
// TokenServer.TTL says otherwise.
const DefaultTokenTTL = time.Hour

// TokenServer is a local Microsoft Entra ID token endpoint for tests: a TLS
// server that answers the OpenID configuration of one tenant and its
// token endpoint for the client-credentials grant, so that azidentity's
// ClientSecretCredential runs its real code path against it.
//
// It is a test fake. Its access tokens are JWTs signed with HS256 under a
// random key that lives as long as the server; Azure accepts none of them,
// and only Verify of the same server does. They carry the claims the
// project reads: "oid", "tid", "appid" and "azp" (the application), "upn"
// for users (UserToken), "aud", "iss", "iat", "nbf" and "exp".
type TokenServer struct {
	// Tenant is the directory the server speaks for: a GUID.
	Tenant string
	// TTL is the lifetime of the tokens issued from now on; zero means
	// DefaultTokenTTL. Set it before the tokens are requested.
	TTL time.Duration

	srv *httptest.Server
	key []byte

	mu        sync.Mutex
	apps      map[string]App // by client id
	audiences []string
	issued    int
}

// App is an application registration: the client id and secret a
// ClientSecretCredential presents, and the object id of its service
// principal, which the token's "oid" claim carries.
type App struct {
	ClientID string
	Secret   string
	ObjectID string
}

// NewTokenServer starts a TokenServer for tenant (a GUID). It issues
// tokens for the storage and management audiences until SetAudiences says
// otherwise. Close it when done.
func NewTokenServer(tenant string) *TokenServer {
	s := &TokenServer{
		Tenant:    tenant,
		key:       make([]byte, 32),
		apps:      map[string]App{},
		audiences: []string{"https://storage.azure.com", "https://management.azure.com"},
	}
	if _, err := rand.Read(s.key); err != nil {
		panic("azuretest: drawing a signing key: " + err.Error())
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// Close stops the server.
func (s *TokenServer) Close() { s.srv.Close() }

// AuthorityHost is the server's URL with a trailing slash, what
// cloud.Configuration.ActiveDirectoryAuthorityHost takes.
func (s *TokenServer) AuthorityHost() string { return s.srv.URL + "/" }

// Client returns an HTTP client that trusts the server's certificate. It
// implements policy.Transporter.
func (s *TokenServer) Client() *http.Client { return s.srv.Client() }

// AddApp registers an application.
func (s *TokenServer) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.ClientID] = a
}

// SetAudiences replaces the audiences the server issues tokens for, such
// as "https://storage.azure.com"; a scope is an audience followed by
// "/.default".
func (s *TokenServer) SetAudiences(aud ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audiences = slices.Clone(aud)
}

// Issued returns how many tokens the server issued through its endpoint.
func (s *TokenServer) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Credential returns a ClientSecretCredential for the app clientID of the
// server's tenant: the authority host points at the server, instance
// discovery is off and the transport trusts the server's certificate.
// transport, when not nil, replaces that transport (it must trust the
// server, as one wrapping Client() does).
func (s *TokenServer) Credential(clientID, secret string, transport policy.Transporter) (*azidentity.ClientSecretCredential, error) {
	if transport == nil {
		transport = s.Client()
	}
	return azidentity.NewClientSecretCredential(s.Tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.AuthorityHost()},
			Transport: transport,
		},
		DisableInstanceDiscovery: true,
	})
}

// UserToken mints a token for a user, as a user's sign-in to the
// application clientID would give: "upn" and "oid" name the user, "azp"
// and "appid" the application. The server serves no user sign-in flow;
// tests hand the token to the code under test through a TokenCredential
// of their own.
func (s *TokenServer) UserToken(upn, objectID, clientID, audience string) string {
	return s.mint(claims{UPN: upn, OID: objectID, AppID: clientID, AZP: clientID, IDType: "user"}, audience)
}

type claims struct {
	Aud    string `json:"aud"`
	Iss    string `json:"iss"`
	Iat    int64  `json:"iat"`
	Nbf    int64  `json:"nbf"`
	Exp    int64  `json:"exp"`
	TID    string `json:"tid"`
	OID    string `json:"oid"`
	Sub    string `json:"sub"`
	AppID  string `json:"appid,omitempty"`
	AZP    string `json:"azp,omitempty"`
	UPN    string `json:"upn,omitempty"`
	IDType string `json:"idtyp,omitempty"`
	Ver    string `json:"ver"`
}

var b64 = base64.RawURLEncoding

func (s *TokenServer) issuer() string { return s.srv.URL + "/" + s.Tenant + "/v2.0" }

func (s *TokenServer) mint(c claims, audience string) string {
	now := time.Now()
	ttl := s.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	c.Aud, c.Iss, c.TID, c.Sub, c.Ver = audience, s.issuer(), s.Tenant, c.OID, "2.0"
	c.Iat, c.Nbf, c.Exp = now.Unix(), now.Add(-time.Minute).Unix(), now.Add(ttl).Unix()
	body, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	signing := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64.EncodeToString(body)
	return signing + "." + b64.EncodeToString(s.sign(signing))
}

func (s *TokenServer) sign(signing string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// ErrInvalidToken is wrapped by every error of Verify.
var ErrInvalidToken = errors.New("azuretest: invalid bearer token")

// Verify checks a bearer token as a service would: issued by this server
// (signature, issuer and tenant), in its lifetime, and for audience (the
// "aud" claim, compared without a trailing slash). A contract server takes
// it as its token verifier. The error, which wraps ErrInvalidToken, says
// what failed and never holds the token.
func (s *TokenServer) Verify(token, audience string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return bad("not a JWT (%d parts, want 3)", len(parts))
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.sign(parts[0]+"."+parts[1])) {
		return bad("the signature is not this token server's")
	}
	body, err := b64.DecodeString(parts[1])
	if err != nil {
		return bad("the claims are not base64url")
	}
	var c claims
	if err := json.Unmarshal(body, &c); err != nil {
		return bad("the claims are not a JSON object")
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != s.issuer() || c.TID != s.Tenant:
		return bad("issued for tenant %q, want %q", c.TID, s.Tenant)
	case now >= c.Exp:
		return bad("expired %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	case now < c.Nbf:
		return bad("not valid before %s", time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339))
	case strings.TrimRight(c.Aud, "/") != strings.TrimRight(audience, "/"):
		return bad("audience %q, want %q", c.Aud, audience)
	}
	return nil
}

// VerifyToken is Verify, which makes a TokenServer the TokenVerifier of a
// contract Server (Options.Verifier): the server then accepts exactly the
// tokens this one issued for each route's audience.
func (s *TokenServer) VerifyToken(token, audience string) error { return s.Verify(token, audience) }

// serve answers the tenant's OpenID configuration and token endpoint.
func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	tenant, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if tenant != s.Tenant {
		oauthError(w, http.StatusBadRequest, "invalid_tenant", "the tenant in the path is not this server's")
		return
	}
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		base := s.srv.URL + "/" + s.Tenant
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"issuer":                 s.issuer(),
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
		})
	case "oauth2/v2.0/token":
		s.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *TokenServer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST the token request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is served")
		return
	}
	s.mu.Lock()
	app, ok := s.apps[r.PostForm.Get("client_id")]
	audiences := s.audiences
	s.mu.Unlock()
	if !ok || !hmac.Equal([]byte(app.Secret), []byte(r.PostForm.Get("client_secret"))) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	var audience string
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		switch sc {
		case "openid", "profile", "offline_access":
			continue
		}
		aud, ok := strings.CutSuffix(sc, "/.default")
		if !ok || audience != "" || !slices.Contains(audiences, aud) {
			oauthError(w, http.StatusBadRequest, "invalid_scope", "ask for one scope <audience>/.default of a known audience")
			return
		}
		audience = aud
	}
	if audience == "" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "no scope asked")
		return
	}
	tok := s.mint(claims{OID: app.ObjectID, AppID: app.ClientID, AZP: app.ClientID, IDType: "app"}, audience)
	s.mu.Lock()
	s.issued++
	ttl := s.TTL
	s.mu.Unlock()
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"token_type":     "Bearer",
		"expires_in":     int(ttl.Seconds()),
		"ext_expires_in": int(ttl.Seconds()),
		"access_token":   tok,
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
