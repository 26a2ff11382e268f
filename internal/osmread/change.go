package osmread

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/paulmach/osm"
)

// Action is what a change file does to an object.
type Action int

const (
	Create Action = iota
	Modify
	Delete
)

func (a Action) String() string { return [...]string{"create", "modify", "delete"}[a] }

// Edit is one object of a change file with what to do with it.
type Edit struct {
	Action Action
	Object osm.Object // *osm.Node, *osm.Way or *osm.Relation
}

// ReadChange reads an osmChange file (.osc, .osc.gz, .osc.bz2) and returns
// its edits in file order.
func ReadChange(ctx context.Context, path string) ([]Edit, error) {
	kind, c, err := kindOf(path)
	if err != nil {
		return nil, err
	}
	if kind != Change {
		return nil, fmt.Errorf("%s: %w: --append takes a change file (.osc, .osc.gz, .osc.bz2)", path, ErrFormat)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counter := &countingReader{r: f}
	in, err := decompress(counter, c, path)
	if err != nil {
		return nil, err
	}
	edits, err := DecodeChange(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("%s: near byte %d: %w", path, counter.n.Load(), err)
	}
	return edits, nil
}

// DecodeChange decodes an osmChange document: any number of create, modify
// and delete blocks holding nodes, ways and relations.
func DecodeChange(ctx context.Context, r io.Reader) ([]Edit, error) {
	d := xml.NewDecoder(r)
	var edits []Edit
	var action *Action
	root := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, err := d.Token()
		if err == io.EOF {
			if !root {
				return nil, fmt.Errorf("%w: no osmChange element", ErrFormat)
			}
			return edits, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch name := t.Name.Local; {
			case !root:
				if name != "osmChange" {
					return nil, fmt.Errorf("%w: root element <%s>, want <osmChange>", ErrFormat, name)
				}
				root = true
			case name == "create" || name == "modify" || name == "delete":
				a := map[string]Action{"create": Create, "modify": Modify, "delete": Delete}[name]
				action = &a
			case action == nil:
				if err := d.Skip(); err != nil { // e.g. <bounds> outside the blocks
					return nil, err
				}
			case name == "node" || name == "way" || name == "relation":
				obj, err := decodeObject(d, t)
				if err != nil {
					return nil, err
				}
				edits = append(edits, Edit{Action: *action, Object: obj})
			default:
				return nil, fmt.Errorf("unexpected <%s> in <%s>", name, action)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "create", "modify", "delete":
				action = nil
			}
		}
	}
}

func decodeObject(d *xml.Decoder, start xml.StartElement) (osm.Object, error) {
	var obj osm.Object
	switch start.Name.Local {
	case "node":
		n := &osm.Node{}
		if err := d.DecodeElement(n, &start); err != nil {
			return nil, err
		}
		if n.ID <= 0 {
			return nil, errors.New("node without a valid id")
		}
		obj = n
	case "way":
		w := &osm.Way{}
		if err := d.DecodeElement(w, &start); err != nil {
			return nil, err
		}
		if w.ID <= 0 {
			return nil, errors.New("way without a valid id")
		}
		obj = w
	case "relation":
		r := &osm.Relation{}
		if err := d.DecodeElement(r, &start); err != nil {
			return nil, err
		}
		if r.ID <= 0 {
			return nil, errors.New("relation without a valid id")
		}
		obj = r
	}
	return obj, nil
}
