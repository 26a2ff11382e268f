package renderd

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// raw lays out a message by hand, as C would: header, then each string at
// its field's offset, the rest zero.
func raw(ver, cmd, x, y, z int32, size int, strs ...string) []byte {
	b := make([]byte, size)
	for i, v := range []int32{ver, cmd, x, y, z} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	for i, s := range strs {
		copy(b[HeaderSize+i*nameSize:], s)
	}
	return b
}

// renderListV2 is what render_list sends for "3 5 4" with -m osm: version
// 2, cmdRenderBulk, x 3, y 5, z 4, "osm" NUL-padded to 41 bytes, 3 bytes
// of padding (gcc, x86_64).
const renderListV2 = "02000000" + "06000000" + "03000000" + "05000000" + "04000000" +
	"6f736d00" + "00000000000000000000000000000000000000000000000000000000000000000000000000" + "000000"

func TestParse(t *testing.T) {
	golden, err := hex.DecodeString(renderListV2)
	if err != nil {
		t.Fatal(err)
	}
	garbage := raw(2, int32(RenderPrio), 1, 2, 3, 64, "osm")
	copy(garbage[HeaderSize+4:], "junk after the NUL")
	long := strings.Repeat("x", nameSize)
	tests := []struct {
		name string
		in   []byte
		want Message
		err  error // errors.Is; nil: must parse
	}{
		{"render_list v2 golden", golden, Message{Version: 2, Cmd: RenderBulk, X: 3, Y: 5, Z: 4, Map: "osm", MimeType: "image/png"}, nil},
		{"v1 asks for the default map", raw(1, int32(Render), 7, 8, 9, 20),
			Message{Version: 1, Cmd: Render, X: 7, Y: 8, Z: 9, Map: DefaultMap, MimeType: "image/png"}, nil},
		{"v2 mod_tile missing tile", raw(2, int32(RenderPrio), 1, 2, 3, 64, "osm"),
			Message{Version: 2, Cmd: RenderPrio, X: 1, Y: 2, Z: 3, Map: "osm", MimeType: "image/png"}, nil},
		{"v2 ignores bytes after the NUL", garbage,
			Message{Version: 2, Cmd: RenderPrio, X: 1, Y: 2, Z: 3, Map: "osm", MimeType: "image/png"}, nil},
		{"v3 parameterized", raw(3, int32(RenderLow), 1, 2, 3, 144, "osm", "image/webp", "de"),
			Message{Version: 3, Cmd: RenderLow, X: 1, Y: 2, Z: 3, Map: "osm", MimeType: "image/webp", Options: "de"}, nil},
		{"v3 empty strings", raw(3, int32(Dirty), 0, 0, 0, 144),
			Message{Version: 3, Cmd: Dirty}, nil},
		{"40-byte name", raw(2, int32(Render), 0, 0, 0, 64, long[:40]),
			Message{Version: 2, Cmd: Render, Map: long[:40], MimeType: "image/png"}, nil},
		{"negative coordinates kept", raw(2, int32(Render), -1, -8, -3, 64, "osm"),
			Message{Version: 2, Cmd: Render, X: -1, Y: -8, Z: -3, Map: "osm", MimeType: "image/png"}, nil},
		{"unknown command kept", raw(2, 99, 0, 0, 0, 64, "osm"),
			Message{Version: 2, Cmd: 99, Map: "osm", MimeType: "image/png"}, nil},
		{"name without NUL", raw(2, int32(Render), 0, 0, 0, 64, long), Message{}, ErrString},
		{"options without NUL", raw(3, int32(Render), 0, 0, 0, 144, "osm", "image/png", long), Message{}, ErrString},
		{"version 0", raw(0, int32(Render), 0, 0, 0, 20), Message{}, ErrVersion},
		{"version 4", raw(4, int32(Render), 0, 0, 0, 144), Message{}, ErrVersion},
		{"version -1", raw(-1, int32(Render), 0, 0, 0, 64), Message{}, ErrVersion},
		{"v2 cut to 20 bytes", raw(2, int32(Render), 0, 0, 0, 20), Message{}, nil},
		{"v3 sent as 64 bytes", raw(3, int32(Render), 0, 0, 0, 64, "osm"), Message{}, nil},
		{"v1 with trailing bytes", raw(1, int32(Render), 0, 0, 0, 64), Message{}, nil},
		{"shorter than a header", raw(1, int32(Render), 0, 0, 0, 20)[:19], Message{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			mustFail := tc.err != nil || tc.want == (Message{})
			switch {
			case mustFail && err == nil:
				t.Fatalf("Parse = %+v, want an error", got)
			case mustFail && tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("Parse error %v, want %v", err, tc.err)
			case !mustFail && err != nil:
				t.Fatalf("Parse: %v", err)
			case !mustFail && got != tc.want:
				t.Fatalf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for v, want := range map[int32]int{-1: 0, 0: 0, 1: 20, 2: 64, 3: 144, 4: 0, 1 << 24: 0} {
		if got := Size(v); got != want {
			t.Errorf("Size(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestAppendBinary(t *testing.T) {
	golden, _ := hex.DecodeString(renderListV2)
	tests := []struct {
		name string
		m    Message
		want []byte // nil: must fail
	}{
		{"render_list v2 golden", Message{Version: 2, Cmd: RenderBulk, X: 3, Y: 5, Z: 4, Map: "osm"}, golden},
		{"v1 leaves the strings out", Message{Version: 1, Cmd: Done, X: 1, Y: 2, Z: 3, Map: "osm", MimeType: "x"}, raw(1, int32(Done), 1, 2, 3, 20)},
		{"v2 leaves MIME type and options out", Message{Version: 2, Cmd: Render, Map: "a", MimeType: "b", Options: "c"}, raw(2, int32(Render), 0, 0, 0, 64, "a")},
		{"v3", Message{Version: 3, Cmd: NotDone, X: -1, Map: "a", MimeType: "image/png", Options: "o"}, raw(3, int32(NotDone), -1, 0, 0, 144, "a", "image/png", "o")},
		{"41-byte name", Message{Version: 2, Map: strings.Repeat("x", 41)}, nil},
		{"NUL in a name", Message{Version: 2, Map: "a\x00b"}, nil},
		{"too long options in v3", Message{Version: 3, Options: strings.Repeat("x", 41)}, nil},
		{"version 0", Message{Version: 0}, nil},
		{"version 4", Message{Version: 4}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			got, err := tc.m.AppendBinary(bytes.Clone(prefix))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("AppendBinary = %x, want an error", got)
				}
				if !bytes.Equal(got, prefix) {
					t.Errorf("failed AppendBinary left %q, want the prefix untouched", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], tc.want) {
				t.Errorf("AppendBinary =\n%x\nwant\n%x", got[len(prefix):], tc.want)
			}
		})
	}
}

func TestReply(t *testing.T) {
	v2 := raw(2, int32(RenderPrio), 1, 2, 3, 64, "osm")
	copy(v2[HeaderSize+4:], "junk")
	v2[63] = 0xAB // padding, echoed as received
	tests := []struct {
		name string
		req  []byte
		cmd  Cmd
		want []byte
	}{
		{"v1", raw(1, int32(Render), 1, 2, 3, 20), Done, raw(1, int32(Done), 1, 2, 3, 20)},
		{"v2 byte for byte", v2, Ignore, func() []byte {
			w := bytes.Clone(v2)
			binary.LittleEndian.PutUint32(w[4:], uint32(Ignore))
			return w
		}()},
		{"v3", raw(3, int32(RenderLow), 1, 2, 3, 144, "a", "b", "c"), NotDone, raw(3, int32(NotDone), 1, 2, 3, 144, "a", "b", "c")},
		{"unknown version: the header", raw(7, int32(Render), 1, 2, 3, 20), NotDone, raw(7, int32(NotDone), 1, 2, 3, 20)},
		{"unknown version: only the header", raw(0, int32(Render), 1, 2, 3, 64, "osm"), NotDone, raw(0, int32(NotDone), 1, 2, 3, 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := bytes.Clone(tc.req)
			got := Reply(tc.req, tc.cmd)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Reply =\n%x\nwant\n%x", got, tc.want)
			}
			if !bytes.Equal(tc.req, orig) {
				t.Error("Reply changed the request")
			}
		})
	}
}

func TestCmdString(t *testing.T) {
	for c, want := range map[Cmd]string{Ignore: "Ignore", RenderLow: "RenderLow", NotDone: "NotDone", 8: "Cmd(8)", -1: "Cmd(-1)"} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int32(c), got, want)
		}
	}
}

// FuzzParse checks that whatever Parse accepts encodes back to a message
// of the same size that parses the same, and that Reply never panics and
// answers at the request's size.
func FuzzParse(f *testing.F) {
	golden, _ := hex.DecodeString(renderListV2)
	f.Add(golden)
	f.Add(raw(1, int32(Render), 1, 2, 3, 20))
	f.Add(raw(3, int32(RenderLow), 1, 2, 3, 144, "osm", "image/png", "x"))
	f.Add(raw(9, 0, 0, 0, 0, 20))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if len(b) >= HeaderSize {
			r := Reply(b, Done)
			want := Size(Version(b))
			if want == 0 || want > len(b) {
				want = HeaderSize
			}
			if len(r) != want || Cmd(binary.LittleEndian.Uint32(r[4:])) != Done {
				t.Fatalf("Reply of %d bytes = %d bytes, cmd %d", len(b), len(r), binary.LittleEndian.Uint32(r[4:]))
			}
		}
		if err != nil {
			return
		}
		if m.Version == 1 {
			m.Map = "" // not on the wire
		}
		if m.Version < 3 {
			m.MimeType = ""
		}
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("Parse accepted %x as %+v, which does not encode: %v", b, m, err)
		}
		if len(out) != len(b) || !bytes.Equal(out[:HeaderSize], b[:HeaderSize]) {
			t.Fatalf("re-encoded %x as %x", b, out)
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		m1, _ := Parse(b)
		if m1 != m2 {
			t.Fatalf("%+v re-parsed as %+v", m1, m2)
		}
	})
}
