package mlops

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/tideline-ml/tideline/residency"
)

// Action names a governed operation in policy requests, errors and audit
// records.
type Action string

// The governed actions. Every call that changes anything in a provider is one
// of these and passes the Policy first.
const (
	ActionDatasetCreate    Action = "dataset.create"
	ActionDatasetDelete    Action = "dataset.delete"
	ActionDatasetTighten   Action = "dataset.tighten"
	ActionJobSubmit        Action = "job.submit"
	ActionJobCancel        Action = "job.cancel"
	ActionModelRegister    Action = "model.register"
	ActionModelApprove     Action = "model.approve"
	ActionModelReject      Action = "model.reject"
	ActionModelAlias       Action = "model.alias"
	ActionEndpointCreate   Action = "endpoint.create"
	ActionEndpointDelete   Action = "endpoint.delete"
	ActionDeploymentCreate Action = "deployment.create"
	ActionDeploymentDelete Action = "deployment.delete"
	ActionTrafficSet       Action = "traffic.set"
)

// Request is what a policy decides on: who wants to do what, where, with
// which artifacts. Fields that do not apply to the action are nil or empty.
type Request struct {
	Action    Action
	Principal Principal
	// Target names the thing acted on ("dataset claims@3").
	Target string
	// Location is where the action takes effect; Cloud is the region
	// catalog of the region ("azure", "coreweave").
	Location Location
	Cloud    string
	// Region is Location's region as the residency catalog knows it, with
	// its country and jurisdictions; RegionErr is set instead when the
	// catalog does not know it.
	Region    residency.Region
	RegionErr error
	// Origins are the residency constraints that bind the action: a new
	// dataset's own and its parents', a job's inputs', those a model or a
	// deployment inherits, and for a traffic change those of every
	// deployment whose share rises. Residency denies a region outside any
	// of them.
	Origins []Origin
	// Usage is the GPUs already held by running and queued jobs, filled in
	// for job submissions when a rule asks for it (GPUQuota).
	Usage *GPUUsage

	// Dataset is the dataset being created or deleted.
	Dataset *Dataset
	// Job is the training job being submitted or cancelled; Inputs are its
	// resolved input datasets.
	Job    *TrainJobSpec
	Inputs []*Dataset
	// Model is the model version being registered, reviewed or aliased.
	Model *ModelVersion
	// Traffic is the traffic change on an endpoint.
	Traffic *TrafficChange
}

// TrafficChange describes a change of an endpoint's split.
type TrafficChange struct {
	Endpoint      string
	Before, After map[string]int
	// Models maps each deployment named in After to its model version.
	Models map[string]*ModelVersion
	// Rollback is set only when After is exactly the split recorded before
	// a rollout began (the rollback of Endpoint.Rollout, AbortRollout).
	Rollback bool
}

// Reason is one objection of one rule.
type Reason struct {
	Rule    string
	Message string
}

func (r Reason) String() string { return r.Message + " (rule " + r.Rule + ")" }

// Rule is one policy rule. Evaluate returns its objections to req, or nil
// when it has none. Rules must be safe for concurrent use, must not call
// the Client and must not change req.
//
// A rule that concerns some actions only says so by implementing
// ScopedRule; the policy then does not ask it about the others.
type Rule interface {
	Name() string
	Evaluate(ctx context.Context, req *Request) []Reason
}

// ScopedRule is a Rule that applies to some actions only: a Policy asks it
// about requests of the actions it lists and of no others, so that a policy
// of many rules asks each request only the rules that can object to it.
// NewPolicy calls Actions once; an empty list means every action, as for a
// Rule that does not implement ScopedRule. An action no call makes (a
// misspelt one) matches nothing, so a rule listing only such actions is
// never asked.
//
// The built-in rules are scoped: AllowImages and GPUQuota to job
// submissions, RequireApprovedModels and MaxTrafficStep to traffic changes,
// SeparateDuties to model approvals. AllowProviders, AllowRegions and
// HoldClassifications apply to every action; a Policy knows where they
// cannot object and does not ask them there: AllowProviders and
// AllowRegions about a request at a provider or in a region they allow,
// HoldClassifications about one at another provider.
type ScopedRule interface {
	Rule
	Actions() []Action
}

