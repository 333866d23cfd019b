package soap

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// WS-Security 1.0 namespaces and URIs (OASIS WSS: SOAP Message Security 1.0 and
// the Username Token Profile 1.0).
const (
	// NamespaceWSSE is the WS-Security extension namespace (wsse).
	NamespaceWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// NamespaceWSU is the WS-Security utility namespace (wsu).
	NamespaceWSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	// PasswordTextType marks a password sent as it is.
	PasswordTextType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	// PasswordDigestType marks a password sent as Base64(SHA-1(nonce + created + password)).
	PasswordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	// Base64BinaryType is the EncodingType of a Base64 nonce.
	Base64BinaryType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// wsuTime is the xsd:dateTime form used for Created and Expires: UTC with
// milliseconds, as WSS implementations (WSS4J, WCF) send it.
const wsuTime = "2006-01-02T15:04:05.000Z"

// UsernameToken is a WS-Security UsernameToken (OASIS WSS Username Token Profile
// 1.0) added to the SOAP header of every request. The password never appears in
// errors or logs; with Digest it does not travel at all.
type UsernameToken struct {
	// Username is the wsse:Username.
	Username string
	// Password is the secret: sent as it is (PasswordText) or digested.
	Password string
	// Digest sends PasswordDigest = Base64(SHA-1(nonce + created + password)) with
	// a fresh Base64 wsse:Nonce and wsu:Created; otherwise PasswordText.
	Digest bool
	// Nonce adds wsse:Nonce and wsu:Created to a PasswordText token too (some
	// servers use them against replays). Digest tokens always carry them.
	Nonce bool
	// Timestamp, when positive, adds a wsu:Timestamp whose Expires is Created plus
	// Timestamp.
	Timestamp time.Duration
	// MustUnderstand marks the Security header mustUnderstand ("1" in SOAP 1.1,
	// "true" in SOAP 1.2).
	MustUnderstand bool
	// Now returns the current time; nil means time.Now. Times are sent in UTC.
	Now func() time.Time
	// Rand supplies nonces; nil means crypto/rand.
	Rand io.Reader
}

// Secure returns env, a SOAP envelope, with the token's WS-Security header
// first in its Header (one is created when the envelope has none).
func (t *UsernameToken) Secure(env []byte) ([]byte, error) { return addSecurity(env, t) }

// PasswordDigest returns Base64(SHA-1(nonce + created + password)), the
// PasswordDigest of the Username Token Profile, where nonce is the raw (decoded)
// nonce and created the exact wsu:Created text.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	io.WriteString(h, created)
	io.WriteString(h, password)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// appendHeader writes the wsse:Security header element for envelope prefix
// envPrefix in version v.
func (t *UsernameToken) appendHeader(b *bytes.Buffer, envPrefix string, v Version) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	created := now().UTC()
	createdText := created.Format(wsuTime)

	b.WriteString(`<wsse:Security xmlns:wsse="` + NamespaceWSSE + `" xmlns:wsu="` + NamespaceWSU + `"`)
	if t.MustUnderstand {
		val := "1"
		if v == V12 {
			val = "true"
		}
		b.WriteString(` ` + envPrefix + `:mustUnderstand="` + val + `"`)
	}
	b.WriteString(`>`)
	if t.Timestamp > 0 {
		b.WriteString(`<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>` + createdText + `</wsu:Created><wsu:Expires>` +
			created.Add(t.Timestamp).Format(wsuTime) + `</wsu:Expires></wsu:Timestamp>`)
	}
	b.WriteString(`<wsse:UsernameToken wsu:Id="UsernameToken-1"><wsse:Username>`)
	if err := xml.EscapeText(b, []byte(t.Username)); err != nil {
		return err
	}
	b.WriteString(`</wsse:Username>`)
	var nonce []byte
	if t.Digest || t.Nonce {
		nonce = make([]byte, 16)
		r := t.Rand
		if r == nil {
			r = rand.Reader
		}
		if _, err := io.ReadFull(r, nonce); err != nil {
			return fmt.Errorf("making a WS-Security nonce: %w", err)
		}
	}
	if t.Digest {
		b.WriteString(`<wsse:Password Type="` + PasswordDigestType + `">` + PasswordDigest(nonce, createdText, t.Password) + `</wsse:Password>`)
	} else {
		b.WriteString(`<wsse:Password Type="` + PasswordTextType + `">`)
		if err := xml.EscapeText(b, []byte(t.Password)); err != nil {
			return err
		}
		b.WriteString(`</wsse:Password>`)
	}
	if nonce != nil {
		b.WriteString(`<wsse:Nonce EncodingType="` + Base64BinaryType + `">` + base64.StdEncoding.EncodeToString(nonce) +
			`</wsse:Nonce><wsu:Created>` + createdText + `</wsu:Created>`)
	}
	b.WriteString(`</wsse:UsernameToken></wsse:Security>`)
	return nil
}
