package azure_test

import (
	"testing"

	"github.com/tideline-ml/tideline/internal/azuritetest"
)

// TestExampleWorkspace runs Example_workspace with its storage on the
// tests' emulator, in a container of its own, and checks what it prints.
func TestExampleWorkspace(t *testing.T) {
	accountURL := azurite(t)
	defer func(u, c string) { exampleAccountURL, exampleContainer = u, c }(exampleAccountURL, exampleContainer)
	exampleAccountURL, exampleContainer = accountURL, newContainer(t, accountURL)

	got := azuritetest.RunExample(t, Example_workspace)
	const want = "train-claims Queued map[TRACKER_API_KEY:[REDACTED]]\nRunning 1\n"
	if got != want {
		t.Errorf("Example_workspace printed\n%s\nwant\n%s", got, want)
	}
}
