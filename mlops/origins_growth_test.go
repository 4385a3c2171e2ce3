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

// Origins are read by a scanner of their stored form, with a cache of what
// each group says, before encoding/json. Origins laid out in that form but
// wrong inside — an unknown classification, no rule, a constraint naming
// an unknown region, no artifact, an empty artifact — still make the
// dataset unusable for every read and decision, also after the same Client
// has read good origins of the same layout.
func TestCorruptOriginsInTheStoredFormFailClosed(t *testing.T) {
	for name, bad := range map[string]string{
		"classification": `[{"c":"secret","r":"restricted-eu","k":"EEA","a":["dataset mem/claims@1"]}]`,
		"no rule":        `[{"c":"restricted","r":"","k":"EEA","a":["dataset mem/claims@1"]}]`,
		"region":         `[{"c":"restricted","r":"restricted-eu","k":"azure/nowhere","a":["dataset mem/claims@1"]}]`,
		"no artifact":    `[{"c":"restricted","r":"restricted-eu","k":"EEA","a":[]}]`,
		"empty artifact": `[{"c":"restricted","r":"restricted-eu","k":"EEA","a":["dataset mem/claims@1",""]}]`,
		"not itself":     `[{"c":"public","r":"public-anywhere","k":"anywhere","a":["dataset mem/other@1"]}]`,
		"cut":            `[{"c":"restricted","r":"restricted-eu","k":"EEA","a":["dataset mem/claims@1"]}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			good := e.dataset("good", "1", "x")
			_, err := e.c.GetDataset(e.ctx, good.Ref()) // the Client has read well-formed origins
			require.NoError(t, err)
			e.dataset("claims", "1", "x")
			_, err = e.mem.UpdateDatasetMetadata(e.ctx, "claims", "1", map[string]string{"tideline_origins": bad}, "")
			require.NoError(t, err)

			_, err = e.c.GetDataset(e.ctx, mlops.DatasetRef{Name: "claims", Version: "1"})
			requireCode(t, err, mlops.DataLoss, "claims@1")
			_, err = mlops.Collect(e.c.ListDatasets(e.ctx, "claims"))
			requireCode(t, err, mlops.DataLoss, "claims@1")
			_, err = e.c.SubmitJob(e.ctx, jobSpec(&mlops.Dataset{Name: "claims", Version: "1"}))
			requireCode(t, err, mlops.DataLoss)
			_, err = e.c.CreateDataset(e.ctx, "derived", "1", strings.NewReader("y"), &mlops.CreateDatasetOptions{Location: euWest,
				DerivedFrom: []mlops.DatasetRef{{Name: "claims", Version: "1"}}})
			requireCode(t, err, mlops.DataLoss)
			require.Equal(t, 0, e.mem.Counts().Jobs)
		})
	}
}
