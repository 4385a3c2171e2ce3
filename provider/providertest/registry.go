package providertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// approvalTime is a fixed instant, so that a provider that loses or rounds
// Approval.At is caught without depending on the clock.
var approvalTime = time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)

func (e *env) modelSpec(model, version string) *provider.ModelVersionSpec {
	return &provider.ModelVersionSpec{
		Model:       model,
		Version:     version,
		Region:      e.region,
		ArtifactURI: "mem://conformance/models/" + model + "/" + version,
		Framework:   "pytorch",
		Metrics:     map[string]float64{"auc": 0.91, "loss": 0.25},
		Tags:        map[string]string{"team": "risk"},
		Metadata:    map[string]string{"constraint": "eu", "trained_by": "job-" + version},
		Approval:    provider.Approval{State: provider.ApprovalPending},
	}
}

func cloneModelSpec(s *provider.ModelVersionSpec) provider.ModelVersionSpec {
	c := *s
	c.Metrics = maps.Clone(s.Metrics)
	c.Tags = cloneStrings(s.Tags)
	c.Metadata = cloneStrings(s.Metadata)
	return c
}

func (e *env) mustCreateModel(t *testing.T, model, version string) *provider.ModelVersionInfo {
	t.Helper()
	info, err := e.reg.CreateModelVersion(e.ctx, e.modelSpec(model, version))
	return mustInfo(t, info, err, fmt.Sprintf("CreateModelVersion(%s/%s)", model, version))
}

func (e *env) mustGetModel(t *testing.T, model, version string) *provider.ModelVersionInfo {
	t.Helper()
	info, err := e.reg.GetModelVersion(e.ctx, model, version)
	return mustInfo(t, info, err, fmt.Sprintf("GetModelVersion(%s/%s)", model, version))
}

func (e *env) mustAliases(t *testing.T, model string) map[string]string {
	t.Helper()
	a, err := e.reg.Aliases(e.ctx, model)
	must(t, err, fmt.Sprintf("Aliases(%s)", model))
	return a
}

// checkModel compares a stored version with the spec it was created from.
func checkModel(t *testing.T, call string, got *provider.ModelVersionInfo, want provider.ModelVersionSpec) {
	t.Helper()
	g := got.ModelVersionSpec
	if g.Model != want.Model || g.Version != want.Version || g.Region != want.Region ||
		g.ArtifactURI != want.ArtifactURI || g.Framework != want.Framework {
		t.Errorf("%s: got %s/%s in %q artifact %q framework %q, want %s/%s in %q artifact %q framework %q", call,
			g.Model, g.Version, g.Region, g.ArtifactURI, g.Framework,
			want.Model, want.Version, want.Region, want.ArtifactURI, want.Framework)
	}
	if !sameMap(g.Metrics, want.Metrics) || !sameMap(g.Tags, want.Tags) || !sameMap(g.Metadata, want.Metadata) {
		t.Errorf("%s: metrics %v tags %v metadata %v, want %v %v %v", call, g.Metrics, g.Tags, g.Metadata, want.Metrics, want.Tags, want.Metadata)
	}
	checkApproval(t, call, g.Approval, want.Approval)
}

func checkApproval(t *testing.T, call string, got, want provider.Approval) {
	t.Helper()
	if got.State != want.State || got.By != want.By || got.Comment != want.Comment || !got.At.Equal(want.At) {
		t.Errorf("%s: approval %+v, want %+v", call, got, want)
	}
}

