package jsonv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stdParse decodes data as encoding/json does with UseNumber.
func stdParse(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, &json.SyntaxError{}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

var parseCases = []string{
	`null`, `true`, `false`, `0`, `-0`, `1.5`, `-12e+3`, `1E-2`, `123456789012345678901234567890`,
	`""`, `"abc"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ud83dx"`,
	`"\ude00"`, `"\ud83d\u0041"`, "\"caf\xc3\xa9\"", "\"bad\xffutf8\"", "\"\xed\xa0\x80\"",
	`[]`, `[1,"a",null,[true]]`, `{}`, `{"a":1,"b":{"c":[]},"a":2}`, " \t\r\n{ \"k\" : [ 1 , 2 ] } \n",
	"\"\u2028\u2029\"",
	// invalid
	``, ` `, `nul`, `tru`, `True`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x10`, `NaN`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", "\"a\nb\"", `[1,]`, `[,1]`, `{"a"}`, `{"a":}`,
	`{"a":1,}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `1 2`, `{}}`, `[`, `{`, `{"a":[}`, "\x00",
	`'a'`, `[1]x`,
}

func TestParseMatchesEncodingJSON(t *testing.T) {
	for _, in := range parseCases {
		want, wantErr := stdParse([]byte(in))
		got, err := Parse([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Parse(%q): error %v, encoding/json error %v", in, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %#v, encoding/json gives %#v", in, got, want)
		}
	}
}

func TestParseDepth(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Parse([]byte(deep)); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	tooDeep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if _, err := Parse([]byte(tooDeep)); err == nil || !strings.Contains(err.Error(), "max depth") {
		t.Fatalf("depth %d: err = %v, want max depth", MaxDepth+1, err)
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	_, err := Parse([]byte(`{"a":x}`))
	if err == nil || err.Error() != `invalid character 'x' looking for beginning of value (at byte 5)` {
		t.Fatalf("err = %v", err)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x01\x1f\x7f", "\n\r\t\b\f",
		"<html>&amp;", "é中😀", "bad\xff\xfe", "\u2028\u2029", strings.Repeat("x", 1000)} {
		got := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Errorf("AppendString(%q) = %s: not JSON: %v", s, got, err)
			continue
		}
		want, _ := json.Marshal(s) // encoding/json also replaces invalid UTF-8
		var wantBack string
		json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("AppendString(%q) round-trips to %q, want %q", s, back, wantBack)
		}
		if bytes.Contains(got, []byte("\u2028")) {
			t.Errorf("AppendString(%q) = %s: U+2028 not escaped", s, got)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	for _, in := range parseCases {
		v, err := Parse([]byte(in))
		if err != nil {
			continue
		}
		out, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%q): %v", in, err)
		}
		back, err := Parse(out)
		if err != nil || !reflect.DeepEqual(back, v) {
			t.Errorf("Append(%q) = %s, which parses to %#v (%v)", in, out, back, err)
		}
	}
}

type Inner struct {
	X int `json:"x"`
}

type Embedded struct {
	E      string `json:"e"`
	Shadow string
}

type Args struct {
	Embedded
	*Inner     `json:"inner,omitempty"`
	Name       string              `json:"name"`
	Count      int8                `json:"count"`
	U          uint16              `json:"u"`
	F          float32             `json:"f"`
	B          bool                `json:"b"`
	P          *string             `json:"p"`
	L          []int               `json:"l"`
	A          [2]string           `json:"a"`
	M          map[string]int      `json:"m"`
	IM         map[int]string      `json:"im"`
	Raw        json.RawMessage     `json:"raw"`
	Any        any                 `json:"any"`
	Num        json.Number         `json:"num"`
	Bytes      []byte              `json:"bytes"`
	When       time.Time           `json:"when"`
	Addr       netip.Addr          `json:"addr"`
	Quoted     int                 `json:"quoted,string"`
	QStr       string              `json:"qstr,string"`
	Nested     []map[string]*Inner `json:"nested"`
	Shadow     string              `json:"shadow"`
	Skipped    string              `json:"-"`
	Untagged   string
	unexported string
}

