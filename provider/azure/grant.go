package azure

import (
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/secret"
)

// startSkew backdates a SAS's start time, so that a storage service whose
// clock runs behind this machine's accepts it at once.
const startSkew = 5 * time.Minute

// GrantRead returns a SAS URL for the version's blob with read permission
// only, expiring ttl from now (truncated to the second, as a SAS states
// times). With Config.SharedKey it is a service SAS signed with the account
// key; with Config.Credential it is a user-delegation SAS signed with a
// user-delegation key fetched for the grant's lifetime, which the
// credential's identity needs the right to request (the "Storage Blob Data
// Reader" role includes it). The account key never leaves the process.
//
// A SAS scoped to one blob reads that blob and nothing else: not the other
// versions, not the container's listing. A version is one blob, so the
// SAS needs no list permission to read all of it, and carries none.
//
// Errors: NotFound when the version does not exist; InvalidArgument when
// ttl is not positive or longer than Config.MaxGrantTTL.
func (p *Provider) GrantRead(ctx context.Context, name, version string, ttl time.Duration) (provider.Grant, error) {
	if err := provider.CheckContext(ctx); err != nil {
		return provider.Grant{}, err
	}
	if err := checkNameVersion(name, version); err != nil {
		return provider.Grant{}, err
	}
	if ttl <= 0 || ttl > p.maxGrantTTL {
		return provider.Grant{}, provider.Errorf(provider.InvalidArgument, "azure: a read grant lives more than 0s and at most %v (Config.MaxGrantTTL); %v asked", p.maxGrantTTL, ttl)
	}
	bc := p.containerC.NewBlobClient(blobName(name, version))
	what := "granting read access to dataset " + name + "@" + version
	if _, err := bc.GetProperties(ctx, nil); err != nil {
		return provider.Grant{}, mapError(op{what: what}, err)
	}
	now := time.Now().UTC()
	expires := now.Add(ttl).Truncate(time.Second)
	values := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPS,
		StartTime:     now.Add(-startSkew).Truncate(time.Second),
		ExpiryTime:    expires,
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: p.container,
		BlobName:      blobName(name, version),
	}
	if !p.httpsOnly {
		values.Protocol = sas.ProtocolHTTPSandHTTP
	}
	var qp sas.QueryParameters
	var err error
	if p.sharedKey != nil {
		qp, err = values.SignWithSharedKey(p.sharedKey)
	} else {
		var udc *service.UserDelegationCredential
		start, expiry := values.StartTime.Format(sas.TimeFormat), expires.Format(sas.TimeFormat)
		udc, err = p.serviceC.GetUserDelegationCredential(ctx, service.KeyInfo{Start: &start, Expiry: &expiry}, nil)
		if err != nil {
			return provider.Grant{}, mapError(op{what: what + ": requesting a user-delegation key"}, err)
		}
		qp, err = values.SignWithUserDelegation(udc)
	}
	if err != nil {
		return provider.Grant{}, provider.Errorf(provider.Internal, "azure: %s: signing the SAS failed (%T)", what, err)
	}
	return provider.Grant{URL: secret.NewSecret(bc.URL() + "?" + qp.Encode()), Expires: expires}, nil
}