func registryTests() []test {
	return []test{
		{name: "CreateThenGet", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			spec := e.modelSpec(model, "1")
			want := cloneModelSpec(spec)
			created, err := e.reg.CreateModelVersion(e.ctx, spec)
			created = mustInfo(t, created, err, "CreateModelVersion")
			got := e.mustGetModel(t, model, "1")
			for call, info := range map[string]*provider.ModelVersionInfo{"CreateModelVersion": created, "GetModelVersion": got} {
				checkModel(t, call, info, want)
				if info.Created.IsZero() || info.ETag == "" {
					t.Errorf("%s: Created %v, ETag %q; both must be set", call, info.Created, info.ETag)
				}
			}
			// The ETags are not compared: a controller writing status may
			// change the ETag between the calls.
			if !got.Created.Equal(created.Created) {
				t.Errorf("GetModelVersion created %v, CreateModelVersion returned %v", got.Created, created.Created)
			}
		}},
		{name: "DuplicateIsAlreadyExists", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			e.mustCreateModel(t, model, "1")
			other := e.modelSpec(model, "1")
			other.ArtifactURI = "mem://conformance/other"
			_, err := e.reg.CreateModelVersion(e.ctx, other)
			checkCode(t, err, provider.AlreadyExists, "CreateModelVersion of an existing version")
			if got := e.mustGetModel(t, model, "1"); got.ArtifactURI == other.ArtifactURI {
				t.Error("a rejected duplicate replaced the stored version")
			}
		}},
		{name: "GetMissingIsNotFound", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			_, err := e.reg.GetModelVersion(e.ctx, model, "1")
			checkCode(t, err, provider.NotFound, "GetModelVersion of an unknown model")
			e.mustCreateModel(t, model, "1")
			_, err = e.reg.GetModelVersion(e.ctx, model, "2")
			checkCode(t, err, provider.NotFound, "GetModelVersion of an unknown version")
		}},
		{name: "UnknownRegionIsInvalidArgument", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			spec := e.modelSpec(model, "1")
			spec.Region = e.otherRegion
			_, err := e.reg.CreateModelVersion(e.ctx, spec)
			checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("CreateModelVersion in region %q", e.otherRegion))
			_, err = e.reg.GetModelVersion(e.ctx, model, "1")
			checkCode(t, err, provider.NotFound, "GetModelVersion after a rejected create")
		}},
		{name: "ListNumericOrder", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			for _, v := range []string{"10", "2", "1", "9"} {
				e.mustCreateModel(t, model, v)
			}
			e.mustCreateModel(t, e.name("other"), "5")
			list, err := e.reg.ListModelVersions(e.ctx, model)
			must(t, err, "ListModelVersions")
			var got []string
			for _, v := range list {
				if v == nil {
					t.Fatal("ListModelVersions holds a nil entry")
				}
				if v.Model != model {
					t.Errorf("ListModelVersions(%s) holds a version of %s", model, v.Model)
				}
				got = append(got, v.Version)
			}
			if want := []string{"1", "2", "9", "10"}; !slices.Equal(got, want) {
				t.Errorf("ListModelVersions = %v, want ascending numeric order %v", got, want)
			}
		}},
		{name: "LatestIsHighestVersion", needs: []provider.Capability{provider.CapLatestModel}, fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			_, err := e.latestModel.LatestModelVersion(e.ctx, model)
			checkCode(t, err, provider.NotFound, "LatestModelVersion of a model with no version")
			check := func(want string) {
				t.Helper()
				got, err := e.latestModel.LatestModelVersion(e.ctx, model)
				got = mustInfo(t, got, err, "LatestModelVersion")
				if got.Model != model || got.Version != want {
					t.Fatalf("LatestModelVersion(%s) = %s@%s, want version %s: the highest number, the last ListModelVersions lists", model, got.Model, got.Version, want)
				}
			}
			for _, v := range []string{"2", "10", "9", "1"} {
				e.mustCreateModel(t, model, v)
			}
			e.mustCreateModel(t, e.name("other"), "50")
			check("10")
			e.mustCreateModel(t, model, "11")
			check("11")
		}},
		{name: "ListModelsNamesEachOnce", fn: func(t *testing.T, e *env) {
			a, b := e.name("alpha"), e.name("beta")
			e.mustCreateModel(t, b, "1")
			e.mustCreateModel(t, a, "1")
			e.mustCreateModel(t, a, "2")
			names, err := e.reg.ListModels(e.ctx)
			must(t, err, "ListModels")
			if !slices.IsSorted(names) {
				t.Errorf("ListModels = %v, want ascending order", names)
			}
			for _, want := range []string{a, b} {
				if n := slices.Index(names, want); n < 0 || (n+1 < len(names) && names[n+1] == want) {
					t.Errorf("ListModels = %v, want %s exactly once", names, want)
				}
			}
			if slices.Contains(names, e.name("missing")) {
				t.Errorf("ListModels names a model without versions")
			}
		}},
		{name: "ListUnknownIsEmpty", fn: func(t *testing.T, e *env) {
			list, err := e.reg.ListModelVersions(e.ctx, e.name("missing"))
			must(t, err, "ListModelVersions of an unknown model")
			if len(list) != 0 {
				t.Errorf("ListModelVersions of an unknown model has %d entries, want none", len(list))
			}
		}},
		{name: "ApprovalAndTagsUpdate", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			created := e.mustCreateModel(t, model, "1")
			upd, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{
				Model: model, Version: "1",
				Tags:     map[string]string{"team": "", "stage": "candidate"},
				Metadata: map[string]string{"trained_by": "", "reviewed": "no"},
			})
			upd = mustInfo(t, upd, err, "UpdateModelVersion of tags and metadata")
			if !sameMap(upd.Tags, map[string]string{"stage": "candidate"}) || !sameMap(upd.Metadata, map[string]string{"constraint": "eu", "reviewed": "no"}) {
				t.Errorf("after a merge: tags %v metadata %v, want tags {stage:candidate} metadata {constraint:eu reviewed:no}", upd.Tags, upd.Metadata)
			}
			checkApproval(t, "UpdateModelVersion without Approval", upd.Approval, created.Approval)
			if upd.ETag == "" || upd.ETag == created.ETag {
				t.Errorf("ETag after an update = %q, want a new value (was %q)", upd.ETag, created.ETag)
			}
			approval := provider.Approval{State: provider.ApprovalApproved, By: "reviewer@example.com", Comment: "metrics hold", At: approvalTime}
			upd2, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: model, Version: "1", Approval: &approval})
			upd2 = mustInfo(t, upd2, err, "UpdateModelVersion of the approval")
			approval.Comment = "changed by the caller afterwards"
			want := provider.Approval{State: provider.ApprovalApproved, By: "reviewer@example.com", Comment: "metrics hold", At: approvalTime}
			checkApproval(t, "UpdateModelVersion", upd2.Approval, want)
			got := e.mustGetModel(t, model, "1")
			checkApproval(t, "GetModelVersion after approval", got.Approval, want)
			if upd2.ETag == "" || upd2.ETag == upd.ETag || got.ETag == upd.ETag {
				t.Errorf("ETag after approval: UpdateModelVersion %q, GetModelVersion %q, before %q; an approval changes it", upd2.ETag, got.ETag, upd.ETag)
			}
			if got.ArtifactURI != created.ArtifactURI || !sameMap(got.Metrics, created.Metrics) {
				t.Error("an approval changed the artifact or the metrics")
			}
		}},
		{name: "UpdateMissingIsNotFound", fn: func(t *testing.T, e *env) {
			_, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: e.name("missing"), Version: "1", Tags: map[string]string{"a": "b"}})
			checkCode(t, err, provider.NotFound, "UpdateModelVersion of an unknown model")
		}},
		{name: "StaleETagIsConflict", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			created := e.mustCreateModel(t, model, "1")
			used := created.ETag
			retryConflict(t, "UpdateModelVersion with the current ETag", created.ETag, func() (string, error) {
				return e.mustGetModel(t, model, "1").ETag, nil
			}, func(etag string) error {
				used = etag
				_, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: model, Version: "1", Tags: map[string]string{"stage": "a"}, IfMatch: etag})
				return err
			})
			rejected := provider.Approval{State: provider.ApprovalRejected, By: "late@example.com", At: approvalTime}
			_, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: model, Version: "1", Approval: &rejected, Tags: map[string]string{"stage": "b"}, IfMatch: used})
			checkCode(t, err, provider.Conflict, "UpdateModelVersion with a stale ETag")
			got := e.mustGetModel(t, model, "1")
			if got.Tags["stage"] != "a" || got.Approval.State != provider.ApprovalPending {
				t.Errorf("after a Conflict: stage=%q approval %s, want stage=a %s", got.Tags["stage"], got.Approval.State, provider.ApprovalPending)
			}
		}},
		{name: "ConcurrentConditionalUpdatesOneWins", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			created := e.mustCreateModel(t, model, "1")
			w := e.oneWinner(t, "UpdateModelVersion with the same ETag", created.ETag, func() string {
				return e.mustGetModel(t, model, "1").ETag
			}, func(i int, etag string) error {
				_, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{
					Model: model, Version: "1", Tags: map[string]string{"writer": strconv.Itoa(i)}, IfMatch: etag,
				})
				return err
			})
			if w >= 0 {
				if got := e.mustGetModel(t, model, "1"); got.Tags["writer"] != strconv.Itoa(w) {
					t.Errorf("the stored version has writer=%q, want the winner's %d", got.Tags["writer"], w)
				}
			}
		}},
		{name: "AliasSetMoveDelete", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			e.mustCreateModel(t, model, "1")
			e.mustCreateModel(t, model, "2")
			if a := e.mustAliases(t, model); len(a) != 0 {
				t.Errorf("Aliases of a model without aliases = %v, want empty", a)
			}
			must(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), "SetAlias(prod→1)")
			must(t, e.reg.SetAlias(e.ctx, model, "staging", "2"), "SetAlias(staging→2)")
			if a := e.mustAliases(t, model); !sameMap(a, map[string]string{"prod": "1", "staging": "2"}) {
				t.Errorf("Aliases = %v, want prod→1 staging→2", a)
			}
			must(t, e.reg.SetAlias(e.ctx, model, "prod", "2"), "SetAlias(prod→2)")
			if a := e.mustAliases(t, model); !sameMap(a, map[string]string{"prod": "2", "staging": "2"}) {
				t.Errorf("after moving prod: Aliases = %v, want prod→2 staging→2", a)
			}
			must(t, e.reg.SetAlias(e.ctx, model, "prod", "2"), "SetAlias to the version it already names")
			must(t, e.reg.DeleteAlias(e.ctx, model, "prod"), "DeleteAlias(prod)")
			e.eventually(t, "Aliases after deleting prod reading staging→2 alone", func(ctx context.Context) (bool, string, error) {
				a, err := e.reg.Aliases(ctx, model)
				return sameMap(a, map[string]string{"staging": "2"}), fmt.Sprint(a), err
			})
			e.mustGetModel(t, model, "1")
			e.mustGetModel(t, model, "2")
		}},
		{name: "AliasToMissingVersionIsNotFound", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			checkCode(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), provider.NotFound, "SetAlias on an unknown model")
			e.mustCreateModel(t, model, "1")
			must(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), "SetAlias(prod→1)")
			checkCode(t, e.reg.SetAlias(e.ctx, model, "prod", "7"), provider.NotFound, "SetAlias to an unknown version")
			checkCode(t, e.reg.SetAlias(e.ctx, model, "canary", "7"), provider.NotFound, "SetAlias of a new alias to an unknown version")
			if a := e.mustAliases(t, model); !sameMap(a, map[string]string{"prod": "1"}) {
				t.Errorf("after failed SetAlias calls Aliases = %v, want prod→1 only", a)
			}
		}},
		{name: "DeleteMissingAliasIsNotFound", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			checkCode(t, e.reg.DeleteAlias(e.ctx, model, "prod"), provider.NotFound, "DeleteAlias on an unknown model")
			e.mustCreateModel(t, model, "1")
			checkCode(t, e.reg.DeleteAlias(e.ctx, model, "prod"), provider.NotFound, "DeleteAlias of an unknown alias")
		}},
		{name: "AliasesOfUnknownModelIsEmpty", fn: func(t *testing.T, e *env) {
			if a := e.mustAliases(t, e.name("missing")); len(a) != 0 {
				t.Errorf("Aliases of an unknown model = %v, want empty", a)
			}
		}},
		{name: "ConcurrentAliasMovesLeaveOneTarget", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			versions := []string{"1", "2", "3", "4"}
			for _, v := range versions {
				e.mustCreateModel(t, model, v)
			}
			must(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), "SetAlias(prod→1)")
			var stop atomic.Bool
			var readerErr error
			var wg sync.WaitGroup
			wg.Go(func() {
				// Readers see the old or the new version, never neither.
				for !stop.Load() {
					a, err := e.reg.Aliases(e.ctx, model)
					if err != nil {
						readerErr = fmt.Errorf("reading aliases during the moves: %w", err)
						return
					}
					if v, ok := a["prod"]; !ok || !slices.Contains(versions, v) {
						readerErr = fmt.Errorf("during the moves Aliases = %v: prod must always name one of %v", a, versions)
						return
					}
				}
			})
			errs := concurrently(e.o.Concurrency, func(i int) error {
				for j := range 5 {
					if err := e.reg.SetAlias(e.ctx, model, "prod", versions[(i+j)%len(versions)]); err != nil {
						return err
					}
				}
				return nil
			})
			stop.Store(true)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("mover %d: %v", i, err)
				}
			}
			if readerErr != nil {
				t.Error(readerErr)
			}
			a := e.mustAliases(t, model)
			if len(a) != 1 || !slices.Contains(versions, a["prod"]) {
				t.Errorf("after the moves Aliases = %v, want prod naming exactly one of %v", a, versions)
			}
		}},
		{name: "ConcurrentCreatesOfOneVersionOneWins", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			errs := concurrently(e.o.Concurrency, func(i int) error {
				spec := e.modelSpec(model, "1")
				spec.ArtifactURI = fmt.Sprintf("mem://conformance/models/%s/writer-%d", model, i)
				_, err := e.reg.CreateModelVersion(e.ctx, spec)
				return err
			})
			if w := checkOneWinner(t, errs, provider.AlreadyExists, "CreateModelVersion of one version"); w >= 0 {
				want := fmt.Sprintf("mem://conformance/models/%s/writer-%d", model, w)
				if got := e.mustGetModel(t, model, "1"); got.ArtifactURI != want {
					t.Errorf("stored artifact %q, want the winner's %q", got.ArtifactURI, want)
				}
			}
			list, err := e.reg.ListModelVersions(e.ctx, model)
			must(t, err, "ListModelVersions")
			if len(list) != 1 {
				t.Errorf("ListModelVersions has %d entries after racing creates of one version, want 1", len(list))
			}
		}},
		{name: "ReturnedValuesAreCopies", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			spec := e.modelSpec(model, "1")
			want := cloneModelSpec(spec)
			mutate := func(v *provider.ModelVersionInfo) {
				v.Tags["team"] = "mutated"
				v.Metadata["constraint"] = "mutated"
				v.Metrics["auc"] = -1
				v.ArtifactURI = "mutated"
				v.Approval.State = provider.ApprovalApproved
			}
			created, err := e.reg.CreateModelVersion(e.ctx, spec)
			mutate(mustInfo(t, created, err, "CreateModelVersion"))
			got := e.mustGetModel(t, model, "1")
			checkModel(t, "GetModelVersion after changing CreateModelVersion's result", got, want)
			mutate(got)
			list, err := e.reg.ListModelVersions(e.ctx, model)
			must(t, err, "ListModelVersions")
			if len(list) != 1 || list[0] == nil {
				t.Fatalf("ListModelVersions has %d entries, want 1", len(list))
			}
			checkModel(t, "ListModelVersions after changing GetModelVersion's result", list[0], want)
			mutate(list[0])
			upd, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: model, Version: "1"})
			upd = mustInfo(t, upd, err, "UpdateModelVersion")
			checkModel(t, "UpdateModelVersion after changing ListModelVersions' result", upd, want)
			mutate(upd)
			checkModel(t, "GetModelVersion after changing UpdateModelVersion's result", e.mustGetModel(t, model, "1"), want)

			must(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), "SetAlias")
			a := e.mustAliases(t, model)
			a["prod"] = "9"
			a["extra"] = "1"
			if again := e.mustAliases(t, model); !sameMap(again, map[string]string{"prod": "1"}) {
				t.Errorf("changing Aliases' result changed the aliases to %v", again)
			}
		}},
		{name: "RequestIsNotRetained", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			spec := e.modelSpec(model, "1")
			want := cloneModelSpec(spec)
			_, err := e.reg.CreateModelVersion(e.ctx, spec)
			must(t, err, "CreateModelVersion")
			spec.Tags["team"] = "mutated"
			spec.Metadata["constraint"] = "mutated"
			spec.Metrics["auc"] = -1
			checkModel(t, "GetModelVersion after changing the spec", e.mustGetModel(t, model, "1"), want)
			upd := &provider.ModelVersionUpdate{Model: model, Version: "1", Tags: map[string]string{"stage": "x"}}
			_, err = e.reg.UpdateModelVersion(e.ctx, upd)
			must(t, err, "UpdateModelVersion")
			upd.Tags["stage"] = "mutated"
			if got := e.mustGetModel(t, model, "1"); got.Tags["stage"] != "x" {
				t.Errorf("changing the update's tags afterwards changed the stored tag to %q", got.Tags["stage"])
			}
		}},
		{name: "InvalidNamesAreInvalidArgument", fn: func(t *testing.T, e *env) {
			t.Run("Model", func(t *testing.T) {
				runBad(t, badNames(), func(name string) error {
					_, err := e.reg.CreateModelVersion(e.ctx, e.modelSpec(name, "1"))
					return err
				})
			})
			t.Run("Version", func(t *testing.T) {
				model := e.name("fraud")
				runBad(t, []struct{ why, name string }{
					{"Empty", ""},
					{"Zero", "0"},
					{"LeadingZero", "01"},
					{"Negative", "-1"},
					{"Letters", "v1"},
					{"Dotted", "1.0"},
					{"Overflow", "99999999999999999999"},
				}, func(version string) error {
					_, err := e.reg.CreateModelVersion(e.ctx, e.modelSpec(model, version))
					return err
				})
			})
			t.Run("Alias", func(t *testing.T) {
				model := e.name("fraud")
				e.mustCreateModel(t, model, "1")
				runBad(t, badNames(), func(alias string) error {
					return e.reg.SetAlias(e.ctx, model, alias, "1")
				})
			})
		}},
		{name: "CanceledContext", fn: func(t *testing.T, e *env) {
			checkRegistryDoneContext(t, e, e.canceledCtx(), provider.Canceled)
		}},
		{name: "ExpiredContext", fn: func(t *testing.T, e *env) {
			checkRegistryDoneContext(t, e, e.expiredCtx(), provider.DeadlineExceeded)
		}},
		{name: "ConcurrentUse", fn: func(t *testing.T, e *env) {
			model := e.name("fraud")
			const perWorker = 3
			errs := concurrently(e.o.Concurrency, func(i int) error {
				for j := range perWorker {
					v := strconv.Itoa(i*perWorker + j + 1)
					if _, err := e.reg.CreateModelVersion(e.ctx, e.modelSpec(model, v)); err != nil {
						return fmt.Errorf("CreateModelVersion(%s): %w", v, err)
					}
					if _, err := e.reg.UpdateModelVersion(e.ctx, &provider.ModelVersionUpdate{Model: model, Version: v, Tags: map[string]string{"worker": strconv.Itoa(i)}}); err != nil {
						return fmt.Errorf("UpdateModelVersion(%s): %w", v, err)
					}
					if err := e.reg.SetAlias(e.ctx, model, "latest", v); err != nil {
						return fmt.Errorf("SetAlias(latest→%s): %w", v, err)
					}
					if _, err := e.reg.ListModelVersions(e.ctx, model); err != nil {
						return fmt.Errorf("ListModelVersions: %w", err)
					}
					if _, err := e.reg.Aliases(e.ctx, model); err != nil {
						return fmt.Errorf("reading aliases: %w", err)
					}
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
			list, err := e.reg.ListModelVersions(e.ctx, model)
			must(t, err, "ListModelVersions")
			if len(list) != e.o.Concurrency*perWorker {
				t.Errorf("ListModelVersions has %d entries, want %d", len(list), e.o.Concurrency*perWorker)
			}
			for i := 1; i < len(list); i++ {
				a, _ := strconv.Atoi(list[i-1].Version)
				b, _ := strconv.Atoi(list[i].Version)
				if a >= b {
					t.Errorf("ListModelVersions is not in ascending numeric order: %s before %s", list[i-1].Version, list[i].Version)
				}
			}
		}},
	}
}

// checkRegistryDoneContext calls every Registry method with a done context
// and expects the context's code; nothing may be created or changed.
func checkRegistryDoneContext(t *testing.T, e *env, done context.Context, want provider.Code) {
	model := e.name("fraud")
	before := e.mustCreateModel(t, model, "1")
	must(t, e.reg.SetAlias(e.ctx, model, "prod", "1"), "SetAlias")
	_, err := e.reg.CreateModelVersion(done, e.modelSpec(model, "2"))
	checkCode(t, err, want, "CreateModelVersion")
	_, err = e.reg.GetModelVersion(done, model, "1")
	checkCode(t, err, want, "GetModelVersion")
	_, err = e.reg.ListModelVersions(done, model)
	checkCode(t, err, want, "ListModelVersions")
	_, err = e.reg.UpdateModelVersion(done, &provider.ModelVersionUpdate{Model: model, Version: "1", Tags: map[string]string{"x": "y"}})
	checkCode(t, err, want, "UpdateModelVersion")
	checkCode(t, e.reg.SetAlias(done, model, "canary", "1"), want, "SetAlias")
	checkCode(t, e.reg.DeleteAlias(done, model, "prod"), want, "DeleteAlias")
	_, err = e.reg.Aliases(done, model)
	checkCode(t, err, want, "Aliases")

	_, err = e.reg.GetModelVersion(e.ctx, model, "2")
	checkCode(t, err, provider.NotFound, "GetModelVersion of the version created with a done context")
	if got := e.mustGetModel(t, model, "1"); got.Tags["x"] != "" || !sameMap(got.Tags, before.Tags) || !sameMap(got.Metadata, before.Metadata) || got.Approval.State != before.Approval.State {
		t.Errorf("UpdateModelVersion with a done context changed the version: tags %v metadata %v approval %s (was %v %v %s)",
			got.Tags, got.Metadata, got.Approval.State, before.Tags, before.Metadata, before.Approval.State)
	}
	if a := e.mustAliases(t, model); !sameMap(a, map[string]string{"prod": "1"}) {
		t.Errorf("alias calls with a done context changed the aliases to %v", a)
	}
}
