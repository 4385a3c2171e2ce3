package mlops_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
	"github.com/tideline-ml/tideline/residency"
)

// A governed SubmitJob used to merge each input's origins into the set
// gathered so far by building an index of the whole set again, so that its
// work per input grew with the number of inputs: 100 inputs cost about three
// times as many allocations per input as 10. The work per input is now the
// same: reading the input, deciding on its origin, recording it.
func TestSubmitJobWorkPerInputDoesNotGrow(t *testing.T) {
	ctx := context.Background()
	perInput := func(n int) float64 {
		e := newScaleEnv(t)
		inputs := make([]mlops.JobInput, n)
		for i := range n {
			d, err := e.c.CreateDataset(ctx, fmt.Sprintf("features-%03d", i), "1", strings.NewReader("x"),
				&mlops.CreateDatasetOptions{Location: euWest, Classification: residency.Confidential})
			require.NoError(t, err)
			inputs[i] = mlops.JobInput{Name: fmt.Sprintf("in%d", i), Dataset: d.Ref()}
		}
		k := 0
		submit := func() {
			k++
			_, err := e.c.SubmitJob(ctx, mlops.TrainJobSpec{Key: "train-" + strconv.Itoa(k), Location: euGPU, Image: pinned, Inputs: inputs})
			require.NoError(t, err)
		}
		submit()
		return testing.AllocsPerRun(5, submit) / float64(n)
	}
	ten, hundred := perInput(10), perInput(100)
	t.Logf("allocations per input: %.0f with 10 inputs, %.0f with 100", ten, hundred)
	if hundred > ten*1.25 {
		t.Errorf("SubmitJob made %.0f allocations per input with 100 inputs against %.0f with 10: its work per input grows with the inputs", hundred, ten)
	}
}
