//go:build !unix

package lineage

import "time"

// processCPU is not measured here; benchmarks report it as zero.
func processCPU() time.Duration { return 0 }
