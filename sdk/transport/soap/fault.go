package soap

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

// Fault is a SOAP fault as the provider sent it, in either version's shape.
type Fault struct {
	// Version is the envelope version the fault arrived in.
	Version Version
	// Code is the fault code as sent: faultcode in SOAP 1.1 ("soap:Client",
	// "Client.Authentication"), Code/Value in SOAP 1.2 ("env:Sender").
	Code string
	// Subcodes are the SOAP 1.2 Subcode/Value chain, outermost first.
	Subcodes []string
	// Reason is faultstring (1.1) or the English (else first) Reason/Text (1.2).
	Reason string
	// Actor is faultactor (1.1) or Role (1.2).
	Actor string
	// Detail is the text content of detail (1.1) or Detail (1.2), white space
	// collapsed and truncated.
	Detail string
	// HTTPStatus is the status the fault arrived with.
	HTTPStatus int
}

// Error describes the fault in one line.
func (f *Fault) Error() string {
	return fmt.Sprintf("SOAP fault %s: %s", f.CarrierCode(), f.Reason)
}

// CarrierCode returns the code and any subcodes joined by "/".
func (f *Fault) CarrierCode() string {
	return strings.Join(append([]string{f.Code}, f.Subcodes...), "/")
}

// CarrierMessage returns the reason, followed by the detail text when there is one,
// truncated to xmlhttp.MaxCarrierText.
func (f *Fault) CarrierMessage() string {
	s := f.Reason
	if f.Detail != "" && f.Detail != f.Reason {
		if s != "" {
			s += " | "
		}
		s += "detail: " + f.Detail
	}
	return xmlhttp.Truncate(s, xmlhttp.MaxCarrierText)
}

// WS-Security fault codes (WSS: SOAP Message Security 1.0, section 12), all of
// which mean the credentials or their packaging were refused.
var wsseFaults = map[string]bool{
	"unsupportedsecuritytoken": true, "unsupportedalgorithm": true, "invalidsecurity": true,
	"invalidsecuritytoken": true, "failedauthentication": true, "failedcheck": true,
	"securitytokenunavailable": true, "messageexpired": true,
}

// strongAuth matches texts that clearly report refused credentials.
var strongAuth = regexp.MustCompile(`(?i)(authenticat\w*\s+(fail|error|denied|invalid|required|refused)|` +
	`(invalid|wrong|bad|incorrect|unknown)\s+(user\s?name|user|password|credentials?|login|licen[cs]e\s?key|api\s?key|token|security token)|` +
	`unauthori[sz]ed|not\s+authori[sz]ed|access\s+(is\s+)?denied|log\s?in\s+failed|` +
	`password\s+(is\s+)?(invalid|incorrect|expired|wrong)|security token\b.*\b(invalid|expired|not be (authenticated|authorized))|` +
	`failed\s?authentication)`)

// Classify returns the hub's code for the fault:
//
//   - a WS-Security fault code (wsse:FailedAuthentication, wsse:InvalidSecurityToken,
//     ...) in Code or a subcode: auth_failed;
//   - Client (1.1) or Sender (1.2): invalid_request, or auth_failed when the
//     reason or detail talks about authentication;
//   - Server (1.1) or Receiver (1.2): carrier_unavailable (retryable), except that
//     a text clearly reporting refused credentials is auth_failed, because ASMX
//     and some Java stacks send every exception, bad logins included, as Server;
//   - MustUnderstand, VersionMismatch, DataEncodingUnknown: invalid_request (the
//     envelope we sent is not what the provider wants);
//   - WCF's InternalServiceFault, DestinationUnreachable, EndpointUnavailable:
//     carrier_unavailable; ActionNotSupported, DeserializationFailed:
//     invalid_request;
//   - anything else: auth_failed when the text clearly says so, else permanent
//     (the provider refused for a reason the hub cannot name, so no blind retry).
func (f *Fault) Classify() sdk.Code {
	kind := localName(f.Code)
	base, _, _ := strings.Cut(kind, ".")
	base = strings.ToLower(base)
	text := f.Reason + " " + f.Detail
	strong := strongAuth.MatchString(text) || strongAuth.MatchString(kind)
	if wsseFaults[strings.ToLower(kind)] {
		return sdk.CodeAuthFailed
	}
	for _, s := range f.Subcodes {
		if wsseFaults[strings.ToLower(localName(s))] {
			return sdk.CodeAuthFailed
		}
	}
	switch base {
	case "client", "sender":
		if strong || strings.Contains(strings.ToLower(text+" "+kind), "authenticat") {
			return sdk.CodeAuthFailed
		}
		return sdk.CodeInvalidRequest
	case "server", "receiver":
		if strong {
			return sdk.CodeAuthFailed
		}
		return sdk.CodeCarrierUnavailable
	case "mustunderstand", "versionmismatch", "dataencodingunknown":
		return sdk.CodeInvalidRequest
	case "internalservicefault", "destinationunreachable", "endpointunavailable":
		return sdk.CodeCarrierUnavailable
	case "actionnotsupported", "deserializationfailed":
		return sdk.CodeInvalidRequest
	}
	if strong {
		return sdk.CodeAuthFailed
	}
	return sdk.CodePermanent
}

