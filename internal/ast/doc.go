// Package ast owns the wire format of the Alexa Site Thumbnail (AST)
// 2006-05-15 API that kiln answers for old clients: reading QUERY (REST)
// parameters and SOAP 1.1 envelopes, checking AST's signatures, and writing
// the XML answers, the AWS 2006 error documents, SOAP faults and the WSDL.
// It knows nothing of HTTP routing, keys or the thumbnail pipeline: the
// server (internal/server/ast.go) parses a request here, looks the key up,
// asks Verify, does the work, and hands Results back to be written.
//
// What AST clients send and get, as reconstructed from Amazon's guide and
// from clients that worked against the live service (reference: ast.md):
//
//   - Action=Thumbnail (one Url and Size, or a batch of Thumbnail.N.Url
//     with Thumbnail.Shared.Size, Shared.Size or Thumbnail.N.Size, at most
//     20) and Action=Redirect (one Url, answered with a 302 to the image).
//     Parameter names and values are case-sensitive, as AST's were:
//     Action=thumbnail is InvalidAction and Size=small is
//     InvalidParameterValue. Size defaults to Large.
//   - The signature is base64(HMAC-SHA1(secret, Action + Timestamp)), or,
//     when the request names its Service, Service + Action + Timestamp (the
//     AWS PHP package and Zimbra signed that); missing base64 padding and a
//     '+' turned into a space are tolerated, and the comparison is constant
//     time. The Timestamp is signed as received and must be within 15
//     minutes of the server's clock. AST's misspelt ASTAccessKeyId is read
//     as AWSAccessKeyId.
//   - Answers reproduce the captured ones byte for byte in shape: prefix
//     aws:, one aws:Response per URL in request order, each with the call's
//     RequestId, aws:Thumbnail with an Exists attribute and the image URL,
//     aws:RequestUrl echoing the URL as sent, aws:ResponseStatus. REST
//     answers use the namespace the live service used,
//     http://ast.amazonaws.com/doc/2005-10-05/ (configurable); SOAP answers
//     the 2006-05-15 one, which WSDL-generated stubs expect.
//   - A batch item that is bad (its Url or Size) does not fail the call: it
//     gets Exists="false", the placeholder image and a StatusCode naming the
//     error (with a StatusMessage) instead of Success, so that clients that
//     index the answers by position stay aligned. A call with a single URL
//     fails as a whole instead, with an error document.
//   - Errors are the AWS 2006 query form
//     (<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>,
//     read by Net::Amazon::Thumbnail with //*[name()="Code"]) with a non-2xx
//     status, or SOAP 1.1 faults (HTTP 500) whose faultcode is
//     SOAP-ENV:Client.<Code> or SOAP-ENV:Server.<Code>, the dotted
//     extension SOAP 1.1 §4.4.1 defines.
//   - SOAP calls are dispatched on the body's element, whatever SOAPAction
//     says; the server also takes an envelope POSTed to the QUERY paths.
//   - The WSDL is kiln's reconstruction (no copy of Amazon's survived):
//     document/literal, operation Thumbnail, every request element optional.
//     Amazon's made Url required (minOccurs 1, not nillable), so ZSI stubs
//     refused on the client side a Request left empty ("Got None for
//     nillable(False), minOccurs(1) element Url"); here a missing Url is the
//     server's to report, as a MissingParameter fault naming the Request.
//
// Placeholders: AST answered a thumbnail it did not have yet with an "image
// coming soon" GIF of the size asked for and queued the site. kiln does the
// same with two GIFs (111x82 and 201x147) drawn once (the server draws
// them at start-up) with the Go fonts of golang.org/x/image: nothing to
// ship or regenerate, and they match the sizes exactly (see Placeholder).
package ast
