package capabilities

import (
	"encoding/json"
	"sort"
	"strings"
)

// NewRedactor returns a replacer that masks secret values in tool output.
// values maps secret names to values; each value, and its JSON-escaped form
// when that differs, becomes "[REDACTED:NAME]". Longer values are matched
// first, so a value that contains another is masked whole. Empty values are
// ignored.
func NewRedactor(values map[string]string) *strings.Replacer {
	type pair struct{ old, name string }
	var pairs []pair
	for name, v := range values {
		if v == "" {
			continue
		}
		pairs = append(pairs, pair{v, name})
		if b, err := json.Marshal(v); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != v {
				pairs = append(pairs, pair{esc, name})
			}
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].old) != len(pairs[j].old) {
			return len(pairs[i].old) > len(pairs[j].old)
		}
		return pairs[i].old < pairs[j].old
	})
	args := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		args = append(args, p.old, "[REDACTED:"+p.name+"]")
	}
	return strings.NewReplacer(args...)
}
