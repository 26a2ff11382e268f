// Package importer runs an import: it reads an OpenStreetMap file
// (osmread), keeps nodes, ways and relations in the middle for later
// updates, builds each object's geometry (osmgeom), asks the schema which
// features it makes, and writes them to the map database.
package importer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"

	"kiln/internal/mapdata"
	"kiln/internal/middle"
	"kiln/internal/nodestore"
	"kiln/internal/osmgeom"
	"kiln/internal/osmread"
	"kiln/internal/schema"
)

// Writer receives the features of an import (see mapdata/sqlite.Import).
// Write is called from several goroutines at once, so that features are
// simplified and encoded in parallel with reading the file.
type Writer interface {
	Write(ctx context.Context, f *mapdata.Feature) error
}

// ErrInput marks errors in the input file (errors.Is): exit code 2.
var ErrInput = errors.New("bad input")

// inputError is an error in the input file; its message is the cause's.
type inputError struct{ err error }

func (e inputError) Error() string        { return e.err.Error() }
func (e inputError) Unwrap() error        { return e.err }
func (e inputError) Is(target error) bool { return target == ErrInput }

// Progress is reported about once a second.
type Progress struct {
	Phase   string // "nodes", "ways", "relations", "finishing"
	Objects int64
	PerSec  float64
	Bytes   int64
}

// Options tune an import.
type Options struct {
	Procs    int // PBF decoding goroutines
	Progress func(Progress)
	Log      *slog.Logger
}

// Summary counts what an import did.
type Summary struct {
	Nodes, Ways, Relations int64
	Features               map[string]int64 // by layer
	MissingNodes           int64            // node references that could not be located
	BrokenRings            int64            // chains of multipolygon ways that do not close
	IncompleteRelations    int64            // relations with members not in the file
	Bounds                 orb.Bound        // of the file's data, lon/lat
	Seconds                float64
}

// Warnings is the number of recoverable data problems.
func (s Summary) Warnings() int64 { return s.MissingNodes + s.BrokenRings + s.IncompleteRelations }

// TotalFeatures is the number of features written.
func (s Summary) TotalFeatures() int64 {
	var n int64
	for _, v := range s.Features {
		n += v
	}
	return n
}

type run struct {
	path  string
	ctx   context.Context
	opts  Options
	out   Writer
	mid   *middle.Builder
	sum   Summary
	err   error
	start time.Time

	coastlines []int64
	admin      map[int64]int  // way → lowest admin level of its boundary relations
	disputed   map[int64]bool // ways in disputed relations
	warned     int

	features chan *mapdata.Feature // to the writers
	writeErr chan error            // the writers' first error
	writers  sync.WaitGroup
}

// Run imports the OSM file at path into out, filling mid.
func Run(ctx context.Context, path string, out Writer, mid *middle.Builder, opts Options) (Summary, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &run{path: path, ctx: ctx, opts: opts, out: out, mid: mid, start: time.Now(),
		admin: map[int64]int{}, disputed: map[int64]bool{}}
	r.sum.Features = map[string]int64{}
	r.sum.Bounds = orb.Bound{Min: orb.Point{180, 90}, Max: orb.Point{-180, -90}}
	in, err := osmread.Open(ctx, path, max(opts.Procs, 1))
	if err != nil {
		return r.sum, inputError{err}
	}
	defer in.Close()
	r.startWriters(max(opts.Procs, 1))
	defer r.stopWriters()

	phase, count := "nodes", int64(0)
	lastReport := time.Now()
	for in.Scan() {
		if r.err != nil {
			break
		}
		count++
		if count%8192 == 0 && time.Since(lastReport) >= time.Second && opts.Progress != nil {
			lastReport = time.Now()
			opts.Progress(Progress{Phase: phase, Objects: count, PerSec: float64(count) / time.Since(r.start).Seconds(), Bytes: in.BytesRead()})
		}
		switch o := in.Object().(type) {
		case *osm.Node:
			r.node(o)
		case *osm.Way:
			phase = "ways"
			r.way(o)
		case *osm.Relation:
			phase = "relations"
			r.relation(o)
		}
	}
	if err := in.Err(); err != nil {
		return r.sum, inputError{err}
	}
	if r.err != nil {
		return r.sum, r.err
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Phase: "finishing", Objects: count, PerSec: float64(count) / time.Since(r.start).Seconds(), Bytes: in.BytesRead()})
	}
	if err := r.mid.NodesDone(); err != nil { // a file with no ways
		return r.sum, err
	}
	r.boundaries()
	r.ocean(in.Bounds())
	r.stopWriters()
	if r.err != nil {
		return r.sum, r.err
	}
	if r.sum.Nodes == 0 {
		r.sum.Bounds = orb.Bound{}
	}
	r.sum.Seconds = time.Since(r.start).Seconds()
	return r.sum, nil
}

