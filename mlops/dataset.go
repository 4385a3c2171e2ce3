package mlops

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Dataset is one immutable version of a dataset: its bytes never change once
// created, and their SHA-256 digest is recorded with them.
//
// Its residency — Classification, Constraint, Origins, Place — is read
// through methods. Reading a version checks its stored origins (a version
// whose origins do not parse is never returned: the read fails with
// DataLoss) and keeps what binds it; the list of origins is decoded from the
// stored metadata only when Origins is called, so that listing many
// versions does not build lists nobody reads.
type Dataset struct {
	Name, Version string
	Location      Location
	// DerivedFrom are the datasets it was made from.
	DerivedFrom []DatasetRef
	// URI locates the bytes in the provider; it never carries a credential.
	URI string
	// Digest is "sha256:<hex>" of the bytes; Size their length.
	Digest string
	Size   int64
	// Labels are the caller's own key/value pairs.
	Labels  map[string]string
	Created time.Time
	// CreatedBy is the principal that created the version.
	CreatedBy string

	// class is the classification stored with the version; bind what its
	// origins bind it to (shared between versions: never modified).
	class residency.Classification
	bind  *groupHead
	// stored is the origins as stored, checked when the version was read;
	// own the list itself when it is not to be decoded from stored (a
	// version being created, or origins not in the stored form).
	stored string
	own    origins

	etag string
	c    *Client
}

// Classification says how sensitive the data is: the most sensitive of its
// own and its parents'.
func (d *Dataset) Classification() residency.Classification {
	if d.bind == nil {
		return d.class
	}
	return max(d.class, d.bind.class)
}

// Constraint is where the data may be stored and processed: the
// intersection of the constraints of its Origins. It allows nowhere for a
// Dataset not read through a Client.
func (d *Dataset) Constraint() residency.Constraint {
	if d.bind == nil {
		return residency.Constraint{}
	}
	return d.bind.k
}

// Origins returns the constraints recorded with the version: its own rule's
// (or the tighter one it was given) and one inherited origin per dataset it
// was made from, as that dataset was bound at the time. Decisions read the
// upstream datasets again, so a later tightening upstream binds too (see
// ARCHITECTURE.md, "Residency travels").
//
// The list is decoded from the stored metadata at each call and is the
// caller's own. That metadata was checked when the version was read, so
// decoding it does not fail; should it all the same, Origins returns nil,
// and every decision that needs the origins fails with DataLoss.
func (d *Dataset) Origins() []Origin {
	os, err := d.origins()
	if err != nil {
		return nil
	}
	if d.own != nil {
		return slices.Clone(os)
	}
	return os
}

// origins is Origins for mlops: the list, not to be modified, or DataLoss.
func (d *Dataset) origins() (origins, error) {
	if d.own != nil || d.stored == "" {
		return d.own, nil
	}
	if d.c == nil {
		return nil, errorf(InvalidArgument, "dataset handle is not from a Client; use Client.GetDataset")
	}
	os, err := d.c.decodeOrigins(d.stored)
	if err != nil {
		return nil, errorf(DataLoss, "%s carries residency metadata that does not parse (%v); it cannot be used until its %s metadata is repaired",
			datasetArtifact(d.Location.Provider, d.Name, d.Version), err, metaOrigins)
	}
	return os, nil
}

// Place is Location's region as the Client's residency catalog knows it:
// its country and jurisdictions. Zero when the catalog does not know it.
func (d *Dataset) Place() residency.Region {
	if d.c == nil {
		return residency.Region{}
	}
	place, _ := d.c.opts.Catalog.Lookup(d.c.cloudOf(d.Location), d.Location.Region)
	return place
}

// DatasetRef names a dataset version. Provider may be empty when only one
// provider of the Client holds a dataset of that name and version.
type DatasetRef struct {
	Name, Version string
	Provider      string
}

func (r DatasetRef) String() string { return r.Name + "@" + r.Version }

// Ref returns the reference to d.
func (d *Dataset) Ref() DatasetRef {
	return DatasetRef{Name: d.Name, Version: d.Version, Provider: d.Location.Provider}
}