// RuleFunc adapts a function to a Rule that applies to every action.
func RuleFunc(name string, f func(ctx context.Context, req *Request) []Reason) Rule {
	return ruleFunc{name: name, f: f}
}

// RuleFor adapts a function to a ScopedRule that applies to the given
// actions only: f is never called about any other action, by a Policy or by
// a direct call of Evaluate. With no actions it is RuleFunc.
func RuleFor(name string, actions []Action, f func(ctx context.Context, req *Request) []Reason) Rule {
	return ruleFunc{name: name, actions: slices.Clone(actions), f: f}
}

type ruleFunc struct {
	name    string
	actions []Action
	f       func(context.Context, *Request) []Reason
}

func (r ruleFunc) Name() string      { return r.name }
func (r ruleFunc) Actions() []Action { return slices.Clone(r.actions) }
func (r ruleFunc) Evaluate(ctx context.Context, req *Request) []Reason {
	if len(r.actions) > 0 && !slices.Contains(r.actions, req.Action) {
		return nil
	}
	return r.f(ctx, req)
}

// placedRule is a built-in rule that looks only at requests at some
// providers or in some regions (Request.Location); the policy's index reads
// these scopes so that it does not ask the rule elsewhere.
type placedRule struct {
	ruleFunc
	providers, regions keyScope
}

func (r placedRule) placement() (providers, regions keyScope) { return r.providers, r.regions }

// keyScope is the values of one request field a rule applies to. The zero
// keyScope is every value.
type keyScope struct {
	limited bool     // false: every value
	except  bool     // with limited: every value but keys, not keys alone
	keys    []string // the values named
}

func onlyKeys(keys ...string) keyScope   { return keyScope{limited: true, keys: keys} }
func exceptKeys(keys ...string) keyScope { return keyScope{limited: true, except: true, keys: keys} }

func (s keyScope) has(k string) bool {
	return !s.limited || slices.Contains(s.keys, k) != s.except
}

// Decision is a policy's answer.
type Decision struct {
	Allowed bool
	// Reasons lists every objection, residency's first. Empty when the call
	// is allowed outright; in AuditOnly mode a call with objections is
	// allowed and WouldDeny is set.
	Reasons   []Reason
	WouldDeny bool
	// Permissive is set when the decision was made under Permissive: the
	// default rules were relaxed on purpose.
	Permissive bool
}

// Policy is the gate every mutating call passes, after the residency rules
// that every Client applies. It holds rules and asks each of them that
// applies to the request (see ScopedRule), in the order given, so a denial
// lists every reason. A Client given no Policy uses DefaultPolicy; the zero
// Policy adds no rules and enforces.
//
// A Policy is immutable once built and safe for concurrent use.
type Policy struct {
	rules      []Rule
	index      *ruleIndex // nil when there are no rules
	mode       Mode
	permissive bool
}

// NewPolicy returns a policy of the given rules, asked in order. It indexes
// them once by the actions they apply to and, for the built-in rules that
// look at where a request takes effect, by provider and region, so that a
// decision costs about what its applicable rules cost, not what all of them
// do.
func NewPolicy(rules ...Rule) *Policy {
	p := &Policy{rules: append([]Rule(nil), rules...)}
	if len(rules) > 0 {
		p.index = newRuleIndex(p.rules)
	}
	return p
}

// Rules returns the policy's rules.
func (p *Policy) Rules() []Rule {
	if p == nil {
		return nil
	}
	return append([]Rule(nil), p.rules...)
}

// WithMode returns a copy of p in the given mode.
func (p *Policy) WithMode(m Mode) *Policy {
	q := &Policy{mode: m}
	if p != nil {
		q.rules, q.index, q.permissive = p.rules, p.index, p.permissive
	}
	return q
}

// Mode returns the policy's mode.
func (p *Policy) Mode() Mode {
	if p == nil {
		return Enforce
	}
	return p.mode
}

// Decide asks every rule that applies to req about it. It does not apply
// the residency rules; the Client does that before it asks the policy.
func (p *Policy) Decide(ctx context.Context, req *Request) Decision {
	return p.decide(ctx, req, nil)
}

