package signing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy is the operator's trust policy: the `trust:` list of warden.yaml,
// reviewed like grants. It says who may sign which plugins. In YAML and JSON
// a Policy is written as the bare list of its entries.
//
// Selecting entries for a plugin: the entries whose plugins patterns match
// the plugin's name most specifically apply, and the others are ignored. An
// exact name is more specific than a "prefix*" glob, a longer prefix more
// specific than a shorter one, and any glob more specific than "*". When
// several entries match at the same (highest) level, each of them may accept
// the signature (useful during a key rotation); they are tried in list
// order and the first that accepts is recorded in the evidence. So
//
//	trust:
//	  - plugins: ["*"]
//	    keyless: {issuer: https://token.actions.githubusercontent.com,
//	              identityRegexp: '^https://github\.com/acme/.*$'}
//	  - plugins: [hello]
//	    key: keys/dev.pub
//
// means that hello must be signed with keys/dev.pub, and every other plugin
// by acme's GitHub Actions workflows. The order of the list does not change
// which entries apply, only which of several equally specific entries is
// tried first.
type Policy struct {
	// Entries are the policy's entries, in file order.
	Entries []Entry
}

// Entry is one item of the trust list: which plugins it covers and the
// signer it accepts for them, either a keyless (Fulcio certificate) identity
// or a public key, never both.
type Entry struct {
	// Plugins lists plugin names, "prefix*" globs, or "*" for every plugin.
	Plugins []string `yaml:"plugins" json:"plugins"`
	// Keyless accepts Sigstore keyless signatures by an OIDC identity.
	Keyless *Keyless `yaml:"keyless,omitempty" json:"keyless,omitempty"`
	// Key is the path of a PEM public key ("PUBLIC KEY", as written by
	// `warden plugin keygen` and `cosign generate-key-pair`): ECDSA P-256,
	// P-384 or P-521, Ed25519, or RSA of at least 2048 bits. A relative path
	// is resolved against the directory given with WithBaseDir.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// TrustedRoot is the path of a Sigstore trusted_root.json to verify
	// keyless signatures (and, for keys, transparency-log entries and
	// timestamps) against. Empty means the verifier's default: the Sigstore
	// public-good root (see NewVerifier).
	TrustedRoot string `yaml:"trustedRoot,omitempty" json:"trustedRoot,omitempty"`
	// Tlog is the number of transparency-log entries that must verify
	// against the trusted root. The default is 1 for keyless entries and 0
	// for keys (key-signed bundles usually have no log entry).
	Tlog *int `yaml:"tlogThreshold,omitempty" json:"tlogThreshold,omitempty"`
	// Timestamps is the number of verified observer timestamps (log
	// integrated times and RFC 3161 timestamps from a timestamp authority in
	// the trusted root) that must establish when the signature was made. The
	// default is 1 for keyless entries, where the timestamp proves that the
	// short-lived certificate was valid at signing time (0 checks the
	// certificate against the current time instead), and 0 for keys.
	Timestamps *int `yaml:"timestampThreshold,omitempty" json:"timestampThreshold,omitempty"`
	// SCTs is the number of signed certificate timestamps (certificate
	// transparency) a keyless certificate must carry. The default is 1 when
	// the trusted root lists CT logs (the public-good root does) and 0
	// otherwise. Ignored for keys.
	SCTs *int `yaml:"ctlogThreshold,omitempty" json:"ctlogThreshold,omitempty"`

	// lines maps field paths to YAML line numbers, for error messages.
	lines map[string]int
}

