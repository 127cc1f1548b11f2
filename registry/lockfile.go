package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/internal/atomicfile"
	"github.com/wardenmcp/warden/registry/internal/semver"
)

// LockfileAPIVersion and LockfileKind head every lockfile.
const (
	LockfileAPIVersion = "warden.dev/v1"
	LockfileKind       = "Lock"
)

// MaxLockfileSize is the largest lockfile ParseLockfile accepts.
const MaxLockfileSize = 4 << 20

// Lockfile is warden.lock: which plugins are installed under which names,
// pinned to a module digest, the signer that signed it and a hash of its
// tool definitions. It is YAML, written with one field per line and the
// plugins sorted by name so that changes review well in pull requests:
//
//	# warden.lock: written by `warden plugin install`; review changes like code.
//	apiVersion: warden.dev/v1
//	kind: Lock
//	plugins:
//	  hello:
//	    source: oci://ghcr.io/acme/hello:1.2.0
//	    digest: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
//	    kind: keyless
//	    signer: https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.0
//	    issuer: https://token.actions.githubusercontent.com
//	    version: 1.2.0
//	    tools: sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9
//
// The trust policy is not in the lockfile but in warden.yaml: loads verify
// the stored signature against the policy again, and check that the
// signer is still the one pinned here.
type Lockfile struct {
	// Plugins maps an installed name to its entry.
	Plugins map[string]*LockEntry
}

// LockEntry pins one installed plugin.
type LockEntry struct {
	// Source is where it was installed from (a path, file://, https:// or
	// oci:// reference).
	Source string
	// Digest is "sha256:<hex>" of the Wasm module.
	Digest string
	// Kind is the signature kind, "keyless" or "key"; empty for an
	// InsecureSkipSignature install.
	Kind string
	// Signer is the certificate identity (keyless) or "sha256:<hex>" of
	// the public key.
	Signer string
	// Issuer is the OIDC issuer of a keyless signature.
	Issuer string
	// Version is the version in the plugin's embedded manifest, if any.
	Version string
	// Tools is ToolsHash of the plugin's tool definitions.
	Tools string
	// Image is set when the module came from a plugin image: the signature
	// covers ImageManifest, whose single layer ImageLayer holds the module.
	ImageManifest string
	ImageLayer    string
	// Disabled is the kill switch: a disabled plugin is not loaded.
	Disabled bool
	// InsecureSkipSignature records that no signature was checked.
	InsecureSkipSignature bool
}

// ParseError is one problem in a lockfile, with its position.
type ParseError struct {
	File         string
	Line, Column int
	// Field is the path of the offending field, such as
	// "plugins.hello.digest".
	Field string
	Msg   string
}

// Error formats the problem as "file:line:column: field: message".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

var pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const pluginNameRule = "1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit"

// ValidName reports whether name is a valid plugin name: 1-63 lower-case
// letters, digits, '_' or '-', starting with a letter or digit (no dots:
// they separate plugin and tool names).
func ValidName(name string) bool { return pluginNameRE.MatchString(name) }

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q (want %s)", ErrInvalidName, name, pluginNameRule)
	}
	return nil
}

