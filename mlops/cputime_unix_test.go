//go:build unix

package mlops_test

import "syscall"

// cpuTime is the CPU time (user and system) the process has used so far,
// in nanoseconds. On a machine shared with other work it grows with what
// the benchmark does, where wall time also grows with what others do.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