// Keyless describes the certificate identity a keyless signature must have.
// Set exactly one of Issuer and IssuerRegexp, and exactly one of Identity and
// IdentityRegexp. Regular expressions use Go syntax and are anchored: they
// must match the whole value (unlike sigstore-go's, which match substrings).
type Keyless struct {
	// Issuer is the exact OIDC issuer, e.g.
	// "https://token.actions.githubusercontent.com".
	Issuer string `yaml:"issuer,omitempty" json:"issuer,omitempty"`
	// IssuerRegexp is a regular expression the whole issuer must match.
	IssuerRegexp string `yaml:"issuerRegexp,omitempty" json:"issuerRegexp,omitempty"`
	// Identity is the exact certificate identity (the subject alternative
	// name: an email address, or a URI such as a GitHub workflow ref).
	Identity string `yaml:"identity,omitempty" json:"identity,omitempty"`
	// IdentityRegexp is a regular expression the whole identity must match.
	IdentityRegexp string `yaml:"identityRegexp,omitempty" json:"identityRegexp,omitempty"`
	// GitHub, when set, requires GitHub Actions claims recorded in the
	// certificate's Fulcio extensions.
	GitHub *GitHubClaims `yaml:"github,omitempty" json:"github,omitempty"`
}

// GitHubClaims are requirements on the GitHub Actions run that obtained a
// keyless certificate, checked against the certificate's Fulcio extensions.
// Empty fields are not checked. Repository, WorkflowRef and Ref accept a
// trailing "*" to match any suffix.
type GitHubClaims struct {
	// Repository is "owner/name" (compared case-insensitively with the
	// source repository URI extension, 1.3.6.1.4.1.57264.1.12).
	Repository string `yaml:"repository,omitempty" json:"repository,omitempty"`
	// WorkflowRef is the workflow that signed, as
	// "owner/name/.github/workflows/release.yml@refs/tags/v1.0.0" or a full
	// URL (the build signer URI extension, 1.3.6.1.4.1.57264.1.9).
	WorkflowRef string `yaml:"workflowRef,omitempty" json:"workflowRef,omitempty"`
	// Ref is the git ref that was built, e.g. "refs/tags/v*" (the source
	// repository ref extension, 1.3.6.1.4.1.57264.1.14).
	Ref string `yaml:"ref,omitempty" json:"ref,omitempty"`
	// Trigger is the event that started the run, e.g. "push" or "release"
	// (the build trigger extension, 1.3.6.1.4.1.57264.1.20).
	Trigger string `yaml:"trigger,omitempty" json:"trigger,omitempty"`
	// RunnerEnvironment is "github-hosted" or "self-hosted" (extension
	// 1.3.6.1.4.1.57264.1.11).
	RunnerEnvironment string `yaml:"runnerEnvironment,omitempty" json:"runnerEnvironment,omitempty"`
	// ServerURL is the GitHub server, "https://github.com" by default; set
	// it for GitHub Enterprise Server.
	ServerURL string `yaml:"serverURL,omitempty" json:"serverURL,omitempty"`
}

// DefaultGitHubServerURL is the GitHub server assumed by GitHubClaims.
const DefaultGitHubServerURL = "https://github.com"

// ParsePolicy parses a trust list written in YAML (or JSON) and validates
// it. Unknown fields are errors, so that a misspelt requirement cannot be
// silently ignored.
func ParsePolicy(data []byte) (Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// MarshalYAML writes the policy as the list of its entries.
func (p Policy) MarshalYAML() (any, error) {
	if p.Entries == nil {
		return []Entry{}, nil
	}
	return p.Entries, nil
}

// UnmarshalYAML reads the policy from a YAML list of entries. It refuses
// unknown fields and records line numbers for later validation errors.
func (p *Policy) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		p.Entries = nil
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return &PolicyError{Index: -1, Line: n.Line, Err: errors.New("must be a list of entries")}
	}
	entries := make([]Entry, 0, len(n.Content))
	for i, item := range n.Content {
		var e Entry
		if err := e.decodeYAML(item, i); err != nil {
			return err
		}
		entries = append(entries, e)
	}
	p.Entries = entries
	return nil
}

