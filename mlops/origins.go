package mlops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tideline-ml/tideline/provider"
	"github.com/tideline-ml/tideline/residency"
)

// Origin is a residency constraint and the artifact it comes from.
// Everything derived from data — a derived dataset, a job, a model version,
// a deployment — is bound by the origins of everything upstream of it, so
// that a denial can name the dataset whose constraint it enforces, and so
// that a second Client in another process enforces the same constraint from
// the artifacts' own metadata.
type Origin struct {
	// Artifact names where the constraint comes from:
	// "dataset azure/claims@1", or "artifact https://…/model.onnx" for an
	// artifact Tideline cannot trace.
	Artifact       string
	Classification residency.Classification
	// Rule names the rule that set the constraint ("restricted→EU/EEA");
	// "tightened" when the owner narrowed it by hand; "inherited" for the
	// constraint a dataset had when something was derived from it.
	Rule       string
	Constraint residency.Constraint
}

func (o Origin) String() string {
	return fmt.Sprintf("%s (%s, rule %s: %s)", o.Artifact, o.Classification, o.Rule, o.Constraint)
}

// origins is a set of origins in the order they were found.
type origins []Origin

// constraint is where everything the origins allow overlaps: the
// intersection of their constraints, anywhere for none.
func (os origins) constraint() residency.Constraint {
	c := residency.Anywhere()
	for _, o := range os {
		c = c.Intersect(o.Constraint)
	}
	return c
}

// classification is the most sensitive classification among the origins,
// Unclassified (zero) for none.
func (os origins) classification() residency.Classification {
	var c residency.Classification
	for _, o := range os {
		c = max(c, o.Classification)
	}
	return c
}

// merge adds the origins of more that are not in os yet. It is linear in
// the total, whatever the sizes; code that adds origins one group at a time
// keeps an originSet instead, so that each addition costs what it adds.
func (os origins) merge(more ...Origin) origins {
	if len(more) == 0 {
		return os
	}
	var s originSet
	s.add(os...)
	s.add(more...)
	return s.list
}

// originSet is a set of origins in the order they were added, indexed by
// artifact, so that adding an origin costs the same however many the set
// holds: one origin is kept per artifact and constraint.
type originSet struct {
	list origins
	// first is the index in list of each artifact's first origin; next
	// chains the further origins of one artifact (-1 ends a chain).
	first map[string]int32
	next  []int32
}

// add adds the origins that are not in the set yet.
func (s *originSet) add(more ...Origin) {
	if s.first == nil {
		s.first = make(map[string]int32, len(more))
	}
	for _, o := range more {
		i, ok := s.first[o.Artifact]
		last := int32(-1)
		dup := false
		for ok && i >= 0 {
			if s.list[i].Constraint.Equal(o.Constraint) {
				dup = true
				break
			}
			last, i = i, s.next[i]
		}
		if dup {
			continue
		}
		at := int32(len(s.list))
		s.list = append(s.list, o)
		s.next = append(s.next, -1)
		if !ok {
			s.first[o.Artifact] = at
		} else {
			s.next[last] = at
		}
	}
}

// The stored form.
//
// Every artifact Tideline creates — dataset, job, model version — carries
// its origins in provider metadata under metaOrigins: a JSON array of
// groups, each one constraint with the artifacts it comes from, so that many
// inputs under the same rule cost a name each. A dataset records its own
// origin and one "inherited" origin per dataset it was made from; a job one
// per input; a model version those of its job or of the datasets it names.
// What lies further upstream is read at decision time (effectiveOrigins), so
// the record stays small however long the chain of derivations is, and a
// later tightening anywhere upstream binds.
//
// A value longer than one metadata value is split over numbered keys
// (metaOrigins, metaOrigins_1, …) with the count in metaOrigins_n. Encoding
// never drops or merges an origin: what does not fit in maxOriginChunks
// values is refused with InvalidArgument.
type originGroup struct {
	Classification string   `json:"c"`
	Rule           string   `json:"r"`
	Constraint     string   `json:"k"`
	Artifacts      []string `json:"a"`
}

const (
	// maxOriginChunks bounds the metadata values the origins may take.
	// Three values of MaxMetaValueLen leave a quarter of Azure's 8 KiB for
	// everything else.
	maxOriginChunks = 3
	metaChunkCount  = "_n"
)

// maxOriginsLen is the most bytes the encoded origins may take.
const maxOriginsLen = maxOriginChunks * provider.MaxMetaValueLen

