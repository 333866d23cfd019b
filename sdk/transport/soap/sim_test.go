package soap

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// This file is the server side of the tests: a SOAP service simulator that reads
// requests with its own structs and checks WS-Security on its own, without this
// package's code.

const trackNS = "urn:carrierhub:test:track:v1"

// trackRequest and trackResponse are the test service's body elements.
type trackRequest struct {
	XMLName  xml.Name `xml:"urn:carrierhub:test:track:v1 TrackRequest"`
	Number   []string `xml:"Number"`
	Language string   `xml:"Language,omitempty"`
}

type trackEvent struct {
	Number      string `xml:"Number"`
	Code        string `xml:"Code"`
	Description string `xml:"Description"`
	Location    string `xml:"Location"`
}

type trackResponse struct {
	XMLName xml.Name     `xml:"urn:carrierhub:test:track:v1 TrackResponse"`
	Event   []trackEvent `xml:"Event"`
}

// traceHeader is an application header element.
type traceHeader struct {
	XMLName xml.Name `xml:"urn:carrierhub:test:trace Trace"`
	ID      string   `xml:"ID"`
}

// wsseToken is the server's view of a UsernameToken.
type wsseToken struct {
	Username string `xml:"Username"`
	Password struct {
		Type  string `xml:"Type,attr"`
		Value string `xml:",chardata"`
	} `xml:"Password"`
	Nonce *struct {
		EncodingType string `xml:"EncodingType,attr"`
		Value        string `xml:",chardata"`
	} `xml:"Nonce"`
	Created string `xml:"Created"`
}

type wsseSecurity struct {
	MustUnderstand string `xml:"mustUnderstand,attr"`
	Timestamp      *struct {
		Created string `xml:"Created"`
		Expires string `xml:"Expires"`
	} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Timestamp"`
	Token *wsseToken `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd UsernameToken"`
}

// simEnvelope is a request envelope of either version as the server reads it.
type simEnvelope struct {
	XMLName xml.Name
	Header  struct {
		Security *wsseSecurity `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
		Trace    *traceHeader  `xml:"urn:carrierhub:test:trace Trace"`
	} `xml:"Header"`
	Body struct {
		Track *trackRequest `xml:"urn:carrierhub:test:track:v1 TrackRequest"`
	} `xml:"Body"`
}

// checkUsernameToken verifies a token the way a WSS server does, independently
// of this package: PasswordDigest = Base64(SHA-1(nonce + created + password)).
func checkUsernameToken(sec *wsseSecurity, user, password string, digest bool) error {
	if sec == nil || sec.Token == nil {
		return fmt.Errorf("no UsernameToken")
	}
	tok := sec.Token
	if tok.Username != user {
		return fmt.Errorf("username %q", tok.Username)
	}
	if !digest {
		if !strings.HasSuffix(tok.Password.Type, "#PasswordText") || tok.Password.Value != password {
			return fmt.Errorf("PasswordText mismatch (type %q)", tok.Password.Type)
		}
		return nil
	}
	if !strings.HasSuffix(tok.Password.Type, "#PasswordDigest") {
		return fmt.Errorf("password type %q", tok.Password.Type)
	}
	if tok.Nonce == nil || !strings.HasSuffix(tok.Nonce.EncodingType, "#Base64Binary") {
		return fmt.Errorf("nonce missing or not Base64Binary")
	}
	nonce, err := base64.StdEncoding.DecodeString(tok.Nonce.Value)
	if err != nil || len(nonce) == 0 {
		return fmt.Errorf("nonce not Base64: %v", err)
	}
	created, err := time.Parse(time.RFC3339Nano, tok.Created)
	if err != nil || created.Location() != time.UTC || !strings.HasSuffix(tok.Created, "Z") {
		return fmt.Errorf("created %q is not a UTC dateTime", tok.Created)
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(tok.Created))
	h.Write([]byte(password))
	if want := base64.StdEncoding.EncodeToString(h.Sum(nil)); tok.Password.Value != want {
		return fmt.Errorf("digest %q, want %q", tok.Password.Value, want)
	}
	return nil
}

// envelope11 and envelope12 wrap a reply body.
func envelope11(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` +
		body + `</s:Body></s:Envelope>`
}

func envelope12(body string) string {
	return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Header/><env:Body>` +
		body + `</env:Body></env:Envelope>`
}

const trackReply = `<TrackResponse xmlns="urn:carrierhub:test:track:v1"><Event><Number>90012345678</Number>` +
	`<Code>OFD</Code><Description>Out for delivery</Description><Location>Pune Hub</Location></Event></TrackResponse>`

// fault11 writes a SOAP 1.1 fault.
func fault11(code, text, detail string) string {
	d := ""
	if detail != "" {
		d = "<detail>" + detail + "</detail>"
	}
	return envelope11(`<s:Fault><faultcode>` + code + `</faultcode><faultstring xml:lang="en-US">` + text +
		`</faultstring>` + d + `</s:Fault>`)
}

// fault12 writes a SOAP 1.2 fault with an optional subcode.
func fault12(code, sub, text, detail string) string {
	c := `<env:Code><env:Value>` + code + `</env:Value>`
	if sub != "" {
		c += `<env:Subcode><env:Value>` + sub + `</env:Value></env:Subcode>`
	}
	c += `</env:Code>`
	d := ""
	if detail != "" {
		d = `<env:Detail>` + detail + `</env:Detail>`
	}
	return envelope12(`<env:Fault xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
		c + `<env:Reason><env:Text xml:lang="fr">Échec</env:Text><env:Text xml:lang="en">` + text + `</env:Text></env:Reason>` +
		d + `</env:Fault>`)
}

// reply writes a canned answer.
func reply(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}
