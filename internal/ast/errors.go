package ast

import (
	"bytes"
	"fmt"
	"net/http"
)

// Error codes, as the AWS query services of 2006 named them.
const (
	CodeMissingAction         = "MissingAction"
	CodeInvalidAction         = "InvalidAction"
	CodeMissingParameter      = "MissingParameter"
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeRequestExpired        = "RequestExpired"
	CodeAuthFailure           = "AuthFailure"
	CodeInvalidClientTokenID  = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	CodeThrottling            = "Throttling"
	CodeInternalError         = "InternalError"
	CodeServiceUnavailable    = "ServiceUnavailable"
	CodeInvalidHTTPRequest    = "InvalidHttpRequest"
)

// statuses are the HTTP statuses of the codes in REST answers (SOAP faults
// are always 500).
var statuses = map[string]int{
	CodeMissingAction:         http.StatusBadRequest,
	CodeInvalidAction:         http.StatusBadRequest,
	CodeMissingParameter:      http.StatusBadRequest,
	CodeInvalidParameterValue: http.StatusBadRequest,
	CodeRequestExpired:        http.StatusBadRequest,
	CodeAuthFailure:           http.StatusForbidden,
	CodeInvalidClientTokenID:  http.StatusForbidden,
	CodeSignatureDoesNotMatch: http.StatusForbidden,
	CodeThrottling:            http.StatusServiceUnavailable,
	CodeInternalError:         http.StatusInternalServerError,
	CodeServiceUnavailable:    http.StatusServiceUnavailable,
	CodeInvalidHTTPRequest:    http.StatusMethodNotAllowed,
	CodeVersionMismatch:       http.StatusBadRequest,
	CodeInvalidSOAPRequest:    http.StatusBadRequest,
}

// Error is an AST error: a code from the list above and a message for
// people. It is never built with a secret in it.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status of a REST answer with this error.
func (e *Error) Status() int {
	if s, ok := statuses[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Server reports whether the error is the server's (SOAP's Server fault
// class) rather than the client's.
func (e *Error) Server() bool { return e.Status() >= 500 }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// MissingParameter is the error for a required parameter that is absent.
func MissingParameter(name string) *Error {
	return errorf(CodeMissingParameter, "The request must contain the parameter %s.", name)
}

// InvalidValue is the error for a parameter's bad value, in AWS's words.
func InvalidValue(name, value, reason string) *Error {
	if len(value) > 200 {
		value = value[:200] + "…"
	}
	return errorf(CodeInvalidParameterValue, "Value %s for parameter %s is invalid. Reason: %s.", value, name, reason)
}

// Throttled is the error for a key over its rate or quota.
func Throttled(reason string) *Error {
	return errorf(CodeThrottling, "Rate exceeded: %s.", reason)
}

// Internal is the error for a failure of the server's own.
func Internal() *Error {
	return errorf(CodeInternalError, "The server encountered an internal error. Please retry the request.")
}

// UnknownKey is the error for an access key id kiln does not know.
func UnknownKey() *Error {
	return errorf(CodeInvalidClientTokenID, "The AWS Access Key Id you provided does not exist in our records.")
}

// RevokedKey is the error for a revoked key.
func RevokedKey() *Error {
	return errorf(CodeInvalidClientTokenID, "The AWS Access Key Id you provided has been revoked.")
}

// NoAST is the error for a key that may not use the AST API.
func NoAST() *Error {
	return errorf(CodeAuthFailure, "AWS was not able to authenticate the request: this access key is not enabled for the Alexa Site Thumbnail API.")
}

// BadSignature is the error for a signature that does not match.
func BadSignature() *Error {
	return errorf(CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
}

// ErrorXML is the AWS 2006 query error document:
//
//	<?xml version="1.0"?>
//	<Response><Errors><Error><Code>…</Code><Message>…</Message></Error></Errors><RequestID>…</RequestID></Response>
func ErrorXML(e *Error, requestID string) []byte {
	var b bytes.Buffer
	b.WriteString(xmlDecl)
	b.WriteString("<Response><Errors><Error><Code>")
	escape(&b, e.Code)
	b.WriteString("</Code><Message>")
	escape(&b, e.Message)
	b.WriteString("</Message></Error></Errors><RequestID>")
	escape(&b, requestID)
	b.WriteString("</RequestID></Response>\n")
	return b.Bytes()
}
