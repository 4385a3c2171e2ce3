package azaudit_test

import (
	"testing"

	"github.com/tideline-ml/tideline/internal/azuritetest"
)

// devKey is the emulator's development key, which Example uses.
const devKey = azuritetest.Key

// TestExample runs Example on the tests' emulator, in a container of its
// own, and checks what it prints.
func TestExample(t *testing.T) {
	accountURL := azuritetest.URL(t)
	name := azuritetest.NewContainer(t, accountURL)
	old := exampleBlobURL
	exampleBlobURL = accountURL + "/" + name + "/example.jsonl"
	defer func() { exampleBlobURL = old }()

	got := azuritetest.RunExample(t, Example)
	const want = "1 dataset.create\n2 job.submit\nverified up to record 2\n"
	if got != want {
		t.Errorf("Example printed\n%s\nwant\n%s", got, want)
	}
}
