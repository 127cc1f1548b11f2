package linediff

import "testing"

func TestUnified(t *testing.T) {
	a := "one\ntwo\nthree\nfour\nfive\nsix\nseven\n"
	b := "one\ntwo\nTHREE\nfour\nfive\nsix\nseven\neight\n"
	got := Unified(a, b, 1)
	want := "  two\n- three\n+ THREE\n  four\n@@\n  seven\n+ eight\n"
	if got != want {
		t.Errorf("Unified =\n%s\nwant\n%s", got, want)
	}
	if Unified(a, a, 3) != "" {
		t.Error("equal texts have a diff")
	}
	if got := Unified("", "x", 3); got != "+ x\n" {
		t.Errorf("Unified(\"\", x) = %q", got)
	}
}