func (r *run) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *run) startWriters(n int) {
	features := make(chan *mapdata.Feature, 1024)
	r.features = features
	r.writeErr = make(chan error, 1)
	for range n {
		r.writers.Go(func() {
			for f := range features {
				if err := r.out.Write(r.ctx, f); err != nil {
					select {
					case r.writeErr <- err:
					default:
					}
				}
			}
		})
	}
}

// stopWriters waits for the writers to finish and takes their error.
func (r *run) stopWriters() {
	if r.features == nil {
		return
	}
	close(r.features)
	r.features = nil
	r.writers.Wait()
	select {
	case err := <-r.writeErr:
		r.fail(err)
	default:
	}
}

func (r *run) emit(f *mapdata.Feature) {
	if r.err != nil {
		return
	}
	select {
	case err := <-r.writeErr:
		r.fail(err)
		return
	default:
	}
	r.features <- f
	r.sum.Features[f.Layer]++
}

// warn logs a data problem at debug level (the summary counts them all;
// extracts cut at a border always have some) and the first one at info.
func (r *run) warn(msg string, args ...any) {
	r.warned++
	if r.warned == 1 {
		r.opts.Log.Info("data problems found; the summary counts them, log level debug lists them", append([]any{"first", msg}, args...)...)
	}
	r.opts.Log.Debug(msg, args...)
}

func tagsOf(t osm.Tags) schema.Tags {
	if len(t) == 0 {
		return nil
	}
	m := make(schema.Tags, len(t))
	for _, tag := range t {
		m[tag.Key] = tag.Value
	}
	return m
}

func (r *run) node(n *osm.Node) {
	r.sum.Nodes++
	if err := r.mid.AddNode(int64(n.ID), n.Lon, n.Lat); err != nil {
		if errors.Is(err, nodestore.ErrUnsorted) {
			err = inputError{fmt.Errorf("%s: %w (sort the file, e.g. with osmium sort)", r.path, err)}
		}
		r.fail(err)
		return
	}
	b := &r.sum.Bounds
	b.Min[0], b.Min[1] = min(b.Min[0], n.Lon), min(b.Min[1], n.Lat)
	b.Max[0], b.Max[1] = max(b.Max[0], n.Lon), max(b.Max[1], n.Lat)
	if len(n.Tags) == 0 {
		return
	}
	schema.Node(schema.Object{Type: 'n', ID: int64(n.ID), Tags: tagsOf(n.Tags)}, osmgeom.Mercator(n.Lon, n.Lat), r.emit)
}

// locate finds nodes in the middle, in mercator.
func (r *run) locate(id int64) (orb.Point, bool) {
	lon, lat, ok := r.mid.Node(id)
	if !ok {
		return orb.Point{}, false
	}
	return osmgeom.Mercator(lon, lat), true
}

func (r *run) way(w *osm.Way) {
	if r.sum.Ways == 0 {
		if err := r.mid.NodesDone(); err != nil {
			r.fail(err)
			return
		}
	}
	r.sum.Ways++
	refs := make([]int64, len(w.Nodes))
	for i, n := range w.Nodes {
		refs[i] = int64(n.ID)
	}
	tags := tagsOf(w.Tags)
	if err := r.mid.AddWay(r.ctx, int64(w.ID), refs, tags); err != nil {
		r.fail(err)
		return
	}
	if len(tags) == 0 {
		return
	}
	if tags["natural"] == "coastline" {
		r.coastlines = append(r.coastlines, int64(w.ID))
	}
	r.wayFeatures(schema.Object{Type: 'w', ID: int64(w.ID), Tags: tags}, refs)
}

