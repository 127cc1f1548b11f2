package capabilities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnvProvider(t *testing.T) {
	env := map[string]string{"SET": "s3cret", "EMPTY": ""}
	p := EnvProvider{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	ctx := context.Background()
	if v, err := p.Resolve(ctx, "SET"); err != nil || v != "s3cret" {
		t.Errorf("SET: %q, %v", v, err)
	}
	for ref, want := range map[string]string{
		"UNSET": "environment variable UNSET is not set",
		"EMPTY": "environment variable EMPTY is empty",
		"A-B":   `"A-B" is not an environment variable name`,
	} {
		if _, err := p.Resolve(ctx, ref); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", ref, err, want)
		}
	}
	t.Setenv("WARDEN_TEST_SECRET", "from-os")
	if v, err := (EnvProvider{}).Resolve(ctx, "WARDEN_TEST_SECRET"); err != nil || v != "from-os" {
		t.Errorf("os env: %q, %v", v, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Resolve(cancelled, "SET"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestFileProvider(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	good := []struct{ content, want string }{
		{"key", "key"},
		{"key\n", "key"},
		{"key\r\n", "key"},
		{"key\n\n", "key\n"},
		{"multi\nline\n", "multi\nline"},
		{" spaced ", " spaced "},
	}
	for i, tt := range good {
		p := write("good"+string(rune('a'+i)), tt.content)
		if v, err := (FileProvider{}).Resolve(ctx, p); err != nil || v != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.content, v, err, tt.want)
		}
	}
	big := write("big", strings.Repeat("x", 11))
	empty := write("empty", "\n")
	bad := []struct {
		p    FileProvider
		ref  string
		want string
	}{
		{FileProvider{MaxSize: 10}, big, big + " is larger than 10 bytes"},
		{FileProvider{}, empty, empty + " is empty"},
		{FileProvider{}, dir, dir + " is not a regular file"},
		{FileProvider{}, filepath.Join(dir, "missing"), "open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{FileProvider{}, "relative/key", "relative/key is not an absolute path"},
	}
	for _, tt := range bad {
		_, err := tt.p.Resolve(ctx, tt.ref)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: %v; want %s", tt.ref, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "xxxxxxxxxxx") {
			t.Errorf("error leaks file contents: %v", err)
		}
	}
	if v, err := (FileProvider{MaxSize: 11}).Resolve(ctx, big); err != nil || len(v) != 11 {
		t.Errorf("exactly MaxSize: %d, %v", len(v), err)
	}
}

type leakyProvider struct{}

func (leakyProvider) Resolve(ctx context.Context, ref string) (string, error) {
	return "", errors.New("vault said no for " + ref)
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key")
	if err := os.WriteFile(keyPath, []byte("file-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WARDEN_TOKEN": "env-value"}
	providers := Providers{
		"env":  EnvProvider{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		"file": FileProvider{},
	}
	ctx := context.Background()

	g := mustGrant(t, "secrets:\n  - {name: TOKEN, from: env:WARDEN_TOKEN}\n  - {name: KEY, from: 'file:"+keyPath+"'}\n")
	got, err := ResolveSecrets(ctx, g, providers)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["TOKEN"] != "env-value" || got["KEY"] != "file-value" {
		t.Errorf("got %v", got)
	}

	bad := mustGrant(t, "secrets:\n  - {name: TOKEN, from: env:WARDEN_TOKEN}\n  - {name: MISSING, from: env:WARDEN_MISSING}\n  - {name: GONE, from: 'file:/nonexistent/key'}\n")
	got, err = ResolveSecrets(ctx, bad, providers)
	if got != nil {
		t.Errorf("values returned despite errors: %v", got)
	}
	want := "secret MISSING (from env:WARDEN_MISSING): environment variable WARDEN_MISSING is not set\n" +
		"secret GONE (from file:/nonexistent/key): open /nonexistent/key: no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "env-value") {
		t.Error("error contains a secret value")
	}
	var se *SecretError
	if !errors.As(err, &se) || se.Name != "MISSING" {
		t.Errorf("errors.As(*SecretError): %+v", se)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Error("errors.Is(os.ErrNotExist) through SecretError")
	}

	// A grant built in code may name a scheme with no provider.
	coded := &Grant{Secrets: []Secret{{Name: "V", From: "vault:kv/x"}, {Name: "N", From: "noscheme"}}}
	_, err = ResolveSecrets(ctx, coded, providers)
	want = "secret V (from vault:kv/x): no secret provider is configured for \"vault:\"\n" +
		"secret N (from noscheme): the source has no scheme (want env:NAME or file:/path)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	providers["vault"] = leakyProvider{}
	_, err = ResolveSecrets(ctx, &Grant{Secrets: []Secret{{Name: "V", From: "vault:kv/x"}}}, providers)
	if err == nil || err.Error() != "secret V (from vault:kv/x): vault said no for kv/x" {
		t.Errorf("custom provider: %v", err)
	}

	if got, err := ResolveSecrets(ctx, nil, nil); err != nil || len(got) != 0 || got == nil {
		t.Errorf("nil grant: %v, %v", got, err)
	}
	if len(DefaultProviders()) != 2 {
		t.Error("DefaultProviders")
	}
}
