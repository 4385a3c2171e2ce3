package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tideline-ml/tideline/internal/filelock"
)

func TestLockIsExclusive(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no flock on " + runtime.GOOS)
	}
	path := filepath.Join(t.TempDir(), "journal")
	a, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := filelock.Lock(a); err != nil {
		t.Fatal(err)
	}
	b, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := filelock.Lock(b); !errors.Is(err, filelock.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	a.Close()
	if err := filelock.Lock(b); err != nil {
		t.Fatalf("lock after the holder closed: %v", err)
	}
}