// decide adds the rules' objections to reasons and applies the mode.
func (p *Policy) decide(ctx context.Context, req *Request, reasons []Reason) Decision {
	if p != nil && p.index != nil {
		reasons = p.index.ask(ctx, req, reasons)
	}
	permissive := p != nil && p.permissive
	if len(reasons) == 0 {
		return Decision{Allowed: true, Permissive: permissive}
	}
	if p.Mode() == AuditOnly {
		return Decision{Allowed: true, Reasons: reasons, WouldDeny: true, Permissive: permissive}
	}
	return Decision{Reasons: reasons, Permissive: permissive}
}

// needsUsage reports whether a rule of p reads Request.Usage.
func (p *Policy) needsUsage() bool { return p != nil && p.index != nil && p.index.usage }

// ruleIndex says which of a policy's rules apply to a request. For each of
// three request fields — the action, the provider and the region — it
// holds, per value some rule names, a bit set of the rules that apply to
// that value, and one more for every other value. A request's rules are the
// intersection of its three sets, visited in ascending bit order, which is
// the order the rules were given in.
type ruleIndex struct {
	rules                       []indexedRule
	actions, providers, regions ruleSets
	usage                       bool // some rule is a usageRule
}

// indexedRule is one rule as the index asks it.
type indexedRule struct {
	rule Rule
	// image is set for an AllowImages rule, which the index asks with the
	// job's image reference parsed once per decision.
	image *imageAllowlist
}

// ruleSets maps the values of one request field to the bit sets of rules
// that apply to them.
type ruleSets struct {
	named map[string][]uint64
	other []uint64 // for a value no rule names
}

func (s *ruleSets) get(k string) []uint64 {
	if b, ok := s.named[k]; ok {
		return b
	}
	return s.other
}

func newRuleIndex(rules []Rule) *ruleIndex {
	x := &ruleIndex{rules: make([]indexedRule, len(rules))}
	actions := make([]keyScope, len(rules))
	providers := make([]keyScope, len(rules))
	regions := make([]keyScope, len(rules))
	for i, r := range rules {
		x.rules[i].rule = r
		x.rules[i].image, _ = r.(*imageAllowlist)
		if _, ok := r.(usageRule); ok {
			x.usage = true
		}
		if s, ok := r.(ScopedRule); ok {
			if as := s.Actions(); len(as) > 0 {
				keys := make([]string, len(as))
				for j, a := range as {
					keys[j] = string(a)
				}
				actions[i] = onlyKeys(keys...)
			}
		}
		if pr, ok := r.(interface {
			placement() (providers, regions keyScope)
		}); ok {
			providers[i], regions[i] = pr.placement()
		}
	}
	x.actions = newRuleSets(actions)
	x.providers = newRuleSets(providers)
	x.regions = newRuleSets(regions)
	return x
}

func newRuleSets(scopes []keyScope) ruleSets {
	words := (len(scopes) + 63) / 64
	s := ruleSets{named: map[string][]uint64{}, other: make([]uint64, words)}
	for i, sc := range scopes {
		if !sc.limited || sc.except { // a value no rule names is none of sc.keys
			s.other[i/64] |= 1 << (i % 64)
		}
		for _, k := range sc.keys {
			s.named[k] = nil
		}
	}
	for k := range s.named {
		b := make([]uint64, words)
		for i, sc := range scopes {
			if sc.has(k) {
				b[i/64] |= 1 << (i % 64)
			}
		}
		s.named[k] = b
	}
	return s
}

// ask appends the objections of the rules that apply to req to reasons.
func (x *ruleIndex) ask(ctx context.Context, req *Request, reasons []Reason) []Reason {
	actions := x.actions.get(string(req.Action))
	providers := x.providers.get(req.Location.Provider)
	regions := x.regions.get(req.Location.Region)
	var img parsedImage
	for w, set := range actions {
		set &= providers[w] & regions[w]
		for set != 0 {
			r := &x.rules[w*64+bits.TrailingZeros64(set)]
			set &= set - 1
			if r.image != nil {
				reasons = append(reasons, r.image.evaluate(req, &img)...)
				continue
			}
			reasons = append(reasons, r.rule.Evaluate(ctx, req)...)
		}
	}
	return reasons
}

