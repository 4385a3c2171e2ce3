package azaudit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/tideline-ml/tideline/internal/testenv"
)

const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// TestExample runs Example on the tests' emulator, in a container of its
// own, and checks what it prints.
func TestExample(t *testing.T) {
	accountURL := strings.TrimRight(os.Getenv("TIDELINE_AZURITE_BLOB_URL"), "/")
	if accountURL == "" {
		testenv.Missing(t, "Azurite is not running: TIDELINE_AZURITE_BLOB_URL is empty; run the tests with make test")
	}
	key, err := container.NewSharedKeyCredential("devstoreaccount1", devKey)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "example-" + hex.EncodeToString(b[:])
	c, err := container.NewClientWithSharedKeyCredential(accountURL+"/"+name, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	defer c.Delete(context.Background(), nil)
	old := exampleBlobURL
	exampleBlobURL = accountURL + "/" + name + "/example.jsonl"
	defer func() { exampleBlobURL = old }()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	func() {
		defer func() { os.Stdout = stdout; w.Close() }()
		Example()
	}()
	got := string(<-done)
	const want = "1 dataset.create\n2 job.submit\nverified up to record 2\n"
	if got != want {
		t.Errorf("Example printed\n%s\nwant\n%s", got, want)
	}
}
