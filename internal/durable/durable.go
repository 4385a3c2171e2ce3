// Package durable holds the step that makes a new file's directory entry
// survive a crash, shared by the audit file and the lineage journal.
package durable

import (
	"errors"
	"os"
	"runtime"
)

// SyncDir fsyncs a directory so that a file just created in it survives a
// crash: without it the file's data can be durable while its name is not.
// Windows cannot open directories for syncing and needs no such step;
// systems that cannot sync a directory report nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}