// AllowProviders allows actions only on the named providers (the names given
// to NewClient). It applies to every action that names a provider.
func AllowProviders(names ...string) Rule {
	const name = "provider-allowlist"
	set, list := toSet(names), strings.Join(names, ", ")
	return placedRule{
		ruleFunc: ruleFunc{name: name, f: func(_ context.Context, req *Request) []Reason {
			if req.Location.Provider == "" || set[req.Location.Provider] {
				return nil
			}
			return []Reason{{name, fmt.Sprintf("provider %q is not in the allowlist [%s]", req.Location.Provider, list)}}
		}},
		providers: exceptKeys(append(slices.Clone(names), "")...),
	}
}

// AllowRegions allows actions only in the named regions, spelt as the
// providers spell them ("westeurope", "EU-SOUTH-03"). It applies to every
// action that names a region.
func AllowRegions(regions ...string) Rule {
	const name = "region-allowlist"
	set, list := toSet(regions), strings.Join(regions, ", ")
	return placedRule{
		ruleFunc: ruleFunc{name: name, f: func(_ context.Context, req *Request) []Reason {
			if req.Location.Region == "" || set[req.Location.Region] {
				return nil
			}
			return []Reason{{name, fmt.Sprintf("region %s (%s) is not in the allowlist [%s]", req.Location.Region, req.Location.Provider, list)}}
		}},
		regions: exceptKeys(append(slices.Clone(regions), "")...),
	}
}

// AllowImages allows training jobs only from images under one of prefixes.
// A prefix is a registry host, with its port if it has one, optionally
// followed by a repository path: "myregistry.example" allows the whole
// registry, "myregistry.example/ml" (or "myregistry.example/ml/") the
// repositories ml and ml/... in it. The image reference is parsed (see
// TrainJobSpec.Image) and its registry and path compared, the host
// case-insensitively and the path by whole components, so that
// "myregistry.example/ml" allows neither "myregistry.example/ml-evil/x" nor
// "myregistry.example/mlx". A reference that names no registry is on
// "docker.io", and a one-component path there is under "library/":
// "python:3.12" is "docker.io/library/python:3.12". A prefix that does not
// parse allows nothing, and the denial names it.
//
// With requireDigest, the image must also be pinned by digest
// ("...@sha256:<64 hex>"), so that what was approved is what runs. An
// image reference that does not parse is always denied.
//
// The rule applies to job submissions (ActionJobSubmit). A Policy parses a
// job's image once per decision, however many AllowImages rules it has.
func AllowImages(requireDigest bool, prefixes ...string) Rule {
	r := &imageAllowlist{requireDigest: requireDigest, anyRegistry: len(prefixes) == 0, list: strings.Join(prefixes, ", ")}
	var bad []string
	for _, p := range prefixes {
		reg, path, err := parseImagePrefix(p)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q (%v)", p, err))
			continue
		}
		r.allow = append(r.allow, imagePrefix{reg, strings.Join(path, "/")})
	}
	if len(bad) > 0 {
		r.bad = "; these allowlist entries do not parse and allow nothing: " + strings.Join(bad, ", ")
	}
	return r
}

const imageRuleName = "image-allowlist"

// imageAllowlist is the rule AllowImages returns.
type imageAllowlist struct {
	requireDigest bool
	anyRegistry   bool // no prefixes were given: every registry is allowed
	allow         []imagePrefix
	list          string // the prefixes as given, for denials
	bad           string // what a denial adds about prefixes that do not parse
}

type imagePrefix struct {
	registry string
	path     string // whole components joined by '/'; "" for the whole registry
}

func (*imageAllowlist) Name() string      { return imageRuleName }
func (*imageAllowlist) Actions() []Action { return []Action{ActionJobSubmit} }

func (r *imageAllowlist) Evaluate(_ context.Context, req *Request) []Reason {
	var img parsedImage
	return r.evaluate(req, &img)
}

// parsedImage is a job's image reference parsed once for every image rule
// of a decision (rules do not change the request they are asked about).
type parsedImage struct {
	done bool
	ref  imageRef
	err  error
	reg  string
	lib  bool // a Docker Hub reference whose repository is "library/" + path
}