// CreateDatasetOptions configures CreateDataset.
type CreateDatasetOptions struct {
	// Location is where the bytes are stored. Provider may be empty when one
	// provider stores datasets; Region may be empty when it has one region.
	Location Location
	// Classification defaults to Internal. The residency rules map it to
	// where the data may live; the storage region must be one of those
	// places.
	Classification residency.Classification
	// Constraint, when not nil, narrows where the data may live below what
	// its classification's rule allows. It cannot widen it.
	Constraint *residency.Constraint
	// DerivedFrom names the datasets this one was made from. Their
	// constraints bind it too, and its classification is at least theirs.
	DerivedFrom []DatasetRef
	// Labels are stored with the version (keys: lower-case letters, digits
	// and '_').
	Labels map[string]string
	// Progress, when not nil, is called as bytes are read with the count so
	// far and the total, or -1 when the reader cannot tell its size (a
	// *bytes.Reader, *strings.Reader, *bytes.Buffer or a regular *os.File
	// can). It runs on the calling goroutine and should return quickly.
	Progress func(read, total int64)
}

// CreateDataset stores r's bytes as version version of dataset name. It
// streams: the bytes are hashed as the provider reads them, and a version is
// visible only once all of them are stored.
//
// An empty version picks the next whole number after the dataset's highest
// numeric version ("1" for a new dataset). Creating a version that exists
// with the same bytes returns the existing version (so a retried upload is
// harmless); with other bytes it fails with AlreadyExists.
func (c *Client) CreateDataset(ctx context.Context, name, version string, r io.Reader, opts *CreateDatasetOptions) (*Dataset, error) {
	if opts == nil {
		opts = &CreateDatasetOptions{}
	}
	if err := provider.ValidateName("dataset name", name); err != nil {
		return nil, err
	}
	if version != "" {
		if err := provider.ValidateVersion("dataset version", version); err != nil {
			return nil, err
		}
	}
	if r == nil {
		return nil, errorf(InvalidArgument, "dataset %q: the reader is nil; pass the bytes to store", name)
	}
	class := opts.Classification
	if class == 0 {
		class = residency.Internal
	}
	if !class.Valid() {
		return nil, errorf(InvalidArgument, "dataset %q: classification %d is not one of public, internal, confidential, restricted", name, int(class))
	}
	if err := provider.ValidateMetadata("dataset labels", opts.Labels); err != nil {
		return nil, err
	}
	loc, err := c.resolveLocation("CreateDatasetOptions.Location", opts.Location, provider.CapDataStore, hasDataStore)
	if err != nil {
		return nil, err
	}
	if name == tombstoneName {
		return nil, errorf(InvalidArgument, "dataset name %q is reserved for the records of deleted versions; pick another name", name)
	}
	store, _ := c.dataStore(loc.Provider)
	auto := version == ""
	d := &Dataset{Name: name, Version: version, Location: loc, class: class, Labels: cloneMap(opts.Labels), c: c}
	self, err := c.ruleOrigin("", class)
	if err != nil {
		return nil, err
	}
	if opts.Constraint != nil {
		tighter, err := self.Constraint.Tighten(*opts.Constraint)
		if err != nil {
			return nil, errorf(InvalidArgument, "dataset %s: Constraint may only narrow what rule %s allows (%s): %v", name, self.Rule, self.Constraint, err)
		}
		self.Constraint, self.Rule = tighter, "tightened"
	}
	// What binds the new version: its own origin, and everything that binds
	// each parent now (upstream read again). It records one inherited
	// origin per parent.
	var parents originSet
	known := map[string]origins{}
	for i, ref := range opts.DerivedFrom {
		parent, err := c.GetDataset(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("DerivedFrom[%d]: %w", i, err)
		}
		pa := datasetArtifact(parent.Location.Provider, parent.Name, parent.Version)
		if known[pa], err = parent.origins(); err != nil {
			return nil, fmt.Errorf("DerivedFrom[%d]: %w", i, err)
		}
		parents.add(Origin{Artifact: pa})
		d.DerivedFrom = append(d.DerivedFrom, parent.Ref())
	}
	recorded, effective, err := c.inheritAll(ctx, parents.list, known)
	if err != nil {
		return nil, fmt.Errorf("dataset %q DerivedFrom: %w", name, err)
	}
	d.class = max(class, effective.classification())
	d.bind = &groupHead{class: d.class, k: self.Constraint.Intersect(effective.constraint())}
	var unlock func()
	if auto {
		unlock = c.lockVersions("dataset", loc.Provider, name)
		defer unlock()
	}
	// A seekable source can be read again when another process takes an
	// auto-numbered version while the bytes upload.
	seeker, _ := r.(io.Seeker)
	var start int64
	if seeker != nil && auto {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	src := &sourceReader{r: r}
	var progress func(int64)
	if opts.Progress != nil {
		total := sizeOf(r)
		progress = func(n int64) { opts.Progress(n, total) }
	}
	content := provider.NewContent(src, progress)
	floor := uint64(0) // auto numbering: numbers below are taken or deleted
	for attempt := 0; ; attempt++ {
		if attempt > 0 && (content.Size() > 0 || content.Done()) {
			if seeker == nil {
				return nil, errorf(Conflict, "dataset %q: another writer took version %s while the bytes were being stored, and the source cannot be read again; call CreateDataset again (with a seekable source such as a file, it moves on to the next number by itself)", name, version)
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return nil, fmt.Errorf("dataset %q: rewinding the source to store it as the next version: %w", name, err)
			}
			content = provider.NewContent(src, progress)
		}
		if auto {
			if version, err = c.nextDatasetVersion(ctx, loc.Provider, store, name); err != nil {
				return nil, err
			}
			if n, _ := strconv.ParseUint(version, 10, 63); n < floor {
				version = strconv.FormatUint(floor, 10)
			}
			if version, err = c.skipDeleted(ctx, loc.Provider, store, name, version); err != nil {
				return nil, err
			}
		}
		d.Version = version
		res, err := c.putDataset(ctx, store, d, content, self, effective, recorded, opts.Labels, auto)
		if src.err != nil && errors.Is(err, src.err) {
			return nil, fmt.Errorf("dataset %s@%s: reading source: %w", name, version, src.err)
		}
		if (err == errVersionTaken || err == errVersionDeleted) && attempt < 16 {
			// Another writer took the number before our bytes were read,
			// or the number belonged to a deleted version: take the next.
			n, _ := strconv.ParseUint(version, 10, 63)
			floor = n + 1
			continue
		}
		if err == errVersionTaken || err == errVersionDeleted {
			return nil, errorf(Conflict, "dataset %q: could not claim a version number after %d attempts; too many concurrent creates, retry", name, attempt+1)
		}
		return res, err
	}
}

// sourceReader keeps the caller's reader's error, so that a failure to
// read the source can be told from a provider's and named as such.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// errVersionDeleted reports that an auto-numbered version has a deletion
// record, so the next number must be tried.
var errVersionDeleted = errors.New("the version number belongs to a deleted version; the next number is tried")

// errVersionTaken reports that an auto-numbered version was taken by
// another writer before any byte was read, so the next number can be tried.
var errVersionTaken = errors.New("the version number was taken by another writer; the next number is tried")

// putDataset is one governed attempt to store d at d.Version.
func (c *Client) putDataset(ctx context.Context, store provider.DataStore, d *Dataset, content *provider.Content, self Origin, effective, recorded origins, labels map[string]string, auto bool) (*Dataset, error) {
	loc, name, version := d.Location, d.Name, d.Version
	self.Artifact = datasetArtifact(loc.Provider, name, version)
	own := append(origins{self}, recorded...)
	d.own = own
	decide := append(origins{self}, effective...)
	req := &Request{Action: ActionDatasetCreate, Target: fmtTarget("dataset", name, version), Location: loc, Dataset: d, Origins: decide}
	res, err := c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		deleted, err := c.wasDeleted(ctx, loc.Provider, store, name, version)
		if err != nil {
			return nil, err
		}
		if deleted && auto {
			return nil, errVersionDeleted
		}
		if deleted {
			return nil, errorf(FailedPrecondition, "dataset %s@%s was deleted; its deletion record keeps its residency, and a deleted version is never created again: create another version", name, version)
		}
		md := labelsToMeta(labels)
		md[metaClassification] = d.Classification().String()
		if err := putOrigins(md, "dataset "+name+"@"+version, own); err != nil {
			return nil, err
		}
		stripEmpty(md)
		if len(d.DerivedFrom) > 0 {
			md[metaDerivedFrom] = joinRefs(d.DerivedFrom)
		}
		md[metaPrincipal] = req.Principal.ID
		md[metaOperation] = op.ID
		if err := provider.ValidateMetadata("dataset metadata (labels, residency and provenance)", md); err != nil {
			return nil, fmt.Errorf("dataset %s@%s: nothing was stored: %w", name, version, err)
		}
		info, err := store.PutDataset(ctx, &provider.PutDatasetRequest{
			Name: name, Version: version, Region: loc.Region, Metadata: md, Content: content,
		})
		if provider.CodeOf(err) == AlreadyExists {
			if auto {
				if cur, gerr := store.GetDataset(ctx, name, version); gerr != nil || cur.Metadata[metaOperation] != op.ID {
					return nil, errVersionTaken
				}
			}
			return c.existingDataset(ctx, store, d, content, op.ID)
		}
		if err != nil {
			// A response lost after the version was stored: the version
			// carries this operation's id, so the call succeeded.
			if cur, gerr := store.GetDataset(ctx, name, version); gerr == nil && cur.Metadata[metaOperation] == op.ID && content.Done() && cur.Digest == content.Digest() {
				return c.datasetFromInfo(loc.Provider, cur)
			}
			return nil, c.fromProvider(loc.Provider, err)
		}
		if info.Digest != content.Digest() || info.Size != content.Size() {
			// What the provider holds is not what was sent: it must not
			// stay behind as if it were the dataset.
			derr := c.retry(context.WithoutCancel(ctx), loc.Provider, func() error { return store.DeleteDataset(context.WithoutCancel(ctx), name, version) })
			cleanup := "the stored version was removed"
			if derr != nil && provider.CodeOf(derr) != NotFound {
				cleanup = fmt.Sprintf("removing the stored version failed too (%v); delete it by hand", derr)
			}
			return nil, errorf(DataLoss, "dataset %s@%s: provider %q recorded %s (%d bytes) but %s (%d bytes) was sent; %s", name, version, loc.Provider, info.Digest, info.Size, content.Digest(), content.Size(), cleanup)
		}
		return c.datasetFromInfo(loc.Provider, info)
	})
	if err != nil {
		return nil, err
	}
	return res.(*Dataset), nil
}

