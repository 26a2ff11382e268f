// Package osmread opens the OpenStreetMap files kiln imports — .osm.pbf
// (decoded in parallel), .osm XML, either compressed with gzip or bzip2 —
// and change files (.osc), and scans their objects with paulmach/osm. Its
// errors say which file and where in it.
//
// The change-file reader is written here because paulmach/osm decodes an
// osmChange document into one create, one modify and one delete block,
// while replication diffs hold many of each, in an order that matters.
package osmread

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"
)

// ErrFormat is a file that is not what its name says, or not OSM data.
var ErrFormat = errors.New("not an OSM file")

// Kind is the encoding of an OSM file.
type Kind int

const (
	PBF Kind = iota
	XML
	Change
)

func (k Kind) String() string { return [...]string{"OSM PBF", "OSM XML", "osmChange XML"}[k] }

// Reader scans the objects of an OSM data file (PBF or XML).
type Reader struct {
	path    string
	kind    Kind
	f       *os.File
	counter *countingReader
	pbf     *osmpbf.Scanner
	xml     *osmxml.Scanner
	bounds  *osm.Bounds
}

// Open opens an OSM data file, decoding PBF blocks on procs goroutines.
// The kind comes from the name (.osm.pbf, .osm, .osm.gz, .osm.bz2) and must
// match the content.
func Open(ctx context.Context, path string, procs int) (*Reader, error) {
	kind, compression, err := kindOf(path)
	if err != nil {
		return nil, err
	}
	if kind == Change {
		return nil, fmt.Errorf("%s: a change file: import it with --append", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: path, kind: kind, f: f, counter: &countingReader{r: f}}
	in, err := decompress(r.counter, compression, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(in, 64<<10)
	if err := sniff(br, kind, path); err != nil {
		f.Close()
		return nil, err
	}
	switch kind {
	case PBF:
		r.pbf = osmpbf.New(ctx, br, procs)
		h, err := r.pbf.Header()
		if err != nil {
			f.Close()
			return nil, r.wrap(err)
		}
		r.bounds = h.Bounds
	case XML:
		r.xml = osmxml.New(ctx, br)
	}
	return r, nil
}

// Kind is the file's encoding.
func (r *Reader) Kind() Kind { return r.kind }

// Bounds is the area the file's header declares, if any.
func (r *Reader) Bounds() *osm.Bounds { return r.bounds }

// BytesRead is how much of the file has been read, for progress reports.
func (r *Reader) BytesRead() int64 { return r.counter.n.Load() }

// Scan advances to the next object.
func (r *Reader) Scan() bool {
	if r.pbf != nil {
		return r.pbf.Scan()
	}
	return r.xml.Scan()
}

// Object is the object Scan found.
func (r *Reader) Object() osm.Object {
	if r.pbf != nil {
		return r.pbf.Object()
	}
	obj := r.xml.Object()
	if b, ok := obj.(*osm.Bounds); ok && r.bounds == nil {
		r.bounds = b
	}
	return obj
}

// Err is the error that stopped Scan, naming the file and the position.
func (r *Reader) Err() error {
	var err error
	if r.pbf != nil {
		err = r.pbf.Err()
	} else {
		err = r.xml.Err()
	}
	if err == nil {
		return nil
	}
	return r.wrap(err)
}

// wrap says where an error happened. For PBF, the position is the start of
// the broken block.
func (r *Reader) wrap(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if r.kind == PBF {
		if where := locatePBF(r.path); where != "" {
			return fmt.Errorf("%s: %s", r.path, where)
		}
		return fmt.Errorf("%s: %v", r.path, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: truncated at byte %d", r.path, r.BytesRead())
	}
	return fmt.Errorf("%s: near byte %d: %v", r.path, r.BytesRead(), err)
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.pbf != nil {
		r.pbf.Close()
	}
	if r.xml != nil {
		r.xml.Close()
	}
	return r.f.Close()
}

type compression int

const (
	none compression = iota
	gz
	bz2
)

// kindOf reads a file's kind and compression from its name.
func kindOf(path string) (Kind, compression, error) {
	name := strings.ToLower(path)
	c := none
	switch {
	case strings.HasSuffix(name, ".gz"):
		c, name = gz, strings.TrimSuffix(name, ".gz")
	case strings.HasSuffix(name, ".bz2"):
		c, name = bz2, strings.TrimSuffix(name, ".bz2")
	}
	switch {
	case strings.HasSuffix(name, ".pbf") && c == none:
		return PBF, c, nil
	case strings.HasSuffix(name, ".osm"):
		return XML, c, nil
	case strings.HasSuffix(name, ".osc"):
		return Change, c, nil
	}
	return 0, 0, fmt.Errorf("%s: %w: want .osm.pbf, .osm, .osm.gz, .osm.bz2 or .osc", path, ErrFormat)
}

func decompress(r io.Reader, c compression, path string) (io.Reader, error) {
	switch c {
	case gz:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: not gzip-compressed: %v", path, ErrFormat, err)
		}
		return z, nil
	case bz2:
		return bzip2.NewReader(r), nil
	}
	return r, nil
}

// sniff checks that the content starts like the kind the name promises.
func sniff(br *bufio.Reader, kind Kind, path string) error {
	head, err := br.Peek(64)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			return fmt.Errorf("%s: %w: empty file", path, ErrFormat)
		}
		return fmt.Errorf("%s: %v", path, err)
	}
	xmlish := bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf"), []byte("<"))
	switch {
	case kind == PBF && xmlish:
		return fmt.Errorf("%s: %w: it holds XML, not PBF (name it .osm)", path, ErrFormat)
	case kind == PBF && !bytes.Contains(head, []byte("OSMHeader")):
		return fmt.Errorf("%s: %w: no OSMHeader block at the start", path, ErrFormat)
	case kind != PBF && !xmlish:
		if bytes.Contains(head, []byte("OSMHeader")) {
			return fmt.Errorf("%s: %w: it holds PBF, not XML (name it .osm.pbf)", path, ErrFormat)
		}
		return fmt.Errorf("%s: %w: it does not start like XML", path, ErrFormat)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