func (p *parsedImage) parse(image string) {
	if p.done {
		return
	}
	p.done = true
	p.ref, p.err = parseImageRef(image)
	if p.err == nil {
		p.reg = p.ref.registry()
		p.lib = p.reg == "docker.io" && !strings.Contains(p.ref.path, "/")
	}
}

// evaluate is Evaluate with req's job image parsed into img, or parsed
// there first if no rule of the decision has parsed it yet.
func (r *imageAllowlist) evaluate(req *Request, img *parsedImage) []Reason {
	if req.Action != ActionJobSubmit || req.Job == nil {
		return nil
	}
	image := req.Job.Image
	img.parse(image)
	if img.err != nil {
		return []Reason{{imageRuleName, fmt.Sprintf("image %q is not a valid image reference: %v", image, img.err)}}
	}
	var out []Reason
	allowed := r.anyRegistry
	for _, p := range r.allow {
		if p.registry == img.reg && repoHasPrefix(img.ref.path, img.lib, p.path) {
			allowed = true
			break
		}
	}
	if !allowed {
		msg := fmt.Sprintf("image %q (registry %s, repository %s) is not from an allowed registry [%s]", image, img.reg, img.ref.repository(), r.list)
		out = append(out, Reason{imageRuleName, msg + r.bad})
	}
	if r.requireDigest && !img.ref.pinned() {
		out = append(out, Reason{imageRuleName, fmt.Sprintf("image %q is not pinned by digest; use name@sha256:<64 hex digits>", image)})
	}
	return out
}

// repoHasPrefix reports whether the repository of path — "library/" + path
// with lib — starts with prefix on a component boundary, without
// allocating.
func repoHasPrefix(path string, lib bool, prefix string) bool {
	if lib && prefix != "" {
		if prefix == "library" {
			return true
		}
		var ok bool
		if prefix, ok = strings.CutPrefix(prefix, "library/"); !ok {
			return false
		}
	}
	return prefix == "" || strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// PinnedByDigest reports whether image is a valid image reference (see
// TrainJobSpec.Image) that ends in @sha256: and 64 lower-case hex digits.
func PinnedByDigest(image string) bool {
	ref, err := parseImageRef(image)
	return err == nil && ref.pinned()
}

// imageRef is a container image reference taken apart by the grammar of
// the OCI distribution reference:
//
//	reference := name [":" tag] ["@" digest]
//	name      := [domain "/"] path                 at most 255 characters
//	domain    := host [":" port]
//	host      := label ("." label)* | "[" IPv6 "]"  label: letters, digits, inner '-'
//	path      := component ("/" component)*
//	component := alnum (separator alnum)*          alnum: [a-z0-9]+
//	separator := "." | "_" | "__" | "-"+
//	tag       := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//	digest    := algorithm ":" hex                  hex: [0-9a-fA-F]{32,}
//	algorithm := [a-z0-9]+ ([+._-] [a-z0-9]+)*
//
// The first path segment is the domain when it contains '.' or ':', is
// "localhost" or has an upper-case letter, as container tools read it;
// otherwise the reference names no registry. A sha256 digest must have 64
// and a sha512 digest 128 lower-case hex digits.
type imageRef struct {
	domain string // as written, with the port; "" when none is named
	path   string
	tag    string
	digest string // "algorithm:hex"; "" when none
}

// String renders the reference as parsed; for a parsed reference that is
// the text it was parsed from.
func (r imageRef) String() string {
	s := r.path
	if r.domain != "" {
		s = r.domain + "/" + s
	}
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.digest != "" {
		s += "@" + r.digest
	}
	return s
}

// registry is the registry the reference resolves to, lower-cased.
func (r imageRef) registry() string {
	d := strings.ToLower(r.domain)
	if d == "" || d == "index.docker.io" {
		return "docker.io"
	}
	return d
}

// repository is the repository path in the registry.
func (r imageRef) repository() string {
	if r.registry() == "docker.io" && !strings.Contains(r.path, "/") {
		return "library/" + r.path
	}
	return r.path
}

func (r imageRef) pinned() bool { return strings.HasPrefix(r.digest, "sha256:") }

const maxImageNameLen = 255

// parseImageRef parses s by the grammar in imageRef's doc comment. Its
// errors say what is wrong, without repeating s.
func parseImageRef(s string) (imageRef, error) {
	if s == "" {
		return imageRef{}, errors.New("it is empty")
	}
	if err := imageChars(s); err != nil {
		return imageRef{}, err
	}
	var r imageRef
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name, r.digest = s[:i], s[i+1:]
		if err := checkDigest(r.digest); err != nil {
			return imageRef{}, err
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, r.tag = name[:i], name[i+1:]
		if err := checkTag(r.tag); err != nil {
			return imageRef{}, err
		}
	}
	if name == "" {
		return imageRef{}, errors.New("the repository name is empty")
	}
	if len(name) > maxImageNameLen {
		return imageRef{}, fmt.Errorf("the name before tag and digest has %d characters; at most %d are allowed", len(name), maxImageNameLen)
	}
	r.path = name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.IndexByte(first, '.') >= 0 || strings.IndexByte(first, ':') >= 0 || first == "localhost" || strings.ToLower(first) != first {
			r.domain, r.path = first, name[i+1:]
			if err := checkDomain(r.domain); err != nil {
				return imageRef{}, err
			}
		}
	}
	if err := checkPath(r.path); err != nil {
		return imageRef{}, err
	}
	return r, nil
}