var (
	entryFields   = []string{"plugins", "keyless", "key", "trustedRoot", "tlogThreshold", "timestampThreshold", "ctlogThreshold"}
	keylessFields = []string{"issuer", "issuerRegexp", "identity", "identityRegexp", "github"}
	githubFields  = []string{"repository", "workflowRef", "ref", "trigger", "runnerEnvironment", "serverURL"}
)

// decodeYAML decodes one entry strictly, recording field lines.
func (e *Entry) decodeYAML(n *yaml.Node, index int) error {
	lines := map[string]int{"": n.Line}
	if err := checkFields(n, index, "", entryFields, lines); err != nil {
		return err
	}
	if kl := mappingValue(n, "keyless"); kl != nil {
		if err := checkFields(kl, index, "keyless.", keylessFields, lines); err != nil {
			return err
		}
		if gh := mappingValue(kl, "github"); gh != nil {
			if err := checkFields(gh, index, "keyless.github.", githubFields, lines); err != nil {
				return err
			}
		}
	}
	if err := n.Decode(e); err != nil {
		return typeError(err, index, n.Line, lines)
	}
	e.lines = lines
	return nil
}

// checkFields refuses keys of the mapping n that are not in allowed, and
// records the line of each key's value under prefix+key.
func checkFields(n *yaml.Node, index int, prefix string, allowed []string, lines map[string]int) error {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil
		}
		return &PolicyError{Index: index, Field: strings.TrimSuffix(prefix, "."), Line: n.Line, Err: errors.New("must be a mapping")}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		known := false
		for _, a := range allowed {
			if k.Value == a {
				known = true
				break
			}
		}
		if !known {
			return &PolicyError{Index: index, Field: prefix + k.Value, Line: k.Line,
				Err: fmt.Errorf("unknown field (known fields: %s)", strings.Join(allowed, ", "))}
		}
		if _, dup := lines[prefix+k.Value]; dup {
			return &PolicyError{Index: index, Field: prefix + k.Value, Line: k.Line, Err: errors.New("field given twice")}
		}
		lines[prefix+k.Value] = v.Line
		if k.Value == "plugins" && v.Kind == yaml.SequenceNode {
			for j, item := range v.Content {
				lines[fmt.Sprintf("plugins[%d]", j)] = item.Line
			}
		}
	}
	return nil
}

// mappingValue returns the value node for key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// typeError turns a yaml.v3 decoding error into a *PolicyError, naming the
// field whose value is on the line yaml.v3 reports.
func typeError(err error, index, line int, lines map[string]int) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return &PolicyError{Index: index, Line: line, Err: err}
	}
	msg := te.Errors[0]
	field := ""
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscan(m[1], &line)
		msg = m[2]
		for f, l := range lines {
			// The deepest field on that line; ties broken by name so
			// that the message is stable.
			if l == line && f != "" && (field == "" || strings.Count(f, ".") > strings.Count(field, ".") ||
				(strings.Count(f, ".") == strings.Count(field, ".") && f < field)) {
				field = f
			}
		}
	}
	return &PolicyError{Index: index, Field: field, Line: line, Err: errors.New(msg)}
}

// yamlLineRE splits yaml.v3's "line N: message".
var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// MarshalJSON writes the policy as the JSON list of its entries.
func (p Policy) MarshalJSON() ([]byte, error) {
	if p.Entries == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(p.Entries)
}

// UnmarshalJSON reads the policy from a JSON list of entries, refusing
// unknown fields.
func (p *Policy) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []Entry
	if err := dec.Decode(&entries); err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	p.Entries = entries
	return nil
}

// Validate checks the policy's structure without reading any file: each
// entry lists plugins and exactly one of keyless and key; a keyless entry
// sets exactly one of issuer and issuerRegexp and exactly one of identity
// and identityRegexp, with regular expressions that compile; thresholds are
// not negative. It returns every problem found, each a *PolicyError naming
// the entry index and field, joined with errors.Join.
func (p Policy) Validate() error {
	var errs []error
	for i := range p.Entries {
		errs = append(errs, p.Entries[i].validate(i)...)
	}
	return errors.Join(errs...)
}

