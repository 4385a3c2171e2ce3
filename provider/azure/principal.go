package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/tideline-ml/tideline/internal/uuidtext"
	"github.com/tideline-ml/tideline/provider"
)

// ErrTokenNotJWT is wrapped by Principal's error when the credential's
// access token is not a JSON Web Token, so its claims cannot be read.
var ErrTokenNotJWT = errors.New("azure: the access token is not a JWT")

// Principal returns the identity that cred authenticates as, in the form
// the audit log records as a principal. It gets a token for scope (such as
// "https://storage.azure.com/.default") and reads the token's claims,
// without checking its signature: the token comes from the credential, not
// from a caller.
//
// The form is:
//
//   - for a user, whose token carries "upn": the UPN, then ";oid=" and the
//     user's object id: "alice@contoso.com;oid=8f2c…";
//   - for an application (a service principal or a managed identity), whose
//     token carries "appid" (v1 tokens) or "azp" (v2 tokens) and no "upn":
//     "app:" and the application's client id, then ";oid=" and the service
//     principal's object id.
//
// The object id is what stays when a user is renamed, and it tells apart
// two principals of the same name; the name before it is for people
// reading the log. Everything is lower-case, which is how
// mlops.Principal compares UPNs and GUIDs, so the string passes through
// mlops.ClientOptions.Principal unchanged.
//
// The token never leaves the function: it is in no error and no log.
// Errors: ErrTokenNotJWT (code FailedPrecondition) for a token that is not
// a JWT; FailedPrecondition for a JWT without "oid", or without either
// "upn" or "appid"/"azp", or with values that are not a UPN or GUIDs;
// PermissionDenied when the credential cannot get a token (its error stays
// reachable through errors.As, its text is not repeated); InvalidArgument
// for an empty scope or a nil cred.
func Principal(ctx context.Context, cred azcore.TokenCredential, scope string) (string, error) {
	if cred == nil {
		return "", provider.Errorf(provider.InvalidArgument, "azure: Principal needs a credential")
	}
	if strings.TrimSpace(scope) == "" {
		return "", provider.Errorf(provider.InvalidArgument, "azure: Principal needs a scope, such as \"https://storage.azure.com/.default\"")
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		if ctx.Err() != nil {
			return "", provider.Wrap(provider.CodeOf(ctx.Err()), ctx.Err(), "azure: getting a token to name the principal")
		}
		return "", provider.Wrap(provider.PermissionDenied, &credentialError{err},
			fmt.Sprintf("azure: the credential (%T) could not get a token for %s to name the principal; check its tenant, client id and secret", cred, scope))
	}
	return principalOf(tok.Token)
}

// credentialError hides the credential's message, which may quote a token
// endpoint's answer, while keeping its error reachable.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "the token request failed" }
func (e *credentialError) Unwrap() error { return e.err }

// tokenClaims are the claims Principal reads.
type tokenClaims struct {
	UPN   string `json:"upn"`
	AppID string `json:"appid"`
	AZP   string `json:"azp"`
	OID   string `json:"oid"`
}

func principalOf(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", provider.Wrap(provider.FailedPrecondition, ErrTokenNotJWT,
			"azure: the credential's access token has no claims to name the principal by (it is not a JWT of three parts); use a Microsoft Entra ID credential, or set the principal yourself")
	}
	body, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	var c tokenClaims
	if err == nil {
		err = json.Unmarshal(body, &c)
	}
	if err != nil {
		return "", provider.Wrap(provider.FailedPrecondition, ErrTokenNotJWT,
			"azure: the credential's access token has no claims to name the principal by (its middle part is not base64url JSON); use a Microsoft Entra ID credential, or set the principal yourself")
	}
	bad := func(format string, args ...any) (string, error) {
		return "", provider.Errorf(provider.FailedPrecondition, "azure: the credential's access token does not name a principal: "+format, args...)
	}
	if !uuidtext.Valid(c.OID) {
		return bad("its \"oid\" claim %q is not an object id (a GUID)", clip(c.OID))
	}
	oid := strings.ToLower(c.OID)
	if c.UPN != "" {
		if !plainName(c.UPN) || !strings.Contains(c.UPN, "@") {
			return bad("its \"upn\" claim %q is not a user principal name (name@domain, visible characters only)", clip(c.UPN))
		}
		return strings.ToLower(c.UPN) + ";oid=" + oid, nil
	}
	app := c.AppID
	if app == "" {
		app = c.AZP
	}
	if app == "" {
		return bad("it has neither \"upn\" (a user) nor \"appid\" or \"azp\" (an application)")
	}
	if !uuidtext.Valid(app) {
		return bad("its application id %q is not a client id (a GUID)", clip(app))
	}
	return "app:" + strings.ToLower(app) + ";oid=" + oid, nil
}

// plainName reports whether s holds visible characters only, none of them
// the separator ';'.
func plainName(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || r == ';' {
			return false
		}
	}
	return true
}

// clip shortens a claim's value for a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
