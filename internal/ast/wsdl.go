package ast

import (
	"bytes"
	_ "embed"
	"strings"
)

// WSDLPath and SchemaPath are where AST published its WSDL and schema;
// kiln serves its own at the same paths.
const (
	WSDLPath   = "/doc/2006-05-15/AlexaSiteThumbnail.wsdl"
	SchemaPath = "/doc/2006-05-15/AlexaSiteThumbnail.xsd"
)

var (
	//go:embed AlexaSiteThumbnail.xsd
	schema []byte
	//go:embed AlexaSiteThumbnail.wsdl
	wsdlTemplate string
)

// Schema is the XML schema of AST's SOAP messages (the WSDL has it inline).
func Schema() []byte { return schema }

// WSDL is the service description with its endpoint (soap:address) at
// location, the absolute URL of kiln's SOAP endpoint.
func WSDL(location string) []byte {
	// The schema without its XML declaration, indented into <types>.
	_, body, _ := strings.Cut(string(schema), "?>\n")
	var loc bytes.Buffer
	escape(&loc, location)
	r := strings.NewReplacer("{{SCHEMA}}", strings.TrimRight(body, "\n"), "{{LOCATION}}", loc.String())
	return []byte(r.Replace(wsdlTemplate))
}
