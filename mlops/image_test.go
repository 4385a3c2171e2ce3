package mlops_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tideline-ml/tideline/mlops"
)

// References with NUL, CR or "../" passed AllowImages, and a prefix
// allowed every repository whose name merely started with it.
func TestImageAllowlistReferenceParsing(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("0a", 32)
	e := newEnv(t, &mlops.ClientOptions{Policy: mlops.NewPolicy(mlops.AllowImages(false, "myreg.io/team"))}, nil)
	for _, tc := range []struct{ image, says string }{
		{"myreg.io/team/train\x00:1", "control character"},
		{"myreg.io/team/train:1\r", "control character"},
		{"myreg.io/team/train\r\n:1", "control character"},
		{"myreg.io/team/../evil/train:1", `path component ".."`},
		{"myreg.io/team/./train:1", `path component "."`},
		{"myreg.io/team//train:1", "empty path component"},
		{"myreg.io/team/Train:1", `path component "Train"`},
		{"myreg.io/team/train:", "tag is empty"},
		{"myreg.io/team/train:-1", "tag"},
		{"myreg.io/team/train@sha256:abc", "digest"},
		{"myreg.io/team/train@sha256:" + strings.Repeat("A", 64), "digest"},
		{"myreg.io/team/train" + digest + digest, "digest"},
		{"myreg.io:port/team/train:1", "port"},
		{"my_reg.io/team/train:1", "registry host"},
		{"myreg.io/team/trainé:1", "non-ASCII"},
		{"/team/train:1", "empty"},
		{"myreg.io/team/" + strings.Repeat("a", 250), "255"},
	} {
		spec := jobSpec()
		spec.Image = tc.image
		_, err := e.c.SubmitJob(e.ctx, spec)
		requireCode(t, err, mlops.InvalidArgument, "Image", tc.says)
	}
	require.Zero(t, e.mem.Counts().Jobs)

	allow := mlops.NewPolicy(mlops.AllowImages(true, "myreg.io/team", "docker.io/library/"))
	for image, want := range map[string]bool{
		"myreg.io/team/train" + digest:               true,
		"myreg.io/team" + digest:                     true,
		"MyReg.IO/team/x/y:1" + digest:               true, // host names are case-insensitive
		"myreg.io/team-evil/x" + digest:              false,
		"myreg.io/teamx" + digest:                    false,
		"myreg.io/team.x/y" + digest:                 false,
		"myreg.io:5000/team/x" + digest:              false,
		"evil.io/myreg.io/team/x" + digest:           false,
		"myreg.io.evil.io/team/x" + digest:           false,
		"python:3.12" + digest:                       true, // docker.io/library/python
		"docker.io/library/python" + digest:          true,
		"library/python" + digest:                    true,
		"docker.io/evil/python" + digest:             false,
		"myreg.io/team/train:1":                      false, // not pinned
		"myreg.io/team/train\x00" + digest:           false,
		"myreg.io/team/../x" + digest:                false,
		"myreg.io/team/x@sha256:" + digest[8:]:       true,
		"myreg.io/team/x@sha512:" + digest[8:]:       false,
		"myreg.io/team/x:1@sha256:" + digest[8:]:     true,
		"myreg.io/team/x@sha256:" + digest[8:] + "0": false,
	} {
		d := allow.Decide(e.ctx, &mlops.Request{Action: mlops.ActionJobSubmit, Principal: alice, Job: &mlops.TrainJobSpec{Image: image}})
		require.Equal(t, want, d.Allowed, "%q: %v", image, d.Reasons)
	}

	// A malformed allowlist entry allows nothing and says so.
	bad := mlops.NewPolicy(mlops.AllowImages(false, "myreg.io/Team"))
	d := bad.Decide(e.ctx, &mlops.Request{Action: mlops.ActionJobSubmit, Principal: alice, Job: &mlops.TrainJobSpec{Image: "myreg.io/team/x:1"}})
	require.False(t, d.Allowed)
	require.Contains(t, d.Reasons[0].Message, `"myreg.io/Team"`)

	for image, want := range map[string]bool{
		"myreg.io/x" + digest:                    true,
		"x:1" + digest:                           true,
		"x\x00" + digest:                         false,
		"x" + digest + "\r":                      false,
		"../x" + digest:                          false,
		"myreg.io/x" + digest + digest:           false,
		"myreg.io/x@sha256:" + digest[8:]:        true,
		"myreg.io/x@SHA256:" + digest[8:]:        false,
		"myreg.io/x@sha256:" + digest[8:] + "\n": false,
	} {
		require.Equal(t, want, mlops.PinnedByDigest(image), "%q", image)
	}
}