// parseImagePrefix parses an AllowImages entry: a registry host with an
// optional port and an optional repository path, with an optional trailing
// '/'. It returns the registry lower-cased and the path's components.
func parseImagePrefix(s string) (registry string, path []string, err error) {
	if err := imageChars(s); err != nil {
		return "", nil, err
	}
	s = strings.TrimSuffix(s, "/")
	domain, rest, hasPath := strings.Cut(s, "/")
	if err := checkDomain(domain); err != nil {
		return "", nil, err
	}
	if hasPath {
		if err := checkPath(rest); err != nil {
			return "", nil, err
		}
		path = strings.Split(rest, "/")
	}
	return imageRef{domain: domain}.registry(), path, nil
}

// imageChars refuses what no image reference contains: control characters,
// white space and anything outside ASCII.
func imageChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ' ' < c && c < 0x7f {
			continue // printable ASCII, the usual case
		}
		switch {
		case c == ' ':
			return fmt.Errorf("it contains white space at byte %d", i)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("it contains the control character %U at byte %d", rune(c), i)
		case c >= 0x80:
			return fmt.Errorf("it contains a non-ASCII byte (%#x) at byte %d; image references are ASCII", c, i)
		}
	}
	return nil
}

func checkDomain(d string) error {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 {
			return fmt.Errorf("registry host %q opens '[' without closing it", d)
		}
		host, port = d[:end+1], strings.TrimPrefix(d[end+1:], ":")
		if len(d) > end+1 && d[end+1] != ':' {
			return fmt.Errorf("registry %q has %q after the IPv6 address; only :port may follow", d, d[end+1:])
		}
		v6 := host[1 : len(host)-1]
		if v6 == "" || strings.Trim(v6, "0123456789abcdefABCDEF:") != "" {
			return fmt.Errorf("registry host %q is not an IPv6 address in brackets", host)
		}
	} else {
		var hasPort bool
		host, port, hasPort = strings.Cut(d, ":")
		if hasPort && port == "" {
			return fmt.Errorf("registry %q ends in ':' without a port", d)
		}
		if host == "" {
			return fmt.Errorf("registry %q has an empty host", d)
		}
		for label := range strings.SplitSeq(host, ".") {
			if !validHostLabel(label) {
				return fmt.Errorf("registry host %q has the label %q; labels are letters, digits and inner hyphens", host, label)
			}
		}
	}
	if strings.HasSuffix(d, ":") {
		return fmt.Errorf("registry %q ends in ':' without a port", d)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '-' {
			return fmt.Errorf("registry %q has the port %q; a port is a number from 1 to 65535", d, port)
		}
	}
	return nil
}

func validHostLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnum(c) && !('A' <= c && c <= 'Z') && c != '-' {
			return false
		}
	}
	return true
}

