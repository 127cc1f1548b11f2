// Package audit writes Warden's audit log: one JSON line per request that
// reached a plugin or was refused on the way, append-only, in its own file
// or stream. Arguments are recorded only as a SHA-256 hash and secrets are
// never written.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one audit line.
type Record struct {
	Time         time.Time `json:"time"`
	Subject      string    `json:"subject,omitempty"`
	Client       string    `json:"client,omitempty"`
	Method       string    `json:"method"`
	Tool         string    `json:"tool,omitempty"`
	TaskID       string    `json:"taskId,omitempty"`
	Plugin       string    `json:"plugin,omitempty"`
	PluginDigest string    `json:"pluginDigest,omitempty"`
	ArgsSHA256   string    `json:"argsSha256,omitempty"`
	Outcome      string    `json:"outcome"`
	Status       int       `json:"status,omitempty"`
	DurationMs   float64   `json:"durationMs"`
	BytesIn      int       `json:"bytesIn"`
	BytesOut     int       `json:"bytesOut"`
	RateLimit    string    `json:"rateLimit,omitempty"`
	Error        string    `json:"error,omitempty"`
	TraceID      string    `json:"traceId,omitempty"`
}

// HashArgs returns the hex SHA-256 of a call's arguments as received.
func HashArgs(args []byte) string {
	sum := sha256.Sum256(args)
	return hex.EncodeToString(sum[:])
}

// Log is an append-only JSON-lines writer, safe for concurrent use.
type Log struct {
	mu   sync.Mutex
	path string
	w    io.Writer
	f    *os.File
}

// Open opens the audit log at path for appending (created with mode 0600),
// or standard output when path is "-".
func Open(path string) (*Log, error) {
	l := &Log{path: path}
	if path == "-" {
		l.w = os.Stdout
		return l, nil
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// New returns a Log writing to w (tests, or an operator-provided stream).
func New(w io.Writer) *Log { return &Log{w: w} }

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	l.f, l.w = f, f
	return nil
}

// Write appends r as one line with a single write, so concurrent writers
// (and processes appending to the same file) never interleave inside a line.
func (l *Log) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return errors.New("audit log is closed")
	}
	_, err = l.w.Write(line)
	return err
}

// Reopen closes and reopens the file, for log rotation (on SIGHUP).
func (l *Log) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	l.f.Close()
	return l.open()
}

// Close closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = nil
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}
