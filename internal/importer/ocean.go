package importer

import (
	"github.com/paulmach/osm"
)

// ocean builds the sea of the extract from its coastlines (see
// osmgeom.Sea) within the file's bounds.
func (r *run) ocean(bounds *osm.Bounds) {
	if len(r.coastlines) == 0 {
		return
	}
	// Filled in with the coastline assembly.
}