// encodeOrigins renders origins as ASCII-only JSON, grouped by constraint,
// in the order the groups are first met. It is linear in the number of
// origins.
func encodeOrigins(os origins) string {
	type key struct {
		class residency.Classification
		rule  string
		k     string
	}
	index := make(map[key]int, 4)
	groups := make([]originGroup, 0, 4)
	// Inputs under one rule share a constraint: each distinct constraint
	// is encoded once, found again by comparison, which costs less.
	type encoded struct {
		k   residency.Constraint
		enc string
	}
	var seen []encoded
	for _, o := range os {
		enc := ""
		for _, e := range seen {
			if e.k.Equal(o.Constraint) {
				enc = e.enc
				break
			}
		}
		if enc == "" {
			enc = o.Constraint.Encode()
			if len(seen) < 8 {
				seen = append(seen, encoded{o.Constraint, enc})
			}
		}
		kk := key{o.Classification, o.Rule, enc}
		i, ok := index[kk]
		if !ok {
			i = len(groups)
			index[kk] = i
			groups = append(groups, originGroup{Classification: o.Classification.String(), Rule: o.Rule, Constraint: enc})
		}
		groups[i].Artifacts = append(groups[i].Artifacts, o.Artifact)
	}
	b, err := json.Marshal(groups)
	if err != nil {
		panic("mlops: origins do not encode: " + err.Error()) // strings and slices always do
	}
	return asciiOnly(string(b))
}

// putOrigins writes the origins into md, split over as many values as they
// need, and clears chunk keys a previous, longer value may have left (an
// empty value deletes a key in an update). subject names the artifact for
// the error when they do not fit.
func putOrigins(md map[string]string, subject string, os origins) error {
	enc := encodeOrigins(os)
	if len(enc) > maxOriginsLen {
		return errorf(InvalidArgument, "%s: its residency origins take %d bytes encoded and provider metadata holds at most %d (%d origins, constraint %s); "+
			"nothing was created — name jurisdictions or countries rather than long lists of regions, or derive from fewer datasets (consolidate them into one first)",
			subject, len(enc), maxOriginsLen, len(os), os.constraint())
	}
	n := 0
	for len(enc) > 0 {
		cut := min(len(enc), provider.MaxMetaValueLen)
		md[chunkKey(n)] = enc[:cut]
		enc = enc[cut:]
		n++
	}
	for i := n; i < maxOriginChunks; i++ {
		if i > 0 {
			md[chunkKey(i)] = ""
		}
	}
	if n > 1 {
		md[metaOrigins+metaChunkCount] = strconv.Itoa(n)
	} else {
		md[metaOrigins+metaChunkCount] = ""
	}
	return nil
}

func chunkKey(i int) string {
	if i == 0 {
		return metaOrigins
	}
	return metaOrigins + "_" + strconv.Itoa(i)
}

// getOrigins joins what putOrigins wrote. present is false when md has no
// origins at all.
func getOrigins(md map[string]string) (raw string, present bool, err error) {
	first, ok := md[metaOrigins]
	count, chunked := md[metaOrigins+metaChunkCount]
	if !chunked || count == "" {
		return first, ok, nil
	}
	n, perr := strconv.Atoi(count)
	if perr != nil || n < 1 || n > maxOriginChunks {
		return "", true, fmt.Errorf("%s%s is %q, not a count from 1 to %d", metaOrigins, metaChunkCount, count, maxOriginChunks)
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		v, ok := md[chunkKey(i)]
		if !ok || v == "" {
			return "", true, fmt.Errorf("part %d of %d (%s) is missing", i+1, n, chunkKey(i))
		}
		b.WriteString(v)
	}
	return b.String(), true, nil
}

// decodeOrigins reads what encodeOrigins wrote. Anything that is not a
// JSON array of well-formed groups — null, an object, a group without
// artifacts, an unknown classification or constraint — is an error, never
// "no constraint": the artifact's residency is then unknown, and the caller
// must fail closed.
//
// The form encodeOrigins writes is read by a scanner of its own, and each
// group's classification, rule and constraint are parsed once per Client
// and then found again (groupCache). Any other text — spaces, other key
// order, escapes in an artifact — and any origins the scanner finds wrong
// are read by encoding/json, whose checks then decide.
func (c *Client) decodeOrigins(s string) (origins, error) {
	if os, ok := c.decodeCanonical(s); ok {
		return os, nil
	}
	return c.decodeOriginsJSON(s)
}

