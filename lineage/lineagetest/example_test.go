package lineagetest_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/tideline-ml/tideline/lineage"
	"github.com/tideline-ml/tideline/lineage/lineagetest"
)

// A test of code that exports lineage captures the events it writes and
// validates the stream. NewValidator needs the test's testing.TB, because
// it skips or fails the test when the official schemas are absent, so this
// example shows the body of such a test without running it.
func Example() {
	testExport := func(t *testing.T) {
		var buf bytes.Buffer
		em, err := lineage.NewEmitter(lineage.NewWriterTransport(&buf), &lineage.EmitterOptions{
			Namespace: "claims-team",
			Producer:  "https://example.com/claims-pipeline/v1.4.0",
		})
		if err != nil {
			t.Fatal(err)
		}
		run := lineage.JobRun{RunName: "train-42", Job: "train-claims-risk"}
		if err := em.Start(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		if err := em.Complete(context.Background(), run); err != nil {
			t.Fatal(err)
		}

		v := lineagetest.NewValidator(t)
		if err := v.ValidateLines(buf.Bytes()); err != nil {
			t.Errorf("exported lineage does not conform to OpenLineage: %v", err)
		}
	}
	_ = testExport
}
