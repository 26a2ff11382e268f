package osmread

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// locatePBF walks the blocks of a PBF file to say where and how it is
// broken, once the decoder has failed on it: the decoder works ahead on
// several blocks at once and cannot tell which one failed. It checks the
// framing (length, BlobHeader, size) and inflates each block. It returns
// "" if it finds nothing wrong.
func locatePBF(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	return locateBlobs(f, fi.Size())
}

func locateBlobs(r io.ReaderAt, size int64) string {
	var off int64
	for off < size {
		var lenBuf [4]byte
		if n, _ := r.ReadAt(lenBuf[:], off); n < 4 {
			return fmt.Sprintf("truncated blob at byte %d", off)
		}
		hl := int64(binary.BigEndian.Uint32(lenBuf[:]))
		if hl == 0 || hl > 64<<10 {
			return fmt.Sprintf("corrupt blob at byte %d: header length %d", off, hl)
		}
		if off+4+hl > size {
			return fmt.Sprintf("truncated blob at byte %d", off)
		}
		head := make([]byte, hl)
		r.ReadAt(head, off+4)
		typ, dataSize, err := parseBlobHeader(head)
		if err != nil {
			return fmt.Sprintf("corrupt blob at byte %d: %v", off, err)
		}
		if typ != "OSMHeader" && typ != "OSMData" {
			return fmt.Sprintf("corrupt blob at byte %d: unknown block type %q", off, typ)
		}
		if dataSize < 0 || dataSize > 32<<20 {
			return fmt.Sprintf("corrupt blob at byte %d: data size %d", off, dataSize)
		}
		end := off + 4 + hl + dataSize
		if end > size {
			return fmt.Sprintf("truncated blob at byte %d", off)
		}
		blob := make([]byte, dataSize)
		r.ReadAt(blob, off+4+hl)
		if err := checkBlob(blob); err != nil {
			return fmt.Sprintf("corrupt blob at byte %d: %v", off, err)
		}
		off = end
	}
	return ""
}

// parseBlobHeader reads fileformat.proto's BlobHeader: type (1, string),
// indexdata (2, bytes), datasize (3, int32).
func parseBlobHeader(b []byte) (typ string, dataSize int64, err error) {
	err = protoFields(b, func(field int, wire int, v uint64, data []byte) error {
		switch {
		case field == 1 && wire == 2:
			typ = string(data)
		case field == 3 && wire == 0:
			dataSize = int64(int32(v))
		}
		return nil
	})
	return typ, dataSize, err
}

// checkBlob inflates a Blob: raw (1), raw_size (2), zlib_data (3); other
// compressions (lzma, lz4, zstd) are reported as unsupported.
func checkBlob(b []byte) error {
	var rawSize int64 = -1
	var raw, zdata []byte
	other := false
	err := protoFields(b, func(field int, wire int, v uint64, data []byte) error {
		switch {
		case field == 1 && wire == 2:
			raw = data
		case field == 2 && wire == 0:
			rawSize = int64(v)
		case field == 3 && wire == 2:
			zdata = data
		case field >= 4 && field <= 7:
			other = true
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case raw != nil:
		return nil
	case other:
		return errors.New("compressed with something other than zlib, which kiln does not read")
	case zdata == nil:
		return errors.New("no data")
	}
	zr, err := zlib.NewReader(bytes.NewReader(zdata))
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, 64<<20))
	if err != nil {
		return err
	}
	if rawSize >= 0 && n != rawSize {
		return fmt.Errorf("inflates to %d bytes, header says %d", n, rawSize)
	}
	return nil
}

// protoFields calls fn for each field of a protobuf message: varints with
// v, length-delimited fields with data. Fixed-width fields are skipped.
func protoFields(b []byte, fn func(field, wire int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad protobuf key")
		}
		b = b[n:]
		field, wire := int(key>>3), int(key&7)
		switch wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad protobuf varint")
			}
			b = b[n:]
			if err := fn(field, wire, v, nil); err != nil {
				return err
			}
		case 1, 5:
			w := 8
			if wire == 5 {
				w = 4
			}
			if len(b) < w {
				return errors.New("truncated protobuf field")
			}
			b = b[w:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("bad protobuf length")
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			if err := fn(field, wire, 0, data); err != nil {
				return err
			}
		default:
			return fmt.Errorf("bad protobuf wire type %d", wire)
		}
	}
	return nil
}
