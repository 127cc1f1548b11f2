// Package linediff shows the difference between two texts line by line,
// in the style of a unified diff.
package linediff

import (
	"strings"
)

// MaxLines bounds the texts Unified compares line by line; longer texts
// are shown as a whole removal followed by a whole addition.
const MaxLines = 2000

// Unified returns the lines of a and b with "- " before lines only in a,
// "+ " before lines only in b and "  " before common lines, keeping at
// most context unchanged lines around each change ("@@" marks a gap). It
// returns "" when a and b are equal.
func Unified(a, b string, context int) string {
	if a == b {
		return ""
	}
	al, bl := split(a), split(b)
	ops := diff(al, bl)
	var sb strings.Builder
	// Mark which unchanged lines are within context of a change.
	keep := make([]bool, len(ops))
	for i, op := range ops {
		if op.kind != ' ' {
			for j := max(0, i-context); j <= min(len(ops)-1, i+context); j++ {
				keep[j] = true
			}
		}
	}
	gap, written := false, false
	for i, op := range ops {
		if !keep[i] {
			gap = true
			continue
		}
		if gap && written {
			sb.WriteString("@@\n")
		}
		gap, written = false, true
		sb.WriteByte(op.kind)
		sb.WriteByte(' ')
		sb.WriteString(op.line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

type op struct {
	kind byte
	line string
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diff computes a shortest edit script with the classic longest common
// subsequence table, after trimming a common prefix and suffix.
func diff(a, b []string) []op {
	var out []op
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		out = append(out, op{' ', a[p]})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if len(ma) > MaxLines || len(mb) > MaxLines {
		for _, l := range ma {
			out = append(out, op{'-', l})
		}
		for _, l := range mb {
			out = append(out, op{'+', l})
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		n, m := len(ma), len(mb)
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && ma[i] == mb[j]:
				out = append(out, op{' ', ma[i]})
				i++
				j++
			case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
				out = append(out, op{'-', ma[i]})
				i++
			default:
				out = append(out, op{'+', mb[j]})
				j++
			}
		}
	}
	for k := len(a) - s; k < len(a); k++ {
		out = append(out, op{' ', a[k]})
	}
	return out
}
