package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"

	"kiln/internal/expire"
	"kiln/internal/mapdata"
	"kiln/internal/middle"
	"kiln/internal/osmgeom"
	"kiln/internal/osmread"
	"kiln/internal/schema"
)

// Updater applies the feature side of a change (see mapdata/sqlite.Update).
type Updater interface {
	Delete(ctx context.Context, osmType byte, id int64) ([]orb.Bound, error)
	Write(ctx context.Context, f *mapdata.Feature) error
}

// UpdateSummary counts what an update did.
type UpdateSummary struct {
	Nodes, Ways, Relations int64 // edits read
	Rebuilt                int64 // objects whose features were rebuilt
	Deleted, Written       int64 // features
	Seconds                float64
}

// Apply applies a change file's edits: it updates the middle, then
// rebuilds the features of every object the edits touch — the edited ones,
// the ways whose nodes moved, the relations whose members changed — and
// lists the tiles their old and new features cover in exp.
func Apply(ctx context.Context, edits []osmread.Edit, out Updater, mid *middle.Update, exp *expire.List) (UpdateSummary, error) {
	start := time.Now()
	u := &updater{ctx: ctx, out: out, mid: mid, exp: exp}
	nodes, ways, rels := map[int64]bool{}, map[int64]bool{}, map[int64]bool{}
	for _, e := range edits {
		if err := u.record(e, nodes, ways, rels); err != nil {
			return u.sum, err
		}
	}
	// Ways whose nodes moved, relations whose members changed.
	for n := range nodes {
		ws, err := mid.WaysOfNode(ctx, n)
		if err != nil {
			return u.sum, err
		}
		for _, w := range ws {
			ways[w] = true
		}
	}
	for w := range ways {
		rs, err := mid.RelationsOf(ctx, osm.TypeWay, w)
		if err != nil {
			return u.sum, err
		}
		for _, r := range rs {
			rels[r] = true
		}
	}
	// A changed boundary relation changes the borders of its member ways.
	for r := range rels {
		rel, err := mid.Relation(ctx, r)
		if err != nil {
			return u.sum, err
		}
		if rel != nil && (schema.AdminLevel(rel.Tags) > 0 || schema.DisputedRelation(rel.Tags)) {
			for _, m := range rel.Members {
				if m.Type == osm.TypeWay {
					ways[m.Ref] = true
				}
			}
		}
	}
	for n := range nodes {
		u.node(n)
	}
	for w := range ways {
		u.way(w)
	}
	for r := range rels {
		u.relation(r)
	}
	u.sum.Seconds = time.Since(start).Seconds()
	return u.sum, u.err
}

type updater struct {
	ctx  context.Context
	out  Updater
	mid  *middle.Update
	exp  *expire.List
	sum  UpdateSummary
	err  error
	tags map[int64]schema.Tags // of the nodes this change edits
}

// record applies one edit to the middle and notes the object.
func (u *updater) record(e osmread.Edit, nodes, ways, rels map[int64]bool) error {
	ctx, del := u.ctx, e.Action == osmread.Delete
	switch o := e.Object.(type) {
	case *osm.Node:
		u.sum.Nodes++
		nodes[int64(o.ID)] = true
		if del {
			return u.mid.DeleteNode(ctx, int64(o.ID))
		}
		u.pendingNodeTags(o)
		return u.mid.SetNode(ctx, int64(o.ID), o.Lon, o.Lat)
	case *osm.Way:
		u.sum.Ways++
		ways[int64(o.ID)] = true
		if del {
			return u.mid.DeleteWay(ctx, int64(o.ID))
		}
		refs := make([]int64, len(o.Nodes))
		for i, n := range o.Nodes {
			refs[i] = int64(n.ID)
		}
		return u.mid.PutWay(ctx, int64(o.ID), refs, tagsOf(o.Tags))
	case *osm.Relation:
		u.sum.Relations++
		// Its old members' relations and borders change too.
		if old, err := u.mid.Relation(ctx, int64(o.ID)); err != nil {
			return err
		} else if old != nil && (schema.AdminLevel(old.Tags) > 0 || schema.DisputedRelation(old.Tags)) {
			for _, m := range old.Members {
				if m.Type == osm.TypeWay {
					ways[m.Ref] = true
				}
			}
		}
		rels[int64(o.ID)] = true
		if del {
			return u.mid.DeleteRelation(ctx, int64(o.ID))
		}
		return u.mid.PutRelation(ctx, int64(o.ID), o.Members, tagsOf(o.Tags))
	}
	return fmt.Errorf("unexpected object %T in a change file", e.Object)
}