// stripEmpty drops the empty values putOrigins leaves to clear keys in an
// update; a create has nothing to clear.
func stripEmpty(md map[string]string) {
	for k, v := range md {
		if v == "" {
			delete(md, k)
		}
	}
}

// existingDataset decides a create that hit an existing version. The same
// bytes, region, classification and constraint make the create a no-op, so
// a retried upload is harmless; anything else is AlreadyExists naming the
// difference — a create never returns a copy less protected, or elsewhere,
// than the one asked for.
func (c *Client) existingDataset(ctx context.Context, store provider.DataStore, want *Dataset, content *provider.Content, opID string) (*Dataset, error) {
	if err := content.Drain(); err != nil {
		return nil, err // CreateDataset names it as the source's
	}
	info, err := store.GetDataset(ctx, want.Name, want.Version)
	if err != nil {
		return nil, err
	}
	if info.Metadata[metaOperation] == opID && info.Digest == content.Digest() {
		return c.datasetFromInfo(want.Location.Provider, info)
	}
	have, err := c.datasetFromInfo(want.Location.Provider, info)
	if err != nil {
		return nil, err
	}
	var diffs []string
	if info.Digest != content.Digest() {
		diffs = append(diffs, fmt.Sprintf("other bytes (%s, not %s)", info.Digest, content.Digest()))
	}
	if have.Location.Region != want.Location.Region {
		diffs = append(diffs, fmt.Sprintf("region %s, not %s", have.Location.Region, want.Location.Region))
	}
	if have.Classification() != want.Classification() {
		diffs = append(diffs, fmt.Sprintf("classification %s, not %s", have.Classification(), want.Classification()))
	}
	if !have.Constraint().Equal(want.Constraint()) {
		diffs = append(diffs, fmt.Sprintf("constraint %s, not %s", have.Constraint(), want.Constraint()))
	}
	if len(diffs) > 0 {
		return nil, errorf(AlreadyExists, "dataset %s@%s already exists in provider %q with %s; versions are immutable, create a new version", want.Name, want.Version, want.Location.Provider, strings.Join(diffs, ", "))
	}
	return have, nil
}

