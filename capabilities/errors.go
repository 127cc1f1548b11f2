package capabilities

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem found in a grant or manifest: where it is and
// what is wrong with it.
type FieldError struct {
	// File is the name the document was parsed under; it may be empty.
	File string
	// Line and Column locate the problem (1-based); zero when unknown.
	Line, Column int
	// Field is the path of the offending field, such as
	// "network.allow[0].schemes[1]"; empty for document-level problems.
	Field string
	// Msg says what is wrong and, where it helps, what is allowed.
	Msg string
}

// Error formats the problem as "file:line: field: message", leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in one document, in document order. It is
// the error returned by ParseGrant, LoadGrant, ParseManifestYAML and
// ParseManifestJSON when the input is invalid; errors.As finds the individual
// *FieldError values through Unwrap.
type ErrorList []*FieldError

// Error lists the problems one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual *FieldError values.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// maxErrors bounds how many problems one document reports, so that a
// pathological input cannot produce an unbounded error.
const maxErrors = 100

// finish sorts the collected errors by position and returns them as an
// error, or nil when there are none.
func (l ErrorList) finish() error {
	if len(l) == 0 {
		return nil
	}
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Column < l[j].Column
	})
	if len(l) > maxErrors {
		last := *l[maxErrors-1]
		last.Field = ""
		last.Msg = fmt.Sprintf("too many problems (%d); stopping", len(l))
		l = append(l[:maxErrors-1:maxErrors-1], &last)
	}
	return l
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns an error from the YAML library into a FieldError with
// the line number it mentions, if any.
func syntaxError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &FieldError{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
