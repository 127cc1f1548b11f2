package sdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wardenmcp/warden/sdk/internal/bridge"
)

// fakeHost records what the SDK asks of the host.
type fakeHost struct {
	config  map[string]string
	level   int
	logs    []string
	req     string
	body    string
	status  int
	headers string
	resp    string
	err     error
	reports []string
}

func (f *fakeHost) ConfigGet(key string) (string, bool) {
	v, ok := f.config[key]
	return v, ok
}

func (f *fakeHost) HTTPRequest(req, body []byte) (int, []byte, []byte, error) {
	f.req, f.body = string(req), string(body)
	var h []byte
	if f.headers != "" {
		h = []byte(f.headers)
	}
	return f.status, h, []byte(f.resp), f.err
}

func (f *fakeHost) Log(level int, msg string) {
	f.logs = append(f.logs, string("TDIWE"[level])+" "+msg)
}

func (f *fakeHost) LogLevel() int { return f.level }

func (f *fakeHost) Progress(report []byte) { f.reports = append(f.reports, string(report)) }

func useHost(t *testing.T, h bridge.Host) {
	prev := bridge.Current
	bridge.Current = h
	t.Cleanup(func() { bridge.Current = prev })
}

func TestNoHost(t *testing.T) {
	useHost(t, nil)
	if _, ok := Config("x"); ok {
		t.Error("config without a host")
	}
	if _, err := HTTP(HTTPRequest{URL: "https://example.com"}); err == nil {
		t.Error("HTTP without a host")
	}
	if Log.Enabled(LevelError) {
		t.Error("logging enabled without a host")
	}
	Log.Error("dropped")
}

func TestConfigAndSecret(t *testing.T) {
	useHost(t, &fakeHost{config: map[string]string{"region": "eu", "TOKEN": "t0k", "empty": ""}})
	tests := []struct {
		get   func(string) (string, bool)
		key   string
		want  string
		found bool
	}{
		{Config, "region", "eu", true},
		{Secret, "TOKEN", "t0k", true},
		{Config, "empty", "", true},
		{Secret, "missing", "", false},
		{Config, "", "", false},
	}
	for _, tt := range tests {
		got, ok := tt.get(tt.key)
		if got != tt.want || ok != tt.found {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.found)
		}
	}
}

func TestHTTP(t *testing.T) {
	tests := []struct {
		name     string
		host     fakeHost
		req      HTTPRequest
		wantReq  string
		wantErr  string
		wantCode int
		wantHdr  map[string]string
	}{
		{
			name:     "get",
			host:     fakeHost{status: 200, headers: `{"Content-Type":"text/plain","x-a":"1,2"}`, resp: "hi"},
			req:      HTTPRequest{URL: "https://example.com/a?b=<c>"},
			wantReq:  `{"url":"https://example.com/a?b=<c>","method":"GET","headers":{}}`,
			wantCode: 200,
			wantHdr:  map[string]string{"content-type": "text/plain", "x-a": "1,2"},
		},
		{
			name:     "post with headers",
			host:     fakeHost{status: 201},
			req:      HTTPRequest{Method: "post", URL: "http://h/", Header: map[string]string{"Authorization": "Bearer x"}, Body: []byte("{}")},
			wantReq:  `{"url":"http://h/","method":"POST","headers":{"Authorization":"Bearer x"}}`,
			wantCode: 201,
			wantHdr:  map[string]string{},
		},
		{name: "no url", req: HTTPRequest{}, wantErr: "without a URL"},
		{name: "no status", host: fakeHost{status: 0}, req: HTTPRequest{URL: "https://x"}, wantErr: "returned no response"},
		{name: "host error", host: fakeHost{err: errors.New("denied")}, req: HTTPRequest{URL: "https://x"}, wantErr: "denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.host
			useHost(t, &h)
			resp, err := HTTP(tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.req != tt.wantReq {
				t.Errorf("request %s, want %s", h.req, tt.wantReq)
			}
			if h.body != string(tt.req.Body) {
				t.Errorf("body %q", h.body)
			}
			if resp.StatusCode != tt.wantCode || string(resp.Body) != h.resp {
				t.Errorf("response %d %q", resp.StatusCode, resp.Body)
			}
			if len(resp.Header) != len(tt.wantHdr) {
				t.Errorf("headers %v, want %v", resp.Header, tt.wantHdr)
			}
			for k, v := range tt.wantHdr {
				if resp.Header[k] != v {
					t.Errorf("header %s = %q, want %q", k, resp.Header[k], v)
				}
			}
		})
	}
}