// wasDeleted reports whether name@version has a deletion record.
func (c *Client) wasDeleted(ctx context.Context, pn string, store provider.DataStore, name, version string) (bool, error) {
	err := c.retry(ctx, pn, func() error {
		_, err := store.GetDataset(ctx, tombstoneName, tombstoneVersion(name, version))
		return err
	})
	switch provider.CodeOf(err) {
	case OK:
		return true, nil
	case NotFound:
		return false, nil
	}
	return false, err
}

// skipDeleted returns the first whole number from version on that no
// deleted version of name had: a deleted version's number is never given
// again, however many of the highest versions were deleted. Each number
// costs one read of a deletion record.
func (c *Client) skipDeleted(ctx context.Context, pn string, store provider.DataStore, name, version string) (string, error) {
	for {
		deleted, err := c.wasDeleted(ctx, pn, store, name, version)
		if err != nil || !deleted {
			return version, err
		}
		n, _ := provider.VersionNumber(version)
		version = strconv.FormatUint(n+1, 10)
	}
}

// nextDatasetVersion returns the whole number after the dataset's highest
// numeric version, "1" when it has none.
func (c *Client) nextDatasetVersion(ctx context.Context, pn string, store provider.DataStore, name string) (string, error) {
	var latest *provider.DatasetInfo
	err := c.retry(ctx, pn, func() (err error) {
		latest, err = latestDataset(ctx, store, name)
		return err
	})
	if provider.CodeOf(err) == NotFound {
		return "1", nil
	}
	if err != nil {
		return "", err
	}
	n, _ := provider.VersionNumber(latest.Version) // not a number: no version is, and 0 + 1 is next
	return strconv.FormatUint(n+1, 10), nil
}

