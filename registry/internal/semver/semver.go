// Package semver compares semantic versions (https://semver.org), with an
// optional leading "v".
package semver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var re = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// Valid reports whether v is a semantic version.
func Valid(v string) bool { return re.MatchString(v) }

// Compare returns -1, 0 or +1 as a is lower than, equal to or higher than
// b in semantic-version precedence (build metadata is ignored). It reports
// an error when either is not a semantic version.
func Compare(a, b string) (int, error) {
	ma, mb := re.FindStringSubmatch(a), re.FindStringSubmatch(b)
	if ma == nil {
		return 0, fmt.Errorf("%q is not a semantic version", a)
	}
	if mb == nil {
		return 0, fmt.Errorf("%q is not a semantic version", b)
	}
	for i := 1; i <= 3; i++ {
		if c := compareNumeric(ma[i], mb[i]); c != 0 {
			return c, nil
		}
	}
	pa, pb := ma[4], mb[4]
	switch {
	case pa == pb:
		return 0, nil
	case pa == "":
		return 1, nil // a release is higher than its pre-releases
	case pb == "":
		return -1, nil
	}
	fa, fb := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < len(fa) && i < len(fb); i++ {
		na, ea := strconv.ParseUint(fa[i], 10, 64)
		nb, eb := strconv.ParseUint(fb[i], 10, 64)
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				if na < nb {
					return -1, nil
				}
				return 1, nil
			}
		case ea == nil:
			return -1, nil // numeric identifiers are lower
		case eb == nil:
			return 1, nil
		default:
			if c := strings.Compare(fa[i], fb[i]); c != 0 {
				return c, nil
			}
		}
	}
	switch {
	case len(fa) < len(fb):
		return -1, nil
	case len(fa) > len(fb):
		return 1, nil
	}
	return 0, nil
}

func compareNumeric(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