// validate returns the entry's problems.
func (e *Entry) validate(i int) []error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &PolicyError{Index: i, Field: field, Line: e.line(field), Err: fmt.Errorf(format, args...)})
	}
	if len(e.Plugins) == 0 {
		bad("plugins", `list the plugin names this entry covers, or "*" for all`)
	}
	for j, pat := range e.Plugins {
		if err := checkPattern(pat); err != nil {
			bad(fmt.Sprintf("plugins[%d]", j), "%v", err)
		}
	}
	switch {
	case e.Keyless != nil && e.Key != "":
		bad("key", "set either keyless or key, not both")
	case e.Keyless == nil && e.Key == "":
		bad("", "set keyless (issuer and identity) or key (a public key file)")
	case e.Key != "" && strings.TrimSpace(e.Key) != e.Key:
		bad("key", "path has leading or trailing spaces")
	}
	for _, t := range []struct {
		field string
		v     *int
	}{{"tlogThreshold", e.Tlog}, {"timestampThreshold", e.Timestamps}, {"ctlogThreshold", e.SCTs}} {
		if t.v != nil && (*t.v < 0 || *t.v > 32) {
			bad(t.field, "must be between 0 and 32, not %d", *t.v)
		}
	}
	if k := e.Keyless; k != nil {
		errs = append(errs, k.validate(i, e)...)
	}
	return errs
}

// line returns the YAML line recorded for field, falling back to the
// enclosing fields and then the entry.
func (e *Entry) line(field string) int {
	for f := field; ; {
		if l, ok := e.lines[f]; ok {
			return l
		}
		if f == "" {
			return 0
		}
		if j := strings.LastIndexAny(f, ".["); j >= 0 {
			f = f[:j]
		} else {
			f = ""
		}
	}
}

// validate returns the keyless block's problems.
func (k *Keyless) validate(i int, e *Entry) []error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &PolicyError{Index: i, Field: field, Line: e.line(field), Err: fmt.Errorf(format, args...)})
	}
	pair := func(exactField, reField, exact, re, what string) {
		switch {
		case exact != "" && re != "":
			bad("keyless."+reField, "set %s or %s, not both", exactField, reField)
		case exact == "" && re == "":
			bad("keyless", "set %s (exact %s) or %s", exactField, what, reField)
		case re != "":
			if _, err := compileAnchored(re); err != nil {
				bad("keyless."+reField, "%v", err)
			}
		}
	}
	pair("issuer", "issuerRegexp", k.Issuer, k.IssuerRegexp, "OIDC issuer URL")
	pair("identity", "identityRegexp", k.Identity, k.IdentityRegexp, "certificate identity")
	if g := k.GitHub; g != nil {
		if *g == (GitHubClaims{}) {
			bad("keyless.github", "set at least one of %s", strings.Join(githubFields[:5], ", "))
		}
		if g.ServerURL != "" {
			u, err := url.Parse(g.ServerURL)
			if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				bad("keyless.github.serverURL", "must be an https URL with no path, like %s", DefaultGitHubServerURL)
			}
		}
		if r := strings.TrimSuffix(g.Repository, "*"); g.Repository != "" && !strings.HasSuffix(g.Repository, "*") &&
			(strings.Count(r, "/") != 1 || strings.HasPrefix(r, "/") || strings.HasSuffix(r, "/") || strings.Contains(r, "://")) {
			bad("keyless.github.repository", `must be "owner/name" (or "owner/*"), not %q`, g.Repository)
		}
		for _, f := range []struct{ field, v string }{
			{"repository", g.Repository}, {"workflowRef", g.WorkflowRef}, {"ref", g.Ref},
			{"trigger", g.Trigger}, {"runnerEnvironment", g.RunnerEnvironment},
		} {
			glob := f.field == "repository" || f.field == "workflowRef" || f.field == "ref"
			if err := checkClaim(f.v, glob); err != nil {
				bad("keyless.github."+f.field, "%v", err)
			}
		}
	}
	return errs
}

