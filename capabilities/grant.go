package capabilities

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// APIVersion is the apiVersion of every document this package reads.
const APIVersion = "warden.dev/v1"

// Kinds of document.
const (
	KindGrant    = "Grant"
	KindManifest = "Manifest"
)

// Mount modes.
const (
	ReadOnly  = "ro"
	ReadWrite = "rw"
)

// MaxGrantSize is the largest grant file ParseGrant and LoadGrant accept.
const MaxGrantSize = 1 << 20

// Grant is what an operator allows one plugin to do beyond computing: the
// hosts it may reach, the host directories it sees, the secrets it receives
// and its resource limits. Empty sections grant nothing.
//
// A Grant returned by ParseGrant or LoadGrant is validated and normalised:
// network rules have lower-case hosts, explicit schemes, ports and
// privateNetwork; mounts have an explicit mode; secrets an explicit
// redactOutput.
type Grant struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	// Plugin, when set, is the name of the plugin this grant is for; the
	// host refuses to apply the grant to a plugin of another name.
	Plugin     string   `yaml:"plugin,omitempty" json:"plugin,omitempty"`
	Network    Network  `yaml:"network,omitempty" json:"network,omitzero"`
	Filesystem []Mount  `yaml:"filesystem,omitempty" json:"filesystem,omitempty"`
	Secrets    []Secret `yaml:"secrets,omitempty" json:"secrets,omitempty"`
	// Limits are the grant's own limits; see EffectiveLimits for the
	// values that apply.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitzero"`

	// lines maps field paths to the line they were read from.
	lines map[string]int
}

// Network is the network section of a grant.
type Network struct {
	// Allow lists the hosts the plugin may reach; nothing else is
	// reachable.
	Allow []netguard.Rule `yaml:"allow,omitempty" json:"allow,omitempty"`
}

// Mount makes a host directory visible to the plugin at a guest path.
type Mount struct {
	// Host is the absolute, clean path on the host.
	Host string `yaml:"host" json:"host"`
	// Guest is the absolute, clean path the plugin sees; never "/".
	Guest string `yaml:"guest" json:"guest"`
	// Mode is ReadOnly ("ro", the default) or ReadWrite ("rw").
	Mode string `yaml:"mode" json:"mode"`
}

// Writable reports whether the plugin may change files under the mount.
func (m Mount) Writable() bool { return m.Mode == ReadWrite }

// Secret gives the plugin a secret value under a name, resolved at call
// time from a provider.
type Secret struct {
	// Name is what the plugin asks for, an identifier such as GITHUB_TOKEN.
	Name string `yaml:"name" json:"name"`
	// From says where the value comes from: "env:NAME" or "file:/path".
	From string `yaml:"from" json:"from"`
	// RedactOutput, true unless set to false, masks the value in the
	// plugin's tool output.
	RedactOutput *bool `yaml:"redactOutput,omitempty" json:"redactOutput,omitempty"`
}

// Redacted reports whether the secret's value is masked in tool output
// (true unless RedactOutput is explicitly false).
func (s Secret) Redacted() bool { return s.RedactOutput == nil || *s.RedactOutput }

