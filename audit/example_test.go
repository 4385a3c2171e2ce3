package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tideline-ml/tideline/audit"
	"github.com/tideline-ml/tideline/secret"
)

// fixedClock makes the examples' hashes reproducible.
func fixedClock() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC) }

// A policy decision is appended before the operation runs, and its outcome
// after; the chain then verifies.
func Example() {
	ctx := context.Background()
	key := secret.NewSecret("example-key-of-32-bytes-length!!")
	sink := audit.NewMemorySink()
	log, err := audit.New(ctx, sink, &audit.Options{Key: key, Clock: fixedClock})
	if err != nil {
		panic(err)
	}
	decision, err := log.Append(ctx, audit.Record{
		Principal: "alice@example.com",
		Action:    "job.submit",
		Target:    "jobs/train-claims",
		Provider:  "coreweave",
		Region:    "EU-SOUTH-03",
		Decision:  audit.DecisionAllow,
		Reasons:   []audit.Reason{{Rule: "residency", Message: "claims is EU-restricted; EU-SOUTH-03 is in the EU"}},
		Outcome:   audit.OutcomePending,
		RequestID: "req-42",
	})
	if err != nil {
		panic(err) // fail closed: do not submit the job
	}
	outcome, err := log.Append(ctx, audit.Record{
		Principal: "alice@example.com",
		Action:    "job.submit",
		Target:    "jobs/train-claims",
		Outcome:   audit.OutcomeOK,
		RequestID: "req-42",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(decision.Seq, decision.Decision, decision.Prev == audit.Genesis)
	fmt.Println(outcome.Seq, outcome.Outcome, outcome.Prev == decision.Hash)

	cp, err := audit.Verify(ctx, bytes.NewReader(sink.Bytes()), &audit.VerifyOptions{Key: key, Checkpoint: log.Checkpoint()})
	fmt.Println("verified through record", cp.Seq, err)
	// Output:
	// 1 allow true
	// 2 ok true
	// verified through record 2 <nil>
}

// Changing one byte of a stored record is reported with the record's
// sequence number.
func ExampleVerify_tampered() {
	ctx := context.Background()
	sink := audit.NewMemorySink()
	log, err := audit.New(ctx, sink, &audit.Options{Clock: fixedClock})
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"datasets/claims", "datasets/claims-v2", "datasets/claims-v3"} {
		if _, err := log.Append(ctx, audit.Record{Principal: "bob", Action: "dataset.create", Target: target}); err != nil {
			panic(err)
		}
	}
	data := sink.Bytes()
	data = bytes.Replace(data, []byte("claims-v2"), []byte("claims-v9"), 1)

	_, err = audit.Verify(ctx, bytes.NewReader(data), nil)
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		fmt.Println(ve.Seq, ve.Kind)
	}
	fmt.Println(errors.Is(err, audit.ErrIntegrity))
	// Output:
	// 2 modified
	// true
}

// A checkpoint kept outside the log is what reveals a log whose last
// records were cut off.
func ExampleVerifyOptions_checkpoint() {
	ctx := context.Background()
	sink := audit.NewMemorySink()
	log, err := audit.New(ctx, sink, &audit.Options{Clock: fixedClock})
	if err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := log.Append(ctx, audit.Record{Action: "model.approve"}); err != nil {
			panic(err)
		}
	}
	cp := log.Checkpoint() // stored elsewhere
	data := sink.Bytes()
	cut := data[:bytes.LastIndexByte(data[:len(data)-1], '\n')+1] // drop record 3

	_, err = audit.Verify(ctx, bytes.NewReader(cut), nil)
	fmt.Println("without checkpoint:", err)
	_, err = audit.Verify(ctx, bytes.NewReader(cut), &audit.VerifyOptions{Checkpoint: cp})
	var ve *audit.VerifyError
	errors.As(err, &ve)
	fmt.Println("with checkpoint:", ve.Seq, ve.Kind)
	// Output:
	// without checkpoint: <nil>
	// with checkpoint: 3 truncated
}

// A file log survives restarts: OpenFile repairs what a crash left and New
// continues the chain.
func ExampleOpenFile() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.jsonl")

	for _, action := range []string{"deployment.create", "deployment.traffic"} {
		sink, err := audit.OpenFile(ctx, path, nil)
		if err != nil {
			panic(err)
		}
		log, err := audit.New(ctx, sink, nil)
		if err != nil {
			panic(err)
		}
		r, err := log.Append(ctx, audit.Record{Principal: "release-bot", Action: action, Target: "endpoints/claims"})
		if err != nil {
			panic(err)
		}
		fmt.Println(r.Seq, r.Action)
		if err := log.Close(); err != nil {
			panic(err)
		}
	}
	cp, err := audit.VerifyFile(ctx, path, nil)
	fmt.Println("verified through record", cp.Seq, err)
	// Output:
	// 1 deployment.create
	// 2 deployment.traffic
	// verified through record 2 <nil>
}
