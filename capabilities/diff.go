package capabilities

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wardenmcp/warden/capabilities/netguard"
)

// Status is the outcome of comparing one requested or granted capability.
type Status string

// The statuses a ReportItem can have.
const (
	// StatusMatch means the capability is requested and granted.
	StatusMatch Status = "match"
	// StatusNotGranted means the capability is requested but not granted,
	// so using it will fail.
	StatusNotGranted Status = "not-granted"
	// StatusOverGrant means the capability is granted but not requested,
	// or granted more widely than requested.
	StatusOverGrant Status = "over-grant"
	// StatusUnstated means the capability is granted to a plugin that
	// embeds no manifest, so there is no request to compare with.
	StatusUnstated Status = "unstated"
	// StatusMismatch means the grant names a different plugin than the
	// manifest does.
	StatusMismatch Status = "mismatch"
)

// Capability names used in reports.
const (
	CapPlugin     = "plugin"
	CapNetwork    = "network"
	CapFilesystem = "filesystem"
	CapSecrets    = "secrets"
	CapLimits     = "limits"
)

// ReportItem is one line of a Report.
type ReportItem struct {
	Status Status `json:"status"`
	// Capability is "plugin", "network", "filesystem", "secrets" or
	// "limits".
	Capability string `json:"capability"`
	// Subject is what the line is about: "api.github.com:443 (https)", a
	// guest path, a secret name, a limit name.
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// String formats the item as "status capability subject: message".
func (it ReportItem) String() string {
	return fmt.Sprintf("%s %s %s: %s", it.Status, it.Capability, it.Subject, it.Message)
}

// Report compares what a plugin's manifest requests with what its grant
// allows. Items are sorted by capability, subject, status and message, so
// the text form is stable and diffs well.
type Report struct {
	// Plugin is the manifest's name, else the grant's plugin.
	Plugin string       `json:"plugin,omitempty"`
	Items  []ReportItem `json:"items"`
}

// String renders the report as text, one item per line.
func (r Report) String() string {
	var b strings.Builder
	for _, it := range r.Items {
		b.WriteString(it.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Count returns how many items have the given status.
func (r Report) Count(s Status) int {
	n := 0
	for _, it := range r.Items {
		if it.Status == s {
			n++
		}
	}
	return n
}

// Diff compares the capabilities and limits a manifest requests with those
// a grant allows. m may be nil (a plugin without a manifest): every granted
// capability is then reported as StatusUnstated. A nil grant grants
// nothing.
//
// A network request is matched port by port and scheme by scheme: a rule
// covers it when its host is the same or a wildcard covering it, and it
// lists the port and the scheme. A requested mount is matched by guest path
// (or a mount of a directory containing it) and mode; a secret by name; a
// limit when the grant's effective limit is at least the request.
func Diff(m *Manifest, g *Grant) Report {
	if g == nil {
		g = &Grant{}
	}
	d := &differ{g: g}
	d.r.Plugin = g.Plugin
	if m == nil {
		d.unstated()
	} else {
		d.r.Plugin = m.Name
		switch {
		case g.Plugin == "":
		case g.Plugin == m.Name:
			d.add(StatusMatch, CapPlugin, "name", fmt.Sprintf("the grant is for %s", g.Plugin))
		default:
			d.add(StatusMismatch, CapPlugin, "name", fmt.Sprintf(
				"the grant is for plugin %s but the manifest names %s; the grant applies only to a plugin installed as %s",
				g.Plugin, safeText(m.Name), g.Plugin))
		}
		d.network(m.Capabilities.Network)
		d.filesystem(m.Capabilities.Filesystem)
		d.secrets(m.Capabilities.Secrets)
		d.limits(m.Limits)
	}
	sort.SliceStable(d.r.Items, func(i, j int) bool {
		a, b := d.r.Items[i], d.r.Items[j]
		if a.Capability != b.Capability {
			return a.Capability < b.Capability
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Message < b.Message
	})
	if d.r.Items == nil {
		d.r.Items = []ReportItem{}
	}
	return d.r
}

type differ struct {
	g *Grant
	r Report
}

func (d *differ) add(s Status, capability, subject, msg string) {
	d.r.Items = append(d.r.Items, ReportItem{Status: s, Capability: capability, Subject: subject, Message: msg})
}

func (d *differ) unstated() {
	const why = "the plugin embeds no manifest, so nothing was requested to compare with"
	d.add(StatusUnstated, CapPlugin, "manifest", why)
	for j, r := range d.g.Network.Allow {
		d.add(StatusUnstated, CapNetwork, describeRule(r), "granted by "+index("network.allow", j))
	}
	for j, mt := range d.g.Filesystem {
		d.add(StatusUnstated, CapFilesystem, mt.Guest,
			fmt.Sprintf("mounted from %s (%s) by %s", mt.Host, mt.Mode, index("filesystem", j)))
	}
	for j, s := range d.g.Secrets {
		d.add(StatusUnstated, CapSecrets, s.Name, fmt.Sprintf("granted from %s by %s", s.From, index("secrets", j)))
	}
}

type portScheme struct {
	port   int
	scheme string
}

func tuple(host string, ps portScheme) string {
	return fmt.Sprintf("%s (%s)", hostPort(host, ps.port), ps.scheme)
}

func (d *differ) network(reqs []NetworkRequest) {
	rules := d.g.Network.Allow
	used := make([]map[portScheme]bool, len(rules))
	hosts := make([][]string, len(rules))
	for i := range rules {
		used[i] = map[portScheme]bool{}
	}
	for _, req := range reqs {
		for _, s := range req.Schemes {
			for _, port := range req.Ports {
				ps := portScheme{port, s}
				subject := tuple(req.Host, ps)
				j := slices.IndexFunc(rules, func(r netguard.Rule) bool {
					return hostCovers(r.Host, req.Host) && slices.Contains(r.Ports, port) && slices.Contains(r.Schemes, s)
				})
				if j >= 0 {
					used[j][ps] = true
					if !slices.Contains(hosts[j], req.Host) {
						hosts[j] = append(hosts[j], req.Host)
					}
					d.add(StatusMatch, CapNetwork, subject, "granted by "+index("network.allow", j))
					continue
				}
				var near []string
				for k, r := range rules {
					if hostCovers(r.Host, req.Host) {
						near = append(near, fmt.Sprintf("%s allows only %s", index("network.allow", k), describeRule(r)))
					}
				}
				msg := "requested but not granted, so it will be refused; no rule covers this host"
				if len(near) > 0 {
					msg = "requested but not granted, so it will be refused; " + strings.Join(near, "; ")
				}
				d.add(StatusNotGranted, CapNetwork, subject, msg)
			}
		}
	}
	for j, r := range rules {
		field := index("network.allow", j)
		if len(used[j]) == 0 {
			d.add(StatusOverGrant, CapNetwork, describeRule(r), "granted by "+field+" but not requested")
			continue
		}
		for _, s := range r.Schemes {
			for _, port := range r.Ports {
				ps := portScheme{port, s}
				if !used[j][ps] {
					d.add(StatusOverGrant, CapNetwork, tuple(r.Host, ps), "granted by "+field+" but not requested")
				}
			}
		}
		if isWildcard(r.Host) && !slices.Contains(hosts[j], r.Host) {
			slices.Sort(hosts[j])
			d.add(StatusOverGrant, CapNetwork, r.Host, fmt.Sprintf(
				"wildcard granted by %s; the plugin asks only for %s", field, strings.Join(hosts[j], ", ")))
		}
	}
}

func (d *differ) filesystem(reqs []MountRequest) {
	mounts := d.g.Filesystem
	used := make([][]string, len(mounts))
	for _, req := range reqs {
		j := slices.IndexFunc(mounts, func(mt Mount) bool { return withinOrEqual(req.Guest, mt.Guest) })
		if j < 0 {
			d.add(StatusNotGranted, CapFilesystem, req.Guest, fmt.Sprintf(
				"requested (%s) but not mounted; the plugin will not find it", req.Mode))
			continue
		}
		mt := mounts[j]
		used[j] = append(used[j], req.Guest)
		where := fmt.Sprintf("mounted from %s (%s) by %s", mt.Host, mt.Mode, index("filesystem", j))
		if mt.Guest != req.Guest {
			where = fmt.Sprintf("inside %s, mounted from %s (%s) by %s", mt.Guest, mt.Host, mt.Mode, index("filesystem", j))
		}
		switch {
		case req.Mode == ReadWrite && mt.Mode != ReadWrite:
			d.add(StatusNotGranted, CapFilesystem, req.Guest, "requested rw but "+where+"; writes will fail")
		case req.Mode != ReadWrite && mt.Mode == ReadWrite:
			d.add(StatusOverGrant, CapFilesystem, req.Guest, "requested ro but "+where)
		default:
			d.add(StatusMatch, CapFilesystem, req.Guest, where)
		}
	}
	for j, mt := range mounts {
		field := index("filesystem", j)
		switch {
		case len(used[j]) == 0:
			d.add(StatusOverGrant, CapFilesystem, mt.Guest, fmt.Sprintf(
				"mounted from %s (%s) by %s but not requested", mt.Host, mt.Mode, field))
		case !slices.Contains(used[j], mt.Guest):
			slices.Sort(used[j])
			d.add(StatusOverGrant, CapFilesystem, mt.Guest, fmt.Sprintf(
				"mounted from %s (%s) by %s; the plugin asks only for %s", mt.Host, mt.Mode, field, strings.Join(used[j], ", ")))
		}
	}
}

func (d *differ) secrets(reqs []SecretRequest) {
	requested := map[string]bool{}
	for _, req := range reqs {
		requested[req.Name] = true
		if s, ok := d.g.Secret(req.Name); ok {
			d.add(StatusMatch, CapSecrets, req.Name, "granted from "+s.From)
		} else {
			d.add(StatusNotGranted, CapSecrets, req.Name, "requested but not granted; the plugin will not receive it")
		}
	}
	for j, s := range d.g.Secrets {
		if !requested[s.Name] {
			d.add(StatusOverGrant, CapSecrets, s.Name, fmt.Sprintf("granted from %s by %s but not requested", s.From, index("secrets", j)))
		}
	}
}

func (d *differ) limits(req Limits) {
	withDefaults := d.g.Limits.WithDefaults(DefaultLimits)
	eff := withDefaults.Clamp(MaxLimits)
	for _, f := range limitFields {
		want, wantS := f.value(&req)
		if want == 0 {
			continue
		}
		own, _ := f.value(&d.g.Limits)
		preClamp, _ := f.value(&withDefaults)
		have, haveS := f.value(&eff)
		source := "set by the grant"
		switch {
		case own == 0:
			source = "the default"
		case preClamp != have:
			source = "the host ceiling"
		}
		if want > have {
			d.add(StatusNotGranted, CapLimits, f.name, fmt.Sprintf(
				"the plugin asks for %s but gets %s (%s); calls needing more will fail", wantS, haveS, source))
		} else {
			d.add(StatusMatch, CapLimits, f.name, fmt.Sprintf("the plugin asks for %s and gets %s (%s)", wantS, haveS, source))
		}
	}
}