var (
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

const pluginNameRule = "want 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit; no dots"

// LoadGrant reads and parses the grant file at path; see ParseGrant.
func LoadGrant(path string) (*Grant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxGrantSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ParseGrant(path, data)
}

// ParseGrant parses and validates a grant. filename is used only in error
// messages. Unknown fields, several YAML documents, anchors and aliases are
// refused. When the grant is invalid the error is an ErrorList holding
// every problem found, each a *FieldError naming the file, line and field
// and saying what is allowed.
func ParseGrant(filename string, data []byte) (*Grant, error) {
	if len(data) > MaxGrantSize {
		return nil, ErrorList{{File: filename, Msg: fmt.Sprintf("the file is larger than %s, the most a grant may be", Size(MaxGrantSize))}}
	}
	root, err := parseYAMLDocument(filename, data)
	if err != nil {
		return nil, err
	}
	p := newParser(filename)
	g := p.grant(root)
	if err := p.errs.finish(); err != nil {
		return nil, err
	}
	g.lines = p.lines
	return g, nil
}

func (p *parser) grant(root *yaml.Node) *Grant {
	g := &Grant{}
	m, ok := p.fields(root, "", "a grant (a mapping starting with apiVersion: warden.dev/v1 and kind: Grant)",
		"apiVersion", "kind", "plugin", "network", "filesystem", "secrets", "limits")
	if !ok {
		return g
	}
	g.APIVersion, g.Kind = p.header(root, m, KindGrant)
	if name, ok := p.str(m["plugin"], "plugin"); ok {
		if nameRE.MatchString(name) {
			g.Plugin = name
		} else {
			p.errorf(m["plugin"], "plugin", "%q is not a valid plugin name (%s)", name, pluginNameRule)
		}
	}
	if nm, ok := p.fields(m["network"], "network", "a mapping with an allow list", "allow"); ok {
		items, _ := p.list(nm["allow"], "network.allow", "a list of hosts")
		for i, item := range items {
			field := index("network.allow", i)
			p.record(field, item)
			r, ok := p.rule(item, field, true)
			if !ok {
				continue
			}
			for j, prev := range g.Network.Allow {
				if sameRule(prev, r) {
					p.errorf(item, field, "repeats network.allow[%d]", j)
					ok = false
					break
				}
			}
			if ok {
				g.Network.Allow = append(g.Network.Allow, r)
			}
		}
	}
	items, _ := p.list(m["filesystem"], "filesystem", "a list of mounts")
	g.Filesystem = p.mounts(items, "filesystem", true)
	items, _ = p.list(m["secrets"], "secrets", "a list of secrets")
	g.Secrets = p.secrets(items, "secrets", true)
	g.Limits = p.limits(m["limits"], "limits")
	return g
}

// header checks apiVersion and kind.
func (p *parser) header(root *yaml.Node, m map[string]*yaml.Node, kind string) (string, string) {
	av, ok := p.str(m["apiVersion"], "apiVersion")
	switch {
	case !ok && isNull(m["apiVersion"]):
		p.errorf(root, "apiVersion", "is required (want apiVersion: %s)", APIVersion)
	case ok && av != APIVersion:
		p.errorf(m["apiVersion"], "apiVersion", "%q is not supported (want %s)", av, APIVersion)
	}
	k, ok := p.str(m["kind"], "kind")
	switch {
	case !ok && isNull(m["kind"]):
		p.errorf(root, "kind", "is required (want kind: %s)", kind)
	case ok && k != kind:
		p.errorf(m["kind"], "kind", "%q is not allowed here (want %s)", k, kind)
	}
	return av, k
}

// rule reads one network rule (grant) or network request (manifest, with
// grant=false: no privateNetwork) and fills in the defaults.
func (p *parser) rule(n *yaml.Node, field string, grant bool) (netguard.Rule, bool) {
	var r netguard.Rule
	known := []string{"host", "ports", "schemes", "privateNetwork"}
	if !grant {
		known = known[:3]
	}
	m, ok := p.fields(n, field, "a mapping with host, ports and schemes", known...)
	if !ok {
		return r, false
	}
	ok = true
	if h, present := p.required(n, m["host"], field+".host", "a host name such as api.example.com"); present {
		norm, msg := normalizeHost(h)
		if msg != "" {
			p.errorf(m["host"], field+".host", "%s", msg)
			ok = false
		}
		r.Host = norm
	} else {
		ok = false
	}

	if sn, present := m["schemes"]; present && !isNull(sn) {
		items, good := p.list(sn, field+".schemes", "a list such as [https]")
		if good && len(items) == 0 {
			p.errorf(sn, field+".schemes", "is empty (leave it out for [https], or list http and/or https)")
			ok = false
		}
		for i, item := range items {
			sf := index(field+".schemes", i)
			s, present := p.str(item, sf)
			if !present {
				if isNull(item) {
					p.errorf(item, sf, "is empty (want http or https)")
				}
				ok = false
				continue
			}
			s = strings.ToLower(s)
			switch {
			case s != SchemeHTTP && s != SchemeHTTPS:
				p.errorf(item, sf, "%q is not allowed (want http or https)", item.Value)
				ok = false
			case slices.Contains(r.Schemes, s):
				p.errorf(item, sf, "%q is listed twice", s)
				ok = false
			default:
				r.Schemes = append(r.Schemes, s)
			}
		}
		ok = ok && good
	} else {
		r.Schemes = []string{SchemeHTTPS}
	}

	if pn, present := m["ports"]; present && !isNull(pn) {
		items, good := p.list(pn, field+".ports", "a list such as [443]")
		if good && len(items) == 0 {
			p.errorf(pn, field+".ports", "is empty (leave it out for the scheme's default port, or list ports)")
			ok = false
		}
		for i, item := range items {
			pf := index(field+".ports", i)
			port, good := p.integer(item, pf, "a port number from 1 to 65535")
			switch {
			case !good:
				ok = false
			case port < 1 || port > 65535:
				p.errorf(item, pf, "%d is not a port (want 1 to 65535)", port)
				ok = false
			case slices.Contains(r.Ports, port):
				p.errorf(item, pf, "%d is listed twice", port)
				ok = false
			default:
				r.Ports = append(r.Ports, port)
			}
		}
		ok = ok && good
	} else {
		r.Ports = defaultPorts(r.Schemes)
	}

	if grant {
		r.PrivateNetwork = PrivateDeny
		if v, present := p.str(m["privateNetwork"], field+".privateNetwork"); present {
			switch v {
			case PrivateAllow, PrivateDeny:
				r.PrivateNetwork = v
			default:
				p.errorf(m["privateNetwork"], field+".privateNetwork", "%q is not allowed (want allow or deny)", v)
				ok = false
			}
		} else if !isNull(m["privateNetwork"]) {
			ok = false
		}
	}
	return r, ok
}

// sameRule reports whether two normalised rules allow exactly the same
// connections.
func sameRule(a, b netguard.Rule) bool {
	if a.Host != b.Host || a.AllowsPrivate() != b.AllowsPrivate() {
		return false
	}
	ap, bp := slices.Sorted(slices.Values(a.Ports)), slices.Sorted(slices.Values(b.Ports))
	as, bs := slices.Sorted(slices.Values(a.Schemes)), slices.Sorted(slices.Values(b.Schemes))
	return slices.Equal(ap, bp) && slices.Equal(as, bs)
}

// mounts reads the filesystem list of a grant (withHost) or a manifest.
func (p *parser) mounts(items []*yaml.Node, field string, withHost bool) []Mount {
	var out []Mount
	var guests []string
	var guestIdx []int
	for i, item := range items {
		f := index(field, i)
		p.record(f, item)
		known := []string{"host", "guest", "mode"}
		want := "a mapping with host, guest and mode"
		if !withHost {
			known, want = known[1:], "a mapping with guest and mode"
		}
		m, ok := p.fields(item, f, want, known...)
		if !ok {
			continue
		}
		var mt Mount
		if withHost {
			if h, present := p.required(item, m["host"], f+".host", "an absolute path on the host, such as /srv/data"); present {
				if msg := checkHostPath(h); msg != "" {
					p.errorf(m["host"], f+".host", "%s", msg)
					ok = false
				}
				mt.Host = h
			} else {
				ok = false
			}
		}
		if g, present := p.required(item, m["guest"], f+".guest", "the absolute path the plugin sees, such as /data"); present {
			if msg := checkGuestPath(g); msg != "" {
				p.errorf(m["guest"], f+".guest", "%s", msg)
				ok = false
			} else {
				for j, prev := range guests {
					switch {
					case prev == g:
						p.errorf(m["guest"], f+".guest", "%q is already mounted by %s", g, index(field, guestIdx[j]))
						ok = false
					case within(g, prev) || within(prev, g):
						p.errorf(m["guest"], f+".guest", "%q and %q (%s) are nested; mounts must not overlap", g, prev, index(field, guestIdx[j]))
						ok = false
					}
				}
				guests = append(guests, g)
				guestIdx = append(guestIdx, i)
			}
			mt.Guest = g
		} else {
			ok = false
		}
		mt.Mode = ReadOnly
		if v, present := p.str(m["mode"], f+".mode"); present {
			switch v {
			case ReadOnly, ReadWrite:
				mt.Mode = v
			default:
				p.errorf(m["mode"], f+".mode", "%q is not allowed (want ro or rw)", v)
				ok = false
			}
		} else if !isNull(m["mode"]) {
			ok = false
		}
		if ok {
			out = append(out, mt)
		}
	}
	return out
}

// within reports whether the clean absolute slash path p is strictly inside
// dir.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}

// withinOrEqual reports whether p is dir or inside it.
func withinOrEqual(p, dir string) bool { return p == dir || within(p, dir) }

func checkHostPath(h string) string {
	switch {
	case h == "":
		return "must not be empty (want an absolute path on the host, such as /srv/data)"
	case strings.HasPrefix(h, "~"):
		return fmt.Sprintf("%q is not absolute: ~ is not expanded (want an absolute path such as /srv/data)", h)
	case strings.Contains(h, "$"):
		return fmt.Sprintf("%q contains $: variables are not expanded (want an absolute path such as /srv/data)", h)
	case !filepath.IsAbs(h):
		return fmt.Sprintf("%q is not absolute (want an absolute path such as /srv/data)", h)
	case filepath.Clean(h) != h:
		return fmt.Sprintf("%q is not clean (write %q)", h, filepath.Clean(h))
	}
	return ""
}

func checkGuestPath(g string) string {
	switch {
	case g == "":
		return "must not be empty (want the absolute path the plugin sees, such as /data)"
	case strings.Contains(g, `\`):
		return fmt.Sprintf("%q contains a backslash (guest paths use /, as in /data)", g)
	case !path.IsAbs(g):
		return fmt.Sprintf("%q is not absolute (want a path such as /data)", g)
	case path.Clean(g) != g:
		return fmt.Sprintf("%q is not clean (write %q)", g, path.Clean(g))
	case g == "/":
		return `"/" is not allowed: mounting over the guest's root would hide every other mount (want a directory such as /data)`
	}
	return ""
}

// secrets reads the secrets list of a grant (withFrom) or a manifest.
func (p *parser) secrets(items []*yaml.Node, field string, withFrom bool) []Secret {
	var out []Secret
	seen := map[string]int{}
	for i, item := range items {
		f := index(field, i)
		p.record(f, item)
		known := []string{"name", "from", "redactOutput"}
		want := "a mapping with name, from and redactOutput"
		if !withFrom {
			known, want = known[:1], "a mapping with a name"
		}
		m, ok := p.fields(item, f, want, known...)
		if !ok {
			continue
		}
		var s Secret
		if name, present := p.required(item, m["name"], f+".name", "an identifier such as GITHUB_TOKEN"); present {
			switch j, dup := seen[name]; {
			case !identifierRE.MatchString(name):
				p.errorf(m["name"], f+".name", "%q is not allowed (want an identifier such as GITHUB_TOKEN: letters, digits and _, not starting with a digit)", name)
				ok = false
			case dup:
				p.errorf(m["name"], f+".name", "%q is already granted by %s", name, index(field, j))
				ok = false
			default:
				seen[name] = i
			}
			s.Name = name
		} else {
			ok = false
		}
		if withFrom {
			if from, present := p.required(item, m["from"], f+".from", "env:NAME or file:/absolute/path"); present {
				if msg := checkSecretRef(from); msg != "" {
					p.errorf(m["from"], f+".from", "%s", msg)
					ok = false
				}
				s.From = from
			} else {
				ok = false
			}
			redact := true
			if v, present := p.boolean(m["redactOutput"], f+".redactOutput"); present {
				redact = v
			} else if !isNull(m["redactOutput"]) {
				ok = false
			}
			s.RedactOutput = &redact
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// checkSecretRef validates a secret source, "env:NAME" or "file:/path".
func checkSecretRef(ref string) string {
	const want = "want env:NAME or file:/absolute/path"
	scheme, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return fmt.Sprintf("%q has no source (%s)", ref, want)
	}
	switch scheme {
	case "env":
		if !identifierRE.MatchString(rest) {
			return fmt.Sprintf("%q: %q is not an environment variable name (want letters, digits and _, not starting with a digit)", ref, rest)
		}
	case "file":
		switch {
		case strings.HasPrefix(rest, "//"):
			return fmt.Sprintf("%q: write file:/absolute/path, without //", ref)
		case !filepath.IsAbs(rest):
			return fmt.Sprintf("%q: the path is not absolute (%s)", ref, want)
		case filepath.Clean(rest) != rest:
			return fmt.Sprintf("%q: the path is not clean (write file:%s)", ref, filepath.Clean(rest))
		}
	default:
		return fmt.Sprintf("%q is not allowed (%s)", ref, want)
	}
	return ""
}

// EffectiveLimits returns the limits that apply to calls under the grant:
// the grant's own limits, DefaultLimits for those it leaves unset, and no
// more than MaxLimits. A nil grant gets DefaultLimits.
func (g *Grant) EffectiveLimits() Limits {
	if g == nil {
		return DefaultLimits.Clamp(MaxLimits)
	}
	return g.Limits.WithDefaults(DefaultLimits).Clamp(MaxLimits)
}

// Secret returns the granted secret with the given name.
func (g *Grant) Secret(name string) (Secret, bool) {
	if g != nil {
		for _, s := range g.Secrets {
			if s.Name == name {
				return s, true
			}
		}
	}
	return Secret{}, false
}

// Redactor returns a replacer that masks, in tool output, the values of the
// grant's secrets whose output is redacted (see NewRedactor). values maps
// secret names to their resolved values, as ResolveSecrets returns them;
// values of secrets with redactOutput: false, and names the grant does not
// list, are left alone.
func (g *Grant) Redactor(values map[string]string) *strings.Replacer {
	masked := map[string]string{}
	if g != nil {
		for _, s := range g.Secrets {
			if v, ok := values[s.Name]; ok && s.Redacted() {
				masked[s.Name] = v
			}
		}
	}
	return NewRedactor(masked)
}

// line returns the line a field was read from, falling back to its closest
// enclosing field; 0 when unknown.
func (g *Grant) line(field string) int {
	for field != "" {
		if l, ok := g.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0
}

// MarshalYAML writes the grant as a reviewer would: the fields in DESIGN.md
// order, lists of ports and schemes on one line.
func (g Grant) MarshalYAML() (any, error) {
	type plain Grant
	var n yaml.Node
	if err := n.Encode(plain(g)); err != nil {
		return nil, err
	}
	flowScalarLists(&n)
	return &n, nil
}

// flowScalarLists switches every list of scalars under n to flow style
// ("[443, 8443]").
func flowScalarLists(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
		flow := true
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				flow = false
			}
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
	}
	for _, c := range n.Content {
		flowScalarLists(c)
	}
}