var decodeCases = []string{
	`{}`,
	`{"name":"n","count":-5,"u":7,"f":1.5,"b":true,"p":"s","l":[1,2],"a":["x"],"m":{"k":1},"im":{"3":"three"}}`,
	`{"raw":{"z":[1, 2]},"any":{"n":1,"l":[1.5,"x",null]},"num":12.50,"bytes":"aGVsbG8=","when":"2024-01-02T03:04:05Z"}`,
	`{"addr":"192.0.2.1","quoted":"42","qstr":"\"hi\"","nested":[{"a":{"x":1},"b":null}],"e":"emb","inner":{"x":9}}`,
	`{"NAME":"case-insensitive","untagged":"lower","Shadow":"outer","shadow":"s"}`,
	`{"p":null,"l":null,"m":null,"any":null,"count":null,"name":null}`,
	`{"unknown":1,"Skipped":"no","unexported":"no"}`,
	`{"addr":null,"when":null,"raw":null,"num":null,"bytes":null,"a":null,"inner":null,"quoted":"null"}`,
	`{"addr":"192.0.2.1","when":"2024-01-02T03:04:05Z","a":["p","q"],"im":{"-1":"neg"}}`,
	// mismatches
	`{"count":300}`, `{"count":1.5}`, `{"count":"1"}`, `{"u":-1}`, `{"f":1e39}`, `{"b":"true"}`,
	`{"name":1}`, `{"l":{}}`, `{"l":[1,"x"]}`, `{"m":[]}`, `{"im":{"x":"y"}}`, `{"bytes":"!!"}`,
	`{"when":"yesterday"}`, `{"addr":"not an ip"}`, `{"quoted":42}`, `{"quoted":"x"}`, `{"any":1e999}`,
	`{"num":"12"}`, `{"num":true}`, `{"a":["x","y","z"]}`, `[]`, `"str"`,
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, in := range decodeCases {
		var want, got Args
		wantErr := json.Unmarshal([]byte(in), &want)
		v, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", in, err)
		}
		err = Decode(v, &got)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Decode(%s): error %v, encoding/json error %v", in, err, wantErr)
			continue
		}
		if err != nil {
			continue
		}
		// RawMessage keeps the input's spacing in encoding/json; compare compacted.
		if want.Raw != nil {
			var b bytes.Buffer
			json.Compact(&b, want.Raw)
			want.Raw = b.Bytes()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%s) =\n %+v\nencoding/json gives\n %+v", in, got, want)
		}
	}
}

// Unlike encoding/json, which decodes keys in input order, Decode lets an
// exact key win over one that matches only when case is ignored.
func TestDecodeExactKeyWins(t *testing.T) {
	for _, in := range []string{`{"Untagged":"exact","untagged":"folded"}`, `{"untagged":"folded","Untagged":"exact"}`} {
		v, _ := Parse([]byte(in))
		var a Args
		if err := Decode(v, &a); err != nil || a.Untagged != "exact" {
			t.Errorf("Decode(%s): Untagged = %q, %v; want \"exact\"", in, a.Untagged, err)
		}
	}
}

func TestDecodeErrorPath(t *testing.T) {
	v, _ := Parse([]byte(`{"nested":[{"a":{"x":"one"}}]}`))
	var a Args
	err := Decode(v, &a)
	if err == nil || err.Error() != `nested[0].a.x: expected an integer (int), found string "one"` {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeTopLevelKinds(t *testing.T) {
	var m map[string]any
	v, _ := Parse([]byte(`{"a":1}`))
	if err := Decode(v, &m); err != nil || m["a"] != 1.0 {
		t.Fatalf("map: %v %v", m, err)
	}
	var p *Inner
	if err := Decode(v, &p); err != nil || p == nil {
		t.Fatalf("pointer: %v %v", p, err)
	}
	if err := Decode(v, Inner{}); err == nil {
		t.Fatal("non-pointer destination accepted")
	}
	var f float64
	big, _ := Parse([]byte(`1e400`))
	if err := Decode(big, &f); err == nil || math.IsInf(f, 0) {
		t.Fatalf("1e400 into float64: %v %v", f, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data)
		want, wantErr := stdParse(data)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Parse(%q): error %v, encoding/json error %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(%q) = %#v, encoding/json gives %#v", data, got, want)
		}
		out, err := Append(nil, got)
		if err != nil || !json.Valid(out) {
			t.Fatalf("Append(Parse(%q)) = %q, %v", data, out, err)
		}
		var a Args
		_ = Decode(got, &a) // must not panic
	})
}

