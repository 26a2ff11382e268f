package pagerender

import (
	"testing"

	"kiln/internal/imgenc"
)

func TestParseSizeAndFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
		ok   bool
	}{
		{"small", Small, true}, {"LARGE", Large, true}, {"", Large, true}, {"320x100", Size{320, 100}, true},
		{"huge", Size{}, false}, {"0x10", Size{}, false}, {"5000x10", Size{}, false}, {"10x", Size{}, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, tc := range []struct {
		in   string
		want imgenc.Format
		ok   bool
	}{
		{"", imgenc.JPEG, true}, {"jpg", imgenc.JPEG, true}, {"JPEG", imgenc.JPEG, true}, {"png", imgenc.PNG, true},
		{"webp", imgenc.WebP, true}, {"png8", 0, false}, {"gif", 0, false},
	} {
		got, err := ParseFormat(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseFormat(%q) = %v, %v", tc.in, got, err)
		}
	}
}
