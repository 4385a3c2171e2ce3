// Package azuritetest gives tests the Azurite blob endpoint that make test
// starts, its development account's key, and containers of their own.
//
// The endpoint comes from the environment variable TIDELINE_AZURITE_BLOB_URL
// (http://127.0.0.1:PORT/devstoreaccount1). When it is empty, URL ends the
// test by testenv.Missing's rule: a skip, or a failure when
// TIDELINE_INTEGRATION=required. RunExample runs an example that needs the
// emulator and returns what it printed.
package azuritetest

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

// The emulator's account is Microsoft's documented development account; its
// key is published and works against the emulator alone.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

	// Env names the environment variable holding the blob endpoint.
	Env = "TIDELINE_AZURITE_BLOB_URL"
)

// URL returns the emulator's blob endpoint without a trailing slash, or
// ends the test when there is none.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(Env)
	if u == "" {
		testenv.Missing(tb, "Azurite is not running: %s is empty; run the tests with make test, which installs and starts it (or start azurite-blob yourself and set %s to http://127.0.0.1:PORT/%s)", Env, Env, Account)
	}
	return strings.TrimRight(u, "/")
}

// SharedKey returns the development account's shared key credential.
func SharedKey(tb testing.TB) *container.SharedKeyCredential {
	tb.Helper()
	k, err := container.NewSharedKeyCredential(Account, Key)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// NewContainer creates a container with a random name on the emulator at
// accountURL, deletes it when the test ends, and returns its name.
func NewContainer(tb testing.TB, accountURL string) string {
	tb.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "tl-" + hex.EncodeToString(b[:])
	c, err := container.NewClientWithSharedKeyCredential(accountURL+"/"+name, SharedKey(tb), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Create(context.Background(), nil); err != nil {
		tb.Fatalf("creating container %s on Azurite: %v", name, err)
	}
	tb.Cleanup(func() { c.Delete(context.Background(), nil) })
	return name
}

// RunExample runs an example function that needs the emulator (one that
// go test compiles but cannot run, since it has no fixed endpoint) and
// returns what it printed to standard output.
func RunExample(tb testing.TB, example func()) string {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	func() {
		defer func() { os.Stdout = stdout; w.Close() }()
		example()
	}()
	return string(<-done)
}
