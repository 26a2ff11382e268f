package mapdata

import (
	"math"
	"reflect"
	"testing"
)

func TestPropsRoundTrip(t *testing.T) {
	tests := []Props{
		{},
		{"name": "Vaduz \"Städtle\"\n", "population": int64(5000), "way_area": 4e8, "tiny": 1.5e-9, "big": 1e300, "rail": false, "oneway": true},
		{"neg": int64(-7), "zero": 0.0, "half": -0.5},
	}
	for _, p := range tests {
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalProps(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s: got %#v, want %#v", b, got, p)
		}
	}
	if _, err := (Props{"x": math.NaN()}).Marshal(); err == nil {
		t.Error("NaN encoded")
	}
	if _, err := (Props{"x": []int{1}}).Marshal(); err == nil {
		t.Error("slice encoded")
	}
}

func FuzzUnmarshalProps(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":2.0,"c":"x","d":true}`))
	f.Add([]byte(`{"a":1e400}`))
	f.Add([]byte(`{ "name" : "Vaduz", "population": 5000, "capital": false, "way_area": 12.5 }`))
	f.Add([]byte(`{"a":"\u00e9","b":[1]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The short path agrees with encoding/json wherever it decodes.
		if flat, ok := unmarshalFlat(b); ok {
			full, err := unmarshalJSON(b)
			if err != nil || !reflect.DeepEqual(flat, full) {
				t.Fatalf("%q: short path %#v, encoding/json %#v (%v)", b, flat, full, err)
			}
		}
		p, err := UnmarshalProps(b)
		if err != nil {
			return
		}
		// What decodes encodes, and decodes to the same again.
		enc, err := p.Marshal()
		if err != nil {
			return // e.g. nested values, which kiln never writes
		}
		again, err := UnmarshalProps(enc)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%s → %s → %#v, want %#v (%v)", b, enc, again, p, err)
		}
	})
}