// pendingNodeTags keeps the tags of a node this change edits, which the
// middle does not store: a node's features depend on nothing but itself,
// so only edited nodes are rebuilt, from the change file.
func (u *updater) pendingNodeTags(n *osm.Node) {
	if u.tags == nil {
		u.tags = map[int64]schema.Tags{}
	}
	u.tags[int64(n.ID)] = tagsOf(n.Tags)
}

func (u *updater) fail(err error) {
	if u.err == nil && err != nil {
		u.err = err
	}
}

// replace deletes an object's features and expires their tiles.
func (u *updater) replace(typ byte, id int64) {
	if u.err != nil {
		return
	}
	u.sum.Rebuilt++
	bounds, err := u.out.Delete(u.ctx, typ, id)
	u.fail(err)
	for _, b := range bounds {
		u.exp.Add(b)
	}
	u.sum.Deleted += int64(len(bounds))
}

func (u *updater) emit(f *mapdata.Feature) {
	if u.err != nil {
		return
	}
	u.fail(u.out.Write(u.ctx, f))
	u.exp.Add(f.Geom.Bound())
	u.sum.Written++
}

func (u *updater) locate(id int64) (orb.Point, bool) {
	lon, lat, ok, err := u.mid.Node(u.ctx, id)
	u.fail(err)
	if !ok {
		return orb.Point{}, false
	}
	return osmgeom.Mercator(lon, lat), true
}

func (u *updater) node(id int64) {
	u.replace('n', id)
	tags := u.tags[id]
	lon, lat, ok, err := u.mid.Node(u.ctx, id)
	u.fail(err)
	if !ok || len(tags) == 0 {
		return
	}
	schema.Node(schema.Object{Type: 'n', ID: id, Tags: tags}, osmgeom.Mercator(lon, lat), u.emit)
}

func (u *updater) way(id int64) {
	u.replace('w', id)
	w, err := u.mid.Way(u.ctx, id)
	u.fail(err)
	if w == nil || u.err != nil {
		return
	}
	o := schema.Object{Type: 'w', ID: id, Tags: w.Tags}
	if len(w.Tags) > 0 {
		if schema.IsArea(w.Tags, osmgeom.Closed(w.Refs)) {
			if poly, _ := osmgeom.Polygon(w.Refs, u.locate); poly != nil {
				schema.Area(o, poly, osmgeom.PointOnSurface(poly), u.emit)
			}
		} else if line, _ := osmgeom.Line(w.Refs, u.locate); line != nil {
			schema.Line(o, line, u.emit)
		}
	}
	// Its border, if administrative relations hold it.
	rels, err := u.mid.RelationsOf(u.ctx, osm.TypeWay, id)
	u.fail(err)
	level, disputed := 0, false
	for _, rid := range rels {
		rel, err := u.mid.Relation(u.ctx, rid)
		u.fail(err)
		if rel == nil {
			continue
		}
		if l := schema.AdminLevel(rel.Tags); l > 0 && (level == 0 || l < level) {
			level = l
		}
		disputed = disputed || schema.DisputedRelation(rel.Tags)
	}
	if level > 0 {
		if line, _ := osmgeom.Line(w.Refs, u.locate); line != nil {
			schema.BoundaryWay(o, line, level, disputed, u.emit)
		}
	}
}

func (u *updater) relation(id int64) {
	u.replace('r', id)
	rel, err := u.mid.Relation(u.ctx, id)
	u.fail(err)
	if rel == nil || u.err != nil {
		return
	}
	level := schema.AdminLevel(rel.Tags)
	if rel.Tags["type"] != "multipolygon" && level == 0 {
		return
	}
	var members []osmgeom.Member
	for _, m := range rel.Members {
		if m.Type != osm.TypeWay || (m.Role != "" && m.Role != "outer" && m.Role != "inner") {
			continue
		}
		w, err := u.mid.Way(u.ctx, m.Ref)
		u.fail(err)
		if w != nil {
			members = append(members, osmgeom.Member{WayID: w.ID, Refs: w.Refs})
		}
	}
	mp := osmgeom.MultiPolygon(members, u.locate).Polygons
	if len(mp) == 0 {
		return
	}
	o := schema.Object{Type: 'r', ID: id, Tags: rel.Tags}
	label := osmgeom.PointOnSurface(mp)
	if rel.Tags["type"] == "multipolygon" {
		schema.Area(o, mp, label, u.emit)
	}
	if level > 0 {
		schema.BoundaryLabel(o, level, label, planar.Area(mp), u.emit)
	}
}