// datasetFromInfo reads a stored version back, residency included. A
// version written by something other than Tideline has no classification:
// it is treated as restricted, the careful guess, rather than as public.
// Its origins are checked, not decoded (readDatasetOrigins). The Dataset
// keeps no reference to in.Metadata beyond strings read from it.
func (c *Client) datasetFromInfo(providerName string, in *provider.DatasetInfo) (*Dataset, error) {
	d := new(Dataset)
	if err := c.readDataset(d, providerName, in); err != nil {
		return nil, err
	}
	return d, nil
}

// readDataset is datasetFromInfo into d, which must be the zero Dataset
// (fresh memory: a list fills blocks of them, and writes each field once).
func (c *Client) readDataset(d *Dataset, providerName string, in *provider.DatasetInfo) error {
	md := in.Metadata
	bind, stored, own, err := c.readDatasetOrigins(providerName, in.Name, in.Version, md)
	if err != nil {
		return err
	}
	d.Name, d.Version = in.Name, in.Version
	d.Location = Location{Provider: providerName, Region: in.Region}
	if refs := md[metaDerivedFrom]; refs != "" {
		d.DerivedFrom = splitRefs(refs)
	}
	d.URI, d.Digest, d.Size = in.URI, in.Digest, in.Size
	d.Labels = metaToLabels(md)
	d.Created = in.Created
	d.CreatedBy = md[metaPrincipal]
	d.class = storedClassification(md[metaClassification])
	d.bind, d.stored, d.own = bind, stored, own
	d.etag = in.ETag
	d.c = c
	return nil
}

// storedClassification reads the classification stored with an artifact:
// restricted, the careful guess, when there is none or it does not parse.
// The form Tideline writes is matched before anything is parsed.
func storedClassification(s string) residency.Classification {
	for c := residency.Public; c <= residency.Restricted; c++ {
		if s == c.String() {
			return c
		}
	}
	class, err := residency.ParseClassification(s)
	if err != nil || !class.Valid() {
		return residency.Restricted
	}
	return class
}

// joinRefs and splitRefs store dataset references in one metadata value:
// "azure/claims@1,azure/policies@3".
func joinRefs(refs []DatasetRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.Provider + "/" + r.String()
	}
	return strings.Join(parts, ",")
}

func splitRefs(s string) []DatasetRef {
	if s == "" {
		return nil
	}
	var out []DatasetRef
	for _, part := range strings.Split(s, ",") {
		pn, rest, _ := strings.Cut(part, "/")
		name, version, _ := strings.Cut(rest, "@")
		out = append(out, DatasetRef{Name: name, Version: version, Provider: pn})
	}
	return out
}

// Tighten narrows where the dataset may live. The new constraint must lie
// within the current one (it may be tightened, never loosened), and the
// region the dataset is stored in must stay inside it. It binds everything
// derived from the dataset, before and after: every decision reads upstream
// datasets again, and deleting the dataset keeps the tightened constraint in
// its deletion record.
func (d *Dataset) Tighten(ctx context.Context, constraint residency.Constraint) error {
	if d == nil || d.c == nil {
		return errorf(InvalidArgument, "dataset handle is not from a Client; use Client.GetDataset")
	}
	c := d.c
	if _, err := d.Constraint().Tighten(constraint); err != nil {
		return errorf(InvalidArgument, "dataset %s may only be tightened within %s: %v", d.Ref(), d.Constraint(), err)
	}
	store, err := c.dataStore(d.Location.Provider)
	if err != nil {
		return err
	}
	selfName := datasetArtifact(d.Location.Provider, d.Name, d.Version)
	stored, err := d.origins()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(stored, func(o Origin) bool { return o.Artifact == selfName })
	if i < 0 {
		return errorf(FailedPrecondition, "dataset %s has no residency origin of its own to tighten; get it again through the Client", d.Ref())
	}
	own := slices.Clone(stored)
	own[i].Constraint, own[i].Rule = own[i].Constraint.Intersect(constraint), "tightened"
	decide, err := c.effectiveOrigins(ctx, []Origin{{Artifact: selfName}}, map[string]origins{selfName: own})
	if err != nil {
		return err
	}
	req := &Request{Action: ActionDatasetTighten, Target: fmtTarget("dataset", d.Name, d.Version), Location: d.Location, Dataset: d, Origins: decide}
	_, err = c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		md := map[string]string{}
		if err := putOrigins(md, "dataset "+d.Ref().String(), own); err != nil {
			return nil, err
		}
		var info *provider.DatasetInfo
		err := c.retry(ctx, d.Location.Provider, func() (err error) {
			info, err = store.UpdateDatasetMetadata(ctx, d.Name, d.Version, md, d.etag)
			return err
		})
		if provider.CodeOf(err) == Conflict {
			return nil, errorf(Conflict, "dataset %s changed while it was being tightened; get it again and retry", d.Ref())
		}
		if err != nil {
			return nil, err
		}
		nd, err := c.datasetFromInfo(d.Location.Provider, info)
		if err != nil {
			return nil, err
		}
		*d = *nd
		return d, nil
	})
	return err
}

