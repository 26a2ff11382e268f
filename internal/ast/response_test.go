package ast

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/gif"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// canonical is a document's elements (with their prefixes as written),
// attributes (namespace declarations included, sorted) and non-blank text,
// one per line: what must match, indentation and line breaks in tags
// aside.
func canonical(doc []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var b strings.Builder
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if depth != 0 {
				return "", io.ErrUnexpectedEOF
			}
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			var attrs []string
			for _, a := range t.Attr {
				attrs = append(attrs, qname(a.Name)+"="+a.Value)
			}
			slices.Sort(attrs)
			fmt.Fprintf(&b, "<%s %s>\n", qname(t.Name), strings.Join(attrs, " "))
		case xml.EndElement:
			depth--
			fmt.Fprintf(&b, "</%s>\n", qname(t.Name))
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				fmt.Fprintf(&b, "%q\n", s)
			}
		}
	}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func mustCanonical(t *testing.T, doc []byte) string {
	t.Helper()
	c, err := canonical(doc)
	if err != nil {
		t.Fatalf("%v:\n%s", err, doc)
	}
	return c
}

// golden compares got with testdata/name byte for byte (-update writes it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile("testdata/"+name, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, name); !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s\nwant\n%s", name, got, want)
	}
}

// The two captured batch answers, re-made by kiln from what they say.
var (
	restCapture = []Result{
		{RequestURL: "http://perl.com", Exists: true, Image: "http://s3-external-1.amazonaws.com/alexa-thumbnails/8B73F06519330A18C025A0482654A8C8FAC5CC8Cl?Signature=HZZMAUN5h558Y74xKD4GsRvldbY%3D&Expires=1181247230&AWSAccessKeyId=1FVZ0JNEJDA5TK457CR2"},
		{RequestURL: "http://perlmonks.org", Exists: true, Image: "http://s3-external-1.amazonaws.com/alexa-thumbnails/23575D9D14CEFE86CA788601744F3B0364D925FDl?Signature=vF1Ms2tOUBQ0moM1ZSQ%2BE67kQr0%3D&Expires=1181247230&AWSAccessKeyId=1FVZ0JNEJDA5TK457CR2"},
	}
	soapCapture = []Result{
		{RequestURL: "www.alexa.com", Exists: true, Image: "http://location_to_thumbnail_for_www.alexa.com"},
		{RequestURL: "www.amazon.com", Exists: true, Image: "http://location_to_thumbnail_for_www.amazon.com"},
		{RequestURL: "www.a9.com", Exists: true, Image: "http://location_to_thumbnail_for_www.a9.com"},
	}
)

func TestResponseMatchesCaptures(t *testing.T) {
	rest := ResponseXML(RESTNamespace, "0379177f-7a21-436a-ac81-39089f702824", restCapture)
	if got, want := mustCanonical(t, rest), mustCanonical(t, readFile(t, "capture_rest_batch.xml")); got != want {
		t.Errorf("REST answer differs from the capture:\n%s\nwant\n%s", got, want)
	}
	golden(t, "rest_batch.golden.xml", rest)
	// The capture's indentation but for its two odd lines.
	capture := strings.ReplaceAll(string(readFile(t, "capture_rest_batch.xml")), "\n     <aws:Response>", "\n    <aws:Response>")
	capture = strings.ReplaceAll(capture, "\n     </aws:Response>", "\n    </aws:Response>")
	if string(rest) != capture {
		t.Errorf("REST answer differs from the capture in layout:\n%s", rest)
	}

	soap := SOAPResponseXML("3f8ceabd-2d15-47f0-b35e-d52ee868a4a6", soapCapture)
	if got, want := mustCanonical(t, soap), mustCanonical(t, readFile(t, "capture_soap_batch.xml")); got != want {
		t.Errorf("SOAP answer differs from the capture:\n%s\nwant\n%s", got, want)
	}
	golden(t, "soap_batch.golden.xml", soap)
}

