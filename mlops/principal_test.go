package mlops_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
)

// Separation of duties compared raw strings, so "Alice@Example.com " was
// another person than "alice@example.com", and so was a name with a
// zero-width space in it.
func TestSeparateDutiesRawStrings(t *testing.T) {
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.SeparateDuties())}, nil)
	job := e.trainedJob("fraud") // submitted by alice@example.com
	bob := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "bob@example.com"})
	mv, err := e.c.Models("").Register(bob, "fraud", mlops.ModelSource{Job: job.ID}, &mlops.RegisterOptions{Location: mlops.Location{Region: "westeurope"}})
	require.NoError(t, err)

	for _, id := range []string{"Alice@Example.com ", " ALICE@EXAMPLE.COM", "\talice@example.com\n", "alice@EXAMPLE.com"} {
		as := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: id})
		_, err = e.c.Models("").Approve(as, mv, "lgtm")
		requireDenied(t, err, "alice@example.com submitted job")
	}
	_, err = e.c.Models("").Approve(mlops.WithPrincipal(e.ctx, mlops.Principal{ID: " Bob@example.COM"}), mv, "lgtm")
	requireDenied(t, err, "bob@example.com registered model fraud")

	for _, id := range []string{
		"alice\u200b@example.com", // zero-width space
		"alice@example.com\u200d", // zero-width joiner
		"\ufeffalice@example.com", // byte order mark
		"alice\u202e@example.com", // right-to-left override
		"alice\x00@example.com",
		"alice\u00a0@example.com", // no-break space inside
		"ali\u034fce@example.com", // combining grapheme joiner
		"alice\u3164@example.com", // Hangul filler
		"\u2800alice@example.com", // blank Braille pattern
		"alice@example.com\xff",   // not UTF-8
		"   ",
	} {
		as := mlops.WithPrincipal(e.ctx, mlops.Principal{ID: id, Team: "risk"})
		_, err = e.c.Models("").Approve(as, mv, "lgtm")
		requireCode(t, err, mlops.InvalidArgument, "principal")
		_, err = mlops.NewClient(mlops.Providers{"mem": e.mem}, &mlops.ClientOptions{Principal: mlops.Principal{ID: id}})
		requireCode(t, err, mlops.InvalidArgument, "principal")
	}
	_, err = e.c.SubmitJob(mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "carol@example.com", Team: "risk\u200b"}), jobSpec())
	requireCode(t, err, mlops.InvalidArgument, "team")

	// Entra object ids compare case-insensitively; other ids keep their case.
	c, err := mlops.NewClient(mlops.Providers{"mem": e.mem}, &mlops.ClientOptions{Principal: mlops.Principal{ID: " 3F2504E0-4F89-11D3-9A0C-0305E82C3301 ", Team: " risk "}})
	require.NoError(t, err)
	res, err := c.SubmitJob(mlops.DryRun(context.Background()), jobSpec())
	require.Nil(t, res)
	var dr *mlops.DryRunResult
	require.True(t, errors.As(err, &dr), "%v", err)
	require.Equal(t, mlops.Principal{ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", Team: "risk"}, dr.Request.Principal)
	_, err = c.SubmitJob(mlops.DryRun(mlops.WithPrincipal(context.Background(), mlops.Principal{ID: "Pipeline-Nightly"})), jobSpec())
	require.True(t, errors.As(err, &dr), "%v", err)
	require.Equal(t, "Pipeline-Nightly", dr.Request.Principal.ID)

	// carol, a third person, may approve.
	_, err = e.c.Models("").Approve(mlops.WithPrincipal(e.ctx, mlops.Principal{ID: "Carol@Example.com"}), mv, "lgtm")
	require.NoError(t, err)
}