func checkPath(p string) error {
	for comp := range strings.SplitSeq(p, "/") {
		if comp == "" {
			return fmt.Errorf("the repository path %q has an empty path component", p)
		}
		if !validPathComponent(comp) {
			return fmt.Errorf("the repository path %q has the path component %q; components are lower-case letters and digits, joined singly by '.', '_', '__' or dashes", p, comp)
		}
	}
	return nil
}

// validPathComponent checks alnum (separator alnum)*.
func validPathComponent(c string) bool {
	i := 0
	for {
		start := i
		for i < len(c) && isAlnum(c[i]) {
			i++
		}
		if i == start {
			return false // a component starts, ends and resumes with alnum
		}
		if i == len(c) {
			return true
		}
		switch {
		case c[i] == '.':
			i++
		case c[i] == '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case c[i] == '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

func isAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isWordChar(c byte) bool { return isAlnum(c) || 'A' <= c && c <= 'Z' || c == '_' }

func checkTag(t string) error {
	if t == "" {
		return errors.New("the tag is empty; drop the ':' or name a tag")
	}
	if len(t) > 128 {
		return fmt.Errorf("the tag has %d characters; at most 128 are allowed", len(t))
	}
	if !isWordChar(t[0]) {
		return fmt.Errorf("the tag %q starts with %q; it must start with a letter, digit or '_'", t, t[0])
	}
	for i := 1; i < len(t); i++ {
		if c := t[i]; !isWordChar(c) && c != '.' && c != '-' {
			return fmt.Errorf("the tag %q has %q; tags are letters, digits, '_', '.' and '-'", t, c)
		}
	}
	return nil
}

func checkDigest(d string) error {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok {
		return fmt.Errorf("the digest %q has no ':'; write it as sha256:<64 hex digits>", d)
	}
	if !validDigestAlgorithm(alg) {
		return fmt.Errorf("the digest algorithm %q is not valid; use sha256", alg)
	}
	want := 0
	switch alg {
	case "sha256":
		want = 64
	case "sha512":
		want = 128
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		lower := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		if !lower && (want > 0 || !('A' <= c && c <= 'F')) {
			return fmt.Errorf("the %s digest has %q; it must be lower-case hex digits", alg, c)
		}
	}
	switch {
	case want > 0 && len(hex) != want:
		return fmt.Errorf("the %s digest has %d hex digits; it must have %d", alg, len(hex), want)
	case len(hex) < 32:
		return fmt.Errorf("the %s digest has %d hex digits; it must have at least 32", alg, len(hex))
	}
	return nil
}

// validDigestAlgorithm checks [a-z0-9]+ ([+._-] [a-z0-9]+)*.
func validDigestAlgorithm(a string) bool {
	run := 0 // length of the current alnum run
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case isAlnum(c):
			run++
		case (c == '+' || c == '.' || c == '_' || c == '-') && run > 0:
			run = 0
		default:
			return false
		}
	}
	return run > 0
}

// RequireApprovedModels denies a traffic change that raises the share of a
// deployment whose model version is not approved — rollbacks too: a split
// that ran before is restored only to deployments whose models are still
// approved. It applies to traffic changes (ActionTrafficSet).
func RequireApprovedModels() Rule {
	const name = "approved-model"
	return RuleFor(name, []Action{ActionTrafficSet}, func(_ context.Context, req *Request) []Reason {
		tc := req.Traffic
		if req.Action != ActionTrafficSet || tc == nil {
			return nil
		}
		var out []Reason
		for _, dep := range sortedKeys(tc.After) {
			if tc.After[dep] <= tc.Before[dep] {
				continue
			}
			mv := tc.Models[dep]
			switch {
			case mv == nil:
				out = append(out, Reason{name, fmt.Sprintf("deployment %q serves no registered model version; only approved model versions may receive traffic", dep)})
			case mv.Approval.State != ApprovalApproved:
				out = append(out, Reason{name, fmt.Sprintf("deployment %q serves model %s version %s, which is %s; approve it before it receives traffic", dep, mv.Model, mv.Version, strings.ToLower(string(mv.Approval.State)))})
			}
		}
		return out
	})
}

func toSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
