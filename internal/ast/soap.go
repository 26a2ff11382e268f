package ast

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Codes of SOAP-only errors.
const (
	// CodeVersionMismatch: the envelope is not SOAP 1.1's (faultcode
	// SOAP-ENV:VersionMismatch, as SOAP 1.1 §4.4.1 says).
	CodeVersionMismatch = "VersionMismatch"
	// CodeInvalidSOAPRequest: the body is not a SOAP envelope with a call.
	CodeInvalidSOAPRequest = "InvalidSOAPRequest"
)

// soapFields are the elements of a Request (or Shared, or the operation
// element itself), by local name: Signature, Timestamp, AWSAccessKeyId,
// Url, Size, Service.
type soapFields map[string]string

// ParseSOAP reads a SOAP 1.1 document/literal call, as AST's guide shows
// it: a <ThumbnailRequest> (the action is the element's name less
// "Request") holding <Request> elements, the first with the credentials;
// an optional <Shared> holds what all share (Size). Elements are matched
// by local name, whatever their namespace, as clients of that time did
// not all qualify them; credentials are also taken from the operation
// element itself or from Shared. Like ParseQuery, the error is for what
// must be known before authentication; the rest is in Request.Err and
// Item.Err.
func ParseSOAP(body []byte) (*Request, *Error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	// Envelope, then Body (after an optional Header), then the operation.
	start, err := nextStart(d)
	if err != nil || start.Name.Local != "Envelope" {
		return nil, errorf(CodeInvalidSOAPRequest, "The request body is not a SOAP envelope.")
	}
	if start.Name.Space != SOAPEnvelope {
		return nil, errorf(CodeVersionMismatch, "The SOAP envelope's namespace is %q; this service speaks SOAP 1.1 (%s).", start.Name.Space, SOAPEnvelope)
	}
	for {
		start, err = nextStart(d)
		if err != nil {
			return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope has no Body.")
		}
		if start.Name.Local == "Body" && start.Name.Space == SOAPEnvelope {
			break
		}
		if err := d.Skip(); err != nil {
			return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope is not well-formed XML.")
		}
	}
	op, err := nextStart(d)
	if err != nil {
		return nil, errorf(CodeMissingAction, "The SOAP Body holds no <ThumbnailRequest>.")
	}
	name, ok := strings.CutSuffix(op.Name.Local, "Request")
	if !ok || name != string(ActionThumbnail) {
		return nil, errorf(CodeInvalidAction, "The action %s is not valid for this web service (the SOAP body's element is <ThumbnailRequest>).", truncate(op.Name.Local, 100))
	}
	r := &Request{Action: ActionThumbnail}
	top := soapFields{}
	var shared soapFields
	var requests []soapFields
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope is not well-formed XML.")
		}
		if _, ok := tok.(xml.EndElement); ok {
			break // the operation's end
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "Request", "Shared":
			f, err := readFields(d)
			if err != nil {
				return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope is not well-formed XML.")
			}
			if se.Name.Local == "Shared" {
				shared = f
			} else if len(requests) <= MaxBatch {
				requests = append(requests, f)
			}
		default:
			text, err := readText(d)
			if err != nil {
				return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope is not well-formed XML.")
			}
			if !isNil(se) {
				top[se.Name.Local] = text
			}
		}
	}
	// The rest of the document must be well-formed too.
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			return nil, errorf(CodeInvalidSOAPRequest, "The SOAP envelope is not well-formed XML.")
		}
	}
	pick := func(k string) string {
		if len(requests) > 0 && requests[0][k] != "" {
			return requests[0][k]
		}
		if top[k] != "" {
			return top[k]
		}
		return shared[k]
	}
	r.Cred = Credentials{AccessKeyID: pick("AWSAccessKeyId"), Signature: pick("Signature"), Timestamp: pick("Timestamp"), Service: pick("Service")}
	if r.Cred.AccessKeyID == "" {
		r.Cred.AccessKeyID = pick("ASTAccessKeyId")
	}
	switch {
	case len(requests) == 0:
		r.Err = MissingParameter("Request")
		return r, nil
	case len(requests) > MaxBatch:
		r.Err = InvalidValue("Request", strconv.Itoa(len(requests))+" Request elements", "Batch mode can support up to "+strconv.Itoa(MaxBatch)+" requests at a time")
		return r, nil
	}
	sharedSize, sharedErr := Large, (*Error)(nil)
	if s, ok := shared["Size"]; ok {
		sharedSize, sharedErr = ParseSize("Shared.Size", s)
	} else if s, ok := top["Size"]; ok {
		sharedSize, sharedErr = ParseSize("Size", s)
	}
	for i, f := range requests {
		n := "Request." + strconv.Itoa(i+1) + "."
		it := Item{URL: f["Url"], Param: n + "Url", Size: sharedSize, Err: sharedErr}
		if s, ok := f["Size"]; ok {
			it.Size, it.Err = ParseSize(n+"Size", s)
		}
		if it.URL == "" && it.Err == nil {
			it.Err = MissingParameter(n + "Url")
		}
		r.Items = append(r.Items, it)
	}
	return r, nil
}

// nextStart returns the next start element at this level or below.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errors.New("end of element")
		}
	}
}

// readFields reads the simple children of the element just started, up
// to its end: local name → text. Children declared nil are left out.
func readFields(d *xml.Decoder) (soapFields, error) {
	f := soapFields{}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			return f, nil
		case xml.StartElement:
			text, err := readText(d)
			if err != nil {
				return nil, err
			}
			if !isNil(t) {
				f[t.Name.Local] = text
			}
		}
	}
}

// readText reads the text of the element just started, up to its end,
// skipping any elements inside, trimmed of surrounding white space.
func readText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if b.Len() < 1<<16 {
				b.Write(t)
			}
		case xml.StartElement:
			if err := d.Skip(); err != nil {
				return "", err
			}
		case xml.EndElement:
			return strings.TrimSpace(b.String()), nil
		}
	}
}

const xsiNamespace = "http://www.w3.org/2001/XMLSchema-instance"

func isNil(se xml.StartElement) bool {
	for _, a := range se.Attr {
		if a.Name.Local == "nil" && a.Name.Space == xsiNamespace && (a.Value == "true" || a.Value == "1") {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