func TestResponseItems(t *testing.T) {
	results := []Result{
		{RequestURL: "kelvinism.com", Exists: true, Image: "http://kiln.example/thumbnail/sig/AKK/1/small-ast/aHR0cDovL2tlbHZpbmlzbS5jb20v.jpeg"},
		{RequestURL: "ftp://a/?x=<1>&y=\"2\"", Image: "http://kiln.example/ast/placeholder/small.gif",
			Err: InvalidValue("Thumbnail.2.Url", "ftp://a/?x=<1>&y=\"2\"", "only http and https URLs are rendered, not ftp")},
		{RequestURL: "new.example", Image: "http://kiln.example/ast/placeholder/small.gif"},
		{RequestURL: "bad\xffutf8\x01", Image: "http://kiln.example/ast/placeholder/small.gif"},
	}
	rest := ResponseXML(RESTNamespace, "1bc51637-0000-4000-8000-000000000000", results)
	golden(t, "rest_items.golden.xml", rest)
	soap := SOAPResponseXML("1bc51637-0000-4000-8000-000000000000", results)
	golden(t, "soap_items.golden.xml", soap)
	for _, doc := range [][]byte{rest, soap} {
		mustCanonical(t, doc)
		thumbs, urls, codes := byLocalName(t, doc, "Thumbnail"), byLocalName(t, doc, "RequestUrl"), byLocalName(t, doc, "StatusCode")
		if len(thumbs) != 4 || len(urls) != 4 || len(codes) != 4 {
			t.Fatalf("%d, %d, %d items", len(thumbs), len(urls), len(codes))
		}
		for i, want := range []struct{ exists, status, url string }{
			{"true", "Success", "kelvinism.com"}, {"false", "InvalidParameterValue", "ftp://a/?x=<1>&y=\"2\""},
			{"false", "Success", "new.example"}, {"false", "Success", "bad\uFFFDutf8\uFFFD"},
		} {
			if thumbs[i].exists != want.exists || codes[i].text != want.status || urls[i].text != want.url || thumbs[i].text != results[i].Image {
				t.Errorf("item %d: %+v %+v %+v, want %+v", i, thumbs[i], codes[i], urls[i], want)
			}
		}
		if msgs := byLocalName(t, doc, "StatusMessage"); len(msgs) != 1 || !strings.Contains(msgs[0].text, "not ftp") {
			t.Errorf("status messages %+v", msgs)
		}
	}
}

func TestErrorDocuments(t *testing.T) {
	e := BadSignature()
	golden(t, "error.golden.xml", ErrorXML(e, "8f6707de-0000-4000-8000-000000000000"))
	golden(t, "fault.golden.xml", FaultXML(e, "8f6707de-0000-4000-8000-000000000000"))
	// Net::Amazon::Thumbnail's error path: //*[name()="Code"] and the rest.
	doc := ErrorXML(MissingParameter("Url"), "8f6707de-0000-4000-8000-000000000000")
	for name, want := range map[string]string{
		"Code": "MissingParameter", "Message": "The request must contain the parameter Url.", "RequestID": "8f6707de-0000-4000-8000-000000000000",
	} {
		if got := byName(t, doc, name); len(got) != 1 || got[0].text != want {
			t.Errorf("//*[name()=%q] = %+v, want %q", name, got, want)
		}
	}
	for _, tc := range []struct {
		e    *Error
		code string
	}{
		{BadSignature(), "SOAP-ENV:Client.SignatureDoesNotMatch"},
		{Internal(), "SOAP-ENV:Server.InternalError"},
		{Throttled("x"), "SOAP-ENV:Server.Throttling"},
		{&Error{Code: CodeVersionMismatch, Message: "m"}, "SOAP-ENV:VersionMismatch"},
	} {
		if got := byName(t, FaultXML(tc.e, "id"), "faultcode"); len(got) != 1 || got[0].text != tc.code {
			t.Errorf("%s: faultcode %+v, want %s", tc.e.Code, got, tc.code)
		}
	}
}

// node is an element as the old clients' parsers saw it.
type node struct {
	name, text, exists string
}

// byName finds elements by their name as written, prefix included, as
// Python's minidom getElementsByTagName and Perl's name() did.
func byName(t *testing.T, doc []byte, name string) []node {
	t.Helper()
	return find(t, doc, func(n xml.Name) bool { return qname(n) == name })
}

