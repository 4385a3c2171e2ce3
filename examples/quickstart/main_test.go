package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(ctx, &out))
	elapsed := time.Since(start)
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{
		"[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]",
		"DENIED  job.submit", "US-EAST-04",
		"ROLLED BACK at step 2 (50%)", "traffic restored to blue 100%",
		"green-2 100%",
		"1 dataset, 2 model versions, 1 endpoint, 1 deployment",
		"1 training job",
		"1 denied",
	} {
		require.Contains(t, s, want)
	}
	require.Less(t, elapsed, 5*time.Second, "the quickstart must finish in under 5 seconds")
}