func TestLogLevels(t *testing.T) {
	h := &fakeHost{level: int(LevelInfo)}
	useHost(t, h)
	Log.Trace("t")
	Log.Debug("d")
	Log.Info("i", "k", "v")
	Log.Warn("w", "err", errors.New("bad thing"))
	Log.Error("e", "n", 3, "odd")
	want := []string{"I i k=v", `W w err="bad thing"`, "E e n=3 !BADKEY=odd"}
	if strings.Join(h.logs, "|") != strings.Join(want, "|") {
		t.Fatalf("logs %q, want %q", h.logs, want)
	}
	if Log.Enabled(LevelDebug) || !Log.Enabled(LevelWarn) {
		t.Fatal("Enabled disagrees with the host level")
	}
	h.level = 99
	Log.Error("off")
	if len(h.logs) != 3 {
		t.Fatal("logged while the host level is off")
	}
}

func TestFormatLog(t *testing.T) {
	tests := []struct {
		msg  string
		kv   []any
		want string
	}{
		{"plain", nil, "plain"},
		{"m", []any{"a", 1, "b", true}, "m a=1 b=true"},
		{"m", []any{"s", "two words", "q", `say "hi"`, "eq", "a=b"}, `m s="two words" q="say \"hi\"" eq="a=b"`},
		{"m", []any{"empty", ""}, `m empty=""`},
		{"m", []any{"ctl", "\x1b[31m\r"}, `m ctl="\x1b[31m\r"`},
		{"m", []any{"key with space", 1}, `m "key with space"=1`},
	}
	for _, tt := range tests {
		if got := formatLog(tt.msg, tt.kv); got != tt.want {
			t.Errorf("formatLog(%q, %v) = %s, want %s", tt.msg, tt.kv, got, tt.want)
		}
	}
}

func TestPanicIsLogged(t *testing.T) {
	h := &fakeHost{level: int(LevelError)}
	useHost(t, h)
	r := testRegistry(t)
	if _, err := r.dispatch("call_tool", []byte(v2("boom", "{}"))); err == nil {
		t.Fatal("no error")
	}
	if len(h.logs) != 1 || !strings.Contains(h.logs[0], `tool "boom" panicked: kaboom`) || !strings.Contains(h.logs[0], "stack=") {
		t.Fatalf("logs %q", h.logs)
	}
}

func TestResultJSON(t *testing.T) {
	tests := []struct {
		name string
		res  *Result
		want string
	}{
		{"empty", &Result{}, `{"content":[]}`},
		{"text", Text("a\n\"b\""), `{"content":[{"type":"text","text":"a\n\"b\""}]}`},
		{"empty text", Text(""), `{"content":[{"type":"text","text":""}]}`},
		{"textf", Textf("%d-%s", 1, "x"), `{"content":[{"type":"text","text":"1-x"}]}`},
		{"image", Image([]byte{0x89, 'P', 'N', 'G'}, "image/png"), `{"content":[{"type":"image","data":"iVBORw==","mimeType":"image/png"}]}`},
		{"mixed", Text("see").AddImage([]byte("x"), "image/gif").AddText("done"),
			`{"content":[{"type":"text","text":"see"},{"type":"image","data":"eA==","mimeType":"image/gif"},{"type":"text","text":"done"}]}`},
		{"audio", &Result{Content: []Content{{Type: "audio", Data: []byte("a"), MIMEType: "audio/wav"}}},
			`{"content":[{"type":"audio","data":"YQ==","mimeType":"audio/wav"}]}`},
		{"structured map", &Result{StructuredContent: map[string]any{"b": 1, "a": "<x>"}},
			`{"content":[],"structuredContent":{"a":"<x>","b":1}}`},
		{"structured raw", &Result{StructuredContent: json.RawMessage(`{"z":1}`), IsError: true},
			`{"content":[],"structuredContent":{"z":1},"isError":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// json.Marshal would HTML-escape the method's output; the
			// dispatcher writes it as is.
			got, err := tt.res.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			var back Result
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Content) != len(tt.res.Content) || back.IsError != tt.res.IsError {
				t.Fatalf("round trip %+v", back)
			}
			for i, c := range back.Content {
				o := tt.res.Content[i]
				if c.Type != o.Type || c.Text != o.Text || string(c.Data) != string(o.Data) || c.MIMEType != o.MIMEType {
					t.Errorf("content %d: %+v, want %+v", i, c, o)
				}
			}
		})
	}
}

func TestResultStructuredError(t *testing.T) {
	if _, err := json.Marshal(&Result{StructuredContent: map[string]any{"f": func() {}}}); err == nil {
		t.Fatal("unencodable structured content accepted")
	}
}