// byLocalName finds elements by their local name, whatever their prefix,
// as PHP's DOMDocument getElementsByTagName("Thumbnail") matched
// "aws:Thumbnail" (it compares the local name when the document uses
// namespaces), and as Zimbra's client, which dropped namespaces, did.
func byLocalName(t *testing.T, doc []byte, local string) []node {
	t.Helper()
	return find(t, doc, func(n xml.Name) bool { return n.Local == local })
}

func find(t *testing.T, doc []byte, match func(xml.Name) bool) []node {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var out []node
	var open []int // indexes into out of matched elements being read
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if match(tk.Name) {
				n := node{name: qname(tk.Name)}
				for _, a := range tk.Attr {
					if a.Name.Local == "Exists" && a.Name.Space == "" {
						n.exists = a.Value
					}
				}
				out = append(out, n)
				open = append(open, len(out)-1)
			} else {
				open = append(open, -1)
			}
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 && open[len(open)-1] >= 0 {
				out[open[len(open)-1]].text += strings.TrimSpace(string(tk))
			}
		}
	}
}

// perlPath walks /aws:ThumbnailResponse/aws:Response/aws:ThumbnailResult
// as Net::Amazon::Thumbnail's XPath did, with the prefixes as written, and
// returns each result's Exists, Thumbnail and RequestUrl.
func perlPath(t *testing.T, doc []byte) [][3]string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	var path []string
	var out [][3]string
	var text string
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			path = append(path, qname(tk.Name))
			text = ""
			p := "/" + strings.Join(path, "/")
			switch p {
			case "/aws:ThumbnailResponse/aws:Response/aws:ThumbnailResult":
				out = append(out, [3]string{})
			case "/aws:ThumbnailResponse/aws:Response/aws:ThumbnailResult/aws:Thumbnail":
				for _, a := range tk.Attr {
					if a.Name.Local == "Exists" {
						out[len(out)-1][0] = a.Value
					}
				}
			}
		case xml.CharData:
			text += string(tk)
		case xml.EndElement:
			switch "/" + strings.Join(path, "/") {
			case "/aws:ThumbnailResponse/aws:Response/aws:ThumbnailResult/aws:Thumbnail":
				out[len(out)-1][1] = text
			case "/aws:ThumbnailResponse/aws:Response/aws:ThumbnailResult/aws:RequestUrl":
				out[len(out)-1][2] = text
			}
			path = path[:len(path)-1]
		}
	}
}

