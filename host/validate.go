package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// refusingLoader is the schema loader: nothing outside the schema document
// is ever fetched (the plugins package already refuses such references at
// load; this is the second lock on the door).
type refusingLoader struct{}

func (refusingLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema reference %q is not allowed", url)
}

// argValidator checks a tool's arguments against its input schema and
// explains a mismatch in terms a model can act on.
type argValidator struct{ schema *jsonschema.Schema }

func compileArgs(tool string, schema json.RawMessage) (*argValidator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(refusingLoader{})
	loc := "warden:///tools/" + tool + ".json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, err
	}
	return &argValidator{schema: s}, nil
}

// check returns nil when args match, else a message listing each problem
// with where it is: "/name: got number, want string".
func (v *argValidator) check(args []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return fmt.Errorf("the arguments are not JSON: %v", err)
	}
	err = v.schema.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var problems []string
	var walk func(u jsonschema.OutputUnit)
	walk = func(u jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			where := u.InstanceLocation
			if where == "" {
				where = "(the arguments object)"
			}
			problems = append(problems, where+": "+u.Error.String())
		}
		for _, e := range u.Errors {
			walk(e)
		}
	}
	walk(*ve.BasicOutput())
	sort.Strings(problems)
	problems = dedupe(problems)
	if len(problems) == 0 {
		return errors.New(ve.Error())
	}
	return errors.New(strings.Join(problems, "; "))
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
