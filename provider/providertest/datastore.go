package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tideline-ml/tideline/provider"
)

// put stores data as name@version in the suite's region.
func (e *env) put(name, version string, data []byte, md map[string]string) (*provider.DatasetInfo, error) {
	return e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{
		Name: name, Version: version, Region: e.region,
		Metadata: md,
		Content:  provider.NewContent(bytes.NewReader(data), nil),
	})
}

func (e *env) mustPut(t *testing.T, name, version string, data []byte, md map[string]string) *provider.DatasetInfo {
	t.Helper()
	info, err := e.put(name, version, data, md)
	return mustInfo(t, info, err, fmt.Sprintf("PutDataset(%s@%s)", name, version))
}

// readAll opens name@version and returns its bytes.
func (e *env) readAll(t *testing.T, name, version string) []byte {
	t.Helper()
	rc, err := e.ds.OpenDataset(e.ctx, name, version)
	must(t, err, fmt.Sprintf("OpenDataset(%s@%s)", name, version))
	if rc == nil {
		t.Fatalf("OpenDataset(%s@%s) returned a nil reader and no error", name, version)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	must(t, err, fmt.Sprintf("reading %s@%s", name, version))
	return b
}

// listDatasets returns the entries of ListDatasets(name) that keep accepts, so
// that the suite never depends on what else the account holds.
func (e *env) listDatasets(t *testing.T, name string, keep func(*provider.DatasetInfo) bool) []*provider.DatasetInfo {
	t.Helper()
	all, err := e.ds.ListDatasets(e.ctx, name)
	must(t, err, fmt.Sprintf("ListDatasets(%q)", name))
	var out []*provider.DatasetInfo
	for i, d := range all {
		if d == nil {
			t.Fatalf("ListDatasets(%q)[%d] is nil", name, i)
		}
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// payload returns n deterministic bytes that differ with seed.
func payload(seed string, n int) []byte {
	b := make([]byte, 0, n+sha256.Size)
	sum := sha256.Sum256([]byte(seed))
	for len(b) < n {
		b = append(b, sum[:]...)
		sum = sha256.Sum256(sum[:])
	}
	return b[:n]
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return provider.DigestString(sum[:])
}

// blockingReader returns its first chunk, then blocks until release is
// closed, then returns the rest; it lets a test look at the store while a
// put is half done.
type blockingReader struct {
	first, rest []byte
	started     chan struct{}
	release     chan struct{}
	once        sync.Once
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(p, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	r.once.Do(func() { close(r.started) })
	<-r.release
	if len(r.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// errReadFailed is what failingReader returns after its bytes.
var errReadFailed = errors.New("providertest: the source of the dataset broke off")

func dataStoreTests() []test {
	return []test{
		{name: "PutThenGet", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			data := payload(name, 3000)
			md := map[string]string{"classification": "restricted", "owner": "risk-team"}
			put := e.mustPut(t, name, "v1", data, md)
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			for _, info := range []*provider.DatasetInfo{put, got} {
				if info.Name != name || info.Version != "v1" || info.Region != e.region {
					t.Errorf("got %s@%s in %q, want %s@v1 in %q", info.Name, info.Version, info.Region, name, e.region)
				}
				if !sameMap(info.Metadata, md) {
					t.Errorf("Metadata = %v, want it stored verbatim: %v", info.Metadata, md)
				}
				if info.URI == "" {
					t.Error("URI is empty; it must locate the bytes")
				}
				if info.Created.IsZero() {
					t.Error("Created is zero")
				}
				if info.ETag == "" {
					t.Error("ETag is empty; updates rely on it")
				}
			}
			// The ETag is not compared: a controller writing status may
			// change it between the calls, and the contract promises only
			// that a metadata change changes it.
			if got.URI != put.URI || got.Digest != put.Digest || got.Size != put.Size || !got.Created.Equal(put.Created) || !sameMap(got.Metadata, put.Metadata) {
				t.Errorf("GetDataset = %+v, differs from what PutDataset returned: %+v", got, put)
			}
			if b := e.readAll(t, name, "v1"); !bytes.Equal(b, data) {
				t.Errorf("OpenDataset returned %d bytes that differ from the %d stored", len(b), len(data))
			}
		}},
		{name: "PutExistingVersionIsAlreadyExists", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			data := payload(name, 100)
			e.mustPut(t, name, "v1", data, nil)
			_, err := e.put(name, "v1", data, nil)
			checkCode(t, err, provider.AlreadyExists, "PutDataset of an existing version with the same bytes")
			_, err = e.put(name, "v1", payload("other", 10), nil)
			checkCode(t, err, provider.AlreadyExists, "PutDataset of an existing version with other bytes")
		}},
		{name: "GetMissingIsNotFound", fn: func(t *testing.T, e *env) {
			name := e.name("missing")
			_, err := e.ds.GetDataset(e.ctx, name, "v1")
			checkCode(t, err, provider.NotFound, "GetDataset of an unknown dataset")
			e.mustPut(t, name, "v1", []byte("x"), nil)
			_, err = e.ds.GetDataset(e.ctx, name, "v2")
			checkCode(t, err, provider.NotFound, "GetDataset of an unknown version of a known dataset")
		}},
		{name: "OpenMissingIsNotFound", fn: func(t *testing.T, e *env) {
			rc, err := e.ds.OpenDataset(e.ctx, e.name("missing"), "v1")
			if rc != nil {
				rc.Close()
			}
			checkCode(t, err, provider.NotFound, "OpenDataset of an unknown dataset")
		}},
		{name: "UpdateMissingIsNotFound", fn: func(t *testing.T, e *env) {
			_, err := e.ds.UpdateDatasetMetadata(e.ctx, e.name("missing"), "v1", map[string]string{"a": "b"}, "")
			checkCode(t, err, provider.NotFound, "UpdateDatasetMetadata of an unknown dataset")
		}},
		{name: "DeleteMissingIsNotFound", fn: func(t *testing.T, e *env) {
			checkCode(t, e.ds.DeleteDataset(e.ctx, e.name("missing"), "v1"), provider.NotFound, "DeleteDataset of an unknown dataset")
		}},
		{name: "DeleteRemovesVersion", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			e.mustPut(t, name, "v1", []byte("one"), nil)
			e.mustPut(t, name, "v2", []byte("two"), nil)
			must(t, e.ds.DeleteDataset(e.ctx, name, "v1"), "DeleteDataset")
			// A delete may finish after the call returns (a long-running
			// operation, a finalizer), so the suite waits for it.
			e.eventually(t, "GetDataset of the deleted version answering NotFound", gone(func(ctx context.Context) error {
				_, err := e.ds.GetDataset(ctx, name, "v1")
				return err
			}))
			e.eventually(t, "OpenDataset of the deleted version answering NotFound", gone(func(ctx context.Context) error {
				rc, err := e.ds.OpenDataset(ctx, name, "v1")
				if rc != nil {
					rc.Close()
				}
				return err
			}))
			e.eventually(t, "ListDatasets listing v2 alone", func(ctx context.Context) (bool, string, error) {
				all, err := e.ds.ListDatasets(ctx, name)
				var ours []*provider.DatasetInfo
				for _, d := range all {
					if d != nil && d.Name == name {
						ours = append(ours, d)
					}
				}
				return len(ours) == 1 && ours[0].Version == "v2", versionsOf(ours), err
			})
			if b := e.readAll(t, name, "v2"); string(b) != "two" {
				t.Errorf("v2 reads %q after deleting v1, want %q", b, "two")
			}
		}},
		{name: "VersionIsImmutable", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			data := payload(name, 500)
			first := e.mustPut(t, name, "v1", data, map[string]string{"k": "first"})
			_, err := e.put(name, "v1", payload("replacement", 700), map[string]string{"k": "second"})
			checkCode(t, err, provider.AlreadyExists, "PutDataset over an existing version")
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if got.Digest != first.Digest || got.Size != first.Size || got.Metadata["k"] != "first" {
				t.Errorf("after a rejected overwrite the version reads digest %s size %d metadata %v, want %s %d k=first",
					got.Digest, got.Size, got.Metadata, first.Digest, first.Size)
			}
			if b := e.readAll(t, name, "v1"); !bytes.Equal(b, data) {
				t.Error("after a rejected overwrite the version's bytes changed")
			}
		}},
		{name: "DigestAndSizeMatchContent", fn: func(t *testing.T, e *env) {
			for _, n := range []int{0, 1, 4096, 1<<20 + 17} {
				name := e.name(fmt.Sprintf("size-%d", n))
				data := payload(name, n)
				info := e.mustPut(t, name, "v1", data, nil)
				if info.Digest != digestOf(data) || info.Size != int64(n) {
					t.Errorf("%d bytes: PutDataset reports digest %s size %d, want %s %d", n, info.Digest, info.Size, digestOf(data), n)
				}
				got, err := e.ds.GetDataset(e.ctx, name, "v1")
				got = mustInfo(t, got, err, "GetDataset")
				if got.Digest != digestOf(data) || got.Size != int64(n) {
					t.Errorf("%d bytes: GetDataset reports digest %s size %d, want %s %d", n, got.Digest, got.Size, digestOf(data), n)
				}
				if b := e.readAll(t, name, "v1"); !bytes.Equal(b, data) {
					t.Errorf("%d bytes: OpenDataset returned %d bytes that differ", n, len(b))
				}
			}
		}},
		{name: "ContentReadToEOF", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			data := payload(name, 70000)
			content := provider.NewContent(bytes.NewReader(data), nil)
			info, err := e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: name, Version: "v1", Region: e.region, Content: content})
			mustInfo(t, info, err, "PutDataset")
			if !content.Done() || content.Size() != int64(len(data)) {
				t.Errorf("after PutDataset the content is done=%v with %d bytes read, want done with %d", content.Done(), content.Size(), len(data))
			}
			if info.Digest != content.Digest() {
				t.Errorf("PutDataset reports digest %s, the content hashed %s", info.Digest, content.Digest())
			}
		}},
		{name: "NotVisibleBeforeCommit", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			data := payload(name, 64<<10)
			r := &blockingReader{first: data[:1024], rest: data[1024:], started: make(chan struct{}), release: make(chan struct{})}
			release := sync.OnceFunc(func() { close(r.release) })
			// Unblocks the put however the test ends, so that no goroutine
			// is left waiting on the reader.
			defer release()
			done := make(chan error, 1)
			go func() {
				_, err := e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: name, Version: "v1", Region: e.region, Content: provider.NewContent(r, nil)})
				done <- err
			}()
			select {
			case <-r.started:
			case err := <-done:
				t.Fatalf("PutDataset returned (%v) before reading its content to io.EOF", err)
			case <-time.After(e.o.Timeout):
				t.Fatalf("PutDataset did not read the content within %v", e.o.Timeout)
			}
			_, err := e.ds.GetDataset(e.ctx, name, "v1")
			checkCode(t, err, provider.NotFound, "GetDataset while PutDataset is still reading")
			if list := e.listDatasets(t, name, func(d *provider.DatasetInfo) bool { return d.Name == name }); len(list) != 0 {
				t.Errorf("ListDatasets while PutDataset is still reading lists %s, want nothing", versionsOf(list))
			}
			release()
			must(t, <-done, "PutDataset")
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset after the put")
			if got.Digest != digestOf(data) {
				t.Errorf("digest %s, want %s", got.Digest, digestOf(data))
			}
		}},
		{name: "ReadErrorLeavesNothing", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			r := io.MultiReader(bytes.NewReader(payload(name, 5000)), iotestErrReader{errReadFailed})
			_, err := e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: name, Version: "v1", Region: e.region, Content: provider.NewContent(r, nil)})
			if !errors.Is(err, errReadFailed) {
				t.Errorf("PutDataset with a failing reader returned %v (%T); the contract says the reader's error comes back, reachable through errors.Is", err, err)
			}
			_, err = e.ds.GetDataset(e.ctx, name, "v1")
			checkCode(t, err, provider.NotFound, "GetDataset after a failed read")
			if list := e.listDatasets(t, name, func(d *provider.DatasetInfo) bool { return d.Name == name }); len(list) != 0 {
				t.Errorf("ListDatasets after a failed read lists %s, want nothing", versionsOf(list))
			}
			// Leftover staged bytes must not block the retry.
			info := e.mustPut(t, name, "v1", []byte("complete"), nil)
			if info.Size != int64(len("complete")) {
				t.Errorf("retried put has size %d, want %d", info.Size, len("complete"))
			}
		}},
		{name: "UnknownRegionIsInvalidArgument", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			_, err := e.ds.PutDataset(e.ctx, &provider.PutDatasetRequest{Name: name, Version: "v1", Region: e.otherRegion,
				Content: provider.NewContent(strings.NewReader("data"), nil)})
			checkCode(t, err, provider.InvalidArgument, fmt.Sprintf("PutDataset in region %q", e.otherRegion))
			_, err = e.ds.GetDataset(e.ctx, name, "v1")
			checkCode(t, err, provider.NotFound, "GetDataset after a rejected put")
		}},
		{name: "ListOrder", fn: func(t *testing.T, e *env) {
			a, b := e.name("a"), e.name("b")
			if a > b {
				a, b = b, a
			}
			// Creation order is b@v1, a@v2, a@v1, so that neither version
			// order nor insertion order alone gives the contract's order.
			e.mustPut(t, b, "v1", []byte("b1"), nil)
			e.mustPut(t, a, "v2", []byte("a2"), nil)
			e.mustPut(t, a, "v1", []byte("a1"), nil)
			all := e.listDatasets(t, "", func(d *provider.DatasetInfo) bool { return d.Name == a || d.Name == b })
			if len(all) != 3 {
				t.Fatalf("ListDatasets(\"\") holds %d of the 3 versions just stored: %s", len(all), versionsOf(all))
			}
			checkDatasetOrder(t, all)
			if all[0].Name != a || all[2].Name != b {
				t.Errorf("ListDatasets(\"\") = %s, want %s's versions before %s's", versionsOf(all), a, b)
			}
			if all[0].Created.Before(all[1].Created) && (all[0].Version != "v2" || all[1].Version != "v1") {
				t.Errorf("ListDatasets(\"\") = %s, want %s@v2 (created first) before %s@v1", versionsOf(all), a, a)
			}
			one := e.listDatasets(t, a, func(*provider.DatasetInfo) bool { return true })
			if len(one) != 2 {
				t.Fatalf("ListDatasets(%q) = %s, want its 2 versions and nothing else", a, versionsOf(one))
			}
			checkDatasetOrder(t, one)
		}},
		{name: "LatestIsHighestNumber", needs: []provider.Capability{provider.CapLatestDataset}, fn: func(t *testing.T, e *env) {
			name, words := e.name("claims"), e.name("words")
			_, err := e.latestDS.LatestDataset(e.ctx, name)
			checkCode(t, err, provider.NotFound, "LatestDataset of a dataset with no version")
			// Neither creation order, nor text order, nor the newest
			// version gives the highest number; a version that is not a
			// number never counts while one that is exists.
			for _, v := range []string{"2", "10", "9", "rc1", "1"} {
				e.mustPut(t, name, v, []byte(v), nil)
			}
			e.checkLatest(t, name, "10")
			e.mustPut(t, name, "11", []byte("11"), nil)
			e.checkLatest(t, name, "11")
			// With no number among the versions, the one listed last.
			for _, v := range []string{"beta", "alpha"} {
				e.mustPut(t, words, v, []byte(v), nil)
			}
			list := e.listDatasets(t, words, func(*provider.DatasetInfo) bool { return true })
			if len(list) != 2 {
				t.Fatalf("ListDatasets(%q) = %s, want its 2 versions", words, versionsOf(list))
			}
			e.checkLatest(t, words, list[1].Version)
			got, err := e.latestDS.LatestDataset(e.ctx, name)
			got = mustInfo(t, got, err, "LatestDataset")
			got.Metadata = map[string]string{"changed": "by the caller"}
			again, err := e.latestDS.LatestDataset(e.ctx, name)
			if again = mustInfo(t, again, err, "LatestDataset"); len(again.Metadata) != 0 {
				t.Errorf("LatestDataset's result is shared with the provider: after changing one, the next holds metadata %v", again.Metadata)
			}
		}},
		{name: "LatestFollowsDeletes", needs: []provider.Capability{provider.CapLatestDataset}, fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			for _, v := range []string{"1", "3", "2"} {
				e.mustPut(t, name, v, []byte(v), nil)
			}
			must(t, e.ds.DeleteDataset(e.ctx, name, "3"), "DeleteDataset")
			// A delete may finish after the call returns; the latest is
			// what ListDatasets lists once it has.
			e.eventually(t, "LatestDataset answering 2 once 3 is deleted", func(ctx context.Context) (bool, string, error) {
				info, err := e.latestDS.LatestDataset(ctx, name)
				if err != nil || info == nil {
					return false, "no answer", err
				}
				return info.Version == "2", info.Version, nil
			})
			must(t, e.ds.DeleteDataset(e.ctx, name, "1"), "DeleteDataset")
			must(t, e.ds.DeleteDataset(e.ctx, name, "2"), "DeleteDataset")
			e.eventually(t, "LatestDataset answering NotFound once every version is deleted", gone(func(ctx context.Context) error {
				_, err := e.latestDS.LatestDataset(ctx, name)
				return err
			}))
		}},
		{name: "ListUnknownIsEmpty", fn: func(t *testing.T, e *env) {
			list, err := e.ds.ListDatasets(e.ctx, e.name("missing"))
			must(t, err, "ListDatasets of an unknown name")
			if len(list) != 0 {
				t.Errorf("ListDatasets of an unknown name = %s, want empty", versionsOf(list))
			}
		}},
		{name: "MetadataMergeAndDelete", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			put := e.mustPut(t, name, "v1", []byte("x"), map[string]string{"keep": "1", "drop": "2", "change": "3"})
			upd, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", map[string]string{"drop": "", "change": "33", "add": "4"}, "")
			upd = mustInfo(t, upd, err, "UpdateDatasetMetadata")
			want := map[string]string{"keep": "1", "change": "33", "add": "4"}
			if !sameMap(upd.Metadata, want) {
				t.Errorf("UpdateDatasetMetadata returned metadata %v, want %v", upd.Metadata, want)
			}
			if upd.ETag == "" || upd.ETag == put.ETag {
				t.Errorf("ETag after a metadata change = %q, want a new non-empty value (was %q)", upd.ETag, put.ETag)
			}
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if !sameMap(got.Metadata, want) || got.ETag == put.ETag {
				t.Errorf("GetDataset after update: metadata %v etag %q, want %v and an ETag other than the one before the change (%q)", got.Metadata, got.ETag, want, put.ETag)
			}
			if got.Digest != put.Digest || got.Size != put.Size {
				t.Error("a metadata update changed the digest or size")
			}
		}},
		{name: "StaleETagIsConflict", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			put := e.mustPut(t, name, "v1", []byte("x"), map[string]string{"stage": "raw"})
			var used string
			retryConflict(t, "UpdateDatasetMetadata with the current ETag", put.ETag, func() (string, error) {
				got, err := e.ds.GetDataset(e.ctx, name, "v1")
				got = mustInfo(t, got, err, "GetDataset")
				return got.ETag, nil
			}, func(etag string) error {
				used = etag
				_, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", map[string]string{"stage": "clean"}, etag)
				return err
			})
			_, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", map[string]string{"stage": "stale"}, used)
			checkCode(t, err, provider.Conflict, "UpdateDatasetMetadata with a stale ETag")
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if got.Metadata["stage"] != "clean" {
				t.Errorf("after a Conflict the version reads stage=%q, want stage=clean", got.Metadata["stage"])
			}
		}},
		{name: "ConcurrentConditionalUpdatesOneWins", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			put := e.mustPut(t, name, "v1", []byte("x"), nil)
			e.oneWinner(t, "UpdateDatasetMetadata with the same ETag", put.ETag, func() string {
				got, err := e.ds.GetDataset(e.ctx, name, "v1")
				return mustInfo(t, got, err, "GetDataset").ETag
			}, func(i int, etag string) error {
				_, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", map[string]string{"writer": fmt.Sprint(i)}, etag)
				return err
			})
		}},
		{name: "ReturnedValuesAreCopies", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			put := e.mustPut(t, name, "v1", []byte("x"), map[string]string{"owner": "a"})
			put.Metadata["owner"] = "mutated"
			put.Metadata["extra"] = "mutated"
			put.Digest = "mutated"
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if !sameMap(got.Metadata, map[string]string{"owner": "a"}) || got.Digest == "mutated" {
				t.Errorf("changing PutDataset's result changed the stored version: metadata %v digest %s", got.Metadata, got.Digest)
			}
			got.Metadata["owner"] = "mutated"
			list := e.listDatasets(t, name, func(d *provider.DatasetInfo) bool { return d.Name == name })
			if len(list) != 1 {
				t.Fatalf("ListDatasets = %s, want v1 only", versionsOf(list))
			}
			if list[0].Metadata["owner"] != "a" {
				t.Errorf("changing GetDataset's result changed the stored version: owner=%q", list[0].Metadata["owner"])
			}
			list[0].Metadata["owner"] = "mutated"
			upd, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", map[string]string{"x": "1"}, "")
			upd = mustInfo(t, upd, err, "UpdateDatasetMetadata")
			if upd.Metadata["owner"] != "a" {
				t.Errorf("changing ListDatasets' result changed the stored version: owner=%q", upd.Metadata["owner"])
			}
			upd.Metadata["x"] = "mutated"
			again, err := e.ds.GetDataset(e.ctx, name, "v1")
			again = mustInfo(t, again, err, "GetDataset")
			if again.Metadata["x"] != "1" {
				t.Errorf("changing UpdateDatasetMetadata's result changed the stored version: x=%q", again.Metadata["x"])
			}
		}},
		{name: "RequestIsNotRetained", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			md := map[string]string{"owner": "a"}
			e.mustPut(t, name, "v1", []byte("x"), md)
			md["owner"] = "mutated"
			upd := map[string]string{"stage": "raw"}
			_, err := e.ds.UpdateDatasetMetadata(e.ctx, name, "v1", upd, "")
			must(t, err, "UpdateDatasetMetadata")
			upd["stage"] = "mutated"
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if want := map[string]string{"owner": "a", "stage": "raw"}; !sameMap(got.Metadata, want) {
				t.Errorf("changing the caller's maps after the calls changed the stored metadata to %v, want %v", got.Metadata, want)
			}
		}},
		{name: "InvalidNamesAreInvalidArgument", fn: func(t *testing.T, e *env) {
			t.Run("Name", func(t *testing.T) {
				runBad(t, badNames(), func(name string) error {
					_, err := e.put(name, "v1", []byte("x"), nil)
					return err
				})
			})
			t.Run("Version", func(t *testing.T) {
				name := e.name("claims")
				runBad(t, []struct{ why, name string }{
					{"Empty", ""},
					{"UpperCase", "V1"},
					{"LeadingDot", ".v1"},
					{"TrailingHyphen", "v1-"},
					{"Slash", "v1/2"},
					{"Underscore", "v_1"},
					{"TooLong", strings.Repeat("1", provider.MaxVersionLen+1)},
				}, func(version string) error {
					_, err := e.put(name, version, []byte("x"), nil)
					return err
				})
			})
			t.Run("MetadataKey", func(t *testing.T) {
				runBad(t, []struct{ why, name string }{
					{"UpperCase", "Owner"},
					{"Hyphen", "data-owner"},
					{"LeadingDigit", "1owner"},
					{"TooLong", "k" + strings.Repeat("e", provider.MaxMetaKeyLen)},
				}, func(key string) error {
					_, err := e.put(e.name("claims"), "v1", []byte("x"), map[string]string{key: "v"})
					return err
				})
			})
		}},
		{name: "CanceledContext", fn: func(t *testing.T, e *env) {
			checkDoneContext(t, e, e.canceledCtx(), provider.Canceled)
		}},
		{name: "ExpiredContext", fn: func(t *testing.T, e *env) {
			checkDoneContext(t, e, e.expiredCtx(), provider.DeadlineExceeded)
		}},
		{name: "ConcurrentPutsOfOneVersionOneWins", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			datas := make([][]byte, e.o.Concurrency)
			for i := range datas {
				datas[i] = payload(fmt.Sprint(name, i), 8192+i)
			}
			codes := concurrently(e.o.Concurrency, func(i int) error {
				_, err := e.put(name, "v1", datas[i], map[string]string{"writer": fmt.Sprint(i)})
				return err
			})
			winner := checkOneWinner(t, codes, provider.AlreadyExists, "PutDataset of one version")
			if winner < 0 {
				return
			}
			got, err := e.ds.GetDataset(e.ctx, name, "v1")
			got = mustInfo(t, got, err, "GetDataset")
			if got.Digest != digestOf(datas[winner]) || got.Metadata["writer"] != fmt.Sprint(winner) {
				t.Errorf("the stored version has digest %s writer %q, want the winner's (%d): %s", got.Digest, got.Metadata["writer"], winner, digestOf(datas[winner]))
			}
			if b := e.readAll(t, name, "v1"); !bytes.Equal(b, datas[winner]) {
				t.Error("the stored bytes are not the winner's")
			}
		}},
		{name: "ConcurrentUse", fn: func(t *testing.T, e *env) {
			name := e.name("claims")
			const perWorker = 4
			errs := concurrently(e.o.Concurrency, func(i int) error {
				for j := range perWorker {
					version := fmt.Sprintf("w%d-%d", i, j)
					data := payload(name+version, 1000+j)
					if _, err := e.put(name, version, data, map[string]string{"worker": fmt.Sprint(i)}); err != nil {
						return fmt.Errorf("PutDataset(%s): %w", version, err)
					}
					if _, err := e.ds.UpdateDatasetMetadata(e.ctx, name, version, map[string]string{"step": fmt.Sprint(j)}, ""); err != nil {
						return fmt.Errorf("UpdateDatasetMetadata(%s): %w", version, err)
					}
					if _, err := e.ds.ListDatasets(e.ctx, name); err != nil {
						return fmt.Errorf("ListDatasets: %w", err)
					}
					rc, err := e.ds.OpenDataset(e.ctx, name, version)
					if err != nil {
						return fmt.Errorf("OpenDataset(%s): %w", version, err)
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || !bytes.Equal(b, data) {
						return fmt.Errorf("reading %s back: %d bytes, %v", version, len(b), err)
					}
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			}
			list := e.listDatasets(t, name, func(d *provider.DatasetInfo) bool { return d.Name == name })
			if len(list) != e.o.Concurrency*perWorker {
				t.Errorf("ListDatasets holds %d versions, want %d", len(list), e.o.Concurrency*perWorker)
			}
			checkDatasetOrder(t, list)
		}},
	}
}

// checkDoneContext calls every DataStore method with a done context and
// expects the context's code; nothing may be created.
func checkDoneContext(t *testing.T, e *env, done context.Context, want provider.Code) {
	name := e.name("claims")
	e.mustPut(t, name, "v1", []byte("x"), nil)
	_, err := e.ds.PutDataset(done, &provider.PutDatasetRequest{Name: name, Version: "v2", Region: e.region,
		Content: provider.NewContent(strings.NewReader("data"), nil)})
	checkCode(t, err, want, "PutDataset")
	_, err = e.ds.GetDataset(done, name, "v1")
	checkCode(t, err, want, "GetDataset")
	_, err = e.ds.ListDatasets(done, name)
	checkCode(t, err, want, "ListDatasets")
	rc, err := e.ds.OpenDataset(done, name, "v1")
	if rc != nil {
		rc.Close()
	}
	checkCode(t, err, want, "OpenDataset")
	_, err = e.ds.UpdateDatasetMetadata(done, name, "v1", map[string]string{"a": "b"}, "")
	checkCode(t, err, want, "UpdateDatasetMetadata")
	checkCode(t, e.ds.DeleteDataset(done, name, "v1"), want, "DeleteDataset")

	_, err = e.ds.GetDataset(e.ctx, name, "v2")
	checkCode(t, err, provider.NotFound, "GetDataset of the version put with a done context")
	got, err := e.ds.GetDataset(e.ctx, name, "v1")
	got = mustInfo(t, got, err, "GetDataset of the version deleted with a done context")
	if len(got.Metadata) != 0 {
		t.Errorf("metadata updated with a done context: %v", got.Metadata)
	}
}

// checkLatest fails the test unless LatestDataset(name) is version want and
// agrees with what ListDatasets(name) holds for it.
func (e *env) checkLatest(t *testing.T, name, want string) {
	t.Helper()
	got, err := e.latestDS.LatestDataset(e.ctx, name)
	got = mustInfo(t, got, err, fmt.Sprintf("LatestDataset(%q)", name))
	list := e.listDatasets(t, name, func(d *provider.DatasetInfo) bool { return d.Name == name })
	if got.Name != name || got.Version != want {
		t.Fatalf("LatestDataset(%q) = %s@%s, want version %s: the highest whole number among %s, or the version listed last when none is a number", name, got.Name, got.Version, want, versionsOf(list))
	}
	for _, d := range list {
		if d.Version == want && (d.Digest != got.Digest || !sameMap(d.Metadata, got.Metadata)) {
			t.Errorf("LatestDataset(%q) differs from the version ListDatasets holds: digest %s and metadata %v, listed %s and %v", name, got.Digest, got.Metadata, d.Digest, d.Metadata)
		}
	}
}

func checkDatasetOrder(t *testing.T, list []*provider.DatasetInfo) {
	t.Helper()
	for i := 1; i < len(list); i++ {
		a, b := list[i-1], list[i]
		if a.Name > b.Name || (a.Name == b.Name && a.Created.After(b.Created)) {
			t.Errorf("ListDatasets is not ordered by name and then creation time: %s (created %v) before %s (created %v)",
				a.Name+"@"+a.Version, a.Created, b.Name+"@"+b.Version, b.Created)
		}
	}
}

func versionsOf(list []*provider.DatasetInfo) string {
	parts := make([]string, len(list))
	for i, d := range list {
		parts[i] = d.Name + "@" + d.Version
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// iotestErrReader returns err on every read.
type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// concurrently runs fn(0) … fn(n-1) at once, released together so that they
// race, and returns their errors by index.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner checks that exactly one call succeeded and every other one
// failed with loser, and returns the winner's index (-1 when there is none).
func checkOneWinner(t *testing.T, errs []error, loser provider.Code, call string) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch provider.CodeOf(err) {
		case provider.OK:
			if winner >= 0 {
				t.Errorf("%d concurrent %s calls: calls %d and %d both succeeded; exactly one may", len(errs), call, winner, i)
			}
			winner = i
		case loser:
		default:
			t.Errorf("%d concurrent %s calls: call %d failed with %v (%v), want OK or %v", len(errs), call, i, provider.CodeOf(err), err, loser)
		}
	}
	if winner < 0 {
		t.Errorf("%d concurrent %s calls: none succeeded; exactly one must", len(errs), call)
	}
	return winner
}

// cloneStrings is maps.Clone that keeps nil as nil.
func cloneStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	return maps.Clone(m)
}

