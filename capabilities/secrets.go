package capabilities

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// SecretProvider resolves a secret reference to its value. ref is the part
// of a grant's "from" after the scheme: for "env:GITHUB_TOKEN" the env
// provider receives "GITHUB_TOKEN". Errors must never contain the value.
type SecretProvider interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// Providers maps a "from" scheme ("env", "file", later perhaps "vault") to
// the provider that resolves it.
type Providers map[string]SecretProvider

// DefaultProviders returns the providers for the schemes grants accept:
// "env" (EnvProvider) and "file" (FileProvider).
func DefaultProviders() Providers {
	return Providers{"env": EnvProvider{}, "file": FileProvider{}}
}

// EnvProvider resolves "env:NAME" from the host's environment. An unset or
// empty variable is an error.
type EnvProvider struct {
	// Lookup replaces os.LookupEnv when set (for tests).
	Lookup func(name string) (string, bool)
}

// Resolve returns the value of the environment variable ref.
func (p EnvProvider) Resolve(ctx context.Context, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !identifierRE.MatchString(ref) {
		return "", fmt.Errorf("%q is not an environment variable name", ref)
	}
	lookup := p.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(ref)
	switch {
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set", ref)
	case v == "":
		return "", fmt.Errorf("environment variable %s is empty", ref)
	}
	return v, nil
}

// DefaultMaxSecretFile is the largest secret file FileProvider reads when
// MaxSize is zero.
const DefaultMaxSecretFile = 64 << 10

// FileProvider resolves "file:/path" by reading the file. One trailing
// newline ("\n" or "\r\n") is removed, so files written by editors and
// `echo` work. Files that are not regular, are empty, or are larger than
// MaxSize are refused.
type FileProvider struct {
	// MaxSize caps the file's size in bytes; 0 means DefaultMaxSecretFile.
	MaxSize int64
}

// Resolve returns the contents of the file at the absolute path ref.
func (p FileProvider) Resolve(ctx context.Context, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !filepath.IsAbs(ref) {
		return "", fmt.Errorf("%s is not an absolute path", safeText(ref))
	}
	limit := p.MaxSize
	if limit <= 0 {
		limit = DefaultMaxSecretFile
	}
	f, err := os.Open(ref)
	if err != nil {
		return "", pathError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", pathError(err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", ref)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return "", fmt.Errorf("reading %s failed", ref)
	}
	if int64(len(data)) > limit {
		return "", fmt.Errorf("%s is larger than %d bytes", ref, limit)
	}
	v := string(data)
	if s, ok := strings.CutSuffix(v, "\n"); ok {
		v = strings.TrimSuffix(s, "\r")
	}
	if v == "" {
		return "", fmt.Errorf("%s is empty", ref)
	}
	return v, nil
}

// pathError keeps an *os.PathError's operation, path and cause; those never
// include file contents.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

// SecretError reports that one granted secret could not be resolved.
type SecretError struct {
	// Name is the secret's name in the grant; From its source.
	Name, From string
	// Err is the provider's error.
	Err error
}

// Error names the secret and its source, and says why it failed.
func (e *SecretError) Error() string {
	return fmt.Sprintf("secret %s (from %s): %v", e.Name, e.From, e.Err)
}

// Unwrap returns the provider's error.
func (e *SecretError) Unwrap() error { return e.Err }

// ResolveSecrets resolves every secret the grant names through the provider
// registered for its source's scheme and returns the values by secret name.
// If any secret fails, it returns no values and an error joining a
// *SecretError for each failure; the errors name the secret and its source
// but never a value. A nil grant or one without secrets yields an empty
// map.
func ResolveSecrets(ctx context.Context, g *Grant, p Providers) (map[string]string, error) {
	values := map[string]string{}
	if g == nil {
		return values, nil
	}
	var errs []error
	for _, s := range g.Secrets {
		scheme, ref, ok := strings.Cut(s.From, ":")
		prov := p[scheme]
		var (
			v   string
			err error
		)
		switch {
		case !ok:
			err = errors.New("the source has no scheme (want env:NAME or file:/path)")
		case prov == nil:
			err = fmt.Errorf("no secret provider is configured for %q", scheme+":")
		default:
			v, err = prov.Resolve(ctx, ref)
			if err == nil && v == "" {
				err = errors.New("the value is empty")
			}
		}
		if err != nil {
			if v != "" && strings.Contains(err.Error(), v) {
				err = errors.New("the provider failed (its error mentioned the value and was withheld)")
			}
			errs = append(errs, &SecretError{Name: s.Name, From: s.From, Err: err})
			continue
		}
		values[s.Name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return values, nil
}