// wayFeatures builds a tagged way's geometry and emits its features.
func (r *run) wayFeatures(o schema.Object, refs []int64) {
	if schema.IsArea(o.Tags, osmgeom.Closed(refs)) {
		poly, missing := osmgeom.Polygon(refs, r.locate)
		r.missing(o, missing)
		if poly != nil {
			schema.Area(o, poly, osmgeom.PointOnSurface(poly), r.emit)
		}
		return
	}
	line, missing := osmgeom.Line(refs, r.locate)
	r.missing(o, missing)
	if line != nil {
		schema.Line(o, line, r.emit)
	}
}

func (r *run) missing(o schema.Object, n int) {
	if n > 0 {
		r.sum.MissingNodes += int64(n)
		r.warn("way refers to missing nodes", "way", o.ID, "missing", n)
	}
}

func (r *run) relation(rel *osm.Relation) {
	r.sum.Relations++
	tags := tagsOf(rel.Tags)
	if err := r.mid.AddRelation(r.ctx, int64(rel.ID), rel.Members, tags); err != nil {
		r.fail(err)
		return
	}
	o := schema.Object{Type: 'r', ID: int64(rel.ID), Tags: tags}
	level := schema.AdminLevel(tags)
	if schema.DisputedRelation(tags) {
		for _, m := range rel.Members {
			if m.Type == osm.TypeWay {
				r.disputed[m.Ref] = true
			}
		}
	}
	if level > 0 {
		for _, m := range rel.Members {
			if m.Type == osm.TypeWay {
				if l, ok := r.admin[m.Ref]; !ok || level < l {
					r.admin[m.Ref] = level
				}
			}
		}
	}
	if tags["type"] != "multipolygon" && level == 0 {
		return
	}
	mp := r.assemble(rel)
	if len(mp) == 0 {
		return
	}
	label := osmgeom.PointOnSurface(mp)
	if tags["type"] == "multipolygon" {
		schema.Area(o, mp, label, r.emit)
	}
	if level > 0 {
		schema.BoundaryLabel(o, level, label, planar.Area(mp), r.emit)
	}
}

// assemble builds a relation's polygons from its member ways.
func (r *run) assemble(rel *osm.Relation) orb.MultiPolygon {
	var members []osmgeom.Member
	incomplete := false
	for _, m := range rel.Members {
		if m.Type != osm.TypeWay || (m.Role != "" && m.Role != "outer" && m.Role != "inner") {
			continue
		}
		w, err := r.mid.Way(r.ctx, m.Ref)
		if err != nil {
			r.fail(err)
			return nil
		}
		if w == nil {
			incomplete = true
			continue
		}
		members = append(members, osmgeom.Member{WayID: w.ID, Refs: w.Refs})
	}
	if incomplete {
		r.sum.IncompleteRelations++
		r.warn("relation has member ways missing from the file", "relation", rel.ID)
	}
	a := osmgeom.MultiPolygon(members, r.locate)
	r.sum.MissingNodes += int64(a.Missing)
	if a.Broken > 0 {
		r.sum.BrokenRings += int64(a.Broken)
		r.warn("relation has rings that do not close; left them out", "relation", rel.ID, "broken", a.Broken)
	}
	return a.Polygons
}

// boundaries emits the member ways of administrative relations as border
// lines, each once, with its lowest admin level.
func (r *run) boundaries() {
	for id, level := range r.admin {
		w, err := r.mid.Way(r.ctx, id)
		if err != nil {
			r.fail(err)
			return
		}
		if w == nil {
			continue
		}
		line, _ := osmgeom.Line(w.Refs, r.locate)
		if line == nil {
			continue
		}
		schema.BoundaryWay(schema.Object{Type: 'w', ID: id, Tags: w.Tags}, line, level, r.disputed[id], r.emit)
	}
}
