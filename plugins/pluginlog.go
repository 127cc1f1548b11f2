package plugins

import (
	"context"
	"log/slog"
	"strings"
	"unicode/utf8"
)

type logLevel int

const (
	levelTrace logLevel = iota
	levelDebug
	levelInfo
	levelWarn
	levelError
)

func (l logLevel) slog() slog.Level {
	switch l {
	case levelTrace:
		return slog.LevelDebug - 4
	case levelDebug:
		return slog.LevelDebug
	case levelInfo:
		return slog.LevelInfo
	case levelWarn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// DefaultLogBytes caps how much a plugin may log (log_* calls, stdout and
// stderr together) in one call.
const DefaultLogBytes = 64 << 10

// maxLogLine bounds a single message; longer ones are cut.
const maxLogLine = 4 << 10

// pluginLog is one call's plugin logger: messages are escaped (no control
// characters reach the operator's terminal or log parser), attributed to the
// plugin and tool, and capped in total size.
type pluginLog struct {
	ctx       context.Context
	logger    *slog.Logger // nil: discard
	min       slog.Level
	remaining int
	dropped   int
	attrs     []slog.Attr
	redactor  *strings.Replacer
}

func newPluginLog(ctx context.Context, sb *Sandbox, plugin, tool string) *pluginLog {
	l := &pluginLog{ctx: ctx, logger: sb.Log, min: sb.LogLevel, remaining: sb.LogBytes, redactor: sb.Redactor}
	if l.remaining <= 0 {
		l.remaining = DefaultLogBytes
	}
	l.attrs = []slog.Attr{slog.String("plugin", plugin)}
	if tool != "" {
		l.attrs = append(l.attrs, slog.String("tool", tool))
	}
	return l
}

// extismLevel is the value get_log_level reports: the lowest level that is
// recorded (0 trace … 4 error), or a large value when logging is off.
func (l *pluginLog) extismLevel() int32 {
	if l.logger == nil {
		return 0x7fffffff
	}
	for lv := levelTrace; lv <= levelError; lv++ {
		if lv.slog() >= l.min {
			return int32(lv)
		}
	}
	return 0x7fffffff
}

func (l *pluginLog) message(level logLevel, msg []byte) {
	l.record(level.slog(), "plugin log", msg)
}

func (l *pluginLog) record(level slog.Level, source string, msg []byte) {
	if l.logger == nil || level < l.min {
		return
	}
	if len(msg) > maxLogLine {
		msg = msg[:maxLogLine]
	}
	if len(msg) > l.remaining {
		l.dropped += len(msg)
		return
	}
	l.remaining -= len(msg)
	raw := string(msg)
	if l.redactor != nil {
		// Secrets never reach the operator's logs, even when the plugin
		// logs them itself.
		raw = l.redactor.Replace(raw)
	}
	text := escape([]byte(raw))
	l.logger.LogAttrs(l.ctx, level, source, append(l.attrs, slog.String("msg", text))...)
}

// finish reports how much was dropped, once, at the end of the call.
func (l *pluginLog) finish() {
	if l.logger != nil && l.dropped > 0 {
		l.logger.LogAttrs(l.ctx, slog.LevelWarn, "plugin log truncated", append(l.attrs, slog.Int("droppedBytes", l.dropped))...)
	}
}

// stream returns a writer for the guest's stdout or stderr that logs one
// record per line.
func (l *pluginLog) stream(name string, level slog.Level) *lineWriter {
	return &lineWriter{log: l, source: "plugin " + name, level: level}
}

type lineWriter struct {
	log    *pluginLog
	source string
	level  slog.Level
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := strings.IndexByte(string(p), '\n')
		if i < 0 {
			room := maxLogLine - len(w.buf)
			if room > len(p) {
				room = len(p)
			}
			w.buf = append(w.buf, p[:room]...)
			if len(w.buf) >= maxLogLine {
				w.flush()
			}
			p = p[room:]
			continue
		}
		w.buf = append(w.buf, p[:i]...)
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.log.record(w.level, w.source, w.buf)
	}
	w.buf = w.buf[:0]
}

// escape makes msg safe to print: invalid UTF-8 and control characters
// (other than tab) are written as Go escapes, so a plugin cannot forge log
// lines, move the cursor or recolour an operator's terminal.
func escape(msg []byte) string {
	var b strings.Builder
	b.Grow(len(msg))
	for len(msg) > 0 {
		r, size := utf8.DecodeRune(msg)
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[msg[0]>>4])
			b.WriteByte("0123456789abcdef"[msg[0]&15])
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029:
			q := []byte(`\u0000`)
			const hex = "0123456789abcdef"
			q[2], q[3], q[4], q[5] = hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15]
			b.Write(q)
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.Write(msg[:size])
		}
		msg = msg[size:]
	}
	return b.String()
}
