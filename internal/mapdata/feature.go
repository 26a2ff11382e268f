// Package mapdata is kiln's map database: the features of the rendering
// schema's layers (see internal/schema), written by the importer and read
// by renderers by layer, area and zoom. Geometries are in web mercator
// (EPSG:3857) metres. Two stores implement it: SQLite (the embedded
// default, package mapdata/sqlite) and PostGIS (mapdata/postgis).
package mapdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// Feature is one map feature of a layer.
type Feature struct {
	Layer   string
	OSMType byte  // 'n', 'w', 'r'; 0 for features not from one OSM object (ocean)
	OSMID   int64 // 0 with OSMType 0
	MinZoom int   // the lowest zoom the feature is shown at
	Sort    float64
	Props   Props
	Geom    orb.Geometry // EPSG:3857; Point, LineString, Polygon or MultiPolygon
}

// Props are a feature's attributes: string, int64, float64 or bool values.
type Props map[string]any

// Marshal encodes props as a JSON object, keys sorted, floats always with
// a fraction or exponent so that they decode as floats again.
func (p Props) Marshal() ([]byte, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		switch v := p[k].(type) {
		case string:
			enc, _ := json.Marshal(v)
			b = append(b, enc...)
		case bool:
			b = strconv.AppendBool(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("property %s: %v is not a JSON number", k, v)
			}
			// Plain notation with a fraction: PostgreSQL's jsonb keeps
			// "4.0" a fraction but turns "4e+08" into an integer.
			format := byte('f')
			if math.Abs(v) >= 1e15 || v != 0 && math.Abs(v) < 1e-6 {
				format = 'g'
			}
			n := strconv.AppendFloat(nil, v, format, -1, 64)
			if !bytes.ContainsAny(n, ".eE") {
				n = append(n, ".0"...)
			}
			b = append(b, n...)
		default:
			return nil, fmt.Errorf("property %s: unsupported type %T", k, v)
		}
	}
	return append(b, '}'), nil
}

// UnmarshalProps decodes JSON props, keeping integers int64.
func UnmarshalProps(b []byte) (Props, error) {
	if len(b) == 0 {
		return Props{}, nil
	}
	// Renderers decode the props of every feature they draw: the flat
	// objects Marshal writes (and jsonb gives back) take a short path,
	// anything else encoding/json.
	if p, ok := unmarshalFlat(b); ok {
		return p, nil
	}
	return unmarshalJSON(b)
}

// unmarshalJSON decodes any JSON object of props.
func unmarshalJSON(b []byte) (Props, error) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("feature properties: %w", err)
	}
	p := make(Props, len(raw))
	for k, v := range raw {
		if n, ok := v.(json.Number); ok {
			if !strings.ContainsAny(string(n), ".eE") {
				if i, err := n.Int64(); err == nil {
					p[k] = i
					continue
				}
			}
			if f, err := n.Float64(); err == nil {
				p[k] = f
			}
			continue
		}
		p[k] = v
	}
	return p, nil
}

// Zoom levels at which the stores keep simplified copies of geometries: a
// feature is read at the first level at or above the zoom asked for.
var Levels = []int{6, 9, 12}

// Tolerance is the simplification tolerance for zoom z: a quarter of a
// pixel of a 256-pixel tile, in metres.
func Tolerance(z int) float64 {
	return 2 * math.Pi * 6378137 / (256 * math.Exp2(float64(z))) / 4
}

// GeomColumns names the stored geometry columns, by level: "g6", "g9",
// "g12", then "geom" for the full geometry.
func GeomColumns() []string {
	cols := make([]string, 0, len(Levels)+1)
	for _, l := range Levels {
		cols = append(cols, "g"+strconv.Itoa(l))
	}
	return append(cols, "geom")
}

// Level picks the stored geometry for zoom z: the index into Levels, or
// len(Levels) for the full geometry.
func Level(z int) int {
	for i, l := range Levels {
		if z <= l {
			return i
		}
	}
	return len(Levels)
}

// unmarshalFlat decodes a JSON object of plain strings (without escapes),
// numbers and booleans; ok is false for anything else, valid or not.
func unmarshalFlat(b []byte) (p Props, ok bool) {
	i := 0
	space := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		end := bytes.IndexByte(b[i+1:], '"')
		if end < 0 {
			return "", false
		}
		raw := b[i+1 : i+1+end]
		for _, c := range raw {
			if c == '\\' || c < 0x20 {
				return "", false // escapes and control characters: the long way
			}
		}
		if !utf8.Valid(raw) {
			return "", false
		}
		i += end + 2
		return string(raw), true
	}
	space()
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i++
	p = Props{}
	space()
	if i < len(b) && b[i] == '}' {
		i++
		space()
		return p, i == len(b)
	}
	for {
		space()
		k, ok := str()
		if !ok {
			return nil, false
		}
		space()
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		i++
		space()
		if i >= len(b) {
			return nil, false
		}
		switch c := b[i]; {
		case c == '"':
			v, ok := str()
			if !ok {
				return nil, false
			}
			p[k] = v
		case bytes.HasPrefix(b[i:], []byte("true")):
			p[k], i = true, i+4
		case bytes.HasPrefix(b[i:], []byte("false")):
			p[k], i = false, i+5
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] >= '0' && b[j] <= '9') {
				j++
			}
			num := string(b[i:j])
			if !json.Valid(b[i:j]) {
				return nil, false
			}
			if !strings.ContainsAny(num, ".eE") {
				n, err := strconv.ParseInt(num, 10, 64)
				if err != nil {
					return nil, false
				}
				p[k] = n
			} else {
				f, err := strconv.ParseFloat(num, 64)
				if err != nil {
					return nil, false
				}
				p[k] = f
			}
			i = j
		default:
			return nil, false
		}
		space()
		if i >= len(b) {
			return nil, false
		}
		if b[i] == '}' {
			i++
			space()
			return p, i == len(b)
		}
		if b[i] != ',' {
			return nil, false
		}
		i++
	}
}
