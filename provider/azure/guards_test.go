package azure_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tideline-ml/tideline/provider"
)

// TestAzuriteConcurrentMetadataUpdates races metadata updates on one
// version, many rounds. With the same ETag, exactly one of two updates
// wins and the other is Conflict, and the version holds the winner's
// value. Without an ETag, two updates of different keys both land: the
// driver's own read-merge-write is conditional on the ETag it read, so
// neither overwrites the other.
func TestAzuriteConcurrentMetadataUpdates(t *testing.T) {
	accountURL := azurite(t)
	p := newProvider(t, accountURL, newContainer(t, accountURL), nil)
	ctx := context.Background()
	if _, err := p.PutDataset(ctx, &provider.PutDatasetRequest{Name: "claims", Version: "1", Region: "westeurope",
		Content: provider.NewContent(strings.NewReader("x"), nil)}); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		cur, err := p.GetDataset(ctx, "claims", "1")
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				_, errs[i] = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{"stage": fmt.Sprintf("r%d-w%d", round, i)}, cur.ETag)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch provider.CodeOf(err) {
			case provider.OK:
				if winner >= 0 {
					t.Fatalf("round %d: both updates with ETag %s succeeded; one must be Conflict", round, cur.ETag)
				}
				winner = i
			case provider.Conflict:
			default:
				t.Fatalf("round %d, writer %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither update with the current ETag succeeded: %v", round, errs)
		}
		got, err := p.GetDataset(ctx, "claims", "1")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("r%d-w%d", round, winner); got.Metadata["stage"] != want {
			t.Fatalf("round %d: stage=%q, want the winner's %q", round, got.Metadata["stage"], want)
		}

		// Unconditional updates of two keys at once: both must survive.
		for i := range 2 {
			wg.Go(func() {
				_, errs[i] = p.UpdateDatasetMetadata(ctx, "claims", "1", map[string]string{fmt.Sprintf("k%d", i): fmt.Sprint(round)}, "")
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: unconditional updates: %v", round, errs)
		}
		got, err = p.GetDataset(ctx, "claims", "1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Metadata["k0"] != fmt.Sprint(round) || got.Metadata["k1"] != fmt.Sprint(round) {
			t.Fatalf("round %d: metadata %v; an update was lost", round, got.Metadata)
		}
	}
}
