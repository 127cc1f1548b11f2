package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wardenmcp/warden/registry/internal/canonjson"
	"github.com/wardenmcp/warden/registry/internal/linediff"
)

// ToolsHash returns "sha256:<hex>" over a canonical encoding of a plugin's
// tool definitions (MCP Tool objects as the plugin lists them: name,
// title, description, input and output schemas, annotations and anything
// else it says), so that an upgrade that changes what a tool claims to do
// is noticed. Key order, whitespace, string escapes and number spelling do
// not change the hash, and neither does the order of the tools; anything
// else does. Each definition must be a JSON object with a non-empty string
// "name", and names must be unique.
//
// The canonical encoding is a JSON array of the definitions sorted by name,
// each encoded as RFC 8785 (JSON Canonicalization Scheme) prescribes.
func ToolsHash(defs []json.RawMessage) (string, error) {
	canon, err := canonicalTools(defs)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

type parsedTool struct {
	name string
	obj  canonjson.Object
}

func parseTools(defs []json.RawMessage) ([]parsedTool, error) {
	tools := make([]parsedTool, 0, len(defs))
	seen := map[string]bool{}
	for i, d := range defs {
		v, err := canonjson.Parse(d)
		if err != nil {
			return nil, fmt.Errorf("tool definition %d: %w", i, err)
		}
		obj, ok := v.(canonjson.Object)
		if !ok {
			return nil, fmt.Errorf("tool definition %d: want a JSON object, found %.40s", i, d)
		}
		name, ok := obj["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("tool definition %d: want a non-empty string \"name\"", i)
		}
		if seen[name] {
			return nil, fmt.Errorf("tool %q is defined more than once", name)
		}
		seen[name] = true
		tools = append(tools, parsedTool{name, obj})
	}
	slices.SortFunc(tools, func(a, b parsedTool) int { return strings.Compare(a.name, b.name) })
	return tools, nil
}

// canonicalTools is the encoding ToolsHash hashes, also what the store
// keeps as <digest>.tools.json.
func canonicalTools(defs []json.RawMessage) ([]byte, error) {
	tools, err := parseTools(defs)
	if err != nil {
		return nil, err
	}
	arr := make([]canonjson.Value, len(tools))
	for i, t := range tools {
		arr[i] = t.obj
	}
	return canonjson.Append(nil, arr), nil
}

// ToolDiff is how two versions of a plugin's tool definitions differ.
type ToolDiff struct {
	// Added and Removed list tool names, sorted.
	Added, Removed []string
	// Changed lists the tools present in both whose definitions differ,
	// sorted by name.
	Changed []ToolChange
}

// ToolChange is one changed tool definition.
type ToolChange struct {
	Name string
	// Fields lists the top-level fields that differ, such as
	// "description" or "inputSchema", sorted.
	Fields []string
	// Diff is a line diff of the two definitions, pretty-printed with
	// sorted keys: "- " old lines, "+ " new lines, "  " context.
	Diff string
}

// Empty reports whether there is no difference.
func (d *ToolDiff) Empty() bool {
	return d == nil || len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// String renders the difference for a person reviewing it.
func (d *ToolDiff) String() string {
	if d.Empty() {
		return "no tool definitions changed\n"
	}
	var b strings.Builder
	for _, n := range d.Added {
		fmt.Fprintf(&b, "added tool %q\n", n)
	}
	for _, n := range d.Removed {
		fmt.Fprintf(&b, "removed tool %q\n", n)
	}
	for _, c := range d.Changed {
		fmt.Fprintf(&b, "changed tool %q (%s):\n", c.Name, strings.Join(c.Fields, ", "))
		for _, line := range strings.SplitAfter(c.Diff, "\n") {
			if line != "" {
				b.WriteString("    ")
				b.WriteString(line)
			}
		}
	}
	return b.String()
}

// DiffTools compares two lists of tool definitions (as ToolsHash reads
// them) tool by tool.
func DiffTools(old, new []json.RawMessage) (*ToolDiff, error) {
	ot, err := parseTools(old)
	if err != nil {
		return nil, fmt.Errorf("previous tool definitions: %w", err)
	}
	nt, err := parseTools(new)
	if err != nil {
		return nil, fmt.Errorf("new tool definitions: %w", err)
	}
	om := map[string]canonjson.Object{}
	for _, t := range ot {
		om[t.name] = t.obj
	}
	d := &ToolDiff{}
	nm := map[string]bool{}
	for _, t := range nt {
		nm[t.name] = true
		o, ok := om[t.name]
		if !ok {
			d.Added = append(d.Added, t.name)
			continue
		}
		if string(canonjson.Append(nil, o)) == string(canonjson.Append(nil, t.obj)) {
			continue
		}
		var fields []string
		keys := map[string]bool{}
		for k := range o {
			keys[k] = true
		}
		for k := range t.obj {
			keys[k] = true
		}
		for k := range keys {
			ov, ook := o[k]
			nv, nok := t.obj[k]
			if ook != nok || string(canonjson.Append(nil, ov)) != string(canonjson.Append(nil, nv)) {
				fields = append(fields, k)
			}
		}
		slices.Sort(fields)
		d.Changed = append(d.Changed, ToolChange{
			Name:   t.name,
			Fields: fields,
			Diff:   linediff.Unified(canonjson.Indent(o, "  ")+"\n", canonjson.Indent(t.obj, "  ")+"\n", 3),
		})
	}
	for _, t := range ot {
		if !nm[t.name] {
			d.Removed = append(d.Removed, t.name)
		}
	}
	return d, nil
}

// ToolChangeError is returned by Install when an upgrade changes the
// plugin's tool definitions and InstallOptions.AcceptToolChanges is not
// set. It wraps ErrToolsChanged.
type ToolChangeError struct {
	Plugin           string
	OldHash, NewHash string
	// Diff is nil when the previous definitions are not in the store.
	Diff *ToolDiff
}

// Error explains the change, how to accept it, and shows the difference.
func (e *ToolChangeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %q: the tool definitions differ from the installed version's (tools %s in the lockfile, %s now); "+
		"a changed description or schema can change what a client is told a tool does, so review the difference and "+
		"install again accepting tool changes (--accept-tool-changes) if it is intended", e.Plugin, e.OldHash, e.NewHash)
	if e.Diff != nil {
		b.WriteString(":\n")
		b.WriteString(e.Diff.String())
	} else {
		b.WriteString(" (the previous definitions are not in the store, so the difference cannot be shown)")
	}
	return b.String()
}

// Unwrap returns ErrToolsChanged.
func (e *ToolChangeError) Unwrap() error { return ErrToolsChanged }

// CheckTools reports whether defs, the tool definitions a loaded plugin
// lists, still hash to what the lockfile entry pins. Hosts call it after
// listing a plugin's tools at load.
func (e *LockEntry) CheckTools(name string, defs []json.RawMessage) error {
	h, err := ToolsHash(defs)
	if err != nil {
		return fmt.Errorf("plugin %q: %w", name, err)
	}
	if h != e.Tools {
		return fmt.Errorf("plugin %q lists tools whose hash is %s; the lockfile pins %s: %w", name, h, e.Tools, ErrToolsChanged)
	}
	return nil
}
