// Package draw is the pixel layer of kiln's map renderer, what cairo and
// Mapnik's AGG are to openstreetmap-carto: it fills polygons, strokes
// polylines, shapes and draws labels (at a point or along a line) and keeps
// the label collision index, into an *image.RGBA covering one metatile. It
// knows nothing of styles or map data: callers hand it pixel coordinates,
// colours and widths.
//
// Coordinates are float64 pixels, x to the right and y down; pixel (x, y)
// covers the square [x, x+1) × [y, y+1), so its centre is (x+0.5, y+0.5).
// The image holds premultiplied RGBA (image.RGBA's convention); colours are
// given non-premultiplied (color.NRGBA) with a separate opacity, as styles
// state them.
//
// Libraries, and what is ours and why:
//
//   - golang.org/x/image/vector turns closed polygons into an antialiased
//     coverage mask (non-zero winding). Every shape is rasterized into a
//     mask no larger than its visible bounding box, tile by tile (64
//     pixels) when it is sparse, such as a long diagonal road, with its
//     polygons clipped near that box first, so a forest polygon many times
//     the size of the canvas costs in proportion to what shows. Edges reach
//     it in pieces of at most 16 rows: its fixed-point path, used up to 512
//     pixels, truncates every row's step and otherwise drifts by up to a
//     fifth of a pixel along a 100-pixel edge.
//   - The compositor (source-over of a uniform colour through the mask) is
//     ours: it skips uncovered pixels eight at a time and blends two
//     channels per multiplication. Vector's own RGBA path divides five
//     times per pixel and visits every pixel; fills through it take three
//     times as long.
//   - The stroker is ours too, behind a one-method interface (polygonSink).
//     Map lines are polylines, so a stroke outline is simple to build, and
//     each outline equals, edge for edge, one quadrilateral per segment
//     plus one wedge per join, all running the same way round: the
//     rasterizer fills their union in one pass, saturating where the line
//     overlaps itself, so a semi-transparent line crossing itself does not
//     darken and no offset-curve intersection has to be solved. rasterx,
//     the only Go stroker with miter joins, is unmaintained and
//     composites its whole canvas per path.
//   - github.com/go-text/typesetting shapes text (its HarfBuzz port, with
//     bidi and script segmentation) and reads glyph outlines. A halo is the
//     glyph outlines pushed out by the halo width with round joins, by the
//     same stroker. Upright glyphs are rasterized once per size, halo and
//     quarter-pixel position and cached; turned ones (along lines, rotated
//     labels) are rasterized from their outlines each time.
//   - The label collision index is a uniform grid (MapLibre's GridIndex
//     idea): labels are small and the canvas has a fixed size, so a grid is
//     simpler and faster than an R-tree.
//
// A Canvas is used by one goroutine at a time. Fonts, and the Runs, Blocks
// and Placements it makes, are safe for concurrent use by any number of
// canvases.
package draw
