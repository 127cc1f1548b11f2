package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenmcp/warden/capabilities"
	"github.com/wardenmcp/warden/capabilities/netguard"
)

// SandboxFromGrant builds the sandbox for calls of plugin under grant g: its
// limits, a network client that enforces its allow-list, its mounts, and its
// secrets resolved now from providers (values are never logged). A nil grant
// grants nothing. Close the sandbox to release its network connections.
//
// netOpts are passed to the network guard (tests inject a resolver and a
// dialer that touch nothing but loopback).
func (r *Runtime) SandboxFromGrant(ctx context.Context, plugin string, g *capabilities.Grant, providers capabilities.Providers, netOpts ...netguard.Option) (*Sandbox, error) {
	if g == nil {
		g = &capabilities.Grant{}
	}
	if g.Plugin != "" && g.Plugin != plugin {
		return nil, fmt.Errorf("the grant is for plugin %q, not %q", g.Plugin, plugin)
	}
	limits := r.EffectiveLimits(g.Limits)
	sb := &Sandbox{Limits: limits}
	if len(g.Network.Allow) > 0 {
		c, err := netguard.New(netguard.Policy{
			Plugin:           plugin,
			Rules:            g.Network.Allow,
			MaxResponseBytes: int64(limits.HTTPResponse),
			Timeout:          time.Duration(limits.HTTPTimeout),
		}, netOpts...)
		if err != nil {
			return nil, fmt.Errorf("network grant of %s: %w", plugin, err)
		}
		sb.HTTP = guardedHTTP{c}
		sb.closers = append(sb.closers, c.Close)
	}
	for _, m := range g.Filesystem {
		sb.Mounts = append(sb.Mounts, Mount{Host: m.Host, Guest: m.Guest, ReadOnly: !m.Writable()})
	}
	if len(g.Secrets) > 0 {
		values, err := capabilities.ResolveSecrets(ctx, g, providers)
		if err != nil {
			sb.Close()
			return nil, err
		}
		sb.Config = make(map[string]string, len(values))
		for k, v := range values {
			sb.Config[k] = v
		}
		sb.Redactor = g.Redactor(values)
	}
	return sb, nil
}

// guardedHTTP adapts the network guard to the runtime's HTTPClient.
type guardedHTTP struct{ c *netguard.Client }

func (g guardedHTTP) Do(ctx context.Context, req *HTTPRequest) (*HTTPResponse, error) {
	resp, err := g.c.Do(ctx, &netguard.Request{Method: req.Method, URL: req.URL, Header: req.Header, Body: req.Body})
	if err != nil {
		if errors.Is(err, netguard.ErrDenied) {
			return nil, deniedError{err}
		}
		return nil, err
	}
	return &HTTPResponse{Status: resp.Status, Header: resp.Header, Body: resp.Body}, nil
}

// deniedError marks a guard refusal as ErrDenied while keeping the guard's
// own message, which says what was asked for and what the grant allows.
type deniedError struct{ err error }

func (e deniedError) Error() string        { return e.err.Error() }
func (e deniedError) Unwrap() error        { return e.err }
func (e deniedError) Is(target error) bool { return target == ErrDenied }