// GetDataset returns a dataset version. An empty ref.Version means the
// latest: the highest whole-number version, or the newest when no version is
// a number. When ref.Provider is empty every provider that stores datasets
// is asked; the version must exist in exactly one.
func (c *Client) GetDataset(ctx context.Context, ref DatasetRef) (*Dataset, error) {
	if err := provider.ValidateName("dataset name", ref.Name); err != nil {
		return nil, err
	}
	if ref.Version != "" {
		if err := provider.ValidateVersion("dataset version", ref.Version); err != nil {
			return nil, err
		}
	}
	if ref.Name == tombstoneName {
		return nil, errorf(InvalidArgument, "dataset name %q is reserved for the records of deleted versions", ref.Name)
	}
	names := []string{ref.Provider}
	if ref.Provider == "" {
		names = c.capable(hasDataStore)
		if len(names) == 0 {
			return nil, errorf(Unimplemented, "no provider of this client stores datasets")
		}
	} else if _, ok := c.providers[ref.Provider]; !ok {
		return nil, errorf(InvalidArgument, "dataset %s: provider %q is not a provider of this client", ref, ref.Provider)
	}
	var found *Dataset
	for _, pn := range names {
		store, err := c.dataStore(pn)
		if err != nil {
			return nil, err
		}
		var info *provider.DatasetInfo
		err = c.retry(ctx, pn, func() (err error) {
			if ref.Version == "" {
				info, err = latestDataset(ctx, store, ref.Name)
			} else {
				info, err = store.GetDataset(ctx, ref.Name, ref.Version)
			}
			return err
		})
		if provider.CodeOf(err) == NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if found != nil {
			return nil, errorf(InvalidArgument, "dataset %s exists in providers %q and %q; name the provider in the reference", ref, found.Location.Provider, pn)
		}
		if found, err = c.datasetFromInfo(pn, info); err != nil {
			return nil, err
		}
	}
	if found == nil {
		if ref.Version == "" {
			return nil, errorf(NotFound, "dataset %s has no version", ref.Name)
		}
		return nil, errorf(NotFound, "dataset %s not found", ref)
	}
	return found, nil
}

// latestDataset returns the latest version of a dataset: the highest whole
// number among its versions, or the newest when none is a number. A store
// that keeps its latest version (provider.LatestDatasetReader) answers at
// once; any other is listed, which costs time in the number of versions.
func latestDataset(ctx context.Context, store provider.DataStore, name string) (*provider.DatasetInfo, error) {
	if lr, ok := store.(provider.LatestDatasetReader); ok {
		info, err := lr.LatestDataset(ctx, name)
		if provider.CodeOf(err) == NotFound {
			return nil, errorf(NotFound, "dataset %s has no version", name)
		}
		return info, err
	}
	infos, err := store.ListDatasets(ctx, name)
	if err != nil {
		return nil, err
	}
	var best *provider.DatasetInfo
	var bestN uint64
	bestNum := false
	for _, in := range infos {
		if in.Name != name {
			continue
		}
		// The list is ordered by creation time: among equals the newest
		// wins.
		n, num := provider.VersionNumber(in.Version)
		if best == nil || num && (!bestNum || n >= bestN) || !num && !bestNum {
			best, bestN, bestNum = in, n, num
		}
	}
	if best == nil {
		return nil, errorf(NotFound, "dataset %s has no version", name)
	}
	return best, nil
}

