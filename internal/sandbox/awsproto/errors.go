package awsproto

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
)

// Protocol is one of the AWS wire protocols the sandbox speaks.
type Protocol int

// Protocols.
const (
	// JSON11 is AWS JSON 1.1: POST / with X-Amz-Target (SSM, EC2 Instance
	// Connect).
	JSON11 Protocol = iota + 1
	// EC2Query is the EC2 query protocol: form body, XML responses.
	EC2Query
	// AWSQuery is the AWS query protocol (STS): form body, XML responses.
	AWSQuery
)

func (p Protocol) String() string {
	switch p {
	case JSON11:
		return "awsJson1_1"
	case EC2Query:
		return "ec2Query"
	case AWSQuery:
		return "awsQuery"
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// Error is an AWS service error as the client sees it: a code, a message
// and an HTTP status.
type Error struct {
	Code    string
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
}

// Errorf returns an *Error with status 400.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// HTTPStatus returns the HTTP status of e.
func (e *Error) HTTPStatus() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Fault reports whether the error is the server's fault (5xx).
func (e *Error) Fault() bool { return e.HTTPStatus() >= 500 }

// AuthError maps a SigV4 failure to the code, message and status this
// protocol's services return for it on AWS:
//
//	kind            JSON 1.1 (SSM, EIC)                   AWS query (STS)                   EC2 query
//	missing         MissingAuthenticationTokenException   MissingAuthenticationToken (403)  MissingParameter "…AWSAccessKeyId"
//	incomplete      IncompleteSignatureException          IncompleteSignature               IncompleteSignature
//	unknown key     UnrecognizedClientException           InvalidClientTokenId (403)        AuthFailure (401)
//	bad signature   InvalidSignatureException             SignatureDoesNotMatch (403)       AuthFailure (401)
//	expired         InvalidSignatureException             SignatureDoesNotMatch (403)       RequestExpired
//	token expired   ExpiredTokenException                 ExpiredToken (403)                RequestExpired
//
// "Unknown key" covers a temporary key without its session token or with
// another one, and a long-term key sent with a session token: AWS calls
// them all an invalid security token.
func (p Protocol) AuthError(ae *AuthError) *Error {
	msg := func(def string) string {
		if ae.Detail != "" {
			return ae.Detail
		}
		return def
	}
	const tokenInvalid = "The security token included in the request is invalid."
	const tokenExpired = "The security token included in the request is expired"
	const ec2AuthFailure = "AWS was not able to validate the provided access credentials"
	switch p {
	case JSON11:
		switch ae.Kind {
		case AuthMissing:
			return &Error{Code: "MissingAuthenticationTokenException", Message: msg("Missing Authentication Token")}
		case AuthIncomplete:
			return &Error{Code: "IncompleteSignatureException", Message: msg("The request signature does not conform to AWS standards.")}
		case AuthUnknownKey:
			return &Error{Code: "UnrecognizedClientException", Message: tokenInvalid}
		case AuthBadSignature:
			return &Error{Code: "InvalidSignatureException", Message: msg(SignatureMismatchMessage)}
		case AuthExpired:
			return &Error{Code: "InvalidSignatureException", Message: msg("Signature expired.")}
		case AuthTokenExpired:
			return &Error{Code: "ExpiredTokenException", Message: tokenExpired, Status: http.StatusForbidden}
		}
	case AWSQuery:
		switch ae.Kind {
		case AuthMissing:
			return &Error{Code: "MissingAuthenticationToken", Message: msg("Request is missing Authentication Token"), Status: http.StatusForbidden}
		case AuthIncomplete:
			return &Error{Code: "IncompleteSignature", Message: msg("The request signature does not conform to AWS standards."), Status: http.StatusBadRequest}
		case AuthUnknownKey:
			return &Error{Code: "InvalidClientTokenId", Message: tokenInvalid, Status: http.StatusForbidden}
		case AuthBadSignature:
			return &Error{Code: "SignatureDoesNotMatch", Message: msg(SignatureMismatchMessage), Status: http.StatusForbidden}
		case AuthExpired:
			return &Error{Code: "SignatureDoesNotMatch", Message: msg("Signature expired."), Status: http.StatusForbidden}
		case AuthTokenExpired:
			return &Error{Code: "ExpiredToken", Message: tokenExpired, Status: http.StatusForbidden}
		}
	case EC2Query:
		switch ae.Kind {
		case AuthMissing:
			return &Error{Code: "MissingParameter", Message: "The request must contain the parameter AWSAccessKeyId"}
		case AuthIncomplete:
			return &Error{Code: "IncompleteSignature", Message: msg("The request signature does not conform to AWS standards.")}
		case AuthUnknownKey, AuthBadSignature:
			return &Error{Code: "AuthFailure", Message: ec2AuthFailure, Status: http.StatusUnauthorized}
		case AuthExpired, AuthTokenExpired:
			return &Error{Code: "RequestExpired", Message: "Request has expired."}
		}
	}
	return &Error{Code: "InternalFailure", Message: "unmapped authentication failure", Status: http.StatusInternalServerError}
}

// coralNamespace returns the JSON __type namespace AWS puts in front of
// codes its front end (not the service) returns; SDKs strip it.
func coralNamespace(code string) string {
	switch code {
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
		"MissingAuthenticationTokenException", "UnknownOperationException", "ExpiredTokenException", "SerializationException",
		"AccessDeniedException", "RequestEntityTooLargeException":
		return "com.amazon.coral.service#"
	case "ValidationException":
		return "com.amazon.coral.validate#"
	}
	return ""
}

// WriteError writes e in this protocol's error envelope with requestID.
func (p Protocol) WriteError(w http.ResponseWriter, requestID string, e *Error) {
	switch p {
	case JSON11:
		body, _ := json.Marshal(struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}{coralNamespace(e.Code) + e.Code, e.Message})
		writeBody(w, e.HTTPStatus(), "application/x-amz-json-1.1", requestID, body)
	case EC2Query:
		type ec2Error struct {
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		}
		v := struct {
			XMLName   xml.Name   `xml:"Response"`
			Errors    []ec2Error `xml:"Errors>Error"`
			RequestID string     `xml:"RequestID"`
		}{Errors: []ec2Error{{e.Code, e.Message}}, RequestID: requestID}
		writeBody(w, e.HTTPStatus(), "text/xml;charset=UTF-8", requestID, marshalXML(v))
	default: // AWSQuery
		typ := "Sender"
		if e.Fault() {
			typ = "Receiver"
		}
		v := struct {
			XMLName xml.Name `xml:"ErrorResponse"`
			Xmlns   string   `xml:"xmlns,attr"`
			Error   struct {
				Type    string `xml:"Type"`
				Code    string `xml:"Code"`
				Message string `xml:"Message"`
			} `xml:"Error"`
			RequestID string `xml:"RequestId"`
		}{Xmlns: STSNamespace, RequestID: requestID}
		v.Error.Type, v.Error.Code, v.Error.Message = typ, e.Code, e.Message
		writeBody(w, e.HTTPStatus(), "text/xml", requestID, marshalXML(v))
	}
}

// STSNamespace is the XML namespace of STS responses.
const STSNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// EC2Namespace is the XML namespace of EC2 responses (API version 2016-11-15).
const EC2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/"

// WriteJSON writes a successful AWS JSON 1.1 response.
func WriteJSON(w http.ResponseWriter, requestID string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal json response: %w", err)
	}
	writeBody(w, http.StatusOK, "application/x-amz-json-1.1", requestID, body)
	return nil
}

// WriteXML writes a successful query-protocol XML response; v must marshal
// to the <OperationResponse xmlns=...> element.
func WriteXML(w http.ResponseWriter, requestID string, v any) error {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("marshal xml response: %w", err)
	}
	writeBody(w, http.StatusOK, "text/xml;charset=UTF-8", requestID, buf.Bytes())
	return nil
}

func marshalXML(v any) []byte {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	// The error envelopes contain only strings; encoding cannot fail.
	_ = xml.NewEncoder(&buf).Encode(v)
	return buf.Bytes()
}

func writeBody(w http.ResponseWriter, status int, contentType, requestID string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
