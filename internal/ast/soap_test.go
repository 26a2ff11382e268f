package ast

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func envelope(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<SOAP-ENV:Body>` + body + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

func TestParseSOAPGuide(t *testing.T) {
	r, err := ParseSOAP(readFile(t, "soap_request_guide.xml"))
	if err != nil || r.Err != nil {
		t.Fatal(err, r.Err)
	}
	want := Credentials{AccessKeyID: "1234567890ABCDFGHIJ", Signature: "CekuNgi1Tg4AoXNgnQ6Ic4rAkPI=", Timestamp: "2006-01-01T00:00:00.000Z"}
	if r.Action != ActionThumbnail || r.Cred != want {
		t.Errorf("%s %+v", r.Action, r.Cred)
	}
	var urls []string
	for _, it := range r.Items {
		if it.Err != nil || it.Size != Large {
			t.Errorf("%+v", it)
		}
		urls = append(urls, it.URL)
	}
	if strings.Join(urls, " ") != "www.alexa.com www.amazon.com www.a9.com" {
		t.Errorf("urls %v", urls)
	}
}

func TestParseSOAP(t *testing.T) {
	const ns = `xmlns:m="http://ast.amazonaws.com/doc/2006-05-15/"`
	const creds = `<m:Signature>sig</m:Signature><m:Timestamp>2006-01-01T00:00:00Z</m:Timestamp><m:AWSAccessKeyId>AKK</m:AWSAccessKeyId>`
	many := ""
	for i := range 21 {
		many += fmt.Sprintf("<m:Request><m:Url>u%d</m:Url></m:Request>", i)
	}
	for _, tc := range []struct {
		name, doc string
		code      string // ParseSOAP's error
		reqErr    string
		items     []item
	}{
		{"sizes", envelope(`<m:ThumbnailRequest ` + ns + `><m:Shared><m:Size>Small</m:Size></m:Shared>
			<m:Request>` + creds + `<m:Url>a</m:Url></m:Request><m:Request><m:Url>b</m:Url><m:Size>Large</m:Size></m:Request>
			<m:Request><m:Url>c</m:Url><m:Size>small</m:Size></m:Request><m:Request><m:Url xsi:nil="true"/></m:Request><m:Request/></m:ThumbnailRequest>`),
			"", "", []item{{"a", "Request.1.Url", Small, ""}, {"b", "Request.2.Url", Large, ""}, {"c", "Request.3.Url", Large, CodeInvalidParameterValue},
				{"", "Request.4.Url", Small, CodeMissingParameter}, {"", "Request.5.Url", Small, CodeMissingParameter}}},
		{"unqualified, credentials on the operation", envelope(`<ThumbnailRequest><AWSAccessKeyId>AKK</AWSAccessKeyId><Signature>sig</Signature>
			<Timestamp>2006-01-01T00:00:00Z</Timestamp><Request><Url> a </Url><Extra><Deep/></Extra></Request></ThumbnailRequest>`),
			"", "", []item{{"a", "Request.1.Url", Large, ""}}},
		{"header", strings.Replace(envelope(`<m:ThumbnailRequest `+ns+`><m:Request>`+creds+`<m:Url>a</m:Url></m:Request></m:ThumbnailRequest>`),
			"<SOAP-ENV:Body>", "<SOAP-ENV:Header><x:Auth xmlns:x=\"urn:x\">y</x:Auth></SOAP-ENV:Header><SOAP-ENV:Body>", 1),
			"", "", []item{{"a", "Request.1.Url", Large, ""}}},
		{"no requests", envelope(`<m:ThumbnailRequest ` + ns + `><m:Shared>` + creds + `</m:Shared></m:ThumbnailRequest>`), "", CodeMissingParameter, nil},
		{"21 requests", envelope(`<m:ThumbnailRequest ` + ns + `>` + strings.Replace(many, "<m:Request>", "<m:Request>"+creds, 1) + `</m:ThumbnailRequest>`), "", CodeInvalidParameterValue, nil},
		{"SOAP 1.2", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`, CodeVersionMismatch, "", nil},
		{"not an envelope", `<ThumbnailRequest/>`, CodeInvalidSOAPRequest, "", nil},
		{"not XML", `Action=Thumbnail&Url=a`, CodeInvalidSOAPRequest, "", nil},
		{"empty", ``, CodeInvalidSOAPRequest, "", nil},
		{"no body", `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"></SOAP-ENV:Envelope>`, CodeInvalidSOAPRequest, "", nil},
		{"empty body", envelope(``), CodeMissingAction, "", nil},
		{"other operation", envelope(`<m:TopSitesRequest ` + ns + `/>`), CodeInvalidAction, "", nil},
		{"lower case operation", envelope(`<m:thumbnailRequest ` + ns + `/>`), CodeInvalidAction, "", nil},
		{"truncated", envelope(`<m:ThumbnailRequest ` + ns + `><m:Request><m:Url>a</m:Url>`)[:150], CodeInvalidSOAPRequest, "", nil},
		{"unclosed", strings.TrimSuffix(envelope(`<m:ThumbnailRequest `+ns+`><m:Request><m:Url>a</m:Url></m:Request></m:ThumbnailRequest>`), "</SOAP-ENV:Envelope>"), CodeInvalidSOAPRequest, "", nil},
		{"entity", `<!DOCTYPE x [<!ENTITY e "boom">]>` + envelope(`<m:ThumbnailRequest `+ns+`><m:Request><m:Url>&e;</m:Url></m:Request></m:ThumbnailRequest>`), CodeInvalidSOAPRequest, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseSOAP([]byte(tc.doc))
			if tc.code != "" {
				if err == nil || err.Code != tc.code {
					t.Fatalf("%v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Cred.AccessKeyID != "AKK" || r.Cred.Signature != "sig" || r.Cred.Timestamp != "2006-01-01T00:00:00Z" {
				t.Errorf("credentials %+v", r.Cred)
			}
			if tc.reqErr != "" {
				if r.Err == nil || r.Err.Code != tc.reqErr {
					t.Fatalf("%v, want %s", r.Err, tc.reqErr)
				}
				return
			}
			if got := items(r); !reflect.DeepEqual(got, tc.items) {
				t.Errorf("items %+v\nwant %+v", got, tc.items)
			}
		})
	}
}

