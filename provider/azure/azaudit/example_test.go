package azaudit_test

import (
	"context"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/provider/azure/azaudit"
	"github.com/tideline-ml/tideline/secret"
)

// exampleBlobURL is the blob the example writes: a container "audit" on
// the storage emulator's default port. TestExample points it at the
// emulator the tests run.
var exampleBlobURL = "http://127.0.0.1:10000/devstoreaccount1/audit/example.jsonl"

// Example writes two audit records to an append blob and verifies the
// chain it holds. It needs the storage emulator and an existing container;
// TestExample runs it on the tests' emulator and checks its output.
func Example() {
	key, err := blob.NewSharedKeyCredential("devstoreaccount1", devKey)
	if err != nil {
		log.Fatal(err)
	}
	c, err := appendblob.NewClientWithSharedKeyCredential(exampleBlobURL, key, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	sink, err := azaudit.New(ctx, c, nil) // creates the blob when it is missing
	if err != nil {
		log.Fatal(err)
	}
	hmacKey := secret.NewSecret("an HMAC key of 32 bytes, at least")
	l, err := audit.New(ctx, sink, &audit.Options{Key: hmacKey})
	if err != nil {
		log.Fatal(err)
	}
	for _, action := range []string{"dataset.create", "job.submit"} {
		r, err := l.Append(ctx, audit.Record{Principal: "alice@example.com", Action: action, Decision: "allow", Outcome: "ok"})
		if err != nil {
			log.Fatal(err) // fail closed: the operation must not run unaudited
		}
		fmt.Println(r.Seq, r.Action)
	}
	cp, err := audit.VerifySink(ctx, sink, &audit.VerifyOptions{Key: hmacKey})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified up to record", cp.Seq)
	if err := l.Close(); err != nil {
		log.Fatal(err)
	}
}
