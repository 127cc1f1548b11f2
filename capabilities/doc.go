// Package capabilities holds Warden's capability model: the grant an operator
// writes for a plugin (which hosts, files and secrets it may use, and its
// resource limits), the manifest a plugin embeds to say what it needs, the
// comparison of the two, review tooling for grants, and the providers that
// resolve secret values at call time.
//
// Everything is denied unless a grant says otherwise. A grant is a small YAML
// file that security reviewers read in pull requests, so the parser is strict:
// unknown fields, anchors, aliases and multiple documents are refused, every
// problem is reported with its file, line and field, and values are
// normalised (lower-case host names, default ports and schemes, explicit
// modes) so that what the enforcement code sees is what the reviewer read.
//
// The enforcement pieces live in sub-packages: netguard checks outbound
// connections against a grant's network rules and fsmount builds the
// filesystem mounts.
package capabilities
