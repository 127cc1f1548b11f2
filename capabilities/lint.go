package capabilities

import (
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// Severity ranks a lint finding.
type Severity string

// Lint severities. `warden grants check` fails when any finding is an error.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case SeverityError:
		return 0
	case SeverityWarning:
		return 1
	}
	return 2
}

// Finding is something in a valid grant that a reviewer should look at.
type Finding struct {
	Severity Severity `json:"severity"`
	// Field is the path of the field concerned, such as "filesystem[0].host".
	Field string `json:"field"`
	// Line is where the field was read from; 0 for a grant not parsed from
	// a file, or a field the file does not contain.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// HasErrors reports whether any finding has SeverityError.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// WriteFindings writes findings as text, one per line, in the form
// "path:line: severity: field: message" (":line" left out when unknown),
// sorted by line, field, severity and message.
func WriteFindings(w io.Writer, path string, findings []Finding) error {
	fs := append([]Finding(nil), findings...)
	sortFindings(fs)
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(path)
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
		}
		fmt.Fprintf(&b, ": %s: ", f.Severity)
		if f.Field != "" {
			b.WriteString(f.Field)
			b.WriteString(": ")
		}
		b.WriteString(f.Message)
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		return a.Message < b.Message
	})
}

// sensitivePath is a host path that a mount should not expose.
type sensitivePath struct {
	path string
	// exposes is the severity when a mount is the path or contains it.
	exposes Severity
	// inside is the severity when a mount is inside the path; empty for
	// no finding.
	inside Severity
	why    string
}

var sensitivePaths = []sensitivePath{
	{"/", SeverityError, "", "the whole host filesystem"},
	{"/etc", SeverityError, SeverityWarning, "host configuration, including password hashes and keys"},
	{"/root", SeverityError, SeverityError, "root's home directory"},
	{"/home", SeverityWarning, SeverityWarning, "user home directories, with their SSH keys and cloud credentials"},
	{"/proc", SeverityError, SeverityError, "the kernel's view of every process, including their environments"},
	{"/sys", SeverityError, SeverityError, "the kernel's device and configuration interface"},
	{"/dev", SeverityError, SeverityError, "raw devices"},
	{"/boot", SeverityError, SeverityError, "the kernel and boot loader"},
	{"/var/run/docker.sock", SeverityError, SeverityError, "the Docker socket, which is root on the host"},
	{"/run/docker.sock", SeverityError, SeverityError, "the Docker socket, which is root on the host"},
	{"/run/containerd", SeverityError, SeverityError, "the containerd socket, which is root on the host"},
	{"/var/run/containerd", SeverityError, SeverityError, "the containerd socket, which is root on the host"},
	{"/run/podman", SeverityError, SeverityError, "the Podman socket"},
	{"/var/lib/docker", SeverityError, SeverityError, "Docker's images, containers and volumes"},
	{"/var/lib/kubelet", SeverityError, SeverityError, "the kubelet's pods and their secrets"},
	{"/var/run/secrets", SeverityError, SeverityError, "Kubernetes service-account tokens"},
	{"/run/secrets", SeverityWarning, SeverityWarning, "container secrets"},
	{"/var/log", SeverityWarning, SeverityInfo, "host logs"},
	{"/usr", SeverityWarning, SeverityInfo, "system programs and libraries"},
	{"/bin", SeverityWarning, SeverityInfo, "system programs"},
	{"/sbin", SeverityWarning, SeverityInfo, "system programs"},
	{"/lib", SeverityWarning, SeverityInfo, "system libraries"},
}

// credentialDirs are path elements that hold credentials wherever they are.
var credentialDirs = []string{
	".ssh", ".aws", ".gnupg", ".kube", ".docker", ".azure", ".netrc", ".git-credentials",
	".npmrc", ".pypirc", ".vault-token", "gcloud",
}

// Lint reviews a valid grant and returns what a security reviewer should
// look at: wildcard hosts, plaintext http, private-network access, writable
// mounts, mounts of sensitive host paths, secrets shown in output, unset and
// very large limits, and a missing plugin name. The findings are sorted as
// WriteFindings writes them. A nil grant has no findings.
func Lint(g *Grant) []Finding {
	if g == nil {
		return nil
	}
	l := &linter{g: g}
	if g.Plugin == "" {
		l.add(SeverityWarning, "plugin", "not set, so this grant can be attached to any plugin; set plugin: to the plugin's name")
	}
	for i, r := range g.Network.Allow {
		l.rule(index("network.allow", i), r)
	}
	for i, m := range g.Filesystem {
		l.mount(index("filesystem", i), m)
	}
	for i, s := range g.Secrets {
		f := index("secrets", i)
		if !s.Redacted() {
			l.add(SeverityWarning, f+".redactOutput", fmt.Sprintf(
				"false: the value of %s can appear in tool output, and so in the client's conversation and logs", s.Name))
		}
		if path, ok := strings.CutPrefix(s.From, "file:"); ok {
			for j, m := range g.Filesystem {
				if withinOrEqual(filepath.ToSlash(path), filepath.ToSlash(m.Host)) {
					l.add(SeverityWarning, f+".from", fmt.Sprintf(
						"%s is also readable through the mount %s (%s), together with anything next to it", path, index("filesystem", j), m.Guest))
				}
			}
		}
	}
	l.limits()
	sortFindings(l.out)
	return l.out
}