// conflictRounds bounds how often the suite re-reads an ETag that a
// controller changed under it before it gives up.
const conflictRounds = 5

// retryConflict makes a conditional write that the suite expects to win:
// first with etag, then, as long as it meets Conflict, with a fresh ETag
// from current. A controller writing status between the suite's read and
// its write (Kubernetes status, an Azure provisioning state) makes a real
// ETag stale at any moment; a provider that ignores If-Match never meets
// Conflict here and is caught by the stale write that follows.
func retryConflict(t *testing.T, call, etag string, current func() (string, error), write func(etag string) error) {
	t.Helper()
	for round := 1; ; round++ {
		err := write(etag)
		if provider.CodeOf(err) != provider.Conflict || round == conflictRounds {
			must(t, err, call)
			return
		}
		etag, err = current()
		must(t, err, call+": reading the current ETag")
	}
}

// oneWinner races Options.Concurrency conditional writes on one ETag and
// checks that exactly one wins and the rest meet Conflict. A round in which
// every write meets Conflict means the ETag went stale before the race (a
// controller wrote status); the round runs again with a fresh ETag from
// current, a bounded number of times. It returns the winner's index, or -1.
func (e *env) oneWinner(t *testing.T, call, etag string, current func() string, write func(i int, etag string) error) int {
	t.Helper()
	for round := 1; ; round++ {
		errs := concurrently(e.o.Concurrency, func(i int) error { return write(i, etag) })
		if round < conflictRounds && allConflict(errs) {
			etag = current()
			continue
		}
		return checkOneWinner(t, errs, provider.Conflict, call)
	}
}

func allConflict(errs []error) bool {
	for _, err := range errs {
		if provider.CodeOf(err) != provider.Conflict {
			return false
		}
	}
	return true
}
