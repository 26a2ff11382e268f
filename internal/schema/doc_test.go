package schema

import (
	"os"
	"strings"
	"testing"
)

// docs/schema.md documents every layer and attribute.
func TestDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	headed := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		if title, ok := strings.CutPrefix(line, "### "); ok {
			names, _, _ := strings.Cut(title, " — ")
			for _, n := range strings.Split(names, ", ") {
				headed[n] = true
			}
		}
	}
	for _, l := range Layers() {
		if !headed[l.Name] {
			t.Errorf("layer %s has no heading", l.Name)
		}
		for f := range l.Fields {
			if !strings.Contains(doc, "`"+f+"`") && !strings.Contains(doc, f) {
				t.Errorf("layer %s: attribute %s not documented", l.Name, f)
			}
		}
	}
}
