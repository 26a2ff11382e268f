package ast

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"time"
)

// MaxSkew is how far a call's Timestamp may be from the server's clock:
// "Authorization will fail if this timestamp is more than 15 minutes away
// from the clock on AST servers."
const MaxSkew = 15 * time.Minute

// Sign is AST's signature of toSign: base64(HMAC-SHA1(secret, toSign)).
func Sign(secret []byte, toSign string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// StringsToSign are the strings a call may have signed: Action +
// Timestamp, and, when the call names its Service, Service + Action +
// Timestamp first (what the AWS PHP package and Zimbra signed).
func StringsToSign(c Credentials, a Action) []string {
	plain := string(a) + c.Timestamp
	if c.Service != "" {
		return []string{c.Service + plain, plain}
	}
	return []string{plain}
}

// ParseTimestamp reads an xsd:dateTime as AST clients wrote it:
// 2005-01-31T23:59:59.183Z, …:59.000Z, …:59Z, with an offset (+10:00)
// instead of Z, or without a zone (UTC).
func ParseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// CheckCredentials checks that a call carries its credentials and that
// its Timestamp is well formed and recent: everything that needs no key.
func CheckCredentials(c Credentials, now time.Time) *Error {
	switch {
	case c.AccessKeyID == "":
		return errorf(CodeAuthFailure, "AWS was not able to authenticate the request: access credentials are missing (AWSAccessKeyId).")
	case c.Signature == "":
		return MissingParameter("Signature")
	case c.Timestamp == "":
		return MissingParameter("Timestamp")
	}
	t, ok := ParseTimestamp(c.Timestamp)
	if !ok {
		return InvalidValue("Timestamp", c.Timestamp, "not an xsd:dateTime in UTC such as 2006-01-01T00:00:00.000Z")
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return errorf(CodeRequestExpired, "Request has expired. Timestamp date is %s.", c.Timestamp)
	}
	return nil
}

// Verify checks the call's signature of action a with the key's secret,
// in constant time whichever string it signed.
func Verify(c Credentials, a Action, secret []byte) *Error {
	got, ok := decodeSignature(c.Signature)
	match := 0
	for _, s := range StringsToSign(c, a) {
		m := hmac.New(sha1.New, secret)
		m.Write([]byte(s))
		if hmac.Equal(got, m.Sum(nil)) {
			match++
		}
	}
	if !ok || match == 0 {
		return BadSignature()
	}
	return nil
}

// decodeSignature reads a base64 signature with or without its padding,
// and with a '+' that arrived as a space (a client that did not URL-encode
// it). A SHA-1 HMAC is 20 bytes.
func decodeSignature(s string) ([]byte, bool) {
	s = strings.TrimRight(strings.ReplaceAll(strings.Trim(s, "\r\n\t"), " ", "+"), "=")
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != sha1.Size {
		return make([]byte, sha1.Size), false
	}
	return b, true
}
