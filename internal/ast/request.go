package ast

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Service is AST's service name, as clients send it in Service=.
const Service = "AlexaSiteThumbnail"

// MaxBatch is the most URLs one call may ask for: "Batch mode can support
// up to 20 requests at a time."
const MaxBatch = 20

// Action is what a call asks for.
type Action string

// The actions kiln answers. AST's guide lists Thumbnail; Redirect (a 302 to
// the image, for <img src>) is what the Ruby gem and directory scripts used.
const (
	ActionThumbnail Action = "Thumbnail"
	ActionRedirect  Action = "Redirect"
)

// Size is one of AST's two thumbnail sizes.
type Size uint8

// AST's sizes: Small is 111x82, Large 201x147, both JPEG.
const (
	Large Size = iota
	Small
)

// String is the size as AST spells it.
func (s Size) String() string {
	if s == Small {
		return "Small"
	}
	return "Large"
}

// Name is the size as kiln's thumbnail API spells it ("small", "large").
func (s Size) Name() string { return strings.ToLower(s.String()) }

// ParseSize reads AST's Size, case-sensitive as AST was: "Small" or
// "Large". param names the parameter for the error.
func ParseSize(param, v string) (Size, *Error) {
	switch v {
	case "Small":
		return Small, nil
	case "Large":
		return Large, nil
	}
	return Large, InvalidValue(param, v, "Size must be Small or Large (case-sensitive)")
}

// Credentials are what a call is signed with, as received.
type Credentials struct {
	AccessKeyID string // AWSAccessKeyId (or AST's misspelt ASTAccessKeyId)
	Signature   string
	Timestamp   string
	Service     string // "" when the call does not name it
}

// Item is one URL asked for.
type Item struct {
	URL   string // as sent, echoed in aws:RequestUrl
	Size  Size
	Param string // the parameter or element that carried the URL, for errors
	Err   *Error // a bad Size, or a missing Url; the item fails on its own
}

// Request is a parsed call.
type Request struct {
	Action Action
	Cred   Credentials
	Items  []Item // in request order
	// Err is a problem with the call's URLs as a whole (none, too many,
	// both forms at once): the call fails with it, after authentication.
	Err *Error
}

// ParseQuery reads a QUERY call (GET parameters or a POST form). The error
// is for the Action only (MissingAction, InvalidAction); everything else
// is left for after authentication, in Request.Err and Item.Err, so that
// an unsigned call learns nothing more than that it is unsigned.
func ParseQuery(v url.Values) (*Request, *Error) {
	r := &Request{}
	action, aerr := parseAction(v.Get("Action"), v.Has("Action"))
	if aerr != nil {
		return nil, aerr
	}
	r.Action = action
	r.Cred = Credentials{
		AccessKeyID: v.Get("AWSAccessKeyId"),
		Signature:   v.Get("Signature"),
		Timestamp:   v.Get("Timestamp"),
		Service:     v.Get("Service"),
	}
	if r.Cred.AccessKeyID == "" {
		r.Cred.AccessKeyID = v.Get("ASTAccessKeyId") // the guide's own sample
	}
	r.Items, r.Err = queryItems(v, action)
	return r, nil
}

func parseAction(a string, present bool) (Action, *Error) {
	switch {
	case !present || a == "":
		return "", errorf(CodeMissingAction, "The request must contain the parameter Action.")
	case a == string(ActionThumbnail):
		return ActionThumbnail, nil
	case a == string(ActionRedirect):
		return ActionRedirect, nil
	}
	if len(a) > 100 {
		a = a[:100] + "…"
	}
	return "", errorf(CodeInvalidAction, "The action %s is not valid for this web service (actions are case-sensitive: Thumbnail or Redirect).", a)
}

// queryItems reads the URLs of a call: Url and Size, or Thumbnail.N.Url
// with the shared and per-item sizes.
func queryItems(v url.Values, action Action) ([]Item, *Error) {
	shared, sharedErr := Large, (*Error)(nil)
	for _, name := range []string{"Thumbnail.Shared.Size", "Shared.Size", "Size"} { // Size: a batch's plain Size is shared too
		if v.Has(name) {
			shared, sharedErr = ParseSize(name, v.Get(name))
			break
		}
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names) // the same error for the same call, whatever the map's order
	type numbered struct {
		n    int
		item Item
	}
	var batch []numbered
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, "Thumbnail.")
		if !ok {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		if !ok || num == "Shared" || (field != "Url" && field != "Size") {
			continue // not AST's: ignored, as unknown parameters are
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > MaxBatch || strconv.Itoa(n) != num {
			return nil, InvalidValue(name, v.Get(name), "batch items are numbered Thumbnail.1 to Thumbnail."+strconv.Itoa(MaxBatch))
		}
		prefix := "Thumbnail." + num + "."
		if field == "Size" {
			if !v.Has(prefix + "Url") {
				return nil, MissingParameter(prefix + "Url")
			}
			continue
		}
		it := Item{URL: v.Get(name), Param: name, Size: shared, Err: sharedErr}
		if v.Has(prefix + "Size") {
			it.Size, it.Err = ParseSize(prefix+"Size", v.Get(prefix+"Size"))
		}
		if it.URL == "" && it.Err == nil {
			it.Err = MissingParameter(name)
		}
		batch = append(batch, numbered{n, it})
	}
	single := v.Has("Url")
	switch {
	case single && len(batch) > 0:
		return nil, InvalidValue("Url", v.Get("Url"), "give either Url or Thumbnail.N.Url, not both")
	case action == ActionRedirect && len(batch) > 0:
		return nil, InvalidValue(batch[0].item.Param, batch[0].item.URL, "Redirect takes one Url")
	case single:
		it := Item{URL: v.Get("Url"), Param: "Url", Size: Large}
		if v.Has("Size") {
			it.Size, it.Err = ParseSize("Size", v.Get("Size"))
		}
		if it.URL == "" && it.Err == nil {
			it.Err = MissingParameter("Url")
		}
		return []Item{it}, nil
	case len(batch) == 0:
		return nil, MissingParameter("Url")
	}
	slices.SortFunc(batch, func(a, b numbered) int { return a.n - b.n })
	items := make([]Item, len(batch))
	for i, b := range batch {
		items[i] = b.item
	}
	return items, nil
}
