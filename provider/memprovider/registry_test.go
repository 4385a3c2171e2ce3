package memprovider

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

func modelSpec(version string) *provider.ModelVersionSpec {
	return &provider.ModelVersionSpec{
		Model: "fraud", Version: version, Region: "westeurope",
		Framework: "pytorch", Metrics: map[string]float64{"auc": 0.91},
		Tags: map[string]string{"team": "risk"}, Metadata: map[string]string{"residency": "eu"},
	}
}

func TestModelVersions(t *testing.T) {
	p, clock := newFake(t, nil)
	ctx := context.Background()
	for _, v := range []string{"2", "10", "1"} {
		_, err := p.CreateModelVersion(ctx, modelSpec(v))
		mustOK(t, err)
	}
	list, err := p.ListModelVersions(ctx, "fraud")
	mustOK(t, err)
	var got []string
	for _, v := range list {
		got = append(got, v.Version)
	}
	if strings.Join(got, " ") != "1 2 10" {
		t.Fatalf("versions = %v; want ascending numeric order", got)
	}
	v1 := list[0]
	if v1.Approval.State != provider.ApprovalPending || v1.ArtifactURI != "mem://mem/models/fraud/1" || v1.ETag == "" || !v1.Created.Equal(epoch) {
		t.Fatalf("defaults: %+v", v1)
	}

	_, err = p.CreateModelVersion(ctx, modelSpec("2"))
	wantCode(t, err, provider.AlreadyExists)

	// Copies in and out.
	v1.Metrics["auc"] = 0
	v1.Tags["team"] = "other"
	again, err := p.GetModelVersion(ctx, "fraud", "1")
	mustOK(t, err)
	if again.Metrics["auc"] != 0.91 || again.Tags["team"] != "risk" {
		t.Fatal("stored version changed through a returned map")
	}

	clock.Advance(time.Hour)
	approved := provider.Approval{State: provider.ApprovalApproved, By: "reviewer@example.com", Comment: "metrics ok"}
	upd, err := p.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{
		Model: "fraud", Version: "1", Approval: &approved,
		Tags: map[string]string{"team": "", "stage": "prod"}, IfMatch: again.ETag,
	})
	mustOK(t, err)
	if upd.Approval.State != provider.ApprovalApproved || !upd.Approval.At.Equal(epoch.Add(time.Hour)) || upd.ETag == again.ETag {
		t.Fatalf("after approval: %+v", upd)
	}
	if len(upd.Tags) != 1 || upd.Tags["stage"] != "prod" || upd.Metadata["residency"] != "eu" {
		t.Fatalf("merged tags %v metadata %v", upd.Tags, upd.Metadata)
	}
	_, err = p.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Tags: map[string]string{"x": "y"}, IfMatch: again.ETag})
	wantCode(t, err, provider.Conflict)
	_, err = p.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "99"})
	wantCode(t, err, provider.NotFound)
	bad := provider.Approval{State: "Maybe"}
	_, err = p.UpdateModelVersion(ctx, &provider.ModelVersionUpdate{Model: "fraud", Version: "1", Approval: &bad})
	wantCode(t, err, provider.InvalidArgument)

	_, err = p.GetModelVersion(ctx, "fraud", "3")
	wantCode(t, err, provider.NotFound)
	_, err = p.GetModelVersion(ctx, "other", "1")
	wantCode(t, err, provider.NotFound)
	empty, err := p.ListModelVersions(ctx, "other")
	mustOK(t, err)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("unknown model listed %#v; want an empty list", empty)
	}
}

func TestCreateModelVersionInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*provider.ModelVersionSpec)
	}{
		{"BadModelName", func(s *provider.ModelVersionSpec) { s.Model = "Fraud" }},
		{"ZeroVersion", func(s *provider.ModelVersionSpec) { s.Version = "0" }},
		{"LeadingZero", func(s *provider.ModelVersionSpec) { s.Version = "01" }},
		{"WordVersion", func(s *provider.ModelVersionSpec) { s.Version = "latest" }},
		{"UnknownRegion", func(s *provider.ModelVersionSpec) { s.Region = "eastus9" }},
		{"BadTagKey", func(s *provider.ModelVersionSpec) { s.Tags = map[string]string{"Team": "x"} }},
		{"BadMetadata", func(s *provider.ModelVersionSpec) { s.Metadata = map[string]string{"k": "\x00"} }},
		{"NaNMetric", func(s *provider.ModelVersionSpec) { s.Metrics = map[string]float64{"auc": math.NaN()} }},
		{"InfMetric", func(s *provider.ModelVersionSpec) { s.Metrics = map[string]float64{"loss": math.Inf(1)} }},
		{"UnnamedMetric", func(s *provider.ModelVersionSpec) { s.Metrics = map[string]float64{"": 1} }},
		{"UnknownApproval", func(s *provider.ModelVersionSpec) { s.Approval.State = "Shipped" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil)
			spec := modelSpec("1")
			tc.change(spec)
			_, err := p.CreateModelVersion(context.Background(), spec)
			wantCode(t, err, provider.InvalidArgument)
			if p.Counts().ModelVersions != 0 {
				t.Fatal("a refused create stored a version")
			}
		})
	}
	_, err := New(nil).CreateModelVersion(context.Background(), nil)
	wantCode(t, err, provider.InvalidArgument)
}

func TestAliases(t *testing.T) {
	p := New(nil)
	ctx := context.Background()
	for _, v := range []string{"1", "2"} {
		_, err := p.CreateModelVersion(ctx, modelSpec(v))
		mustOK(t, err)
	}
	mustOK(t, p.SetAlias(ctx, "fraud", "champion", "1"))
	mustOK(t, p.SetAlias(ctx, "fraud", "challenger", "2"))
	mustOK(t, p.SetAlias(ctx, "fraud", "champion", "2"))
	got, err := p.Aliases(ctx, "fraud")
	mustOK(t, err)
	if len(got) != 2 || got["champion"] != "2" || got["challenger"] != "2" {
		t.Fatalf("aliases = %v", got)
	}
	got["champion"] = "1"
	if again, _ := p.Aliases(ctx, "fraud"); again["champion"] != "2" {
		t.Fatal("aliases changed through a returned map")
	}
	if c := p.Counts(); c.Aliases != 2 || c.ModelVersions != 2 {
		t.Fatalf("Counts = %+v", c)
	}

	wantCode(t, p.SetAlias(ctx, "fraud", "champion", "3"), provider.NotFound)
	wantCode(t, p.SetAlias(ctx, "nothing", "champion", "1"), provider.NotFound)
	wantCode(t, p.SetAlias(ctx, "fraud", "Champion", "1"), provider.InvalidArgument)
	if got, _ := p.Aliases(ctx, "fraud"); got["champion"] != "2" {
		t.Fatal("a refused SetAlias moved the alias")
	}

	mustOK(t, p.DeleteAlias(ctx, "fraud", "challenger"))
	wantCode(t, p.DeleteAlias(ctx, "fraud", "challenger"), provider.NotFound)
	wantCode(t, p.DeleteAlias(ctx, "nothing", "challenger"), provider.NotFound)

	empty, err := p.Aliases(ctx, "nothing")
	mustOK(t, err)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("Aliases of an unknown model = %#v; want an empty map", empty)
	}
}
