package semver

import "testing"

func TestCompare(t *testing.T) {
	// Ascending, from the semver.org precedence example.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "v1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range order {
		for j := range order {
			c, err := Compare(order[i], order[j])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if c != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], c, want)
			}
		}
	}
	if c, _ := Compare("1.0.0+build.1", "1.0.0+build.2"); c != 0 {
		t.Errorf("build metadata counted: %d", c)
	}
	if _, err := Compare("1.0", "1.0.0"); err == nil {
		t.Error("1.0 accepted")
	}
}
