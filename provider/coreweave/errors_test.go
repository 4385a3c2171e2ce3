package coreweave

import (
	"errors"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tideline-ml/tideline/provider"
)

// TestMapErr gives each kind of API failure its code; a 403 points to the
// Role, a dropped connection is Unavailable.
func TestMapErr(t *testing.T) {
	gr := schema.GroupResource{Group: "serving.kserve.io", Resource: "inferenceservices"}
	for _, tc := range []struct {
		err  error
		want provider.Code
	}{
		{apierrors.NewNotFound(gr, "x"), provider.NotFound},
		{apierrors.NewAlreadyExists(gr, "x"), provider.AlreadyExists},
		{apierrors.NewConflict(gr, "x", errors.New("changed")), provider.Conflict},
		{apierrors.NewForbidden(gr, "x", errors.New(`User "u" cannot patch resource "inferenceservices"`)), provider.PermissionDenied},
		{apierrors.NewTooManyRequests("slow down", 1), provider.Unavailable},
		{apierrors.NewResourceExpired("too old"), provider.Conflict},
		{&url.Error{Op: "Get", URL: "https://cluster.example", Err: syscall.ECONNRESET}, provider.Unavailable},
	} {
		err := mapErr(tc.err, `patching InferenceService "x"`)
		if got := provider.CodeOf(err); got != tc.want {
			t.Errorf("%v: code %v, want %v", tc.err, got, tc.want)
		}
		if tc.want == provider.PermissionDenied && !strings.Contains(err.Error(), "RoleYAML") {
			t.Errorf("a 403 does not point to the Role: %v", err)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v is not reachable from %v", tc.err, err)
		}
	}
}
