// Package config reads warden.yaml (apiVersion: warden.dev/v1, kind: Host),
// the operator's single statement of what a Warden process serves and
// trusts. It validates everything up front and reports every problem with
// its file and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardenmcp/warden/capabilities"
)

// MaxFileBytes caps the size of warden.yaml.
const MaxFileBytes = 1 << 20

// Config is a validated warden.yaml. Relative paths in it have been resolved
// against the file's directory.
type Config struct {
	APIVersion     string     `yaml:"apiVersion"`
	Kind           string     `yaml:"kind"`
	Listen         string     `yaml:"listen"`
	TLS            *TLS       `yaml:"tls"`
	Endpoint       string     `yaml:"endpoint"`
	AllowedOrigins []string   `yaml:"allowedOrigins"`
	Store          string     `yaml:"store"`
	Lockfile       string     `yaml:"lockfile"`
	Auth           Auth       `yaml:"auth"`
	Trust          yaml.Node  `yaml:"trust"` // parsed by the registry's trust policy
	Deny           []string   `yaml:"deny"`
	Admin          Admin      `yaml:"admin"`
	Limits         Limits     `yaml:"limits"`
	Plugins        []Plugin   `yaml:"plugins"`
	RateLimits     RateLimits `yaml:"rateLimits"`
	Tasks          Tasks      `yaml:"tasks"`
	Audit          Audit      `yaml:"audit"`
	Telemetry      Telemetry  `yaml:"telemetry"`
	LogLevel       string     `yaml:"logLevel"`

	// File is the path the config was read from; Dir its directory.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
}

// TLS names the certificate and key files for HTTPS.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Auth selects how callers are authenticated.
type Auth struct {
	Mode                 string   `yaml:"mode"`
	Issuer               string   `yaml:"issuer"`
	Audience             string   `yaml:"audience"`
	JWKSURL              string   `yaml:"jwksURL"`
	JWKSFile             string   `yaml:"jwksFile"`
	AuthorizationServers []string `yaml:"authorizationServers"`
	ScopesSupported      []string `yaml:"scopesSupported"`
	RolesClaim           string   `yaml:"rolesClaim"`
	// HiddenTools is what a caller gets for a tool its scopes do not allow:
	// "notFound" (the default: indistinguishable from a missing tool) or
	// "stepUp" (403 insufficient_scope with the scopes needed).
	HiddenTools string `yaml:"hiddenTools"`
}

// RateLimits selects where rate-limit counters live.
type RateLimits struct {
	Backend string `yaml:"backend"` // memory | redis
	Redis   struct {
		Addr        string `yaml:"addr"`
		PasswordEnv string `yaml:"passwordEnv"`
		OnError     string `yaml:"onError"` // closed | open
	} `yaml:"redis"`
}

// Tasks configures MCP tasks: tool calls that run in the background while
// the client polls for them.
type Tasks struct {
	// Backend is where task records live: memory (this process only) or
	// redis (shared, so that any replica answers for any task).
	Backend string     `yaml:"backend"`
	Redis   TasksRedis `yaml:"redis"`
	// DefaultTTL is how long a task and its result are kept after it was
	// created when the client asks for no TTL (1h); MaxTTL caps what a
	// client may ask for (24h).
	DefaultTTL capabilities.Duration `yaml:"defaultTTL"`
	MaxTTL     capabilities.Duration `yaml:"maxTTL"`
	// MaxOpenPerSubject caps the tasks one subject may have working at
	// once (16).
	MaxOpenPerSubject int `yaml:"maxOpenPerSubject"`
	// PollInterval is the interval suggested to clients between two
	// tasks/get (1s).
	PollInterval capabilities.Duration `yaml:"pollInterval"`
}

// TasksRedis is the Redis server of the redis task backend.
type TasksRedis struct {
	Addr     string `yaml:"addr"`
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the password, so
	// that no secret is written in the file.
	PasswordEnv string `yaml:"passwordEnv"`
	DB          int    `yaml:"db"`
	KeyPrefix   string `yaml:"keyPrefix"`
}

