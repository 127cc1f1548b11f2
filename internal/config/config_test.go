package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const good = `apiVersion: warden.dev/v1
kind: Host
listen: 127.0.0.1:8080
endpoint: /mcp
allowedOrigins: [http://localhost:6274]
store: ./.warden/store
lockfile: ./warden.lock
deny: [sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]
limits: {concurrency: 8, perPluginConcurrency: 4, queue: 16, maxBody: 1MiB, prewarm: 2, memoryImages: false, recycleInstances: false, ceilings: {memory: 128MiB, timeout: 30s}}
plugins:
  - name: hello
    grant: grants/hello.yaml
    tools:
      greet: {description: "Say hello", annotations: {readOnlyHint: true}}
    expose: [greet]
`

func TestParseGood(t *testing.T) {
	c, err := Parse("/etc/warden/warden.yaml", []byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != filepath.Clean("/etc/warden/.warden/store") || c.Plugins[0].Grant != "/etc/warden/grants/hello.yaml" {
		t.Errorf("paths not resolved: %q %q", c.Store, c.Plugins[0].Grant)
	}
	if c.Limits.MaxBody != 1<<20 || c.Limits.Ceilings.Memory != 128<<20 || *c.Limits.Prewarm != 2 || *c.Limits.MemoryImages || *c.Limits.RecycleInstances {
		t.Errorf("limits = %+v", c.Limits)
	}
	if !*c.Plugins[0].Tools["greet"].Annotations.ReadOnlyHint {
		t.Error("annotation lost")
	}
	if c.Admin.Listen != "127.0.0.1:9091" || c.Auth.Mode != "none" {
		t.Errorf("defaults: %+v %+v", c.Admin, c.Auth)
	}
}

func TestTasksSection(t *testing.T) {
	c, err := Parse("w.yaml", []byte("apiVersion: warden.dev/v1\nkind: Host\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc := c.Tasks; tc.Backend != "memory" || tc.DefaultTTL.String() != "1h" || tc.MaxTTL.String() != "24h" || tc.MaxOpenPerSubject != 16 || tc.PollInterval.String() != "1s" {
		t.Errorf("task defaults: %+v", tc)
	}
	c, err = Parse("w.yaml", []byte(`apiVersion: warden.dev/v1
kind: Host
tasks:
  backend: redis
  redis: {addr: 127.0.0.1:6379, username: warden, passwordEnv: TASKS_PW, db: 2, keyPrefix: "w:"}
  defaultTTL: 30m
  maxTTL: 2h
  maxOpenPerSubject: 4
  pollInterval: 500ms
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc := c.Tasks; tc.Redis.Addr != "127.0.0.1:6379" || tc.Redis.PasswordEnv != "TASKS_PW" || tc.Redis.DB != 2 || tc.DefaultTTL.String() != "30m" ||
		tc.MaxOpenPerSubject != 4 || tc.PollInterval.String() != "500ms" {
		t.Errorf("tasks: %+v", tc)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := map[string]string{"WARDEN_LISTEN": "127.0.0.1:9999", "WARDEN_ALLOWED_ORIGINS": "http://a.test, https://b.test"}
	c, err := Parse("w.yaml", []byte(good), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || strings.Join(c.AllowedOrigins, " ") != "http://a.test https://b.test" {
		t.Errorf("overrides not applied: %q %q", c.Listen, c.AllowedOrigins)
	}
}

func TestParseErrors(t *testing.T) {
	base := "apiVersion: warden.dev/v1\nkind: Host\n"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "the file is empty"},
		{"wrong kind", "apiVersion: warden.dev/v1\nkind: Grant\n", "w.yaml:2: kind: is \"Grant\"; want Host"},
		{"unknown key", base + "listn: 1.2.3.4:80\n", "w.yaml:3: field listn is not a known key in Config"},
		{"bad listen", base + "listen: localhost\n", "w.yaml:3: listen: \"localhost\" is not host:port"},
		{"bad origin", base + "allowedOrigins: [localhost:6274]\n", "w.yaml:3: allowedOrigins[0]"},
		{"reserved endpoint", base + "endpoint: /healthz\n", "reserved"},
		{"jwt without issuer", base + "auth: {mode: jwt, audience: x, jwksFile: j}\n", "w.yaml:3: auth.issuer: is required"},
		{"jwt with both jwks", base + "auth: {mode: jwt, issuer: i, audience: a, jwksFile: j, jwksURL: https://x}\n", "exactly one of jwksURL and jwksFile"},
		{"bad hidden tools", base + "auth: {hiddenTools: maybe}\n", "want notFound or stepUp"},
		{"redis without addr", base + "rateLimits: {backend: redis}\n", "rateLimits.redis.addr: is required"},
		{"bad onError", base + "rateLimits: {backend: redis, redis: {addr: x:1, onError: maybe}}\n", "want closed"},
		{"bad tasks backend", base + "tasks: {backend: etcd}\n", "w.yaml:3: tasks.backend: is \"etcd\"; want memory"},
		{"tasks redis without addr", base + "tasks:\n  backend: redis\n", "w.yaml:3: tasks.redis.addr: is required with backend redis"},
		{"tasks redis bad addr", base + "tasks:\n  backend: redis\n  redis: {addr: localhost}\n", "w.yaml:5: tasks.redis.addr: \"localhost\" is not host:port"},
		{"tasks maxTTL under defaultTTL", base + "tasks:\n  defaultTTL: 2h\n  maxTTL: 1h\n", "w.yaml:5: tasks.maxTTL: is 1h, shorter than tasks.defaultTTL (2h)"},
		{"tasks poll interval", base + "tasks: {pollInterval: 1h}\n", "tasks.pollInterval: is 1h; want 10ms to 1m"},
		{"tasks max open", base + "tasks: {maxOpenPerSubject: -1}\n", "tasks.maxOpenPerSubject: is -1; want at least 1"},
		{"tasks unknown key", base + "tasks: {ttl: 1h}\n", "w.yaml:3: field ttl is not a known key"},
		{"bad sampling", base + "telemetry: {otlp: {endpoint: http://127.0.0.1:4318, sampling: 2}}\n", "between 0 and 1"},
		{"bad rate", base + "plugins:\n  - name: a\n    rateLimit: lots\n", "want N/s"},
		{"bad deny", base + "deny: [abc]\n", "w.yaml:3: deny[0]: \"abc\" is not a digest"},
		{"plugin name with dot", base + "plugins:\n  - name: a.b\n", "w.yaml:4: plugins[0].name"},
		{"duplicate plugin", base + "plugins:\n  - name: a\n  - name: a\n", "w.yaml:5: plugins[1].name: \"a\" is listed twice"},
		{"scopes without auth", base + "plugins:\n  - name: a\n    scopes: [x]\n", "scopes need authentication"},
		{"bad size", base + "limits: {maxBody: lots}\n", "w.yaml:3"},
		{"per plugin over total", base + "limits: {concurrency: 2, perPluginConcurrency: 3}\n", "more than limits.concurrency"},
		{"two documents", base + "---\nkind: Host\n", "more than one YAML document"},
		{"alias", base + "x: &a 1\n", "anchors and aliases"},
		{"not YAML", "{", "w.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tt.in), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestErrorsUnwrap(t *testing.T) {
	_, err := Parse("w.yaml", []byte("apiVersion: x\nkind: y\n"), nil)
	var list Errors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("err = %#v, want two errors", err)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 1 {
		t.Fatalf("errors.As(*Error) = %+v", one)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("apiVersion: warden.dev/v1\nkind: Host\nplugins: [{name: x}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b, nil)
		if err != nil {
			return
		}
		if c.Kind != "Host" || c.Endpoint == "" || c.Listen == "" {
			t.Fatalf("accepted an invalid config: %+v", c)
		}
		for _, p := range c.Plugins {
			if !pluginNameRE.MatchString(p.Name) {
				t.Fatalf("accepted plugin name %q", p.Name)
			}
		}
	})
}
