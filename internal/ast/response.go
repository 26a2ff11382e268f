package ast

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Namespaces of AST's documents.
const (
	// RESTNamespace is what the live service's QUERY answers used (both
	// surviving captures), although the API version was 2006-05-15.
	RESTNamespace = "http://ast.amazonaws.com/doc/2005-10-05/"
	// Namespace is the 2006-05-15 API's: SOAP, the WSDL and its schema.
	Namespace = "http://ast.amazonaws.com/doc/2006-05-15/"
	// SOAPEnvelope is SOAP 1.1's envelope namespace.
	SOAPEnvelope = "http://schemas.xmlsoap.org/soap/envelope/"
)

// ContentType is the type of every XML answer. (A ZSI user once got
// "Response is "text/plain", not "text/xml"" from AST's SOAP endpoint.)
const ContentType = "text/xml; charset=utf-8"

const xmlDecl = `<?xml version="1.0"?>` + "\n"

// StatusSuccess is the StatusCode of an item answered normally.
const StatusSuccess = "Success"

// Result is the answer for one URL of a call.
type Result struct {
	RequestURL string // the URL as sent
	Exists     bool   // Image is the page's thumbnail (else a placeholder)
	Image      string // absolute URL of the image
	Err        *Error // the item failed on its own: its StatusCode
}

// NewRequestID returns a random UUID (version 4), as AWS's RequestIds
// were.
func NewRequestID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ResponseXML is a QUERY answer, shaped as the captured ones: namespace
// ns (RESTNamespace unless configured otherwise) bound to aws:, one
// aws:Response per result in order, four-space indentation.
func ResponseXML(ns, requestID string, results []Result) []byte {
	var b bytes.Buffer
	b.Grow(200 + 600*len(results))
	b.WriteString(xmlDecl)
	b.WriteString(`<aws:ThumbnailResponse xmlns:aws="`)
	escape(&b, ns)
	b.WriteString("\">\n")
	for _, r := range results {
		response(&b, "<aws:Response>", "    ", 1, "aws", requestID, r)
	}
	b.WriteString("</aws:ThumbnailResponse>\n")
	return b.Bytes()
}

// SOAPResponseXML is a SOAP answer, shaped as the surviving sample:
// m:ThumbnailResponse, aws:Response elements declaring the same namespace
// again, m:ResponseStatus inside them (Amazon's generator mixed the two
// prefixes), one-space indentation.
func SOAPResponseXML(requestID string, results []Result) []byte {
	var b bytes.Buffer
	b.Grow(300 + 650*len(results))
	b.WriteString(xmlDecl)
	b.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + SOAPEnvelope + "\">\n <SOAP-ENV:Body>\n")
	b.WriteString(`  <m:ThumbnailResponse xmlns:m="` + Namespace + "\">\n")
	for _, r := range results {
		response(&b, `<aws:Response xmlns:aws="`+Namespace+`">`, " ", 3, "m", requestID, r)
	}
	b.WriteString("  </m:ThumbnailResponse>\n </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n")
	return b.Bytes()
}

// response writes one aws:Response, opened by open, at nesting level
// level of the indentation unit unit; its ResponseStatus has the prefix
// statusPrefix. REST and SOAP answers differ only in these.
func response(b *bytes.Buffer, open, unit string, level int, statusPrefix, requestID string, r Result) {
	in0, in1 := strings.Repeat(unit, level), strings.Repeat(unit, level+1)
	in2 := in1 + unit
	b.WriteString(in0 + open + "\n" + in1 + "<aws:OperationRequest>\n" + in2 + "<aws:RequestId>")
	escape(b, requestID)
	b.WriteString("</aws:RequestId>\n" + in1 + "</aws:OperationRequest>\n" + in1 + "<aws:ThumbnailResult>\n" + in2)
	thumbnail(b, "aws", r)
	b.WriteString("\n" + in2 + "<aws:RequestUrl>")
	escape(b, r.RequestURL)
	b.WriteString("</aws:RequestUrl>\n" + in1 + "</aws:ThumbnailResult>\n" + in1)
	status(b, statusPrefix, in1, unit, r)
	b.WriteString("\n" + in0 + "</aws:Response>\n")
}

// FaultXML is a SOAP 1.1 fault: faultcode SOAP-ENV:Client.<Code> (or
// SOAP-ENV:Server.<Code> for the server's own failures, or
// SOAP-ENV:VersionMismatch), faultstring the message, and the AWS code,
// message and RequestId in detail.
func FaultXML(e *Error, requestID string) []byte {
	code := "Client." + e.Code
	switch {
	case e.Code == CodeVersionMismatch:
		code = CodeVersionMismatch
	case e.Server():
		code = "Server." + e.Code
	}
	var b bytes.Buffer
	b.WriteString(xmlDecl)
	b.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + SOAPEnvelope + "\">\n <SOAP-ENV:Body>\n  <SOAP-ENV:Fault>\n   <faultcode>SOAP-ENV:")
	escape(&b, code)
	b.WriteString("</faultcode>\n   <faultstring>")
	escape(&b, e.Message)
	b.WriteString("</faultstring>\n   <detail>\n    <aws:Error xmlns:aws=\"" + Namespace + "\"><aws:Code>")
	escape(&b, e.Code)
	b.WriteString("</aws:Code><aws:Message>")
	escape(&b, e.Message)
	b.WriteString("</aws:Message></aws:Error>\n    <aws:RequestId xmlns:aws=\"" + Namespace + "\">")
	escape(&b, requestID)
	b.WriteString("</aws:RequestId>\n   </detail>\n  </SOAP-ENV:Fault>\n </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n")
	return b.Bytes()
}

func thumbnail(b *bytes.Buffer, prefix string, r Result) {
	b.WriteString("<" + prefix + ":Thumbnail Exists=\"")
	if r.Exists && r.Err == nil {
		b.WriteString("true")
	} else {
		b.WriteString("false")
	}
	b.WriteString(`">`)
	escape(b, r.Image)
	b.WriteString("</" + prefix + ":Thumbnail>")
}

// status writes <p:ResponseStatus> at indentation indent (the first line
// already indented), its children one step further.
func status(b *bytes.Buffer, p, indent, step string, r Result) {
	b.WriteString("<" + p + ":ResponseStatus>\n" + indent + step + "<" + p + ":StatusCode>")
	if r.Err == nil {
		b.WriteString(StatusSuccess)
	} else {
		escape(b, r.Err.Code)
		b.WriteString("</" + p + ":StatusCode>\n" + indent + step + "<" + p + ":StatusMessage>")
		escape(b, r.Err.Message)
		b.WriteString("</" + p + ":StatusMessage>")
		b.WriteString("\n" + indent + "</" + p + ":ResponseStatus>")
		return
	}
	b.WriteString("</" + p + ":StatusCode>\n" + indent + "</" + p + ":ResponseStatus>")
}

// escape writes s as XML character data (also fit for attribute values in
// double quotes). Bytes that are not UTF-8 and characters XML 1.0 does not
// allow become U+FFFD.
func escape(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		var esc string
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&quot;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\t' || c == '\n':
		case c < 0x20 || c == 0xFFFE || c == 0xFFFF || c == utf8.RuneError && size == 1:
			esc = "\uFFFD"
		}
		if esc != "" {
			b.WriteString(s[last:i])
			b.WriteString(esc)
			last = i + size
		}
		i += size
	}
	b.WriteString(s[last:])
}
