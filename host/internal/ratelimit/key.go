package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxPart is the longest escaped key part kept as is; longer parts are
// replaced by a hash so that keys stay short.
const maxPart = 128

// Key returns the bucket key for subject calling tool. For a limit that
// covers every tool of a plugin, pass plugin+".*" as tool: tool names cannot
// contain "*", so such a key never equals a tool's key.
//
// Both parts are escaped (every byte outside [A-Za-z0-9._*@+=/-] becomes
// %XX), so a subject containing ":" or spaces cannot produce another
// subject's key; a part longer than 128 bytes after escaping is replaced by
// "#" and the hex SHA-256 of the raw part.
func Key(subject, tool string) string {
	return escapePart(subject) + ":" + escapePart(tool)
}

func escapePart(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepByte(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
		if b.Len() > maxPart {
			sum := sha256.Sum256([]byte(s))
			return "#" + hex.EncodeToString(sum[:])
		}
	}
	return b.String()
}

func keepByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._*@+=/-", c) >= 0
}
