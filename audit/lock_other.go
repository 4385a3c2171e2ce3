//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package audit

import "os"

// lockFile does nothing where flock is unavailable; see FileSink.
func lockFile(*os.File) error { return nil }