// checkClaim validates a GitHub claim value.
func checkClaim(v string, glob bool) error {
	if strings.TrimSpace(v) != v {
		return errors.New("has leading or trailing spaces")
	}
	star := strings.Index(v, "*")
	switch {
	case star < 0:
		return nil
	case !glob:
		return errors.New(`"*" is not allowed here`)
	case star != len(v)-1:
		return errors.New(`"*" is only allowed at the end`)
	case v == "*":
		return errors.New(`a lone "*" matches anything; leave the field out instead`)
	}
	return nil
}

// checkPattern validates a plugins pattern.
func checkPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty plugin name")
	case strings.ContainsAny(p, " \t\r\n"):
		return fmt.Errorf("plugin pattern %q contains spaces", p)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Errorf(`plugin pattern %q: "*" is only allowed at the end`, p)
	}
	return nil
}

// compileAnchored compiles re so that it must match a whole value.
func compileAnchored(re string) (*regexp.Regexp, error) {
	if re == "" {
		return nil, errors.New("empty regexp")
	}
	if _, err := regexp.Compile(re); err != nil {
		return nil, fmt.Errorf("invalid regexp: %w", err)
	}
	return regexp.Compile(anchor(re))
}

// anchor wraps re as ^(?:re)$.
func anchor(re string) string { return "^(?:" + re + ")$" }

// specificity scores how specifically pattern matches name: -1 for no match,
// 0 for "*", 1+len(prefix) for a "prefix*" glob, math.MaxInt for an exact
// name.
func specificity(pattern, name string) int {
	switch {
	case pattern == "*":
		return 0
	case strings.HasSuffix(pattern, "*"):
		if prefix := strings.TrimSuffix(pattern, "*"); strings.HasPrefix(name, prefix) {
			return 1 + len(prefix)
		}
	case pattern == name:
		return math.MaxInt
	}
	return -1
}

// Select returns the indexes of the entries that apply to the plugin called
// name, in list order: those whose patterns match name most specifically
// (see Policy). It returns nil when no entry matches.
func (p Policy) Select(name string) []int {
	best := -1
	var idx []int
	for i, e := range p.Entries {
		s := -1
		for _, pat := range e.Plugins {
			s = max(s, specificity(pat, name))
		}
		switch {
		case s < 0 || s < best:
		case s > best:
			best, idx = s, []int{i}
		default:
			idx = append(idx, i)
		}
	}
	return idx
}

// String summarises the entry for evidence and messages, e.g.
// `keyless identity matching ^https://github\.com/acme/.*$ (issuer
// https://token.actions.githubusercontent.com)` or "key keys/dev.pub".
func (e Entry) String() string {
	if e.Key != "" {
		return "key " + e.Key
	}
	if e.Keyless == nil {
		return "(empty entry)"
	}
	return "keyless " + e.Keyless.want()
}

// want describes the identity and issuer the keyless block requires.
func (k *Keyless) want() string {
	var b strings.Builder
	if k.Identity != "" {
		fmt.Fprintf(&b, "identity %s", k.Identity)
	} else {
		fmt.Fprintf(&b, "identity matching %s", displayRegexp(k.IdentityRegexp))
	}
	if k.Issuer != "" {
		fmt.Fprintf(&b, " (issuer %s)", k.Issuer)
	} else {
		fmt.Fprintf(&b, " (issuer matching %s)", displayRegexp(k.IssuerRegexp))
	}
	return b.String()
}

// displayRegexp shows a policy regexp as it is applied: anchored. A regexp
// that the operator already wrote as ^…$ (with no alternation) is shown
// unchanged.
func displayRegexp(re string) string {
	if strings.HasPrefix(re, "^") && strings.HasSuffix(re, "$") && !strings.HasSuffix(re, `\$`) && !strings.Contains(re, "|") {
		return re
	}
	return anchor(re)
}
