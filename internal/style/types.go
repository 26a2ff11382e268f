package style

import (
	"fmt"
	"strconv"
)

// kind is the kind of a type of the expression language.
type kind uint8

const (
	kindNull kind = iota
	kindNumber
	kindString
	kindBoolean
	kindColor
	kindObject
	kindValue
	kindArray
	kindError
	kindCollator
	kindFormatted
	kindImage
)

var kindNames = [...]string{
	kindNull:      "null",
	kindNumber:    "number",
	kindString:    "string",
	kindBoolean:   "boolean",
	kindColor:     "color",
	kindObject:    "object",
	kindValue:     "value",
	kindArray:     "array",
	kindError:     "error",
	kindCollator:  "collator",
	kindFormatted: "formatted",
	kindImage:     "resolvedImage",
}

// typ is a static type of the expression language: the type checker
// decides at parse time where values must be asserted or coerced, as
// MapLibre's does.
type typ struct {
	kind kind
	item *typ // array items
	n    int  // array length, -1 for any
}

var (
	tNull      = &typ{kind: kindNull}
	tNumber    = &typ{kind: kindNumber}
	tString    = &typ{kind: kindString}
	tBoolean   = &typ{kind: kindBoolean}
	tColor     = &typ{kind: kindColor}
	tObject    = &typ{kind: kindObject}
	tValue     = &typ{kind: kindValue}
	tError     = &typ{kind: kindError}
	tCollator  = &typ{kind: kindCollator}
	tFormatted = &typ{kind: kindFormatted}
	tImage     = &typ{kind: kindImage}
)

// arrayOf is the type array<item, n>; n < 0 leaves the length open.
func arrayOf(item *typ, n int) *typ {
	return &typ{kind: kindArray, item: item, n: n}
}

func (t *typ) String() string {
	if t.kind != kindArray {
		return kindNames[t.kind]
	}
	switch {
	case t.n >= 0:
		return "array<" + t.item.String() + ", " + strconv.Itoa(t.n) + ">"
	case t.item.kind == kindValue:
		return "array"
	default:
		return "array<" + t.item.String() + ">"
	}
}

// valueMembers are the types a value may hold.
var valueMembers = []*typ{tNull, tNumber, tString, tBoolean, tColor, tFormatted, tObject, arrayOf(tValue, -1), tImage}

// subtypeError says why t does not fit where expected is wanted, or ""
// when it does.
func subtypeError(expected, t *typ) string {
	if t.kind == kindError {
		return ""
	}
	switch {
	case expected.kind == kindArray:
		if t.kind == kindArray &&
			(t.n == 0 && t.item.kind == kindValue || subtypeError(expected.item, t.item) == "") &&
			(expected.n < 0 || expected.n == t.n) {
			return ""
		}
	case expected.kind == t.kind:
		return ""
	case expected.kind == kindValue:
		for _, m := range valueMembers {
			if subtypeError(m, t) == "" {
				return ""
			}
		}
	}
	return fmt.Sprintf("expected %s but found %s", expected, t)
}

// sameType reports whether two types are the same for inferring the item
// type of an array: as in MapLibre, which compares type objects, two array
// types never are.
func sameType(a, b *typ) bool {
	return a.kind == b.kind && a.kind != kindArray
}

// typeOf is the type of a runtime value.
func typeOf(v any) *typ {
	switch v := v.(type) {
	case nil:
		return tNull
	case string:
		return tString
	case bool:
		return tBoolean
	case Color:
		return tColor
	case Formatted:
		return tFormatted
	case Image:
		return tImage
	case *collator:
		return tCollator
	case []any:
		var item *typ
		for _, x := range v {
			t := typeOf(x)
			if item == nil {
				item = t
			} else if !sameType(item, t) {
				item = tValue
				break
			}
		}
		if item == nil {
			item = tValue
		}
		return arrayOf(item, len(v))
	case map[string]any:
		return tObject
	}
	if _, ok := toFloat(v); ok {
		return tNumber
	}
	return tObject
}
