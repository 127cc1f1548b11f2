package capabilities

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// ManifestSection is the name of the WebAssembly custom section that holds
// a plugin's manifest as JSON.
const ManifestSection = "warden.manifest"

// MaxManifestSize is the largest manifest, in YAML or JSON, that the
// parsers accept.
const MaxManifestSize = 64 << 10

// maxDescription bounds the manifest's description, in bytes.
const maxDescription = 1024

// Manifest is a plugin's own statement of what it is and what it needs. It
// is embedded in the plugin's WebAssembly module (custom section
// "warden.manifest") as JSON, and authored as YAML; the keys are the same in
// both. It grants nothing: the operator's Grant does, and Diff compares the
// two.
type Manifest struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
	// Name is the plugin's name: 1-63 of [a-z0-9_-], starting with a
	// letter or digit. Dots are not allowed: they separate plugin and tool
	// names.
	Name string `yaml:"name" json:"name"`
	// Version is a semantic version such as 0.1.0 (a leading v is allowed).
	Version     string `yaml:"version" json:"version"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Capabilities are what the plugin asks to be granted.
	Capabilities Request `yaml:"capabilities,omitempty" json:"capabilities,omitzero"`
	// Limits are the most resources the plugin expects one call to need.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitzero"`
}

// Request is the capabilities section of a manifest.
type Request struct {
	Network    []NetworkRequest `yaml:"network,omitempty" json:"network,omitempty"`
	Filesystem []MountRequest   `yaml:"filesystem,omitempty" json:"filesystem,omitempty"`
	Secrets    []SecretRequest  `yaml:"secrets,omitempty" json:"secrets,omitempty"`
}

// IsZero reports whether the plugin asks for nothing.
func (r Request) IsZero() bool {
	return len(r.Network) == 0 && len(r.Filesystem) == 0 && len(r.Secrets) == 0
}

// NetworkRequest asks for access to a host. Its fields have the same
// syntax and defaults as a grant's network rule.
type NetworkRequest struct {
	Host    string   `yaml:"host" json:"host"`
	Ports   []int    `yaml:"ports,omitempty" json:"ports,omitempty"`
	Schemes []string `yaml:"schemes,omitempty" json:"schemes,omitempty"`
}

// MountRequest asks for a directory at a guest path; the operator chooses
// which host directory backs it.
type MountRequest struct {
	Guest string `yaml:"guest" json:"guest"`
	// Mode is ReadOnly ("ro", the default) or ReadWrite ("rw").
	Mode string `yaml:"mode" json:"mode"`
}

// SecretRequest asks for a secret by name; the operator chooses where its
// value comes from.
type SecretRequest struct {
	Name string `yaml:"name" json:"name"`
}

var semverRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)

// ParseManifestYAML parses and validates a manifest authored in YAML.
// filename is used only in error messages. Errors are reported as by
// ParseGrant.
func ParseManifestYAML(filename string, data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, ErrorList{{File: filename, Msg: fmt.Sprintf("the file is larger than %s, the most a manifest may be", Size(MaxManifestSize))}}
	}
	root, err := parseYAMLDocument(filename, data)
	if err != nil {
		return nil, err
	}
	p := newParser(filename)
	m := p.manifest(root)
	if err := p.errs.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseManifestJSON parses and validates a manifest in its embedded JSON
// form. It is strict: the input must be one JSON object of at most
// MaxManifestSize bytes, in valid UTF-8, with no unknown or repeated keys
// and no value of the wrong JSON type. Errors are an ErrorList whose
// positions are lines and columns in data.
func ParseManifestJSON(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, ErrorList{{Msg: fmt.Sprintf("the manifest is larger than %s", Size(MaxManifestSize))}}
	}
	root, err := parseJSONDocument(data)
	if err != nil {
		return nil, err
	}
	p := newParser("")
	p.json = true
	m := p.manifest(root)
	if err := p.errs.finish(); err != nil {
		return nil, err
	}
	return m, nil
}

// MarshalJSON encodes the manifest as compact JSON, the form embedded in a
// module's custom section. HTML characters are not escaped.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plain(m)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON parses and validates the manifest with ParseManifestJSON,
// so a manifest decoded as part of a larger JSON document is checked too.
func (m *Manifest) UnmarshalJSON(data []byte) error {
	parsed, err := ParseManifestJSON(data)
	if err != nil {
		return err
	}
	*m = *parsed
	return nil
}

func (p *parser) manifest(root *yaml.Node) *Manifest {
	mf := &Manifest{}
	m, ok := p.fields(root, "", "a manifest (a mapping starting with apiVersion: warden.dev/v1 and kind: Manifest)",
		"apiVersion", "kind", "name", "version", "description", "capabilities", "limits")
	if !ok {
		return mf
	}
	mf.APIVersion, mf.Kind = p.header(root, m, KindManifest)
	if name, ok := p.str(m["name"], "name"); ok {
		if nameRE.MatchString(name) {
			mf.Name = name
		} else {
			p.errorf(m["name"], "name", "%q is not a valid plugin name (%s)", name, pluginNameRule)
		}
	} else if isNull(m["name"]) {
		p.errorf(root, "name", "is required (%s)", pluginNameRule)
	}
	if v, ok := p.str(m["version"], "version"); ok {
		if len(v) <= 64 && semverRE.MatchString(v) {
			mf.Version = v
		} else {
			p.errorf(m["version"], "version", "%q is not a semantic version (want MAJOR.MINOR.PATCH such as 0.1.0 or 1.2.3-rc.1)", v)
		}
	} else if isNull(m["version"]) {
		p.errorf(root, "version", "is required (want a semantic version such as 0.1.0)")
	}
	if d, ok := p.text(m["description"], "description", true); ok {
		if len(d) > maxDescription {
			p.errorf(m["description"], "description", "is %d bytes long (want at most %d)", len(d), maxDescription)
		} else {
			mf.Description = d
		}
	}
	if cm, ok := p.fields(m["capabilities"], "capabilities", "a mapping with network, filesystem and secrets",
		"network", "filesystem", "secrets"); ok {
		items, _ := p.list(cm["network"], "capabilities.network", "a list of hosts")
		for i, item := range items {
			field := index("capabilities.network", i)
			r, ok := p.rule(item, field, false)
			if !ok {
				continue
			}
			dup := false
			for j, prev := range mf.Capabilities.Network {
				if sameRule(prev.rule(), r) {
					p.errorf(item, field, "repeats capabilities.network[%d]", j)
					dup = true
				}
			}
			if !dup {
				mf.Capabilities.Network = append(mf.Capabilities.Network,
					NetworkRequest{Host: r.Host, Ports: r.Ports, Schemes: r.Schemes})
			}
		}
		items, _ = p.list(cm["filesystem"], "capabilities.filesystem", "a list of mounts")
		for _, mt := range p.mounts(items, "capabilities.filesystem", false) {
			mf.Capabilities.Filesystem = append(mf.Capabilities.Filesystem, MountRequest{Guest: mt.Guest, Mode: mt.Mode})
		}
		items, _ = p.list(cm["secrets"], "capabilities.secrets", "a list of secrets")
		for _, s := range p.secrets(items, "capabilities.secrets", false) {
			mf.Capabilities.Secrets = append(mf.Capabilities.Secrets, SecretRequest{Name: s.Name})
		}
	}
	mf.Limits = p.limits(m["limits"], "limits")
	return mf
}

// rule returns the request as a network rule, for matching.
func (r NetworkRequest) rule() netguard.Rule {
	return netguard.Rule{Host: r.Host, Ports: r.Ports, Schemes: r.Schemes}
}