// Audit configures the audit log.
type Audit struct {
	Path string `yaml:"path"` // a file, or "-" for standard output
}

// Telemetry configures OpenTelemetry export.
type Telemetry struct {
	OTLP struct {
		Endpoint string            `yaml:"endpoint"`
		Headers  map[string]string `yaml:"headers"`
		Sampling *float64          `yaml:"sampling"`
	} `yaml:"otlp"`
}

// Admin configures the operator listener.
type Admin struct {
	Listen string `yaml:"listen"`
}

// Limits are host-wide bounds.
type Limits struct {
	Concurrency          int               `yaml:"concurrency"`
	PerPluginConcurrency int               `yaml:"perPluginConcurrency"`
	Queue                int               `yaml:"queue"`
	MaxBody              capabilities.Size `yaml:"maxBody"`
	// Prewarm is how many instances per plugin are made ahead of calls
	// (each is new to the call it serves); nil means the default, 0
	// disables.
	Prewarm *int `yaml:"prewarm"`
	// MemoryImages starts calls from a copy of an image of the
	// initialised module, and resets instances to it for later calls
	// (nil: on); false runs every plugin's initialiser in every call, for
	// plugins that draw values in it that must differ per call.
	MemoryImages *bool `yaml:"memoryImages"`
	// RecycleInstances resets an instance to the memory image after a
	// clean call and uses it for a later one (nil: on); false makes a new
	// instance for every call.
	RecycleInstances *bool               `yaml:"recycleInstances"`
	Ceilings         capabilities.Limits `yaml:"ceilings"`
}

// Plugin is one served plugin.
type Plugin struct {
	Name      string          `yaml:"name"`
	Grant     string          `yaml:"grant"`
	Scopes    []string        `yaml:"scopes"`
	Tools     map[string]Tool `yaml:"tools"`
	Expose    []string        `yaml:"expose"`
	RateLimit string          `yaml:"rateLimit"`
	Probe     *Probe          `yaml:"probe"`

	line int
}

// Probe is a plugin's health check for /readyz?deep=1.
type Probe struct {
	Tool      string         `yaml:"tool"`
	Arguments map[string]any `yaml:"arguments"`
}

// Tool holds the operator's overrides for one tool.
type Tool struct {
	Scopes      []string        `yaml:"scopes"`
	Title       string          `yaml:"title"`
	Description string          `yaml:"description"`
	Annotations ToolAnnotations `yaml:"annotations"`
}

// ToolAnnotations are the hints the operator vouches for.
type ToolAnnotations struct {
	ReadOnlyHint    *bool `yaml:"readOnlyHint"`
	DestructiveHint *bool `yaml:"destructiveHint"`
	IdempotentHint  *bool `yaml:"idempotentHint"`
	OpenWorldHint   *bool `yaml:"openWorldHint"`
}

// Error is one problem in the file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		return loc + ": " + e.Field + ": " + e.Msg
	}
	return loc + ": " + e.Msg
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the individual errors.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Load reads, resolves and validates the config at path. Environment
// variables override single values (see Overrides).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	}
	return Parse(path, data, os.LookupEnv)
}

// Overrides lists the environment variables that replace a value of the
// file, for containers and CI.
var Overrides = map[string]string{
	"WARDEN_LISTEN":          "listen",
	"WARDEN_ENDPOINT":        "endpoint",
	"WARDEN_STORE":           "store",
	"WARDEN_LOCKFILE":        "lockfile",
	"WARDEN_ALLOWED_ORIGINS": "allowedOrigins (comma-separated)",
	"WARDEN_ADMIN_LISTEN":    "admin.listen",
	"WARDEN_LOG_LEVEL":       "logLevel",
}