// ambiguousKeys reports whether some object in data repeats a key, exactly
// or ignoring case. encoding/json then decodes in input order, which a
// parsed map cannot reproduce.
func ambiguousKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			case '[':
				if top != nil && top.object {
					top.expect = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && top.object && top.expect {
				k := strings.ToLower(v)
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.expect = false
			} else if top != nil && top.object {
				top.expect = true
			}
		default:
			if top != nil && top.object {
				top.expect = true
			}
		}
	}
}

// FuzzDecode checks that decoding parsed arguments gives what
// json.Unmarshal gives.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if err != nil || ambiguousKeys(data) {
			return
		}
		var got, want Args
		err = Decode(v, &got)
		wantErr := json.Unmarshal(data, &want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Decode(%s): error %v, encoding/json error %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		if want.Raw != nil {
			var b bytes.Buffer
			json.Compact(&b, want.Raw)
			want.Raw = b.Bytes()
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode(%s) =\n %+v\nencoding/json gives\n %+v", data, got, want)
		}
	})
}

// membersMap collects Members' output into the map Parse would give.
func membersMap(data []byte) (map[string]any, error) {
	m := map[string]any{}
	err := Members(data, func(key, value []byte) error {
		v, err := Parse(value)
		if err != nil {
			return fmt.Errorf("member %q: value %q does not parse: %w", key, value, err)
		}
		m[string(key)] = v
		return nil
	})
	return m, err
}

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]any // nil: an error
	}{
		{`{}`, map[string]any{}},
		{` {"a":1, "b" : [true, null, {"c":"d"}], "a":"again"} `, map[string]any{"a": "again", "b": []any{true, nil, map[string]any{"c": "d"}}}},
		{`{"k\u00e9y":"\u00e9","\"q":-1.5e3}`, map[string]any{"kéy": "é", `"q`: json.Number("-1.5e3")}},
		{`[1]`, nil},
		{`{"a":1`, nil},
		{`{"a":1}x`, nil},
		{`{"a":tru}`, nil},
		{`{"a":"\x"}`, nil},
		{``, nil},
	} {
		got, err := membersMap([]byte(tc.in))
		if tc.want == nil {
			if err == nil {
				t.Errorf("Members(%q): no error, want one", tc.in)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Members(%q) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	stop := errors.New("stop")
	if err := Members([]byte(`{"a":1,"b":2}`), func(k, _ []byte) error { return stop }); err != stop {
		t.Errorf("fn's error: got %v, want it returned", err)
	}
}

// FuzzMembers checks Members against Parse: the same inputs accepted (when
// they are objects), and the same members.
func FuzzMembers(f *testing.F) {
	for _, c := range parseCases {
		f.Add([]byte(c))
	}
	f.Add([]byte(`{"request":{"name":"greet","arguments":{"name":"Ada"}},"context":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := membersMap(data)
		want, perr := Parse(data)
		obj, isObj := want.(map[string]any)
		if (err == nil) != (perr == nil && isObj) {
			t.Fatalf("Members(%q) error %v; Parse gives %#v, %v", data, err, want, perr)
		}
		if err == nil && !reflect.DeepEqual(got, obj) {
			t.Fatalf("Members(%q) = %#v; Parse gives %#v", data, got, obj)
		}
	})
}