// TestOldClientsRead: kiln's answers read by each old client's method give
// what the captured answers gave them.
func TestOldClientsRead(t *testing.T) {
	capture := readFile(t, "capture_rest_batch.xml")
	kiln := ResponseXML(RESTNamespace, "0379177f-7a21-436a-ac81-39089f702824", restCapture)
	for name, doc := range map[string][]byte{"capture": capture, "kiln": kiln} {
		// Python (kelvinism): getElementsByTagName('aws:Thumbnail')[i].firstChild.data
		py := byName(t, doc, "aws:Thumbnail")
		// PHP (AWS utility package): getElementsByTagName("Thumbnail")->item(0), getAttribute("Exists")
		php := byLocalName(t, doc, "Thumbnail")
		// Perl (Net::Amazon::Thumbnail): prefixed XPath
		perl := perlPath(t, doc)
		if len(py) != 2 || len(php) != 2 || len(perl) != 2 {
			t.Fatalf("%s: %d, %d, %d thumbnails", name, len(py), len(php), len(perl))
		}
		for i, want := range restCapture {
			if py[i].text != want.Image || php[i].text != want.Image || php[i].exists != "true" ||
				perl[i] != [3]string{"true", want.Image, want.RequestURL} {
				t.Errorf("%s, item %d: python %+v, php %+v, perl %v", name, i, py[i], php[i], perl[i])
			}
		}
		// minidom: result_xml.childNodes[0] is the root element.
		if !bytes.HasPrefix(doc, []byte(`<?xml version="1.0"?>`+"\n<aws:ThumbnailResponse ")) {
			t.Errorf("%s: the root element is not the document's first node", name)
		}
	}
	// The SOAP answer by local names (Zimbra, handsoap) and by prefixes.
	soap := SOAPResponseXML("3f8ceabd-2d15-47f0-b35e-d52ee868a4a6", soapCapture)
	for name, doc := range map[string][]byte{"capture": readFile(t, "capture_soap_batch.xml"), "kiln": soap} {
		urls := byLocalName(t, doc, "RequestUrl")
		codes := byName(t, doc, "m:StatusCode")
		if len(urls) != 3 || len(codes) != 3 || urls[2].text != "www.a9.com" || codes[0].text != "Success" {
			t.Errorf("%s: %+v %+v", name, urls, codes)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewRequestID()
		if len(id) != 36 || id[14] != '4' || !strings.Contains("89ab", id[19:20]) || strings.Count(id, "-") != 4 || seen[id] {
			t.Fatalf("request id %q", id)
		}
		seen[id] = true
	}
}

func TestWSDL(t *testing.T) {
	w := WSDL("http://kiln.example:8080/soap?a=1&b=2")
	c := mustCanonical(t, w)
	if !strings.Contains(c, `<soap:address location=http://kiln.example:8080/soap?a=1&b=2>`) {
		t.Errorf("soap:address not at the server:\n%s", w)
	}
	mustCanonical(t, Schema())
	// Every element of a Request is optional: nothing a toolkit refuses
	// to send (ZSI's "Got None for nillable(False), minOccurs(1) element
	// Url"), all checked by kiln.
	var schema struct {
		Types []struct {
			Name     string `xml:"name,attr"`
			Elements []struct {
				Name      string `xml:"name,attr"`
				MinOccurs string `xml:"minOccurs,attr"`
				MaxOccurs string `xml:"maxOccurs,attr"`
				Nillable  string `xml:"nillable,attr"`
			} `xml:"sequence>element"`
		} `xml:"complexType"`
		Elements []struct {
			Name     string `xml:"name,attr"`
			Children []struct {
				Name      string `xml:"name,attr"`
				MinOccurs string `xml:"minOccurs,attr"`
				MaxOccurs string `xml:"maxOccurs,attr"`
			} `xml:"complexType>sequence>element"`
		} `xml:"element"`
	}
	if err := xml.Unmarshal(Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, ct := range schema.Types {
		if ct.Name != "ThumbnailRequestType" {
			continue
		}
		for _, e := range ct.Elements {
			fields = append(fields, e.Name)
			if e.MinOccurs != "0" {
				t.Errorf("ThumbnailRequestType/%s: minOccurs %q", e.Name, e.MinOccurs)
			}
		}
	}
	if strings.Join(fields, " ") != "Signature Timestamp AWSAccessKeyId Url Size" {
		t.Errorf("request fields %v", fields)
	}
	for _, e := range schema.Elements {
		if e.Name != "ThumbnailRequest" {
			continue
		}
		if len(e.Children) != 2 || e.Children[1].Name != "Request" || e.Children[1].MinOccurs != "0" || e.Children[1].MaxOccurs != "20" || e.Children[0].MinOccurs != "0" {
			t.Errorf("ThumbnailRequest: %+v", e.Children)
		}
	}
	if !bytes.Contains(w, []byte(`soapAction="Thumbnail"`)) || !bytes.Contains(w, []byte(`<service name="AlexaSiteThumbnail">`)) ||
		!bytes.Contains(w, []byte(`<port name="AlexaSiteThumbnailPort"`)) {
		t.Error("WSDL names")
	}
}

func TestPlaceholders(t *testing.T) {
	for _, s := range []Size{Small, Large} {
		b := Placeholder(s)
		img, err := gif.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != (image.Rectangle{Max: s.Pixels()}) {
			t.Errorf("%s: %v", s, img.Bounds())
		}
		// Text: dark pixels in the middle, the light background at the edge.
		dark := 0
		for y := range s.Pixels().Y {
			for x := range s.Pixels().X {
				if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
					dark++
				}
			}
		}
		if dark < 50 {
			t.Errorf("%s: %d dark pixels: no text", s, dark)
		}
		if r, _, _, _ := img.At(5, 5).RGBA(); r < 0xe000 {
			t.Errorf("%s: background %x", s, r)
		}
		if !bytes.Equal(b, Placeholder(s)) {
			t.Error("drawn twice")
		}
	}
	if Small.PlaceholderFile() != "small.gif" || Large.PlaceholderFile() != "large.gif" {
		t.Error("file names")
	}
}