// ListDatasets yields the versions of the named dataset (of every dataset
// when name is empty) across the Client's providers, ordered by provider,
// name and creation time. Each version is read as it is yielded, its
// origins checked but not decoded (Dataset.Origins decodes them); a failure
// (a bad name, a provider error, metadata that does not parse) is yielded
// once, with a nil *Dataset, and ends the sequence. Collect gathers the
// sequence into a slice.
func (c *Client) ListDatasets(ctx context.Context, name string) iter.Seq2[*Dataset, error] {
	return func(yield func(*Dataset, error) bool) {
		if name != "" {
			if err := provider.ValidateName("dataset name", name); err != nil {
				yield(nil, err)
				return
			}
		}
		for _, pn := range c.capable(hasDataStore) {
			store, _ := c.dataStore(pn)
			var infos []*provider.DatasetInfo
			err := c.retry(ctx, pn, func() (err error) {
				infos, err = store.ListDatasets(ctx, name)
				return err
			})
			if err != nil {
				yield(nil, err)
				return
			}
			// The Datasets are made in blocks, which costs one allocation a
			// block rather than one a version, yet does not keep a whole
			// list alive for the one a caller keeps.
			var block []Dataset
			for i, in := range infos {
				if in.Name == tombstoneName {
					continue // deletion records are not datasets
				}
				if len(block) == 0 {
					block = make([]Dataset, min(len(infos)-i, listBlock))
				}
				d := &block[0]
				block = block[1:]
				if err := c.readDataset(d, pn, in); err != nil {
					yield(nil, err)
					return
				}
				if !yield(d, nil) {
					return
				}
			}
		}
	}
}

// listBlock is how many Datasets a list makes in one allocation: as many
// as 16 KiB holds beside the 8 bytes the allocator keeps with a block of
// values with pointers, so that no block is rounded up to a larger size.
const listBlock = (16<<10 - 8) / int(unsafe.Sizeof(Dataset{}))