// Parse decodes data (the contents of file) and validates it. lookupEnv
// supplies the overrides; nil means none.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty; want apiVersion: warden.dev/v1, kind: Host"}
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	if dec.Decode(&extra) == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document; want exactly one"}
	}
	if l := aliasLine(&root); l > 0 {
		return nil, &Error{File: file, Line: l, Msg: "YAML anchors and aliases are not allowed"}
	}
	var c Config
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&c); err != nil {
		return nil, yamlError(file, err)
	}
	c.File = file
	c.Dir = filepath.Dir(file)
	lines := map[string]int{}
	index(&root, "", lines)
	for i := range c.Plugins {
		c.Plugins[i].line = lines[fmt.Sprintf("plugins[%d]", i)]
	}
	if lookupEnv != nil {
		c.applyEnv(lookupEnv)
	}
	c.defaults()
	if errs := c.validate(lines); len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	c.resolvePaths()
	return &c, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+): (.*)`)

func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs Errors
		for _, m := range te.Errors {
			errs = append(errs, lineError(file, m))
		}
		return errs
	}
	return lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func lineError(file, msg string) *Error {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		msg = m[2]
		msg = strings.Replace(msg, "not found in type config.", "is not a known key in ", 1)
		return &Error{File: file, Line: n, Msg: msg}
	}
	return &Error{File: file, Msg: msg}
}

func aliasLine(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n.Line
	}
	for _, c := range n.Content {
		if l := aliasLine(c); l > 0 {
			return l
		}
	}
	return 0
}

// index records the line of every field path ("plugins[0].grant").
func index(n *yaml.Node, path string, lines map[string]int) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			index(c, path, lines)
		}
		return
	}
	if path != "" {
		lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if path != "" {
				p = path + "." + k
			}
			lines[p] = n.Content[i].Line
			index(n.Content[i+1], p, lines)
			lines[p] = n.Content[i].Line
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			index(c, fmt.Sprintf("%s[%d]", path, i), lines)
		}
	}
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) {
	set := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	set("WARDEN_LISTEN", &c.Listen)
	set("WARDEN_ENDPOINT", &c.Endpoint)
	set("WARDEN_STORE", &c.Store)
	set("WARDEN_LOCKFILE", &c.Lockfile)
	set("WARDEN_ADMIN_LISTEN", &c.Admin.Listen)
	set("WARDEN_LOG_LEVEL", &c.LogLevel)
	if v, ok := lookup("WARDEN_ALLOWED_ORIGINS"); ok && v != "" {
		c.AllowedOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, o)
			}
		}
	}
}

func (c *Config) defaults() {
	def := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.Endpoint, "/mcp")
	def(&c.Store, "./.warden/store")
	def(&c.Lockfile, "./warden.lock")
	def(&c.Auth.Mode, "none")
	def(&c.Admin.Listen, "127.0.0.1:9091")
	def(&c.LogLevel, "info")
	if c.Limits.Concurrency == 0 {
		c.Limits.Concurrency = 64
	}
	if c.Limits.PerPluginConcurrency == 0 {
		c.Limits.PerPluginConcurrency = min(16, c.Limits.Concurrency)
	}
	if c.Limits.Queue == 0 {
		c.Limits.Queue = 128
	}
	if c.Limits.MaxBody == 0 {
		c.Limits.MaxBody = 4 << 20
	}
	def(&c.Tasks.Backend, "memory")
	if c.Tasks.DefaultTTL == 0 {
		c.Tasks.DefaultTTL = capabilities.Duration(time.Hour)
	}
	if c.Tasks.MaxTTL == 0 {
		c.Tasks.MaxTTL = capabilities.Duration(24 * time.Hour)
	}
	if c.Tasks.MaxOpenPerSubject == 0 {
		c.Tasks.MaxOpenPerSubject = 16
	}
	if c.Tasks.PollInterval == 0 {
		c.Tasks.PollInterval = capabilities.Duration(time.Second)
	}
}

var (
	pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	digestRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	rateRE       = regexp.MustCompile(`^[1-9][0-9]*/(s|m|h)$`)
)

func (c *Config) validate(lines map[string]int) Errors {
	var errs Errors
	bad := func(field, format string, a ...any) {
		errs = append(errs, &Error{File: c.File, Line: lineOf(lines, field), Field: field, Msg: fmt.Sprintf(format, a...)})
	}
	if c.APIVersion != capabilities.APIVersion {
		bad("apiVersion", "is %q; want %q", c.APIVersion, capabilities.APIVersion)
	}
	if c.Kind != "Host" {
		bad("kind", "is %q; want Host", c.Kind)
	}
	for _, hp := range []struct{ field, v string }{{"listen", c.Listen}, {"admin.listen", c.Admin.Listen}} {
		if _, port, err := net.SplitHostPort(hp.v); err != nil || port == "" {
			bad(hp.field, "%q is not host:port (e.g. 127.0.0.1:8080)", hp.v)
		}
	}
	if !strings.HasPrefix(c.Endpoint, "/") || strings.ContainsAny(c.Endpoint, "?# ") {
		bad("endpoint", "%q must be a path starting with /", c.Endpoint)
	}
	switch {
	case c.Endpoint == "/healthz", c.Endpoint == "/readyz", c.Endpoint == "/metrics", strings.HasPrefix(c.Endpoint, "/.well-known/"):
		bad("endpoint", "%q is reserved for the host's own endpoints", c.Endpoint)
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad(fmt.Sprintf("allowedOrigins[%d]", i), "%q is not an origin; want scheme://host[:port], e.g. http://localhost:6274", o)
		}
	}
	if c.TLS != nil && (c.TLS.Cert == "" || c.TLS.Key == "") {
		bad("tls", "needs both cert and key")
	}
	switch c.Auth.Mode {
	case "none":
	case "jwt":
		if c.Auth.Issuer == "" {
			bad("auth.issuer", "is required with mode jwt (the token issuer, e.g. https://id.example.com)")
		}
		if c.Auth.Audience == "" {
			bad("auth.audience", "is required with mode jwt (this server's canonical resource URI, e.g. https://mcp.example.com/mcp)")
		}
		if (c.Auth.JWKSURL == "") == (c.Auth.JWKSFile == "") {
			bad("auth", "with mode jwt, set exactly one of jwksURL and jwksFile")
		}
	default:
		bad("auth.mode", "is %q; want none or jwt", c.Auth.Mode)
	}
	switch c.Auth.HiddenTools {
	case "", "notFound", "stepUp":
	default:
		bad("auth.hiddenTools", "is %q; want notFound or stepUp", c.Auth.HiddenTools)
	}
	switch c.RateLimits.Backend {
	case "", "memory":
	case "redis":
		if c.RateLimits.Redis.Addr == "" {
			bad("rateLimits.redis.addr", "is required with backend redis (host:port)")
		}
	default:
		bad("rateLimits.backend", "is %q; want memory or redis", c.RateLimits.Backend)
	}
	switch c.RateLimits.Redis.OnError {
	case "", "closed", "open":
	default:
		bad("rateLimits.redis.onError", "is %q; want closed (refuse calls while Redis is down) or open (allow them)", c.RateLimits.Redis.OnError)
	}
	switch c.Tasks.Backend {
	case "memory":
	case "redis":
		if c.Tasks.Redis.Addr == "" {
			bad("tasks.redis.addr", "is required with backend redis (host:port)")
		} else if _, port, err := net.SplitHostPort(c.Tasks.Redis.Addr); err != nil || port == "" {
			bad("tasks.redis.addr", "%q is not host:port (e.g. 127.0.0.1:6379)", c.Tasks.Redis.Addr)
		}
	default:
		bad("tasks.backend", "is %q; want memory (one replica) or redis (several replicas share task records)", c.Tasks.Backend)
	}
	if c.Tasks.Redis.DB < 0 {
		bad("tasks.redis.db", "is %d; want a database number, 0 or more", c.Tasks.Redis.DB)
	}
	switch t := c.Tasks; {
	case t.DefaultTTL < capabilities.Duration(time.Second):
		bad("tasks.defaultTTL", "is %s; want at least 1s", t.DefaultTTL)
	case t.MaxTTL < t.DefaultTTL:
		bad("tasks.maxTTL", "is %s, shorter than tasks.defaultTTL (%s)", t.MaxTTL, t.DefaultTTL)
	}
	if c.Tasks.MaxOpenPerSubject < 1 {
		bad("tasks.maxOpenPerSubject", "is %d; want at least 1", c.Tasks.MaxOpenPerSubject)
	}
	if p := c.Tasks.PollInterval; p < capabilities.Duration(10*time.Millisecond) || p > capabilities.Duration(time.Minute) {
		bad("tasks.pollInterval", "is %s; want 10ms to 1m", p)
	}
	if s := c.Telemetry.OTLP.Sampling; s != nil && (*s < 0 || *s > 1) {
		bad("telemetry.otlp.sampling", "is %v; want a ratio between 0 and 1", *s)
	}
	for i, d := range c.Deny {
		if !digestRE.MatchString(d) {
			bad(fmt.Sprintf("deny[%d]", i), "%q is not a digest; want sha256: followed by 64 lower-case hex digits", d)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", "is %q; want debug, info, warn or error", c.LogLevel)
	}
	if c.Limits.Concurrency < 1 || c.Limits.PerPluginConcurrency < 1 || c.Limits.Queue < 0 {
		bad("limits", "concurrency and perPluginConcurrency must be at least 1 and queue at least 0")
	} else if c.Limits.Prewarm != nil && (*c.Limits.Prewarm < 0 || *c.Limits.Prewarm > 64) {
		bad("limits.prewarm", "is %d; want 0 (off) to 64", *c.Limits.Prewarm)
	} else if c.Limits.PerPluginConcurrency > c.Limits.Concurrency {
		bad("limits.perPluginConcurrency", "is %d, more than limits.concurrency (%d)", c.Limits.PerPluginConcurrency, c.Limits.Concurrency)
	}
	names := map[string]bool{}
	for i, p := range c.Plugins {
		f := fmt.Sprintf("plugins[%d]", i)
		if !pluginNameRE.MatchString(p.Name) {
			bad(f+".name", "%q: want 1-63 lower-case letters, digits, '_' or '-' (no '.', which separates plugin and tool)", p.Name)
		}
		if names[p.Name] {
			bad(f+".name", "%q is listed twice", p.Name)
		}
		names[p.Name] = true
		if p.RateLimit != "" && !rateRE.MatchString(p.RateLimit) {
			bad(f+".rateLimit", "%q: want N/s, N/m or N/h, e.g. 60/m", p.RateLimit)
		}
		if (len(p.Scopes) > 0 || hasToolScopes(p)) && c.Auth.Mode == "none" {
			bad(f+".scopes", "scopes need authentication; with auth.mode none nobody has any and every caller would see every tool")
		}
		if p.Probe != nil && p.Probe.Tool == "" {
			bad(f+".probe.tool", "is required: the tool the probe calls")
		}
		seen := map[string]bool{}
		for j, e := range p.Expose {
			if seen[e] {
				bad(fmt.Sprintf("%s.expose[%d]", f, j), "%q is listed twice", e)
			}
			seen[e] = true
		}
	}
	return errs
}

func hasToolScopes(p Plugin) bool {
	for _, t := range p.Tools {
		if len(t.Scopes) > 0 {
			return true
		}
	}
	return false
}

func lineOf(lines map[string]int, field string) int {
	for field != "" {
		if l, ok := lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return 0
		}
		field = field[:i]
	}
	return 0
}

func (c *Config) resolvePaths() {
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	c.Store = abs(c.Store)
	c.Lockfile = abs(c.Lockfile)
	if c.TLS != nil {
		c.TLS.Cert, c.TLS.Key = abs(c.TLS.Cert), abs(c.TLS.Key)
	}
	for i := range c.Plugins {
		c.Plugins[i].Grant = abs(c.Plugins[i].Grant)
	}
	c.Auth.JWKSFile = abs(c.Auth.JWKSFile)
	if c.Audit.Path != "-" {
		c.Audit.Path = abs(c.Audit.Path)
	}
}

// IsLoopback reports whether addr (host:port) listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
