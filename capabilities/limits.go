package capabilities

import "time"

// Limits are the resources one call of a plugin may use. A zero field means
// "not set": the host's default applies (see WithDefaults).
type Limits struct {
	// Memory caps the plugin's linear memory. WebAssembly memory grows in
	// 64KiB pages, so the effective cap is rounded up to a whole page.
	Memory Size `yaml:"memory,omitempty" json:"memory,omitempty"`
	// Timeout bounds one tool call, from instantiation to result.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Output caps the size of the tool's result.
	Output Size `yaml:"output,omitempty" json:"output,omitempty"`
	// HTTPResponse caps the body of each HTTP response the plugin receives.
	HTTPResponse Size `yaml:"httpResponse,omitempty" json:"httpResponse,omitempty"`
	// HTTPTimeout bounds each HTTP request the plugin makes.
	HTTPTimeout Duration `yaml:"httpTimeout,omitempty" json:"httpTimeout,omitempty"`
	// TaskTimeout bounds a call that runs as a long-running MCP task.
	TaskTimeout Duration `yaml:"taskTimeout,omitempty" json:"taskTimeout,omitempty"`
}

// DefaultLimits are the limits that apply when neither the grant nor the
// host configuration sets one.
var DefaultLimits = Limits{
	Memory:       64 << 20,
	Timeout:      Duration(10 * time.Second),
	Output:       1 << 20,
	HTTPResponse: 10 << 20,
	HTTPTimeout:  Duration(10 * time.Second),
	TaskTimeout:  Duration(10 * time.Minute),
}

// MaxLimits are host-wide ceilings: a grant may ask for more, but Clamp
// brings it down to these, and Lint warns about it.
var MaxLimits = Limits{
	Memory:       1 << 30,
	Timeout:      Duration(5 * time.Minute),
	Output:       16 << 20,
	HTTPResponse: 256 << 20,
	HTTPTimeout:  Duration(5 * time.Minute),
	TaskTimeout:  Duration(24 * time.Hour),
}

// reviewLimits are the values above which Lint asks a reviewer whether a
// limit is really needed; they are well under MaxLimits.
var reviewLimits = Limits{
	Memory:       256 << 20,
	Timeout:      Duration(time.Minute),
	Output:       8 << 20,
	HTTPResponse: 64 << 20,
	HTTPTimeout:  Duration(time.Minute),
	TaskTimeout:  Duration(time.Hour),
}

// hardMemoryLimit is the most memory a 32-bit WebAssembly module can address.
const hardMemoryLimit Size = 4 << 30

// wasmPage is the size of one WebAssembly memory page.
const wasmPage Size = 64 << 10

// WithDefaults returns l with every unset (zero) field taken from def.
func (l Limits) WithDefaults(def Limits) Limits {
	if l.Memory == 0 {
		l.Memory = def.Memory
	}
	if l.Timeout == 0 {
		l.Timeout = def.Timeout
	}
	if l.Output == 0 {
		l.Output = def.Output
	}
	if l.HTTPResponse == 0 {
		l.HTTPResponse = def.HTTPResponse
	}
	if l.HTTPTimeout == 0 {
		l.HTTPTimeout = def.HTTPTimeout
	}
	if l.TaskTimeout == 0 {
		l.TaskTimeout = def.TaskTimeout
	}
	return l
}

// Clamp returns l with every field lowered to the matching field of ceiling
// where l exceeds it. A zero field in ceiling imposes no ceiling; a zero
// field in l stays zero.
func (l Limits) Clamp(ceiling Limits) Limits {
	l.Memory = minSize(l.Memory, ceiling.Memory)
	l.Timeout = minDuration(l.Timeout, ceiling.Timeout)
	l.Output = minSize(l.Output, ceiling.Output)
	l.HTTPResponse = minSize(l.HTTPResponse, ceiling.HTTPResponse)
	l.HTTPTimeout = minDuration(l.HTTPTimeout, ceiling.HTTPTimeout)
	l.TaskTimeout = minDuration(l.TaskTimeout, ceiling.TaskTimeout)
	return l
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

func minSize(v, ceiling Size) Size {
	if ceiling > 0 && v > ceiling {
		return ceiling
	}
	return v
}

func minDuration(v, ceiling Duration) Duration {
	if ceiling > 0 && v > ceiling {
		return ceiling
	}
	return v
}

// limitField describes one field of Limits for the code that treats them
// all alike (parsing, lint, diff).
type limitField struct {
	name     string
	size     func(*Limits) *Size
	duration func(*Limits) *Duration
}

var limitFields = []limitField{
	{name: "memory", size: func(l *Limits) *Size { return &l.Memory }},
	{name: "timeout", duration: func(l *Limits) *Duration { return &l.Timeout }},
	{name: "output", size: func(l *Limits) *Size { return &l.Output }},
	{name: "httpResponse", size: func(l *Limits) *Size { return &l.HTTPResponse }},
	{name: "httpTimeout", duration: func(l *Limits) *Duration { return &l.HTTPTimeout }},
	{name: "taskTimeout", duration: func(l *Limits) *Duration { return &l.TaskTimeout }},
}

// value returns the field of l as an int64 and its String form.
func (f limitField) value(l *Limits) (int64, string) {
	if f.size != nil {
		v := *f.size(l)
		return int64(v), v.String()
	}
	v := *f.duration(l)
	return int64(v), v.String()
}
