package fsmount

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// TestFileDeclaresEveryMethod checks that file declares every method of
// experimental/sys.File but Seek, so that none is silently promoted from the
// File it embeds for Seek (see file). A method wazero adds to the interface
// makes this test fail until file implements it.
func TestFileDeclaresEveryMethod(t *testing.T) {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "file.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range af.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
			continue
		}
		if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "file" {
				declared[fd.Name.Name] = true
			}
		}
	}
	iface := reflect.TypeFor[experimentalsys.File]()
	for i := range iface.NumMethod() {
		name := iface.Method(i).Name
		if name == "Seek" {
			if declared[name] {
				t.Errorf("file declares Seek; go vet reports it")
			}
			continue
		}
		if !declared[name] {
			t.Errorf("file does not declare %s; it would be promoted from the embedded File", name)
		}
	}
	if !declared["seek"] {
		t.Error("file.seek is missing")
	}
}
