// Package renderd owns renderd's wire protocol and kiln's listener for it,
// so that Apache mod_tile, render_list, render_expired and render_old drive
// kiln's render queue as they drive renderd (mod_tile's
// includes/protocol.h, src/protocol_helper.c, src/renderd.c), and renderd's
// stats file, which its Munin plugins read.
//
// A request is a raw C struct, little-endian as on every platform renderd
// runs on: version 1 is 20 bytes (version, command, x, y, z), version 2 adds
// the map name (64 bytes), version 3 the MIME type and options (144 bytes);
// strings are NUL-terminated in 41-byte fields. x and y name a tile, not its
// metatile. The answer is the request echoed with the command replaced by
// Done, NotDone or Ignore, at the request's size.
package renderd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Cmd is renderd's enum protoCmd.
type Cmd int32

const (
	Ignore     Cmd = 0 // answer: the tile is outside the map's zooms or grid
	Render     Cmd = 1 // mod_tile: a very old tile
	Dirty      Cmd = 2 // re-render some time; no answer is waited for
	Done       Cmd = 3 // answer: rendered and stored
	NotDone    Cmd = 4 // answer: failed, refused or not waited for
	RenderPrio Cmd = 5 // mod_tile: a missing tile
	RenderBulk Cmd = 6 // render_list, render_expired, render_old; mod_tile in bulk mode
	RenderLow  Cmd = 7 // mod_tile: an old tile
)

var cmdNames = [...]string{"Ignore", "Render", "Dirty", "Done", "NotDone", "RenderPrio", "RenderBulk", "RenderLow"}

func (c Cmd) String() string {
	if c >= 0 && int(c) < len(cmdNames) {
		return cmdNames[c]
	}
	return fmt.Sprintf("Cmd(%d)", int32(c))
}

const (
	// HeaderSize is struct protocol_v1, the part every version starts with.
	HeaderSize = 20
	// nameSize is XMLCONFIG_MAX: a string field, NUL included.
	nameSize = 41

	offMap     = HeaderSize
	offMime    = offMap + nameSize
	offOptions = offMime + nameSize
)

// DefaultMap is the map version 1 requests, which name none, ask for.
const DefaultMap = "default"

// Size is the size in bytes of a message of version v (20, 64 or 144, the
// C structs with their padding), or 0 if v is not a version renderd knows.
func Size(v int32) int {
	switch v {
	case 1:
		return HeaderSize
	case 2:
		return 64
	case 3:
		return 144
	}
	return 0
}

// Version is the version a message declares in its first 4 bytes; b holds
// at least HeaderSize bytes.
func Version(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) }

var (
	// ErrVersion: the message declares a version other than 1, 2 or 3.
	ErrVersion = errors.New("renderd: unknown protocol version")
	// ErrString: a string field holds no NUL in its 41 bytes, or is too
	// long to fit with one.
	ErrString = errors.New("renderd: string field not NUL-terminated within 41 bytes")
)

// Message is one request or answer (struct protocol).
type Message struct {
	Version int32 // 1, 2 or 3
	Cmd     Cmd
	X, Y, Z int32 // a tile
	// Map is the map (kiln: style) name; DefaultMap for version 1.
	Map string
	// MimeType and Options are sent by version 3 only; older versions
	// read as "image/png" and "", as renderd upgrades them.
	MimeType, Options string
}

// Parse decodes a message; b must be exactly Size(Version(b)) bytes.
func Parse(b []byte) (Message, error) {
	if len(b) < HeaderSize {
		return Message{}, fmt.Errorf("renderd: %d-byte message, want at least %d", len(b), HeaderSize)
	}
	le := binary.LittleEndian
	m := Message{
		Version: Version(b),
		Cmd:     Cmd(le.Uint32(b[4:])),
		X:       int32(le.Uint32(b[8:])),
		Y:       int32(le.Uint32(b[12:])),
		Z:       int32(le.Uint32(b[16:])),
	}
	n := Size(m.Version)
	if n == 0 {
		return m, fmt.Errorf("%w %d", ErrVersion, m.Version)
	}
	if len(b) != n {
		return m, fmt.Errorf("renderd: %d-byte message of version %d, want %d bytes", len(b), m.Version, n)
	}
	m.Map, m.MimeType = DefaultMap, "image/png"
	var err error
	if m.Version >= 2 {
		if m.Map, err = cString(b[offMap:], "map name"); err != nil {
			return m, err
		}
	}
	if m.Version == 3 {
		if m.MimeType, err = cString(b[offMime:], "MIME type"); err != nil {
			return m, err
		}
		if m.Options, err = cString(b[offOptions:], "options"); err != nil {
			return m, err
		}
	}
	return m, nil
}

func cString(b []byte, what string) (string, error) {
	i := bytes.IndexByte(b[:nameSize], 0)
	if i < 0 {
		return "", fmt.Errorf("%w: %s", ErrString, what)
	}
	return string(b[:i]), nil
}

// AppendBinary appends m in its version's layout, padding included as
// zeros; fields the version lacks are left out.
func (m Message) AppendBinary(b []byte) ([]byte, error) {
	n := Size(m.Version)
	if n == 0 {
		return b, fmt.Errorf("%w %d", ErrVersion, m.Version)
	}
	start := len(b)
	b = append(b, make([]byte, n)...)
	out := b[start:]
	le := binary.LittleEndian
	le.PutUint32(out[0:], uint32(m.Version))
	le.PutUint32(out[4:], uint32(m.Cmd))
	le.PutUint32(out[8:], uint32(m.X))
	le.PutUint32(out[12:], uint32(m.Y))
	le.PutUint32(out[16:], uint32(m.Z))
	fields := []struct {
		off     int
		s, what string
	}{{offMap, m.Map, "map name"}, {offMime, m.MimeType, "MIME type"}, {offOptions, m.Options, "options"}}
	if m.Version < 3 {
		fields = fields[:m.Version-1]
	}
	for _, f := range fields {
		if len(f.s) >= nameSize || bytes.IndexByte([]byte(f.s), 0) >= 0 {
			return b[:start], fmt.Errorf("%w: %s %q", ErrString, f.what, f.s)
		}
		copy(out[f.off:], f.s)
	}
	return b, nil
}

// MarshalBinary encodes m in its version's layout.
func (m Message) MarshalBinary() ([]byte, error) { return m.AppendBinary(nil) }

// Reply is the answer to the raw request req: req itself, byte for byte,
// with its command replaced by c, as renderd echoes a request. req holds
// at least HeaderSize bytes; only they are answered for an unknown
// version, whose length cannot be known.
func Reply(req []byte, c Cmd) []byte {
	n := Size(Version(req))
	if n == 0 || n > len(req) {
		n = HeaderSize
	}
	out := bytes.Clone(req[:n])
	binary.LittleEndian.PutUint32(out[4:], uint32(c))
	return out
}
