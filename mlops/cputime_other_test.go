//go:build !unix

package mlops_test

// cpuTime is not measured here; benchmarks then report zero CPU time.
func cpuTime() int64 { return 0 }