// SDKError returns the fault as a classified carrier error keeping the provider's
// code and text.
func (f *Fault) SDKError(provider string) *sdk.Error {
	e := sdk.CarrierError(f.Classify(), xmlhttp.Truncate(f.CarrierCode(), 200), f.CarrierMessage())
	e.Message = fmt.Sprintf("%s returned a SOAP fault: %s", provider, xmlhttp.Truncate(f.Reason, 300))
	return e
}

func localName(qname string) string {
	qname = strings.TrimSpace(qname)
	if i := strings.LastIndexByte(qname, ':'); i >= 0 {
		return qname[i+1:]
	}
	return qname
}

// faultXML reads both versions' fault children; unqualified names match any
// namespace, and the two versions' element names do not clash.
type faultXML struct {
	Code11   string     `xml:"faultcode"`
	String11 string     `xml:"faultstring"`
	Actor11  string     `xml:"faultactor"`
	Detail11 detailText `xml:"detail"`

	Code12   code12     `xml:"Code"`
	Reason12 []langText `xml:"Reason>Text"`
	Role12   string     `xml:"Role"`
	Detail12 detailText `xml:"Detail"`
}

type code12 struct {
	Value   string  `xml:"Value"`
	Subcode *code12 `xml:"Subcode"`
}

type langText struct {
	Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	Text string `xml:",chardata"`
}

// detailText collects the character data of an element and its descendants.
type detailText string

// UnmarshalXML gathers text, collapsing white space, up to MaxCarrierText bytes.
func (d *detailText) UnmarshalXML(dec *xml.Decoder, _ xml.StartElement) error {
	var b strings.Builder
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok := t.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if b.Len() > xmlhttp.MaxCarrierText {
				continue
			}
			if f := strings.Fields(string(tok)); len(f) > 0 {
				if b.Len() > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(strings.Join(f, " "))
			}
		}
	}
	*d = detailText(xmlhttp.Truncate(b.String(), xmlhttp.MaxCarrierText))
	return nil
}

func (x *faultXML) fault(v Version, status int) *Fault {
	f := &Fault{Version: v, HTTPStatus: status}
	if x.Code12.Value != "" || len(x.Reason12) > 0 {
		f.Code = strings.TrimSpace(x.Code12.Value)
		for s := x.Code12.Subcode; s != nil; s = s.Subcode {
			f.Subcodes = append(f.Subcodes, strings.TrimSpace(s.Value))
		}
		for i, r := range x.Reason12 {
			if i == 0 {
				f.Reason = strings.TrimSpace(r.Text)
			}
			if strings.HasPrefix(strings.ToLower(r.Lang), "en") {
				f.Reason = strings.TrimSpace(r.Text)
				break
			}
		}
		f.Actor = strings.TrimSpace(x.Role12)
		f.Detail = string(x.Detail12)
		return f
	}
	f.Code = strings.TrimSpace(x.Code11)
	f.Reason = strings.TrimSpace(x.String11)
	f.Actor = strings.TrimSpace(x.Actor11)
	f.Detail = string(x.Detail11)
	return f
}