type linter struct {
	g   *Grant
	out []Finding
}

func (l *linter) add(s Severity, field, msg string) {
	l.out = append(l.out, Finding{Severity: s, Field: field, Line: l.g.line(field), Message: msg})
}

func (l *linter) rule(f string, r netguard.Rule) {
	addr, err := netip.ParseAddr(r.Host)
	isIP := err == nil
	private := isIP && nonPublic(addr) || r.Host == "localhost" || strings.HasSuffix(r.Host, ".localhost")
	metadata := isIP && isMetadata(addr) || r.Host == "metadata.google.internal" || r.Host == "metadata"
	if isWildcard(r.Host) {
		l.add(SeverityWarning, f+".host", fmt.Sprintf(
			"%s matches every name under %s, including ones that do not exist yet; list the hosts the plugin needs if you can", r.Host, r.Host[2:]))
	}
	for i, s := range r.Schemes {
		if s != SchemeHTTP {
			continue
		}
		if private {
			l.add(SeverityInfo, index(f+".schemes", i), "http: plaintext, to a local address")
		} else {
			l.add(SeverityWarning, index(f+".schemes", i), "http: plaintext, so traffic (including any credentials the plugin sends) can be read and changed in transit; prefer https")
		}
	}
	switch {
	case r.AllowsPrivate() && metadata:
		l.add(SeverityError, f+".privateNetwork", fmt.Sprintf(
			"allow on %s, a cloud metadata endpoint that hands out the host's credentials", r.Host))
	case r.AllowsPrivate() && private:
		l.add(SeverityInfo, f+".privateNetwork", fmt.Sprintf("allow: %s is a local address", r.Host))
	case r.AllowsPrivate():
		l.add(SeverityWarning, f+".privateNetwork", fmt.Sprintf(
			"allow: if %s resolves to a loopback, private or cloud-metadata address the plugin may connect to it; "+
				"DNS can point a public name at internal services", r.Host))
	case private || metadata:
		l.add(SeverityWarning, f+".host", fmt.Sprintf(
			"%s is not a public address and privateNetwork is deny, so this rule never lets a connection through; add privateNetwork: allow if that is intended", r.Host))
	}
}

// nonPublic reports whether the address is one privateNetwork: deny refuses.
func nonPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) || isMetadata(a)
}

func isMetadata(a netip.Addr) bool {
	a = a.Unmap()
	return a == netip.MustParseAddr("169.254.169.254") || a == netip.MustParseAddr("fd00:ec2::254") ||
		a == netip.MustParseAddr("100.100.100.200")
}

func (l *linter) mount(f string, m Mount) {
	host := filepath.ToSlash(m.Host)
	if m.Writable() {
		l.add(SeverityWarning, f+".mode", fmt.Sprintf(
			"rw: the plugin can create, change and delete files under %s", m.Host))
	}
	for _, s := range sensitivePaths {
		switch {
		case withinOrEqual(s.path, host):
			l.add(s.exposes, f+".host", fmt.Sprintf("%s exposes %s: %s", m.Host, s.path, s.why))
			if s.path == host {
				return
			}
		case s.inside != "" && within(host, s.path):
			l.add(s.inside, f+".host", fmt.Sprintf("%s is inside %s: %s", m.Host, s.path, s.why))
			return
		}
	}
	for _, elem := range strings.Split(host, "/") {
		for _, c := range credentialDirs {
			if elem == c {
				l.add(SeverityError, f+".host", fmt.Sprintf("%s is a credential store (%s)", m.Host, c))
				return
			}
		}
	}
	elems := strings.Split(strings.Trim(host, "/"), "/")
	if len(elems) == 2 && (elems[0] == "home" || elems[0] == "Users") {
		l.add(SeverityError, f+".host", fmt.Sprintf(
			"%s is a home directory, with SSH keys, cloud credentials and shell history; mount a project directory instead", m.Host))
	}
}

func (l *linter) limits() {
	g := l.g
	var unset []string
	for _, f := range limitFields[:3] { // memory, timeout, output
		if v, _ := f.value(&g.Limits); v == 0 {
			_, def := f.value(&DefaultLimits)
			unset = append(unset, f.name+" "+def)
		}
	}
	if len(unset) > 0 {
		l.add(SeverityInfo, "limits", "not set, so the host defaults apply: "+strings.Join(unset, ", "))
	}
	for _, f := range limitFields {
		field := "limits." + f.name
		v, vs := f.value(&g.Limits)
		maxV, maxS := f.value(&MaxLimits)
		rv, _ := f.value(&reviewLimits)
		switch {
		case v == 0:
		case maxV > 0 && v > maxV:
			l.add(SeverityWarning, field, fmt.Sprintf("%s is above the host ceiling and will be lowered to %s", vs, maxS))
		case rv > 0 && v > rv:
			l.add(SeverityInfo, field, fmt.Sprintf("%s is large; check that the plugin needs it", vs))
		}
	}
	if m := g.Limits.Memory; m > 0 && m%wasmPage != 0 {
		pages := (m + wasmPage - 1) / wasmPage
		l.add(SeverityInfo, "limits.memory", fmt.Sprintf(
			"%s is not a whole number of 64KiB WebAssembly pages; the cap is %d pages (%s)", m, pages, pages*wasmPage))
	}
}
