package netguard

// Rule is one entry of a grant's network allow-list: which host a plugin may
// reach, on which ports and over which schemes.
//
// The YAML tags are the grant format of DESIGN.md; the grant parser in package
// capabilities decodes into this type and fills in defaults, so a Rule handed
// to this package is already validated and normalised:
//   - Host is lower-case, either an exact name or IP literal, or "*.suffix"
//     (matching any name that ends in ".suffix", not "suffix" itself);
//   - Schemes is non-empty and holds only "http" and/or "https";
//   - Ports is non-empty (defaulted from the schemes: 443 for https, 80 for http).
type Rule struct {
	Host    string   `yaml:"host" json:"host"`
	Ports   []int    `yaml:"ports,omitempty" json:"ports,omitempty"`
	Schemes []string `yaml:"schemes,omitempty" json:"schemes,omitempty"`
	// PrivateNetwork is "allow" or "deny" (the default, also when empty).
	// When "deny", a connection to a loopback, private, link-local, CGNAT,
	// ULA, unspecified, reserved or cloud-metadata address is refused even
	// though the host name matched.
	PrivateNetwork string `yaml:"privateNetwork,omitempty" json:"privateNetwork,omitempty"`
}

// AllowsPrivate reports whether the rule lets its host resolve to a
// non-public address.
func (r Rule) AllowsPrivate() bool { return r.PrivateNetwork == "allow" }