// Open opens the version for reading. The reader verifies the bytes as they
// stream: at the end, a digest or size that differs from the recorded one
// fails the read with a DataLoss error instead of io.EOF, so a caller that
// reads to the end never silently consumes corrupted data.
func (d *Dataset) Open(ctx context.Context, opts *OpenOptions) (io.ReadCloser, error) {
	if opts == nil {
		opts = &OpenOptions{}
	}
	if d == nil || d.c == nil {
		return nil, errorf(InvalidArgument, "dataset handle is not from a Client; use Client.GetDataset")
	}
	store, err := d.c.dataStore(d.Location.Provider)
	if err != nil {
		return nil, err
	}
	var rc io.ReadCloser
	err = d.c.retry(ctx, d.Location.Provider, func() (err error) {
		rc, err = store.OpenDataset(ctx, d.Name, d.Version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &verifyingReader{rc: rc, h: sha256.New(), want: d.Digest, size: d.Size, name: d.Ref().String(), progress: opts.Progress}, nil
}

// OpenOptions configures Dataset.Open.
type OpenOptions struct {
	// Progress, when not nil, is called as bytes are read with the count so
	// far and the version's size. It runs on the reading goroutine and
	// should return quickly.
	Progress func(read, total int64)
}

// sizeOf returns how many bytes r will yield, or -1 when it cannot tell.
func sizeOf(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - off
	}
	return -1
}

// verifyingReader checks the digest and size of what it reads at EOF.
type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	n    int64
	want string
	size int64
	name string
	err  error

	progress func(read, total int64)
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if n > 0 && v.progress != nil {
		v.progress(v.n, v.size)
	}
	if v.n > v.size {
		v.err = errorf(DataLoss, "dataset %s: read more than the recorded %d bytes; the stored bytes changed", v.name, v.size)
		return n, v.err
	}
	if errors.Is(err, io.EOF) {
		if got := provider.DigestString(v.h.Sum(nil)); got != v.want || v.n != v.size {
			v.err = errorf(DataLoss, "dataset %s: read %d bytes with digest %s, but %d bytes with digest %s were recorded; the stored bytes are corrupt", v.name, v.n, got, v.size, v.want)
			return n, v.err
		}
		v.err = io.EOF
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// labelsToMeta prefixes user labels so they cannot collide with Tideline's
// own metadata keys.
func labelsToMeta(labels map[string]string) map[string]string {
	md := make(map[string]string, len(labels)+4)
	for k, v := range labels {
		md[metaLabelPrefix+k] = v
	}
	return md
}

func metaToLabels(md map[string]string) map[string]string {
	var out map[string]string
	for k, v := range md {
		if len(k) > len(metaLabelPrefix) && k[:len(metaLabelPrefix)] == metaLabelPrefix {
			if out == nil {
				out = make(map[string]string)
			}
			out[k[len(metaLabelPrefix):]] = v
		}
	}
	return out
}

// Delete removes the version's bytes from its provider — the last step of a
// data-deletion request, after the lineage impact query has named what was
// derived from it.
//
// Deleting never loosens what was derived: before the bytes go, a deletion
// record is written to the same store (an empty version of the reserved
// dataset "tideline-deleted", holding the classification and residency
// origins the version had at the end, tightenings included, with who
// deleted it and when). Every later decision about something derived from
// the version reads that record where it would have read the version, and
// the version's name is never used again. When the record cannot be
// written, nothing is deleted.
func (d *Dataset) Delete(ctx context.Context) error {
	if d == nil || d.c == nil {
		return errorf(InvalidArgument, "dataset handle is not from a Client; use Client.GetDataset")
	}
	c := d.c
	store, err := c.dataStore(d.Location.Provider)
	if err != nil {
		return err
	}
	req := &Request{Action: ActionDatasetDelete, Target: fmtTarget("dataset", d.Name, d.Version), Location: d.Location, Dataset: d}
	_, err = c.govern(ctx, req, func(ctx context.Context, op *Operation) (any, error) {
		var info *provider.DatasetInfo
		err := c.retry(ctx, d.Location.Provider, func() (err error) {
			info, err = store.GetDataset(ctx, d.Name, d.Version)
			return err
		})
		if provider.CodeOf(err) == NotFound {
			// Gone already: by a try whose response was lost, or by another
			// process. Either way the request is fulfilled, if a record
			// of the deletion exists.
			deleted, derr := c.wasDeleted(ctx, d.Location.Provider, store, d.Name, d.Version)
			if derr != nil {
				return nil, derr
			}
			if !deleted {
				return nil, errorf(NotFound, "dataset %s is gone, but not through Tideline: there is no deletion record keeping its residency", d.Ref())
			}
			return d, nil
		}
		if err != nil {
			return nil, err
		}
		cur, err := c.datasetFromInfo(d.Location.Provider, info)
		if err != nil {
			return nil, err
		}
		if err := c.writeTombstone(ctx, store, cur, req.Principal.ID, op.ID); err != nil {
			return nil, fmt.Errorf("dataset %s: nothing was deleted: writing its deletion record: %w", d.Ref(), err)
		}
		err = c.retry(ctx, d.Location.Provider, func() error { return store.DeleteDataset(ctx, d.Name, d.Version) })
		if provider.CodeOf(err) == NotFound {
			err = nil
		}
		return d, err
	})
	return err
}

// writeTombstone writes the deletion record of d; one that exists already
// (a retried deletion) is kept.
func (c *Client) writeTombstone(ctx context.Context, store provider.DataStore, d *Dataset, principal, opID string) error {
	md := map[string]string{
		metaClassification: d.Classification().String(),
		metaTombstoneOf:    d.Name + "@" + d.Version,
		metaDeletedAt:      c.opts.Now().UTC().Format(time.RFC3339),
		metaPrincipal:      principal,
		metaOperation:      opID,
	}
	os, err := d.origins()
	if err != nil {
		return err
	}
	if err := putOrigins(md, "the deletion record of dataset "+d.Ref().String(), os); err != nil {
		return err
	}
	stripEmpty(md)
	_, err = store.PutDataset(ctx, &provider.PutDatasetRequest{
		Name: tombstoneName, Version: tombstoneVersion(d.Name, d.Version), Region: d.Location.Region,
		Metadata: md, Content: provider.NewContent(strings.NewReader(""), nil),
	})
	if provider.CodeOf(err) == AlreadyExists {
		return nil
	}
	return err
}

// versionLocks serialises the numbering of auto-versioned creates of one
// name within a Client, so that concurrent creates take consecutive numbers
// instead of racing for one.
type versionLocks struct {
	mu sync.Mutex
	m  map[string]*versionLock
}

type versionLock struct {
	mu   sync.Mutex
	refs int
}

func (c *Client) lockVersions(kind, providerName, name string) (unlock func()) {
	key := kind + " " + providerName + "/" + name
	v := &c.versions
	v.mu.Lock()
	if v.m == nil {
		v.m = make(map[string]*versionLock)
	}
	l := v.m[key]
	if l == nil {
		l = &versionLock{}
		v.m[key] = l
	}
	l.refs++
	v.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		v.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(v.m, key)
		}
		v.mu.Unlock()
	}
}
