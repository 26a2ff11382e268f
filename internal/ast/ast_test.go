package ast

import (
	"errors"
	"flag"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.xml")

// Test vectors: openssl dgst -sha1 -hmac secret -binary | base64.
func TestSign(t *testing.T) {
	for _, tc := range []struct{ toSign, want string }{
		{"Thumbnail2006-01-01T00:00:00.000Z", "JLil2m3GqBQNXnR0bRWdiKhQNv0="},
		{"AlexaSiteThumbnailThumbnail2006-01-01T00:00:00.000Z", "vew9HJZ06vFJZL6RxIPIZjNsLZk="},
		{"Redirect2006-01-01T00:00:00.000Z", "mUj//KWHcj3EsOGy45hwwpuUvJw="},
	} {
		if got := Sign([]byte("secret"), tc.toSign); got != tc.want {
			t.Errorf("Sign(%q) = %s, want %s", tc.toSign, got, tc.want)
		}
	}
}

func TestVerify(t *testing.T) {
	const ts = "2006-01-01T00:00:00.000Z"
	secret := []byte("secret")
	for _, tc := range []struct {
		name    string
		c       Credentials
		action  Action
		matches bool
	}{
		{"Action+Timestamp", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0=", Timestamp: ts}, ActionThumbnail, true},
		{"no padding", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0", Timestamp: ts}, ActionThumbnail, true},
		{"padding doubled", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0==", Timestamp: ts}, ActionThumbnail, true},
		{"line break (Python's encodestring)", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0=\n", Timestamp: ts}, ActionThumbnail, true},
		{"Service variant", Credentials{Signature: "vew9HJZ06vFJZL6RxIPIZjNsLZk=", Timestamp: ts, Service: "AlexaSiteThumbnail"}, ActionThumbnail, true},
		{"plain variant with Service", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0=", Timestamp: ts, Service: "AlexaSiteThumbnail"}, ActionThumbnail, true},
		{"Service variant without Service", Credentials{Signature: "vew9HJZ06vFJZL6RxIPIZjNsLZk=", Timestamp: ts}, ActionThumbnail, false},
		{"Redirect", Credentials{Signature: "mUj//KWHcj3EsOGy45hwwpuUvJw=", Timestamp: ts}, ActionRedirect, true},
		{"Thumbnail's signature for Redirect", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0=", Timestamp: ts}, ActionRedirect, false},
		{"another timestamp", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQNv0=", Timestamp: "2006-01-01T00:00:00Z"}, ActionThumbnail, false},
		{"truncated", Credentials{Signature: "JLil2m3GqBQNXnR0bRWdiKhQ", Timestamp: ts}, ActionThumbnail, false},
		{"not base64", Credentials{Signature: "JLil2m3G!BQNXnR0bRWdiKhQNv0=", Timestamp: ts}, ActionThumbnail, false},
		{"url-safe alphabet", Credentials{Signature: "mUj__KWHcj3EsOGy45hwwpuUvJw=", Timestamp: ts}, ActionRedirect, false},
		{"empty", Credentials{Timestamp: ts}, ActionThumbnail, false},
	} {
		err := Verify(tc.c, tc.action, secret)
		if (err == nil) != tc.matches {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err != nil && (err.Code != CodeSignatureDoesNotMatch || err.Status() != 403) {
			t.Errorf("%s: %s %d", tc.name, err.Code, err.Status())
		}
	}
}

func TestSpaceForPlus(t *testing.T) {
	secret := []byte("secret")
	for ms := range 1000 {
		ts := "2006-01-01T00:00:00." + string([]byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}) + "Z"
		sig := Sign(secret, "Thumbnail"+ts)
		if !strings.Contains(sig, "+") {
			continue
		}
		if err := Verify(Credentials{Signature: strings.ReplaceAll(sig, "+", " "), Timestamp: ts}, ActionThumbnail, secret); err != nil {
			t.Errorf("%s with spaces: %v", sig, err)
		}
		return
	}
	t.Fatal("no signature with a '+'")
}

func TestCheckCredentials(t *testing.T) {
	now := time.Date(2006, 1, 1, 12, 0, 0, 0, time.UTC)
	ok := Credentials{AccessKeyID: "AKK", Signature: "x", Timestamp: "2006-01-01T12:00:00.000Z"}
	with := func(f func(*Credentials)) Credentials { c := ok; f(&c); return c }
	for _, tc := range []struct {
		name string
		c    Credentials
		code string
	}{
		{"ok", ok, ""},
		{"no key", with(func(c *Credentials) { c.AccessKeyID = "" }), CodeAuthFailure},
		{"no signature", with(func(c *Credentials) { c.Signature = "" }), CodeMissingParameter},
		{"no timestamp", with(func(c *Credentials) { c.Timestamp = "" }), CodeMissingParameter},
		{"guide's malformed sample", with(func(c *Credentials) { c.Timestamp = "2005-01-31T23:59:183Z" }), CodeInvalidParameterValue},
		{"not a date", with(func(c *Credentials) { c.Timestamp = "yesterday" }), CodeInvalidParameterValue},
		{"seconds (Python)", with(func(c *Credentials) { c.Timestamp = "2006-01-01T12:14:59Z" }), ""},
		{"15 minutes ahead", with(func(c *Credentials) { c.Timestamp = "2006-01-01T12:15:00Z" }), ""},
		{"15 minutes behind", with(func(c *Credentials) { c.Timestamp = "2006-01-01T11:45:00.000Z" }), ""},
		{"16 minutes ahead", with(func(c *Credentials) { c.Timestamp = "2006-01-01T12:16:00Z" }), CodeRequestExpired},
		{"16 minutes behind", with(func(c *Credentials) { c.Timestamp = "2006-01-01T11:44:00.000Z" }), CodeRequestExpired},
		{"offset", with(func(c *Credentials) { c.Timestamp = "2006-01-01T23:00:00+11:00" }), ""},
		{"offset, expired", with(func(c *Credentials) { c.Timestamp = "2006-01-01T12:00:00+11:00" }), CodeRequestExpired},
		{"no zone: UTC", with(func(c *Credentials) { c.Timestamp = "2006-01-01T12:05:00" }), ""},
		{"a day off", with(func(c *Credentials) { c.Timestamp = "2006-01-02T12:00:00Z" }), CodeRequestExpired},
	} {
		err := CheckCredentials(tc.c, now)
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != "" && (err == nil || err.Code != tc.code):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestErrorStatuses(t *testing.T) {
	for code, status := range map[string]int{
		CodeMissingAction: 400, CodeInvalidAction: 400, CodeMissingParameter: 400, CodeInvalidParameterValue: 400,
		CodeRequestExpired: 400, CodeAuthFailure: 403, CodeInvalidClientTokenID: 403, CodeSignatureDoesNotMatch: 403,
		CodeThrottling: 503, CodeInternalError: 500, CodeServiceUnavailable: 503, CodeInvalidHTTPRequest: 405,
		CodeVersionMismatch: 400, CodeInvalidSOAPRequest: 400,
	} {
		e := &Error{Code: code, Message: "m"}
		if e.Status() != status {
			t.Errorf("%s: %d, want %d", code, e.Status(), status)
		}
		if e.Server() != (status >= 500) {
			t.Errorf("%s: Server() = %v", code, e.Server())
		}
	}
	var e error = MissingParameter("Url")
	if !strings.Contains(e.Error(), "MissingParameter") {
		t.Error(e)
	}
	var ae *Error
	if !errors.As(e, &ae) {
		t.Error("not an *Error")
	}
}

func TestParseQuery(t *testing.T) {
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const creds = "&AWSAccessKeyId=AKK&Timestamp=2006-01-01T00:00:00Z&Signature=sig"
	for _, tc := range []struct {
		name   string
		query  string
		code   string // of ParseQuery's error
		action Action
		items  []item
		reqErr string // Request.Err's code
	}{
		{"single", "Action=Thumbnail&Url=www.alexa.com&Size=Small" + creds, "", ActionThumbnail,
			[]item{{"www.alexa.com", "Url", Small, ""}}, ""},
		{"single, Large by default", "Action=Thumbnail&Url=kelvinism.com" + creds, "", ActionThumbnail,
			[]item{{"kelvinism.com", "Url", Large, ""}}, ""},
		{"single, size in lower case", "Action=Thumbnail&Url=a.com&Size=small" + creds, "", ActionThumbnail,
			[]item{{"a.com", "Url", Large, CodeInvalidParameterValue}}, ""},
		{"single, empty Url", "Action=Thumbnail&Url=" + creds, "", ActionThumbnail,
			[]item{{"", "Url", Large, CodeMissingParameter}}, ""},
		{"redirect", "Action=Redirect&Service=AlexaSiteThumbnail&Url=a.com" + creds, "", ActionRedirect,
			[]item{{"a.com", "Url", Large, ""}}, ""},
		{"batch, Thumbnail.Shared.Size (Python)", "Action=Thumbnail&Thumbnail.1.Url=kelvinism.com&Thumbnail.2.Url=alexa.com&Thumbnail.3.Url=vpslink.com&Thumbnail.Shared.Size=Small" + creds, "", ActionThumbnail,
			[]item{{"kelvinism.com", "Thumbnail.1.Url", Small, ""}, {"alexa.com", "Thumbnail.2.Url", Small, ""}, {"vpslink.com", "Thumbnail.3.Url", Small, ""}}, ""},
		{"batch, Shared.Size (guide, Perl)", "Action=Thumbnail&Thumbnail.1.Url=http://perl.com&Thumbnail.2.Url=http://perlmonks.org&Shared.Size=Large" + creds, "", ActionThumbnail,
			[]item{{"http://perl.com", "Thumbnail.1.Url", Large, ""}, {"http://perlmonks.org", "Thumbnail.2.Url", Large, ""}}, ""},
		{"batch, per item size over shared", "Action=Thumbnail&Thumbnail.1.Url=a&Thumbnail.2.Url=b&Thumbnail.2.Size=Large&Shared.Size=Small" + creds, "", ActionThumbnail,
			[]item{{"a", "Thumbnail.1.Url", Small, ""}, {"b", "Thumbnail.2.Url", Large, ""}}, ""},
		{"batch, plain Size shared", "Action=Thumbnail&Thumbnail.1.Url=a&Size=Small" + creds, "", ActionThumbnail,
			[]item{{"a", "Thumbnail.1.Url", Small, ""}}, ""},
		{"batch, numbered order", "Action=Thumbnail&Thumbnail.10.Url=j&Thumbnail.2.Url=b&Thumbnail.1.Url=a" + creds, "", ActionThumbnail,
			[]item{{"a", "Thumbnail.1.Url", Large, ""}, {"b", "Thumbnail.2.Url", Large, ""}, {"j", "Thumbnail.10.Url", Large, ""}}, ""},
		{"batch, bad items fail alone", "Action=Thumbnail&Thumbnail.1.Url=a&Thumbnail.1.Size=LARGE&Thumbnail.2.Url=&Thumbnail.3.Url=c" + creds, "", ActionThumbnail,
			[]item{{"a", "Thumbnail.1.Url", Large, CodeInvalidParameterValue}, {"", "Thumbnail.2.Url", Large, CodeMissingParameter}, {"c", "Thumbnail.3.Url", Large, ""}}, ""},
		{"batch, bad shared size", "Action=Thumbnail&Thumbnail.1.Url=a&Thumbnail.2.Url=b&Thumbnail.2.Size=Small&Shared.Size=tiny" + creds, "", ActionThumbnail,
			[]item{{"a", "Thumbnail.1.Url", Large, CodeInvalidParameterValue}, {"b", "Thumbnail.2.Url", Small, ""}}, ""},
		{"batch of 20", "Action=Thumbnail&Thumbnail.20.Url=t" + creds, "", ActionThumbnail, []item{{"t", "Thumbnail.20.Url", Large, ""}}, ""},
		{"item 21", "Action=Thumbnail&Thumbnail.21.Url=u" + creds, "", ActionThumbnail, nil, CodeInvalidParameterValue},
		{"item 0", "Action=Thumbnail&Thumbnail.0.Url=u" + creds, "", ActionThumbnail, nil, CodeInvalidParameterValue},
		{"item 01", "Action=Thumbnail&Thumbnail.01.Url=u" + creds, "", ActionThumbnail, nil, CodeInvalidParameterValue},
		{"item -1", "Action=Thumbnail&Thumbnail.-1.Url=u" + creds, "", ActionThumbnail, nil, CodeInvalidParameterValue},
		{"size without url", "Action=Thumbnail&Thumbnail.1.Url=a&Thumbnail.2.Size=Small" + creds, "", ActionThumbnail, nil, CodeMissingParameter},
		{"both forms", "Action=Thumbnail&Url=a&Thumbnail.1.Url=b" + creds, "", ActionThumbnail, nil, CodeInvalidParameterValue},
		{"no url", "Action=Thumbnail" + creds, "", ActionThumbnail, nil, CodeMissingParameter},
		{"url in lower case is not Url", "Action=Thumbnail&url=a" + creds, "", ActionThumbnail, nil, CodeMissingParameter},
		{"redirect batch", "Action=Redirect&Thumbnail.1.Url=a" + creds, "", ActionRedirect, nil, CodeInvalidParameterValue},
		{"unknown parameters ignored", "Action=Thumbnail&Url=a&Thumbnail.1.Colour=red&Version=2006-05-15" + creds, "", ActionThumbnail,
			[]item{{"a", "Url", Large, ""}}, ""},
		{"no action", "Url=a" + creds, CodeMissingAction, "", nil, ""},
		{"empty action", "Action=&Url=a" + creds, CodeMissingAction, "", nil, ""},
		{"action in lower case", "Action=thumbnail&Url=a" + creds, CodeInvalidAction, "", nil, ""},
		{"other action", "Action=TopSites&Url=a" + creds, CodeInvalidAction, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseQuery(q(tc.query))
			if tc.code != "" {
				if err == nil || err.Code != tc.code {
					t.Fatalf("%v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Action != tc.action || r.Cred != (Credentials{AccessKeyID: "AKK", Timestamp: "2006-01-01T00:00:00Z", Signature: "sig", Service: q(tc.query).Get("Service")}) {
				t.Errorf("action %s, credentials %+v", r.Action, r.Cred)
			}
			if tc.reqErr != "" {
				if r.Err == nil || r.Err.Code != tc.reqErr {
					t.Fatalf("request error %v, want %s", r.Err, tc.reqErr)
				}
				return
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if got := items(r); !reflect.DeepEqual(got, tc.items) {
				t.Errorf("items %+v\nwant %+v", got, tc.items)
			}
		})
	}
	// The guide's own sample misspells the key parameter.
	r, _ := ParseQuery(q("Action=Thumbnail&Url=a&ASTAccessKeyId=AKK1"))
	if r.Cred.AccessKeyID != "AKK1" {
		t.Errorf("ASTAccessKeyId: %+v", r.Cred)
	}
}

// FuzzParseQuery: any query string parses without panicking into at most
// 20 items, each with a URL or an error, and the answer for them is
// well-formed XML.
func FuzzParseQuery(f *testing.F) {
	f.Add("Action=Thumbnail&Url=www.alexa.com&Size=Small&AWSAccessKeyId=AKK&Timestamp=2006-01-01T00:00:00Z&Signature=x")
	f.Add("Action=Thumbnail&Thumbnail.1.Url=a&Thumbnail.2.Url=b&Thumbnail.2.Size=Large&Thumbnail.Shared.Size=Small")
	f.Add("Action=Redirect&Service=AlexaSiteThumbnail&Url=a")
	f.Add("Action=Thumbnail&Thumbnail.21.Url=a&Shared.Size=x")
	f.Fuzz(func(t *testing.T, query string) {
		v, _ := url.ParseQuery(query)
		r, err := ParseQuery(v)
		if err != nil {
			if r != nil || (err.Code != CodeMissingAction && err.Code != CodeInvalidAction) {
				t.Fatalf("%q: %v %+v", query, err, r)
			}
			return
		}
		if r.Err == nil && (len(r.Items) == 0 || len(r.Items) > MaxBatch) {
			t.Fatalf("%q: %d items", query, len(r.Items))
		}
		results := make([]Result, len(r.Items))
		for i, it := range r.Items {
			if it.URL == "" && it.Err == nil {
				t.Fatalf("%q: item %d without URL or error", query, i)
			}
			results[i] = Result{RequestURL: it.URL, Image: it.URL, Err: it.Err}
		}
		if _, err := canonical(ResponseXML(RESTNamespace, NewRequestID(), results)); err != nil {
			t.Fatalf("%q: answer is not XML: %v", query, err)
		}
		if r.Err != nil {
			if _, err := canonical(ErrorXML(r.Err, "id")); err != nil {
				t.Fatalf("%q: error is not XML: %v", query, err)
			}
		}
	})
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestdata(name string) ([]byte, error) { return os.ReadFile("testdata/" + name) }

// item is one item of a parsed request, as the tests compare it.
type item struct {
	URL, Param string
	Size       Size
	Code       string // of the item's error
}

// items is what a parsed request asks for, item by item, with each
// item's error code.
func items(r *Request) []item {
	var got []item
	for _, it := range r.Items {
		code := ""
		if it.Err != nil {
			code = it.Err.Code
		}
		got = append(got, item{it.URL, it.Param, it.Size, code})
	}
	return got
}
