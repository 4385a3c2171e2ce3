// Package filelock takes the exclusive, non-blocking lock that keeps two
// processes from appending to one journal at once. The kernel drops the lock
// when the process dies, so a crashed writer never leaves a file locked.
// Where flock does not exist, Lock does nothing.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked reports that another process holds the lock.
var ErrLocked = errors.New("file is locked by another process")

// Lock takes an exclusive lock on f, failing at once with ErrLocked when
// another open file description holds it.
func Lock(f *os.File) error { return lock(f) }
