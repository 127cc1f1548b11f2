package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/wardenmcp/warden/sdk/internal/bridge"
	"github.com/wardenmcp/warden/sdk/internal/jsonv"
)

// host returns the host services in use: the Extism host on wasip1, a host
// that offers nothing elsewhere (or sdktest's fake).
func host() bridge.Host {
	if h := bridge.Current; h != nil {
		return h
	}
	return noHost{}
}

// noHost is the host outside WebAssembly: no config, no network, no logs.
type noHost struct{}

var errNoHost = errors.New("sdk: no host: HTTP requests need a WebAssembly host (or sdktest)")

func (noHost) ConfigGet(string) (string, bool) { return "", false }
func (noHost) HTTPRequest(_, _ []byte) (int, []byte, []byte, error) {
	return 0, nil, nil, errNoHost
}
func (noHost) Log(int, string) {}
func (noHost) LogLevel() int   { return int(LevelError) + 1 }
func (noHost) Progress([]byte) {}

// Config returns the value of a configuration key the operator set for this
// plugin, and whether it is set.
func Config(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	return host().ConfigGet(key)
}

// Secret returns the value of a secret the plugin's grant names, and whether
// it was granted. Hosts pass granted secrets as config values, so Secret
// reads the config key of the same name. Never log a secret's value.
func Secret(name string) (string, bool) {
	return Config(name)
}

// HTTPRequest is an HTTP request made through the host, which checks it
// against the plugin's network grant. A request the grant does not allow
// ends the call with an error naming the host, port and scheme.
type HTTPRequest struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// URL is the absolute http or https URL.
	URL string
	// Header holds the request headers, one value per name.
	Header map[string]string
	// Body is the request body, or nil for none.
	Body []byte
}

// HTTPResponse is the host's answer to an HTTPRequest.
type HTTPResponse struct {
	// StatusCode is the HTTP status, e.g. 200.
	StatusCode int
	// Header holds the response headers with lower-case names; the values of
	// a repeated header are joined by ",".
	Header map[string]string
	// Body is the response body, possibly truncated by the host's limits.
	Body []byte
}

// httpRequestJSON is the request object of the http_request host function.
type httpRequestJSON struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

// HTTP sends req through the host and returns its response. An error means
// the request could not be made here (an invalid request, or no host that
// offers HTTP); a non-2xx status is not an error.
func HTTP(req HTTPRequest) (*HTTPResponse, error) {
	if req.URL == "" {
		return nil, errors.New("sdk: HTTP request without a URL")
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = "GET"
	}
	headers := req.Header
	if headers == nil {
		headers = map[string]string{}
	}
	spec, err := marshalJSON(httpRequestJSON{URL: req.URL, Method: method, Headers: headers})
	if err != nil {
		return nil, fmt.Errorf("sdk: HTTP request: %w", err)
	}
	status, rawHeaders, body, err := host().HTTPRequest(spec, req.Body)
	if err != nil {
		return nil, err
	}
	if status == 0 {
		return nil, fmt.Errorf("sdk: %s %s: the host returned no response", method, req.URL)
	}
	resp := &HTTPResponse{StatusCode: status, Header: map[string]string{}, Body: body}
	if len(rawHeaders) > 0 {
		var h map[string]string
		if err := json.Unmarshal(rawHeaders, &h); err == nil {
			for k, v := range h {
				resp.Header[strings.ToLower(k)] = v
			}
		}
	}
	return resp, nil
}

// Level is a log severity, ordered as the host's get_log_level reports it.
type Level int

// Log levels, lowest first.
const (
	LevelTrace Level = iota
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
)

// Logger writes to the host's per-call plugin log. Messages below the host's
// level are dropped before they cross into the host. Each method takes a
// message and optional key-value pairs, written as `msg key=value …`.
type Logger struct{}

// Log is the plugin's logger.
var Log Logger

// Enabled reports whether the host records messages at level l.
func (Logger) Enabled(l Level) bool {
	return int(l) >= host().LogLevel()
}

// Trace logs at trace level.
func (lg Logger) Trace(msg string, kv ...any) { lg.log(LevelTrace, msg, kv) }

// Debug logs at debug level.
func (lg Logger) Debug(msg string, kv ...any) { lg.log(LevelDebug, msg, kv) }

// Info logs at info level.
func (lg Logger) Info(msg string, kv ...any) { lg.log(LevelInfo, msg, kv) }

// Warn logs at warning level.
func (lg Logger) Warn(msg string, kv ...any) { lg.log(LevelWarn, msg, kv) }

// Error logs at error level.
func (lg Logger) Error(msg string, kv ...any) { lg.log(LevelError, msg, kv) }

func (lg Logger) log(l Level, msg string, kv []any) {
	h := host()
	if int(l) < h.LogLevel() {
		return
	}
	h.Log(int(l), formatLog(msg, kv))
}

// formatLog renders msg followed by key=value pairs; values that contain
// spaces, quotes, '=' or non-printable characters are quoted.
func formatLog(msg string, kv []any) string {
	if len(kv) == 0 {
		return msg
	}
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i < len(kv); i += 2 {
		key, val := "", kv[i]
		if i+1 < len(kv) {
			key, val = fmt.Sprint(kv[i]), kv[i+1]
		} else {
			key = "!BADKEY"
		}
		b.WriteByte(' ')
		b.WriteString(quoteIfNeeded(key))
		b.WriteByte('=')
		var s string
		switch v := val.(type) {
		case string:
			s = v
		case error:
			s = v.Error()
		default:
			s = fmt.Sprint(v)
		}
		b.WriteString(quoteIfNeeded(s))
	}
	return b.String()
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == '=' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// Progress reports how far the running call has got: progress out of total
// (0 when the total is unknown), with an optional message for the user. The
// host passes it to the client as an MCP progress notification when the
// client asked for them, and drops it otherwise, so a tool may report
// whenever it likes; the host also throttles what it forwards.
//
// Progress must increase from one report to the next within a call (MCP
// requires it): the host drops a report whose progress is not greater than
// the previous one's, and logs a warning. Reports with a NaN or infinite
// number are dropped here, with a warning in the plugin log. The host masks
// granted secrets in the message, escapes control characters and cuts it
// at 512 bytes; a report larger than 16 KiB is dropped whole.
//
// A plugin that calls Progress imports the host function
// extism:host/user::warden_progress, which Warden provides: it then needs
// Warden, or another Extism host that provides that function (a module with
// an import its host lacks does not start). Plugins that never call
// Progress do not import it. Outside WebAssembly the report goes to
// sdktest's host, or nowhere.
func Progress(progress, total float64, message string) {
	if !finite(progress) || !finite(total) {
		Log.Warn("sdk: progress report dropped: progress and total must be finite numbers",
			"progress", progress, "total", total)
		return
	}
	host().Progress(progressJSON(progress, total, message))
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// progressJSON encodes a report for warden_progress.
func progressJSON(progress, total float64, message string) []byte {
	b := make([]byte, 0, 48+len(message))
	b = append(b, `{"progress":`...)
	b = appendNumber(b, progress)
	b = append(b, `,"total":`...)
	b = appendNumber(b, total)
	b = append(b, `,"message":`...)
	b = jsonv.AppendString(b, message)
	return append(b, '}')
}

// appendNumber appends a finite f as a JSON number: integers without an
// exponent where exact, others in the shortest form that reads back as f.
func appendNumber(b []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
