package audit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// crashChildEnv, when set to a file path, turns the test binary into the
// crash test's child process.
const crashChildEnv = "TIDELINE_AUDIT_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild appends to the log at path from several goroutines until it
// is killed, printing "ack <seq> <hash>" the moment each Append returns.
// Some records are large so that batches span many pages and a kill can
// land inside a write.
func crashChild(path string) int {
	ctx := context.Background()
	sink, err := OpenFile(ctx, path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	l, err := New(ctx, sink, &Options{Key: testKey})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	os.Stdout.WriteString("ready\n")
	deadline := time.Now().Add(15 * time.Second) // in case the parent dies
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			for i := 0; time.Now().Before(deadline); i++ {
				r := sampleRecord(i)
				if rng.IntN(4) == 0 {
					r.Attrs["payload"] = strings.Repeat("p", rng.IntN(16<<10))
				}
				got, err := l.Append(ctx, r)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				// One write call per line, so lines from different
				// goroutines cannot interleave in the pipe.
				os.Stdout.WriteString("ack " + strconv.FormatUint(got.Seq, 10) + " " + got.Hash + "\n")
			}
		})
	}
	wg.Wait()
	return 0
}

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments, 20 times over one file. After each kill the file must reopen,
// verify against the checkpoint of the previous round, and hold every
// record the child reported as acknowledged, with the same hash.
func TestCrashRecovery(t *testing.T) {
	switch runtime.GOOS {
	case "js", "wasip1", "ios", "android":
		t.Skip("cannot re-execute the test binary on " + runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("crash test spawns processes; skipped in -short mode")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var cp Checkpoint
	var totalAcked, tornRepairs int
	for round := range 20 {
		acks := runCrashChild(t, path, time.Duration(20+rng.IntN(181))*time.Millisecond)

		sink, err := OpenFile(ctx, path, nil)
		if err != nil {
			t.Fatalf("round %d: reopening after the kill: %v", round, err)
		}
		if sink.TornBytes() > 0 {
			tornRepairs++
		}
		l, err := New(ctx, sink, &Options{Key: testKey})
		if err != nil {
			t.Fatalf("round %d: resuming after the kill: %v", round, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := VerifyFile(ctx, path, &VerifyOptions{Key: testKey, Checkpoint: cp})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		stored := storedHashes(t, path)
		for seq, hash := range acks {
			if seq > got.Seq {
				t.Fatalf("round %d: record %d was acknowledged but the log ends at record %d", round, seq, got.Seq)
			}
			if stored[seq-1] != hash {
				t.Fatalf("round %d: record %d acknowledged with hash %s, stored with %s", round, seq, hash, stored[seq-1])
			}
		}
		totalAcked += len(acks)
		cp = got
	}
	if totalAcked == 0 {
		t.Fatal("the child never acknowledged a record; the test proved nothing")
	}
	t.Logf("%d records acknowledged over 20 kills; log holds %d; %d reopenings cut a torn line", totalAcked, cp.Seq, tornRepairs)
}

// runCrashChild starts the child, kills it delay after it is ready and
// returns the acknowledgements it printed.
func runCrashChild(t *testing.T, path string, delay time.Duration) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	acks := make(map[uint64]string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				close(ready)
			}
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "ack" {
				seq, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					readErr <- fmt.Errorf("bad ack line %q", line)
					return
				}
				acks[seq] = f[2]
			}
		}
		readErr <- sc.Err()
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start: %s", stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Exited() {
		t.Fatalf("child ended on its own (%v) rather than by the kill: %s", err, stderr.String())
	}
	return acks
}

// storedHashes returns the hash of each line of the log, in order.
func storedHashes(t *testing.T, path string) []string {
	t.Helper()
	var hashes []string
	for _, line := range readLines(t, path) {
		// A verified line ends in `"hash":"<64 hex>"}` and a newline.
		hashes = append(hashes, string(line[len(line)-67:len(line)-3]))
	}
	return hashes
}
