//go:build !unix

package audit

import "time"

// cpuTime is not measured on this system; benchmarks then report no CPU
// time figures.
func cpuTime() time.Duration { return 0 }