// decodeOriginsJSON is decodeOrigins through encoding/json, for any text.
func (c *Client) decodeOriginsJSON(s string) (origins, error) {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") {
		return nil, fmt.Errorf("not a JSON array")
	}
	var groups []originGroup
	if err := json.Unmarshal([]byte(t), &groups); err != nil {
		return nil, err
	}
	n := 0
	for _, g := range groups {
		n += len(g.Artifacts)
	}
	out := make(origins, 0, n)
	for i, g := range groups {
		h, err := c.parseGroupHead(i, g.Classification, g.Rule, g.Constraint)
		if err != nil {
			return nil, err
		}
		if len(g.Artifacts) == 0 {
			return nil, fmt.Errorf("group %d has no rule or no artifacts", i)
		}
		for _, a := range g.Artifacts {
			if a == "" {
				return nil, fmt.Errorf("group %d names an empty artifact", i)
			}
			out = append(out, Origin{Artifact: a, Classification: h.class, Rule: h.rule, Constraint: h.k})
		}
	}
	return out, nil
}

// groupHead is what one group says of all its artifacts. Heads are never
// modified once made: the cache shares them between every artifact stored
// under the same group, and a Dataset keeps one as what binds it.
type groupHead struct {
	class residency.Classification
	rule  string
	k     residency.Constraint
}

// parseGroupHead checks and parses group i's classification, rule and
// constraint.
func (c *Client) parseGroupHead(i int, class, rule, constraint string) (groupHead, error) {
	cl, err := residency.ParseClassification(class)
	if err != nil || !cl.Valid() {
		return groupHead{}, fmt.Errorf("group %d: classification %q", i, class)
	}
	if rule == "" {
		return groupHead{}, fmt.Errorf("group %d has no rule or no artifacts", i)
	}
	k, err := c.opts.Catalog.ParseConstraint(constraint)
	if err != nil {
		return groupHead{}, fmt.Errorf("group %d: %w", i, err)
	}
	return groupHead{class: cl, rule: rule, k: k}, nil
}

// groupCache keeps the group heads a Client has parsed, by their stored
// text, so that the many artifacts stored under a few rules cost a lookup
// each rather than a parse. Only heads that parsed are kept, and at most
// maxGroupCache of them: the text comes from provider metadata, which a
// Client does not control.
type groupCache struct {
	mu sync.Mutex
	m  map[string]*groupHead
}

const maxGroupCache = 256

// decodeCanonical reads origins in exactly the form encodeOrigins writes;
// see scanCanonical. ok is false for anything else.
func (c *Client) decodeCanonical(s string) (out origins, ok bool) {
	if s == "[]" {
		return origins{}, true
	}
	ok = c.scanCanonical(s, func(h *groupHead, a string) {
		if out == nil {
			out = make(origins, 0, 1) // a dataset made from nothing has one
		}
		out = append(out, Origin{Artifact: a, Classification: h.class, Rule: h.rule, Constraint: h.k})
	})
	if !ok {
		return nil, false
	}
	return out, true
}

// scanCanonical reads origins in exactly the form encodeOrigins writes:
// [{"c":"…","r":"…","k":"…","a":["…",…]},…] with no space, the keys in that
// order, printable ASCII alone, and no escape in an artifact, calling each
// for every artifact with its group's head, in order. It reports false for
// anything else, and for origins that fail a check — each may have been
// called by then: decodeOrigins then reads them with encoding/json, which
// says what is wrong. It allocates nothing but the heads it parses.
func (c *Client) scanCanonical(s string, each func(h *groupHead, artifact string)) bool {
	const headPrefix = `{"c":"`
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	if s == "[]" {
		return true
	}
	// str reads a JSON string starting at s[i] == '"' and returns the
	// index after its closing quote; escapes are skipped over, not read.
	str := func(i int) (end int, escaped, ok bool) {
		if i >= len(s) || s[i] != '"' {
			return 0, false, false
		}
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				escaped = true
				j++
			case '"':
				return j + 1, escaped, true
			}
		}
		return 0, false, false
	}
	// at is s[i], or 0 past the end.
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	pos := 1
	for gi := 0; ; gi++ {
		// The head: {"c":"…","r":"…","k":"…",
		if !strings.HasPrefix(s[pos:], headPrefix) {
			return false
		}
		start := pos
		end, _, ok := str(pos + len(headPrefix) - 1)
		if !ok || !strings.HasPrefix(s[end:], `,"r":`) {
			return false
		}
		if end, _, ok = str(end + len(`,"r":`)); !ok || !strings.HasPrefix(s[end:], `,"k":`) {
			return false
		}
		if end, _, ok = str(end + len(`,"k":`)); !ok || !strings.HasPrefix(s[end:], `,"a":[`) {
			return false
		}
		h, err := c.groupHead(gi, s[start:end])
		if err != nil {
			return false // encoding/json says what is wrong
		}
		pos = end + len(`,"a":[`)
		if at(pos) == ']' {
			return false
		}
		for {
			end, escaped, ok := str(pos)
			if !ok || escaped {
				return false
			}
			a := s[pos+1 : end-1]
			if a == "" {
				return false
			}
			each(h, a)
			pos = end
			if at(pos) == ',' {
				pos++
				continue
			}
			if at(pos) != ']' {
				return false
			}
			pos++
			break
		}
		if at(pos) != '}' {
			return false
		}
		pos++
		switch {
		case pos == len(s)-1:
			return true
		case at(pos) == ',':
			pos++
		default:
			return false
		}
	}
}

