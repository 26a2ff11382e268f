package signedurl

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	secret := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	r := Request{KeyID: "AKK123", Expires: now.Add(time.Hour), Size: "large", FullPage: true, URL: "http://example.com/a?b=c&d=é", Format: "jpeg"}
	p := Path(secret, r)
	if !strings.HasPrefix(p, Prefix) || strings.ContainsAny(p[len(Prefix):], "?#=+ ") {
		t.Errorf("path %q is not a clean URL path", p)
	}
	got, sig, signed, err := Parse(p)
	if err != nil || got != r {
		t.Fatalf("parsed %+v, %v; want %+v", got, err, r)
	}
	if err := Verify(secret, sig, signed, got, now); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := Verify([]byte("other"), sig, signed, got, now); !errors.Is(err, ErrSignature) {
		t.Errorf("another secret: %v", err)
	}
	if err := Verify(secret, sig, signed, got, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	// Any change to what is signed breaks the signature: the page, the
	// size, the expiry, the key, the format.
	for _, change := range []func(Request) Request{
		func(r Request) Request { r.URL = "http://example.com/b"; return r },
		func(r Request) Request { r.Size = "small"; return r },
		func(r Request) Request { r.FullPage = false; return r },
		func(r Request) Request { r.AST = true; return r },
		func(r Request) Request { r.Expires = r.Expires.Add(time.Hour); return r },
		func(r Request) Request { r.KeyID = "AKK124"; return r },
		func(r Request) Request { r.Format = "png"; return r },
	} {
		other := Path(secret, change(r))
		_, _, signed2, err := Parse(other)
		if err != nil {
			t.Fatal(err)
		}
		r2, _, _, _ := Parse(other)
		if Verify(secret, sig, signed2, r2, now) == nil {
			t.Errorf("%s accepted with the signature of %s", other, p)
		}
	}
	// The signature repeated in the path (thumbor's bypass) is not found
	// by a search: it sits in the wrong position.
	if _, _, _, err := Parse(Prefix + sig + "/" + sig + "/" + signed); err == nil {
		t.Error("doubled signature parsed")
	}
}

func TestMalformed(t *testing.T) {
	for _, p := range []string{
		"/thumbnail/", "/thumbnail/sig", "/thumbnail/sig/AKK/1/large", "/other/sig/AKK/1/large/aGk.jpeg",
		"/thumbnail/sig/AKK/x/large/aGk.jpeg", "/thumbnail/sig/AKK/-5/large/aGk.jpeg", "/thumbnail/sig/AKK/1/large/!!.jpeg",
		"/thumbnail/sig/AKK/1/large/aGk", "/thumbnail//AKK/1/large/aGk.jpeg", "/thumbnail/sig/AKK/1//aGk.jpeg",
	} {
		if _, _, _, err := Parse(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Path([]byte("k"), Request{KeyID: "AKK", Expires: time.Unix(5, 0), Size: "small", URL: "http://a/", Format: "png"}))
	f.Add("/thumbnail/a/b/1/c/d.e")
	f.Add(Path([]byte("k"), Request{KeyID: "AKK", Expires: time.Unix(5, 0), Size: "large", AST: true, URL: "http://a/", Format: "jpeg"}))
	f.Fuzz(func(t *testing.T, p string) {
		r, sig, signed, err := Parse(p)
		if err != nil {
			return
		}
		if r.KeyID == "" || r.URL == "" || r.Size == "" || sig == "" || p != Prefix+sig+"/"+signed {
			t.Fatalf("%q parsed as %+v", p, r)
		}
		// A URL re-made from what was parsed parses to the same request.
		again, _, _, err := Parse(Path([]byte("k"), r))
		if err != nil || again != r {
			t.Fatalf("%q: %+v then %+v (%v)", p, r, again, err)
		}
	})
}
