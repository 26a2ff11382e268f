package importer

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/osm"

	"kiln/internal/osmgeom"
	"kiln/internal/schema"
)

// oceanCell is the side of the grid the sea is cut into, in metres (a
// zoom-9 tile, about 78 km at the equator): a tile then reads the sea of
// its cell, not of the whole coast.
const oceanCell = 2 * math.Pi * 6378137 / 512

// ocean builds the sea of the extract from its coastlines, within the
// file's declared bounds (else those of its nodes).
func (r *run) ocean(bounds *osm.Bounds) {
	if len(r.coastlines) == 0 {
		return
	}
	var members []osmgeom.Member
	for _, id := range r.coastlines {
		w, err := r.mid.Way(r.ctx, id)
		if err != nil {
			r.fail(err)
			return
		}
		members = append(members, osmgeom.Member{WayID: id, Refs: w.Refs})
	}
	b := r.sum.Bounds
	if bounds != nil {
		b = orb.Bound{Min: orb.Point{bounds.MinLon, bounds.MinLat}, Max: orb.Point{bounds.MaxLon, bounds.MaxLat}}
	}
	box := orb.Bound{Min: osmgeom.Mercator(b.Min[0], b.Min[1]), Max: osmgeom.Mercator(b.Max[0], b.Max[1])}
	seas, broken := osmgeom.Sea(members, r.locate, box)
	if broken > 0 {
		r.sum.BrokenRings += int64(broken)
		r.warn("coastline does not close nor reach the extract's edge: no sea built", "chains", broken)
		return
	}
	for _, sea := range seas {
		sb := sea.Bound()
		for x := math.Floor(sb.Min[0]/oceanCell) * oceanCell; x < sb.Max[0]; x += oceanCell {
			for y := math.Floor(sb.Min[1]/oceanCell) * oceanCell; y < sb.Max[1]; y += oceanCell {
				cell := orb.Bound{Min: orb.Point{x, y}, Max: orb.Point{x + oceanCell, y + oceanCell}}
				if part := clip.Polygon(cell, orb.Clone(sea).(orb.Polygon)); len(part) > 0 && len(part[0]) >= 4 {
					schema.Ocean(part, r.emit)
				}
			}
		}
	}
}