// groupHead returns the head of group i from its stored text,
// {"c":"…","r":"…","k":"…" — from the Client's cache, or parsed and added to
// it. The head is shared: it must not be modified.
func (c *Client) groupHead(i int, text string) (*groupHead, error) {
	gc := &c.groups
	gc.mu.Lock()
	h, ok := gc.m[text]
	gc.mu.Unlock()
	if ok {
		return h, nil
	}
	var g originGroup
	if err := json.Unmarshal([]byte(text+`}`), &g); err != nil {
		return nil, err
	}
	parsed, err := c.parseGroupHead(i, g.Classification, g.Rule, g.Constraint)
	if err != nil {
		return nil, err
	}
	h = &parsed
	gc.mu.Lock()
	if gc.m == nil {
		gc.m = make(map[string]*groupHead)
	}
	if len(gc.m) < maxGroupCache {
		gc.m[strings.Clone(text)] = h
	}
	gc.mu.Unlock()
	return h, nil
}

// asciiOnly escapes every non-ASCII rune of a JSON text as \uXXXX, so that
// the value survives metadata stores that carry only ASCII (HTTP headers).
func asciiOnly(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
		case r > 0xFFFF:
			r1, r2 := (r-0x10000)>>10+0xD800, (r-0x10000)&0x3FF+0xDC00
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// ruleOrigin is the origin a dataset gets from its own classification.
func (c *Client) ruleOrigin(artifact string, class residency.Classification) (Origin, error) {
	rule, err := c.opts.Rules.For(class)
	if err != nil {
		return Origin{}, errorf(InvalidArgument, "%s: %v", artifact, err)
	}
	return Origin{Artifact: artifact, Classification: class, Rule: rule.Name, Constraint: rule.Constraint}, nil
}

// readOrigins reads an artifact's stored origins. It fails closed:
//   - origins that do not parse, are split with a part missing, are empty or
//     null are DataLoss: the artifact cannot be used until they are repaired;
//   - an artifact Tideline created (it carries an operation id) without
//     origins is DataLoss too: they were lost, not absent;
//   - an artifact Tideline did not create gets the origin of its
//     classification metadata, restricted — the most careful guess — when it
//     has none.
//
// self, when not empty, is an origin the stored list must name: a dataset
// names itself.
func (c *Client) readOrigins(artifact string, md map[string]string, self string) (origins, error) {
	raw, present, err := getOrigins(md)
	if err == nil && present {
		var os origins
		if os, err = c.decodeOrigins(raw); err == nil {
			if self != "" && !os.names(self) {
				err = fmt.Errorf("they do not name %s itself", self)
			} else {
				return os, nil
			}
		}
	}
	if err != nil {
		return nil, errorf(DataLoss, "%s carries residency metadata that does not parse (%v); it cannot be used until its %s metadata is repaired", artifact, err, metaOrigins)
	}
	if md[metaOperation] != "" {
		return nil, errorf(DataLoss, "%s was created through Tideline but carries no residency origins (%s is missing); it cannot be used until its metadata is repaired", artifact, metaOrigins)
	}
	class, err := residency.ParseClassification(md[metaClassification])
	if err != nil || !class.Valid() {
		class = residency.Restricted
	}
	o, err := c.ruleOrigin(artifact, class)
	if err != nil {
		return nil, err
	}
	return origins{o}, nil
}

// readDatasetOrigins reads the origins stored with dataset version
// pn/name@version and fails closed exactly as readOrigins does, but does not
// decode them into a list when they are in the stored form encodeOrigins
// writes: it checks them with scanCanonical and returns what binds the
// version (its most sensitive classification and the intersection of its
// constraints, rule empty) and the stored text, which Dataset.origins
// decodes when the list is asked for. For origins of one group — a dataset
// made from nothing — bind is the head the Client's cache shares, so that
// reading them allocates nothing. Anything else (other text, origins that
// fail a check, no origins) is read by readOrigins, which says what is
// wrong; the list it reads is returned as own.
func (c *Client) readDatasetOrigins(pn, name, version string, md map[string]string) (bind *groupHead, stored string, own origins, err error) {
	raw, present, gerr := getOrigins(md)
	if gerr == nil && present {
		if bind, ok := c.canonicalBinding(raw, pn, name, version); ok {
			return bind, raw, nil, nil
		}
	}
	self := datasetArtifact(pn, name, version)
	os, err := c.readOrigins(self, md, self)
	if err != nil {
		return nil, "", nil, err
	}
	return &groupHead{class: os.classification(), k: os.constraint()}, "", os, nil
}

// canonicalBinding checks origins s in the stored form and that they name
// dataset pn/name@version, and returns what binds it; see
// readDatasetOrigins.
func (c *Client) canonicalBinding(s, pn, name, version string) (*groupHead, bool) {
	var first, last *groupHead
	var sum groupHead // what binds, once there is more than one head
	named := false
	ok := c.scanCanonical(s, func(h *groupHead, a string) {
		switch {
		case first == nil:
			first = h
		case h != last:
			if sum.class == 0 {
				sum.class, sum.k = first.class, first.k
			}
			sum.class, sum.k = max(sum.class, h.class), sum.k.Intersect(h.k)
		}
		last = h
		named = named || isDatasetArtifact(a, pn, name, version)
	})
	switch {
	case !ok || !named:
		return nil, false
	case sum.class == 0:
		return first, true
	}
	bind := sum // sum itself stays on the stack
	return &bind, true
}

// isDatasetArtifact reports whether a is datasetArtifact(pn, name,
// version), without building it.
func isDatasetArtifact(a, pn, name, version string) bool {
	const prefix = "dataset "
	if len(a) != len(prefix)+len(pn)+1+len(name)+1+len(version) {
		return false
	}
	rest, ok := strings.CutPrefix(a, prefix)
	if !ok || !strings.HasPrefix(rest, pn) || rest[len(pn)] != '/' {
		return false
	}
	rest = rest[len(pn)+1:]
	return strings.HasPrefix(rest, name) && rest[len(name)] == '@' && rest[len(name)+1:] == version
}

func (os origins) names(artifact string) bool {
	for _, o := range os {
		if o.Artifact == artifact {
			return true
		}
	}
	return false
}

// datasetArtifact names a dataset version in origins: "dataset p/name@v".
func datasetArtifact(providerName, name, version string) string {
	return "dataset " + providerName + "/" + name + "@" + version
}

// parseDatasetArtifact reads what datasetArtifact wrote.
func parseDatasetArtifact(a string) (DatasetRef, bool) {
	rest, ok := strings.CutPrefix(a, "dataset ")
	if !ok {
		return DatasetRef{}, false
	}
	pn, nv, ok := strings.Cut(rest, "/")
	if !ok {
		return DatasetRef{}, false
	}
	name, version, ok := strings.Cut(nv, "@")
	if !ok || provider.ValidateName("", name) != nil || provider.ValidateVersion("", version) != nil || pn == "" {
		return DatasetRef{}, false
	}
	return DatasetRef{Name: name, Version: version, Provider: pn}, true
}

// effectiveOrigins is the one rule for where an artifact's constraint comes
// from. Starting from the origins recorded with it, it reads every upstream
// dataset again, transitively: a dataset that exists contributes its own
// current origin (tightened or not) and is followed to the datasets it was
// made from; a deleted one is read from its deletion record, which keeps its
// last origins; a dataset that cannot be found at all, or that is held by a
// provider this Client does not have, leaves the origin recorded for it.
// Origins only ever narrow along the way — a tightening can only narrow, a
// deletion keeps what it deleted and a deleted version is never created
// again — so the result is at least as strict as what was recorded.
//
// known holds datasets the caller has read already, by artifact name, with
// their stored origins.
func (c *Client) effectiveOrigins(ctx context.Context, recorded []Origin, known map[string]origins) (origins, error) {
	var out originSet
	visited := make(map[string]bool, len(recorded))
	queue := append([]Origin(nil), recorded...)
	for len(queue) > 0 {
		o := queue[0]
		queue = queue[1:]
		ref, isDataset := parseDatasetArtifact(o.Artifact)
		if !isDataset {
			out.add(o)
			continue
		}
		if visited[o.Artifact] {
			continue
		}
		stored, ok := known[o.Artifact]
		if !ok {
			var err error
			stored, ok, err = c.storedDatasetOrigins(ctx, ref)
			if err != nil {
				return nil, fmt.Errorf("reading upstream %s for its residency: %w", o.Artifact, err)
			}
			if ok && known != nil {
				known[o.Artifact] = stored
			}
		}
		if !ok {
			out.add(o) // cannot be read: what was recorded stands
			continue
		}
		visited[o.Artifact] = true
		for _, s := range stored {
			if s.Artifact == o.Artifact {
				out.add(s)
			} else {
				queue = append(queue, s)
			}
		}
	}
	return out.list, nil
}

// refreshOrigins is effectiveOrigins with nothing read yet.
func (c *Client) refreshOrigins(ctx context.Context, os []Origin) (origins, error) {
	return c.effectiveOrigins(ctx, os, nil)
}

// storedDatasetOrigins reads the origins stored with a dataset version, or
// with its deletion record when it was deleted. ok is false when neither
// exists, or when its provider is not one of this Client's data stores.
func (c *Client) storedDatasetOrigins(ctx context.Context, ref DatasetRef) (origins, bool, error) {
	store, isStore := c.providers[ref.Provider].(provider.DataStore)
	if !isStore {
		return nil, false, nil
	}
	self := datasetArtifact(ref.Provider, ref.Name, ref.Version)
	for _, nv := range [2][2]string{{ref.Name, ref.Version}, {tombstoneName, tombstoneVersion(ref.Name, ref.Version)}} {
		var info *provider.DatasetInfo
		err := c.retry(ctx, ref.Provider, func() (err error) {
			info, err = store.GetDataset(ctx, nv[0], nv[1])
			return err
		})
		if provider.CodeOf(err) == NotFound {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if nv[0] == tombstoneName && info.Metadata[metaTombstoneOf] != ref.Name+"@"+ref.Version {
			return nil, false, errorf(DataLoss, "the deletion record of %s names %q; it cannot be trusted", self, info.Metadata[metaTombstoneOf])
		}
		os, err := c.readOrigins(self, info.Metadata, self)
		if err != nil {
			return nil, false, err
		}
		return os, true, nil
	}
	return nil, false, nil
}

// Deletion records. Deleting a dataset version leaves behind, in the same
// store, an empty version of the reserved dataset tombstoneName that keeps
// the deleted version's last origins, so that what was derived from it stays
// bound by them (a tightening included), and so that the version is never
// created again with other data under the same name.
const (
	tombstoneName   = "tideline-deleted"
	metaTombstoneOf = "tideline_deleted_version"
	metaDeletedAt   = "tideline_deleted_at"
)

// tombstoneVersion names the deletion record of name@version: a digest, so
// that any name and version fit the version rules.
func tombstoneVersion(name, version string) string {
	sum := sha256.Sum256([]byte(name + "@" + version))
	return hex.EncodeToString(sum[:12])
}

// inheritAll reads every recorded origin's upstream again (effectiveOrigins)
// and returns what a new artifact derived from them records — one
// "inherited" origin per upstream dataset, with what binds it now; other
// origins as they are — and what binds the new artifact now, for the
// decision.
//
// Its work is linear in the origins it reads: the sets it returns are kept
// across the inputs, never rebuilt for each.
func (c *Client) inheritAll(ctx context.Context, from origins, known map[string]origins) (recorded, decide origins, err error) {
	if known == nil {
		known = map[string]origins{}
	}
	var rec, dec originSet
	for _, o := range from {
		if _, ok := parseDatasetArtifact(o.Artifact); !ok {
			rec.add(o)
			dec.add(o)
			continue
		}
		eff, err := c.effectiveOrigins(ctx, []Origin{o}, known)
		if err != nil {
			return nil, nil, err
		}
		if len(eff) == 0 {
			return nil, nil, errorf(Internal, "%s resolved to no origins", o.Artifact)
		}
		rec.add(Origin{Artifact: o.Artifact, Classification: eff.classification(), Rule: "inherited", Constraint: eff.constraint()})
		dec.add(eff...)
	}
	return rec.list, dec.list, nil
}
