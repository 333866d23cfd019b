package xmlhttp

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/carrierhub/hub/sdk"
)

// CanadaPostMessagesNS is the namespace of Canada Post's error document.
const CanadaPostMessagesNS = "http://www.canadapost.ca/ws/messages"

// CanadaPostMediaType returns Canada Post's vendor media type for a service and
// version, for both Content-Type and Accept: CanadaPostMediaType("shipment", 8) is
// "application/vnd.cpc.shipment-v8+xml".
func CanadaPostMediaType(service string, version int) string {
	return fmt.Sprintf("application/vnd.cpc.%s-v%d+xml", service, version)
}

// CanadaPostMessage is one entry of Canada Post's <messages> error document.
type CanadaPostMessage struct {
	// Code is Canada Post's message code (AA004, 8503, Server, ...).
	Code string `xml:"code"`
	// Description is its text.
	Description string `xml:"description"`
}

// canadaPostMessages is the error document; the element name is matched in any
// namespace, since some gateways drop it.
type canadaPostMessages struct {
	XMLName  xml.Name            `xml:"messages"`
	Messages []CanadaPostMessage `xml:"message"`
}

// ParseCanadaPostMessages reads Canada Post's <messages> document; ok is false when
// body is not one.
func ParseCanadaPostMessages(body []byte, maxDepth int) (msgs []CanadaPostMessage, ok bool) {
	var m canadaPostMessages
	if err := Decode(body, &m, maxDepth); err != nil || len(m.Messages) == 0 {
		return nil, false
	}
	return m.Messages, true
}

// CanadaPostErrors is an error reader for Client.Errors: it turns a <messages>
// document into a classified error. The HTTP status decides first (401/403 auth,
// 404 not found, 429 rate limited, 5xx unavailable); a 400-class status or a
// messages document on a 2xx reply is classified by the first message's code:
// AA0xx account and key problems are auth failures, "Server" with "Rejected by
// SLM Monitor" is the API key's throttle (rate limited), others invalid requests.
// All codes and descriptions are kept.
func CanadaPostErrors(res *Response) *sdk.Error {
	msgs, ok := ParseCanadaPostMessages(res.Body, 0)
	if !ok {
		return nil
	}
	codes := make([]string, 0, len(msgs))
	texts := make([]string, 0, len(msgs))
	for _, m := range msgs {
		codes = append(codes, strings.TrimSpace(m.Code))
		texts = append(texts, strings.TrimSpace(m.Description))
	}
	e := StatusError("Canada Post", res)
	if res.StatusCode < 300 || e.Code == sdk.CodeInvalidRequest || e.Code == sdk.CodeConflict {
		e.Code = canadaPostCode(msgs[0])
	}
	if msgs[0].Code == "Server" && strings.Contains(strings.ToLower(msgs[0].Description), "slm monitor") {
		e.Code = sdk.CodeRateLimited
		if e.RetryAfter == 0 {
			e.RetryAfter = RetryAfter(res.Header)
		}
	}
	e.CarrierCode = Truncate(strings.Join(codes, ","), 200)
	e.CarrierMessage = Truncate(strings.Join(texts, "; "), MaxCarrierText)
	e.Message = fmt.Sprintf("Canada Post refused the request (HTTP %d): %s", res.StatusCode, Truncate(texts[0], 300))
	return e
}

func canadaPostCode(m CanadaPostMessage) sdk.Code {
	code := strings.ToUpper(strings.TrimSpace(m.Code))
	switch {
	case strings.HasPrefix(code, "AA"):
		return sdk.CodeAuthFailed
	case code == "SERVER":
		return sdk.CodeCarrierUnavailable
	}
	return sdk.CodeInvalidRequest
}