// ReadLockfile reads and parses the lockfile at path. A missing file is an
// empty lockfile, not an error.
func ReadLockfile(path string) (*Lockfile, error) {
	b, err := readCapped(path, MaxLockfileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return &Lockfile{Plugins: map[string]*LockEntry{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lockfile: %w", err)
	}
	return ParseLockfile(path, b)
}

// WriteLockfile writes l to path atomically (mode 0644: the lockfile is
// meant to be committed).
func WriteLockfile(path string, l *Lockfile) error {
	b, err := l.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}

// Names returns the installed names, sorted.
func (l *Lockfile) Names() []string {
	names := make([]string, 0, len(l.Plugins))
	for n := range l.Plugins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Entry returns the entry for name.
func (l *Lockfile) Entry(name string) (*LockEntry, bool) {
	if l == nil {
		return nil, false
	}
	e, ok := l.Plugins[name]
	return e, ok
}

// clone returns a deep copy of l.
func (l *Lockfile) clone() *Lockfile {
	c := &Lockfile{Plugins: make(map[string]*LockEntry, len(l.Plugins))}
	for n, e := range l.Plugins {
		ec := *e
		c.Plugins[n] = &ec
	}
	return c
}

const lockfileHeader = "warden.lock: written by `warden plugin install`; review changes like code.\n" +
	"It pins each plugin to a module digest, its signer and a hash of its tool definitions."

// Marshal encodes l as YAML, plugins sorted by name and each field on
// its own line.
func (l *Lockfile) Marshal() ([]byte, error) {
	for _, name := range l.Names() {
		if err := l.Plugins[name].validate(name); err != nil {
			return nil, err
		}
	}
	str := func(v string) *yaml.Node {
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
		return n
	}
	boolean := func(v bool) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	}
	mapping := func(kv ...*yaml.Node) *yaml.Node {
		return &yaml.Node{Kind: yaml.MappingNode, Content: kv}
	}
	plugins := mapping()
	for _, name := range l.Names() {
		e := l.Plugins[name]
		m := mapping(str("source"), str(e.Source), str("digest"), str(e.Digest))
		add := func(k, v string) {
			if v != "" {
				m.Content = append(m.Content, str(k), str(v))
			}
		}
		add("kind", e.Kind)
		add("signer", e.Signer)
		add("issuer", e.Issuer)
		add("version", e.Version)
		add("tools", e.Tools)
		if e.ImageManifest != "" {
			m.Content = append(m.Content, str("image"), mapping(str("manifest"), str(e.ImageManifest), str("layer"), str(e.ImageLayer)))
		}
		if e.Disabled {
			m.Content = append(m.Content, str("disabled"), boolean(true))
		}
		if e.InsecureSkipSignature {
			m.Content = append(m.Content, str("insecureSkipSignature"), boolean(true))
		}
		plugins.Content = append(plugins.Content, str(name), m)
	}
	if len(plugins.Content) == 0 {
		plugins.Style = yaml.FlowStyle
	}
	root := mapping(str("apiVersion"), str(LockfileAPIVersion), str("kind"), str(LockfileKind), str("plugins"), plugins)
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: lockfileHeader, Content: []*yaml.Node{root}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// validate checks an entry's fields; the error names the first bad field.
func (e *LockEntry) validate(name string) error {
	for _, p := range e.problems() {
		return fmt.Errorf("lockfile entry %q: %s: %s", name, p.field, p.msg)
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("lockfile entry: %w", err)
	}
	return nil
}

type problem struct{ field, msg string }

func (e *LockEntry) problems() []problem {
	var ps []problem
	if e.Source == "" {
		ps = append(ps, problem{"source", "is required"})
	}
	if !ValidDigest(e.Digest) {
		ps = append(ps, problem{"digest", fmt.Sprintf("want sha256:<64 hex digits>, found %q", e.Digest)})
	}
	if !ValidDigest(e.Tools) {
		ps = append(ps, problem{"tools", fmt.Sprintf("want sha256:<64 hex digits> (the tool definitions' hash), found %q", e.Tools)})
	}
	if e.InsecureSkipSignature {
		if e.Signer != "" || e.Kind != "" {
			ps = append(ps, problem{"insecureSkipSignature", "an entry installed without a signature check has no kind or signer"})
		}
	} else {
		if e.Kind != "keyless" && e.Kind != "key" {
			ps = append(ps, problem{"kind", fmt.Sprintf("want keyless or key, found %q", e.Kind)})
		}
		if e.Signer == "" {
			ps = append(ps, problem{"signer", "is required for a signed plugin"})
		}
	}
	if e.Version != "" && !semver.Valid(e.Version) {
		ps = append(ps, problem{"version", fmt.Sprintf("want a semantic version such as 1.2.3, found %q", e.Version)})
	}
	if (e.ImageManifest == "") != (e.ImageLayer == "") {
		ps = append(ps, problem{"image", "needs both manifest and layer"})
	} else if e.ImageManifest != "" && (!ValidDigest(e.ImageManifest) || !ValidDigest(e.ImageLayer)) {
		ps = append(ps, problem{"image", fmt.Sprintf("want sha256:<64 hex digits> digests, found manifest %q and layer %q", e.ImageManifest, e.ImageLayer)})
	}
	return ps
}

// ParseLockfile parses a lockfile. filename is used only in messages.
// It is strict: unknown or repeated fields, anchors, aliases, tags, more
// than one document and values of the wrong type are errors, reported as
// *ParseError values (joined) with file, line and column.
func ParseLockfile(filename string, data []byte) (*Lockfile, error) {
	p := &lockParser{file: filename}
	if len(data) > MaxLockfileSize {
		return nil, &ParseError{File: filename, Msg: fmt.Sprintf("the lockfile is %d bytes, more than the %d allowed", len(data), MaxLockfileSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: filename, Msg: "the lockfile is empty; want apiVersion, kind and plugins"}
		}
		return nil, &ParseError{File: filename, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{File: filename, Line: extra.Line, Column: extra.Column, Msg: "more than one YAML document; want one"}
	} else if !errors.Is(err, io.EOF) {
		return nil, &ParseError{File: filename, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	l := p.lockfile(&doc)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return l, nil
}

type lockParser struct {
	file string
	errs []error
}

const maxParseErrors = 20

func (p *lockParser) errorf(n *yaml.Node, field, format string, args ...any) {
	if len(p.errs) >= maxParseErrors {
		return
	}
	e := &ParseError{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// plain reports whether n is free of YAML features a lockfile never uses.
func (p *lockParser) plain(n *yaml.Node, field string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		p.errorf(n, field, "aliases are not allowed in a lockfile")
		return false
	case n.Anchor != "":
		p.errorf(n, field, "anchors are not allowed in a lockfile")
		return false
	case n.Tag != "" && n.Style&yaml.TaggedStyle != 0:
		p.errorf(n, field, "explicit tags (%s) are not allowed in a lockfile", n.Tag)
		return false
	}
	return true
}

// fields returns the members of mapping n, reporting repeated and unknown
// keys.
func (p *lockParser) fields(n *yaml.Node, field string, known ...string) map[string]*yaml.Node {
	if !p.plain(n, field) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, field, "want a mapping, found %s", kindName(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !p.plain(k, field) {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			p.errorf(k, field, "want a string key, found %s", kindName(k))
			continue
		}
		sub := joinField(field, k.Value)
		if _, dup := out[k.Value]; dup {
			p.errorf(k, sub, "appears more than once")
			continue
		}
		if known != nil && !slices.Contains(known, k.Value) {
			p.errorf(k, sub, "unknown field (want one of %s)", strings.Join(known, ", "))
			continue
		}
		out[k.Value] = v
	}
	return out
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "nothing"
}

func (p *lockParser) str(n *yaml.Node, field string) string {
	if n == nil || !p.plain(n, field) {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.errorf(n, field, "want a string, found %s", kindName(n))
		return ""
	}
	return n.Value
}

func (p *lockParser) boolean(n *yaml.Node, field string) bool {
	if n == nil || !p.plain(n, field) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, field, "want true or false, found %s", kindName(n))
		return false
	}
	return n.Value == "true"
}

func (p *lockParser) lockfile(doc *yaml.Node) *Lockfile {
	l := &Lockfile{Plugins: map[string]*LockEntry{}}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		p.errorf(doc, "", "want a YAML mapping with apiVersion, kind and plugins")
		return l
	}
	root := doc.Content[0]
	f := p.fields(root, "", "apiVersion", "kind", "plugins")
	if f == nil {
		return l
	}
	if v := p.str(f["apiVersion"], "apiVersion"); f["apiVersion"] == nil {
		p.errorf(root, "apiVersion", "is required (want %s)", LockfileAPIVersion)
	} else if v != LockfileAPIVersion && v != "" {
		p.errorf(f["apiVersion"], "apiVersion", "want %s, found %q", LockfileAPIVersion, v)
	}
	if v := p.str(f["kind"], "kind"); f["kind"] == nil {
		p.errorf(root, "kind", "is required (want %s)", LockfileKind)
	} else if v != LockfileKind && v != "" {
		p.errorf(f["kind"], "kind", "want %s, found %q", LockfileKind, v)
	}
	pn := f["plugins"]
	if pn == nil {
		p.errorf(root, "plugins", "is required (use {} for none)")
		return l
	}
	if pn.Kind == yaml.ScalarNode && pn.Tag == "!!null" {
		return l
	}
	plugins := p.fields(pn, "plugins")
	for i := 0; i+1 < len(pn.Content); i += 2 {
		k := pn.Content[i]
		v, ok := plugins[k.Value]
		if !ok || v != pn.Content[i+1] {
			continue
		}
		field := "plugins." + k.Value
		if !ValidName(k.Value) {
			p.errorf(k, field, "%q is not a valid plugin name (want %s)", k.Value, pluginNameRule)
			continue
		}
		if e := p.entry(v, field); e != nil {
			l.Plugins[k.Value] = e
		}
	}
	return l
}

func (p *lockParser) entry(n *yaml.Node, field string) *LockEntry {
	f := p.fields(n, field, "source", "digest", "kind", "signer", "issuer", "version", "tools", "image", "disabled", "insecureSkipSignature")
	if f == nil {
		return nil
	}
	before := len(p.errs)
	e := &LockEntry{
		Source:                p.str(f["source"], field+".source"),
		Digest:                p.str(f["digest"], field+".digest"),
		Kind:                  p.str(f["kind"], field+".kind"),
		Signer:                p.str(f["signer"], field+".signer"),
		Issuer:                p.str(f["issuer"], field+".issuer"),
		Version:               p.str(f["version"], field+".version"),
		Tools:                 p.str(f["tools"], field+".tools"),
		Disabled:              p.boolean(f["disabled"], field+".disabled"),
		InsecureSkipSignature: p.boolean(f["insecureSkipSignature"], field+".insecureSkipSignature"),
	}
	if in := f["image"]; in != nil {
		img := p.fields(in, field+".image", "manifest", "layer")
		if img != nil {
			e.ImageManifest = p.str(img["manifest"], field+".image.manifest")
			e.ImageLayer = p.str(img["layer"], field+".image.layer")
		}
	}
	if len(p.errs) > before {
		return nil
	}
	for _, pr := range e.problems() {
		node := f[strings.SplitN(pr.field, ".", 2)[0]]
		if node == nil {
			node = n
		}
		p.errorf(node, field+"."+pr.field, "%s", pr.msg)
	}
	if len(p.errs) > before {
		return nil
	}
	return e
}
