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
	"github.com/tideline-ml/tideline/provider/azure/azuretest"
	"github.com/tideline-ml/tideline/secret"
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

// The storage account of Example_workspace: the emulator's default
// endpoint. TestExampleWorkspace points it at the tests' emulator.
var (
	exampleAccountURL = "http://127.0.0.1:10000/devstoreaccount1"
	exampleContainer  = "datasets"
)

// Example_workspace makes a provider with an Azure Machine Learning
// workspace and trains on it. The workspace is the contract server here,
// and the storage account the emulator (jobs keep claims on their names
// there); against Azure, leave ARMEndpoint empty, set KeyVaultURL to the
// workspace's key vault and use a credential of azidentity. It needs
// Azurite on port 10000 and a container named "datasets", so go test
// compiles it and TestExampleWorkspace runs it on the tests' emulator.
func Example_workspace() {
	srv := azuretest.NewServer(azuretest.Options{})
	defer srv.Close()

	key, err := container.NewSharedKeyCredential("devstoreaccount1", devKey)
	if err != nil {
		log.Fatal(err)
	}
	w, err := azure.NewWorkspace(azure.Config{
		// Datasets: the workspace's storage account.
		AccountURL: exampleAccountURL,
		Container:  exampleContainer,
		Region:     "westeurope",
		SharedKey:  key,
		// Training: the workspace, reached through Azure Resource Manager.
		Credential:     srv.Credential(),
		SubscriptionID: "00000000-1111-2222-3333-444444444444",
		ResourceGroup:  "test-rg",
		Workspace:      "my-aml-workspace",
		Compute:        "gpu-cluster",
		KeyVaultURL:    srv.URL,
		ARMEndpoint:    srv.URL,
		ClientOptions:  srv.ClientOptions(),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	info, err := w.SubmitJob(ctx, &provider.JobSpec{
		Name:      "train-claims",
		Region:    "westeurope",
		Image:     "myregistry.azurecr.io/train:1",
		Command:   []string{"python", "train.py"},
		SecretEnv: map[string]secret.Secret{"TRACKER_API_KEY": secret.NewSecret("not-in-the-job-definition")},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Spec.Name, info.State, info.Spec.SecretEnv)
	srv.StartJob("train-claims") // the contract server's scheduler
	info, err = w.GetJob(ctx, "train-claims")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.State, info.Attempts)
}
