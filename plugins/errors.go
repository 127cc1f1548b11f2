package plugins

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors that a *CallError or *LoadError matches with errors.Is.
var (
	// ErrTimeout: the call passed its deadline and the guest was stopped.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrMemoryLimit: the guest (or the host memory it used) passed the memory cap.
	ErrMemoryLimit = errors.New("plugin exceeded its memory limit")
	// ErrOutputLimit: the guest produced more output than allowed.
	ErrOutputLimit = errors.New("plugin output exceeded its limit")
	// ErrTrap: the guest trapped (unreachable, bad memory access, stack overflow, exit).
	ErrTrap = errors.New("plugin trapped")
	// ErrPluginFailed: the guest export returned a non-zero status.
	ErrPluginFailed = errors.New("plugin reported a failure")
	// ErrDenied: the guest asked for a capability its grant does not give.
	ErrDenied = errors.New("plugin asked for a capability it was not granted")
	// ErrHTTPFailed: an outbound request the grant allowed failed (refused
	// connection, TLS error, response too large, timeout).
	ErrHTTPFailed = errors.New("plugin HTTP request failed")
	// ErrBadOutput: the guest's output is not the JSON the ABI requires.
	ErrBadOutput = errors.New("plugin returned malformed output")
	// ErrUnknownTool: no tool of that name is exported by the plugin.
	ErrUnknownTool = errors.New("unknown tool")
	// ErrBadArguments: the tool arguments are not a JSON object.
	ErrBadArguments = errors.New("invalid tool arguments")
	// ErrCanceled: the caller went away before the call finished.
	ErrCanceled = errors.New("plugin call canceled")
	// ErrBusy: too many calls are running and waiting; retry after
	// CallError.RetryAfter.
	ErrBusy = errors.New("too many plugin calls in progress")
	// ErrInvalidModule: the bytes are not a usable plugin module.
	ErrInvalidModule = errors.New("invalid plugin module")
	// ErrInvalidTool: a tool definition from the plugin was refused at load.
	ErrInvalidTool = errors.New("invalid tool definition")
)

// CallError describes why one plugin call produced no result. Its message
// says what happened in terms an operator can act on; Kind is one of the
// sentinel errors above, so errors.Is(err, plugins.ErrTimeout) works.
type CallError struct {
	Plugin string
	Tool   string
	Kind   error
	Detail string
	Err    error // the underlying cause, when there is one
	// RetryAfter, for ErrBusy, is how long the caller should wait before
	// trying again.
	RetryAfter time.Duration
}

func (e *CallError) Error() string {
	where := e.Plugin
	if e.Tool != "" {
		where += "." + e.Tool
	}
	msg := fmt.Sprintf("%s: %v", where, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the kind and the cause, so errors.Is matches either.
func (e *CallError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// LoadError describes why a module could not be loaded as a plugin.
type LoadError struct {
	Plugin string
	Kind   error
	Detail string
	Err    error
}

func (e *LoadError) Error() string {
	msg := fmt.Sprintf("load plugin %s: %v", e.Plugin, e.Kind)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the kind and the cause.
func (e *LoadError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}
