package memprovider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/provider/memprovider"
)

// The test plays the cloud: it starts the job, writes its logs and completes
// it, while the code under test sees an ordinary Trainer.
func Example() {
	ctx := context.Background()
	clock := memprovider.NewFakeClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	p := memprovider.New(&memprovider.Options{Clock: clock})

	info, err := p.SubmitJob(ctx, &provider.JobSpec{Name: "train-fraud", Region: "EU-SOUTH-03", Image: "trainer:1", GPUs: 8, Nodes: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("submitted:", info.State)

	_ = p.StartJob("train-fraud")
	_ = p.AppendJobLog("train-fraud", "epoch 1/1 loss=0.12\n")
	clock.Advance(45 * time.Minute)
	_ = p.CompleteJob("train-fraud", "")

	info, _ = p.GetJob(ctx, "train-fraud")
	fmt.Println("now:", info.State, "after", info.Attempts, "attempt, in", info.Finished.Sub(info.Started))
	fmt.Println("outputs:", info.OutputURI)
	logs, _ := p.JobLogs(ctx, "train-fraud")
	b, _ := io.ReadAll(logs)
	fmt.Print("logs: ", string(b))
	// Output:
	// submitted: Queued
	// now: Succeeded after 1 attempt, in 45m0s
	// outputs: mem://mem/jobs/train-fraud/outputs
	// logs: epoch 1/1 loss=0.12
}

// With JobDuration, jobs run by themselves; advancing the fake clock wakes
// a watcher, which sees the job finish without polling.
func ExampleFakeClock() {
	ctx := context.Background()
	clock := memprovider.NewFakeClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	p := memprovider.New(&memprovider.Options{Clock: clock, JobDuration: time.Hour})

	info, _ := p.SubmitJob(ctx, &provider.JobSpec{Name: "train-auto", Region: "EU-SOUTH-03", GPUs: 1, Nodes: 1})
	fmt.Println(info.State)

	done := make(chan *provider.JobInfo)
	go func() {
		next, _ := p.WatchJob(ctx, "train-auto", info.Revision)
		done <- next
	}()
	clock.Advance(time.Hour)
	info = <-done
	fmt.Println(info.State, info.Finished.Format(time.Kitchen))
	// Output:
	// Running
	// Succeeded 10:00AM
}

// A fault fails the second upload with a retryable error; the recorded calls
// show what the client did.
func ExampleProvider_InjectFault() {
	ctx := context.Background()
	p := memprovider.New(nil)
	remove := p.InjectFault(memprovider.Fault{Op: "PutDataset", Nth: 2})
	defer remove()

	for _, version := range []string{"1", "2", "3"} {
		_, err := p.PutDataset(ctx, &provider.PutDatasetRequest{
			Name: "claims", Version: version, Region: "westeurope",
			Content: provider.NewContent(strings.NewReader("id,amount\n1,100\n"), nil),
		})
		fmt.Printf("version %s: %v (retryable: %v)\n", version, provider.CodeOf(err), provider.CodeOf(err).IsRetryable())
	}
	fmt.Println("stored:", p.Counts().Datasets)
	for _, c := range p.Calls() {
		fmt.Println(c.Op, c.Target, c.Code)
	}
	// Output:
	// version 1: OK (retryable: false)
	// version 2: Unavailable (retryable: true)
	// version 3: OK (retryable: false)
	// stored: 2
	// PutDataset claims@1 OK
	// PutDataset claims@2 Unavailable
	// PutDataset claims@3 OK
}

// AfterEffect simulates a response lost after the work was done: the retry
// meets the job the first call created, and gets it back to compare.
func ExampleFault_afterEffect() {
	ctx := context.Background()
	p := memprovider.New(nil)
	p.InjectFault(memprovider.Fault{Op: "SubmitJob", Nth: 1, AfterEffect: true})

	spec := &provider.JobSpec{Name: "train-fraud", Region: "US-EAST-04", GPUs: 4, Nodes: 1}
	_, err := p.SubmitJob(ctx, spec)
	fmt.Println("first:", provider.CodeOf(err))
	info, err := p.SubmitJob(ctx, spec)
	fmt.Println("retry:", provider.CodeOf(err), errors.Is(err, provider.ErrAlreadyExists), info.Spec.GPUs)
	// Output:
	// first: Unavailable
	// retry: AlreadyExists true 4
}
