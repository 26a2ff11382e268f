// Package signedurl makes and checks kiln's signed, expiring thumbnail
// URLs, for <img src> embedding without a key in the page:
//
//	/thumbnail/{signature}/{key id}/{expires}/{options}/{url}.{format}
//
// where expires is a Unix time, options are the size ("small", "large" or
// WxH), "-full" for a full-page capture and "-ast" for a URL handed out by
// the AST-compatible API (which billed the thumbnail when it answered), url is the page's URL in
// URL-safe base64 without padding, and the signature is the URL-safe
// base64 HMAC-SHA256, with the key's secret, of everything after
// "/thumbnail/{signature}/". The signature covers the key, the expiry, the
// options and the page; it is cut off by position, never searched for (a
// search is how thumbor's signatures were bypassed, GHSA-mw3h-qjxj-6xg9),
// and compared in constant time.
package signedurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prefix is where signed URLs live.
const Prefix = "/thumbnail/"

// Request is what a signed URL asks for.
type Request struct {
	KeyID    string
	Expires  time.Time
	Size     string // small, large or WxH, as asked
	FullPage bool
	AST      bool // handed out by the AST API, which billed the thumbnail already
	URL      string
	Format   string // png, jpeg, webp
}

// ErrMalformed is a path that is not a signed URL; ErrSignature a
// signature that does not match; ErrExpired a URL past its time.
var (
	ErrMalformed = errors.New("malformed signed URL")
	ErrSignature = errors.New("signature does not match")
	ErrExpired   = errors.New("signed URL expired")
)

var b64 = base64.RawURLEncoding

// Path makes the signed path of r with secret.
func Path(secret []byte, r Request) string {
	opts := r.Size
	if r.FullPage {
		opts += "-full"
	}
	if r.AST {
		opts += "-ast"
	}
	signed := fmt.Sprintf("%s/%d/%s/%s.%s", r.KeyID, r.Expires.Unix(), opts, b64.EncodeToString([]byte(r.URL)), r.Format)
	return Prefix + sign(secret, signed) + "/" + signed
}

func sign(secret []byte, s string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return b64.EncodeToString(m.Sum(nil))
}

// Parse reads a signed path without checking its signature (the key id
// says whose secret checks it): the request, the signature and the signed
// string.
func Parse(path string) (r Request, sig, signed string, err error) {
	rest, ok := strings.CutPrefix(path, Prefix)
	if !ok {
		return r, "", "", ErrMalformed
	}
	sig, signed, ok = strings.Cut(rest, "/")
	parts := strings.Split(signed, "/")
	if !ok || len(parts) != 4 || sig == "" {
		return r, "", "", fmt.Errorf("%w: want %s{signature}/{key}/{expires}/{options}/{url}.{format}", ErrMalformed, Prefix)
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || exp < 0 {
		return r, "", "", fmt.Errorf("%w: expiry %q", ErrMalformed, parts[1])
	}
	opts := parts[2]
	opts, r.AST = strings.CutSuffix(opts, "-ast")
	r.Size, r.FullPage = strings.CutSuffix(opts, "-full")
	enc, format, ok := strings.Cut(parts[3], ".")
	u, err := b64.DecodeString(enc)
	if !ok || err != nil || len(u) == 0 || parts[0] == "" || r.Size == "" {
		return r, "", "", fmt.Errorf("%w: bad key, options or page URL", ErrMalformed)
	}
	r.KeyID, r.Expires, r.URL, r.Format = parts[0], time.Unix(exp, 0), string(u), format
	return r, sig, signed, nil
}

// Verify checks a parsed URL's signature with secret and its expiry
// against now.
func Verify(secret []byte, sig, signed string, r Request, now time.Time) error {
	want := sign(secret, signed)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrSignature
	}
	if now.After(r.Expires) {
		return fmt.Errorf("%w at %s", ErrExpired, r.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}
