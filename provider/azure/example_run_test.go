package azure_test

import (
	"io"
	"os"
	"testing"
)

// TestExampleWorkspace runs Example_workspace with its storage on the
// tests' emulator, in a container of its own, and checks what it prints.
func TestExampleWorkspace(t *testing.T) {
	accountURL := azurite(t)
	defer func(u, c string) { exampleAccountURL, exampleContainer = u, c }(exampleAccountURL, exampleContainer)
	exampleAccountURL, exampleContainer = accountURL, newContainer(t, accountURL)

	got := captureStdout(t, Example_workspace)
	const want = "train-claims Queued map[TRACKER_API_KEY:[REDACTED]]\nRunning 1\n"
	if got != want {
		t.Errorf("Example_workspace printed\n%s\nwant\n%s", got, want)
	}
}

// captureStdout returns what f prints to standard output.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
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
		f()
	}()
	return string(<-done)
}