// FuzzParseSOAP: any body parses without panicking, into at most 20
// items or an error, and whatever is echoed makes well-formed XML.
func FuzzParseSOAP(f *testing.F) {
	for _, name := range []string{"soap_request_guide.xml", "capture_soap_batch.xml"} {
		b, err := readTestdata(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(envelope(`<ThumbnailRequest><Shared><Size>Small</Size></Shared><Request><Url>a</Url></Request></ThumbnailRequest>`)))
	f.Add([]byte(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseSOAP(body)
		if err != nil {
			if r != nil {
				t.Fatal("both a request and an error")
			}
			if _, cerr := canonical(FaultXML(err, "id")); cerr != nil {
				t.Fatalf("fault is not XML: %v", cerr)
			}
			return
		}
		if r.Action != ActionThumbnail || len(r.Items) > MaxBatch || (r.Err == nil) == (len(r.Items) == 0) {
			t.Fatalf("%s, %d items, %v", r.Action, len(r.Items), r.Err)
		}
		results := make([]Result, len(r.Items))
		for i, it := range r.Items {
			if it.URL == "" && it.Err == nil {
				t.Fatalf("item %d without URL or error", i)
			}
			results[i] = Result{RequestURL: it.URL, Err: it.Err}
		}
		if _, cerr := canonical(SOAPResponseXML("id", results)); cerr != nil {
			t.Fatalf("answer is not XML: %v", cerr)
		}
	})
}
