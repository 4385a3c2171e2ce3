package azure_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/azure"
)

// Example stores a dataset version on the storage emulator and grants a
// job elsewhere an hour of read access to it. It needs Azurite on port
// 10000 and a container named "datasets", so it is compiled, not run, by
// go test.
func Example() {
	key, err := container.NewSharedKeyCredential("devstoreaccount1", devKey)
	if err != nil {
		log.Fatal(err)
	}
	p, err := azure.New(azure.Config{
		AccountURL: "http://127.0.0.1:10000/devstoreaccount1",
		Container:  "datasets",
		Region:     "West Europe", // any spelling the residency catalog knows
		SharedKey:  key,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	info, err := p.PutDataset(ctx, &provider.PutDatasetRequest{
		Name: "claims", Version: "1", Region: p.Regions()[0].Name,
		Metadata: map[string]string{"classification": "restricted"},
		Content:  provider.NewContent(strings.NewReader("id,amount\n1,100\n"), nil),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Region, info.Size, info.Digest)

	g, err := p.GrantRead(ctx, "claims", "1", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(g) // the URL prints as [REDACTED]; g.URL.Reveal() hands it over
}
