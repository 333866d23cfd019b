package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

// Version is a SOAP version.
type Version int

// SOAP versions.
const (
	// V11 is SOAP 1.1: text/xml with a SOAPAction header.
	V11 Version = iota
	// V12 is SOAP 1.2: application/soap+xml with the action as a parameter.
	V12
)

// Envelope namespaces.
const (
	// Namespace11 is the SOAP 1.1 envelope namespace.
	Namespace11 = "http://schemas.xmlsoap.org/soap/envelope/"
	// Namespace12 is the SOAP 1.2 envelope namespace.
	Namespace12 = "http://www.w3.org/2003/05/soap-envelope"
)

// Namespace returns the version's envelope namespace.
func (v Version) Namespace() string {
	if v == V12 {
		return Namespace12
	}
	return Namespace11
}

// String names the version ("1.1" or "1.2").
func (v Version) String() string {
	if v == V12 {
		return "1.2"
	}
	return "1.1"
}

// Client calls one SOAP endpoint. Its fields are read on every call and must not
// change while calls are in flight; a Client is safe for concurrent use.
type Client struct {
	// URL is the endpoint address.
	URL string
	// Version is the SOAP version; the zero value is 1.1.
	Version Version
	// HTTP holds the transport settings: the *http.Client, Provider name, Auth hook
	// (HTTP Basic for Purolator-style services), static Header, MaxResponseBytes
	// and MaxDepth. Its ContentType, Accept, Encoding and Errors are not used: the
	// envelope decides them.
	HTTP xmlhttp.Client
	// Security, when set, adds a WS-Security UsernameToken header to every call.
	Security *UsernameToken
	// Headers are header elements (structs with an XMLName, or []byte of ready
	// XML) sent with every call.
	Headers []any
	// Faults, when set, may classify a fault itself (from provider-specific detail
	// codes); returning nil falls back to Fault.Classify.
	Faults func(*Fault) *sdk.Error
}

// CallOption adjusts one call.
type CallOption func(*call)

type call struct {
	headers   []any
	outHeader any
}

// WithHeader adds a header element (a struct with an XMLName, or []byte of ready
// XML) to this call.
func WithHeader(h any) CallOption { return func(c *call) { c.headers = append(c.headers, h) } }

// WithResponseHeader decodes the reply's soap:Header element into v.
func WithResponseHeader(v any) CallOption { return func(c *call) { c.outHeader = v } }

// Call sends body (a struct marshalled with encoding/xml, namespaces kept, or a
// []byte of ready XML) inside an envelope with the given action, and decodes the
// reply's body element into out (nil to ignore it). A fault, whatever the HTTP
// status, comes back as a classified *sdk.Error; so does every other failure.
func (c *Client) Call(ctx context.Context, action string, body, out any, opts ...CallOption) error {
	var o call
	for _, opt := range opts {
		opt(&o)
	}
	env, err := c.envelope(body, o.headers)
	if err != nil {
		return err
	}
	res, err := c.HTTP.Send(ctx, http.MethodPost, c.URL, env, c.httpHeader(action))
	if err != nil {
		return err
	}
	return c.read(res, out, o.outHeader)
}

// read classifies a reply and decodes it.
func (c *Client) read(res *xmlhttp.Response, out, outHeader any) error {
	provider := c.provider()
	if xmlhttp.IsHTML(res.Body) {
		return xmlhttp.HTMLError(provider, res)
	}
	fault, err := readEnvelope(res.Body, out, outHeader, c.HTTP.MaxDepth)
	switch {
	case errors.Is(err, xmlhttp.ErrDoctype) || errors.Is(err, xmlhttp.ErrTooDeep):
		return xmlhttp.DecodeError(provider, err)
	case err != nil && (res.StatusCode < 200 || res.StatusCode > 299):
		return xmlhttp.StatusError(provider, res)
	case err != nil:
		return xmlhttp.DecodeError(provider, err)
	case fault != nil:
		fault.HTTPStatus = res.StatusCode
		if c.Faults != nil {
			if e := c.Faults(fault); e != nil {
				return e
			}
		}
		return fault.SDKError(provider)
	case res.StatusCode < 200 || res.StatusCode > 299:
		return xmlhttp.StatusError(provider, res)
	}
	return nil
}

func (c *Client) provider() string {
	if c.HTTP.Provider == "" {
		return "the SOAP service"
	}
	return c.HTTP.Provider
}

// httpHeader returns Content-Type and SOAPAction for the version.
func (c *Client) httpHeader(action string) http.Header {
	h := make(http.Header, 2)
	if c.Version == V12 {
		ct := "application/soap+xml; charset=utf-8"
		if action != "" {
			ct += "; action=" + strconv.Quote(action)
		}
		h["Content-Type"] = []string{ct}
		return h
	}
	h["Content-Type"] = []string{"text/xml; charset=utf-8"}
	h["SOAPAction"] = []string{strconv.Quote(action)} // as spelled by SOAP 1.1; some servers match case
	return h
}

const envPrefix = "soap"

// envelope writes the request envelope.
func (c *Client) envelope(body any, extra []any) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(512)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><` + envPrefix + `:Envelope xmlns:` + envPrefix + `="` + c.Version.Namespace() + `">`)
	if c.Security != nil || len(c.Headers) > 0 || len(extra) > 0 {
		b.WriteString(`<` + envPrefix + `:Header>`)
		if c.Security != nil {
			if err := c.Security.appendHeader(&b, envPrefix, c.Version); err != nil {
				return nil, &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
					Message: "building the WS-Security header: " + err.Error()}
			}
		}
		for _, h := range c.Headers {
			if err := encodeInto(&b, h); err != nil {
				return nil, err
			}
		}
		for _, h := range extra {
			if err := encodeInto(&b, h); err != nil {
				return nil, err
			}
		}
		b.WriteString(`</` + envPrefix + `:Header>`)
	}
	b.WriteString(`<` + envPrefix + `:Body>`)
	if err := encodeInto(&b, body); err != nil {
		return nil, err
	}
	b.WriteString(`</` + envPrefix + `:Body></` + envPrefix + `:Envelope>`)
	return b.Bytes(), nil
}

func encodeInto(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		b.Write(x)
		return nil
	case string:
		b.WriteString(x)
		return nil
	}
	enc := xml.NewEncoder(b)
	if err := enc.Encode(v); err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("encoding %T as XML: %v", v, err)}
	}
	return enc.Close()
}

// errNotEnvelope reports a reply that is XML but not a SOAP envelope.
var errNotEnvelope = errors.New("the reply is not a SOAP envelope")

// readEnvelope decodes a reply envelope of either version: the first body element
// into out (or skipped when out is nil), the header into outHeader. A fault comes
// back as *Fault with a nil error.
func readEnvelope(body []byte, out, outHeader any, maxDepth int) (*Fault, error) {
	d := xmlhttp.NewDecoder(bytes.NewReader(body), maxDepth)
	var version Version
	for {
		t, err := d.Token()
		if err == io.EOF {
			return nil, errNotEnvelope
		}
		if err != nil {
			return nil, err
		}
		if se, ok := t.(xml.StartElement); ok {
			if se.Name.Local != "Envelope" || (se.Name.Space != Namespace11 && se.Name.Space != Namespace12) {
				return nil, fmt.Errorf("%w (root element %q in namespace %q)", errNotEnvelope, se.Name.Local, se.Name.Space)
			}
			if se.Name.Space == Namespace12 {
				version = V12
			}
			break
		}
	}
	ns := version.Namespace()
	for {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch tok := t.(type) {
		case xml.EndElement:
			return nil, fmt.Errorf("%w (no Body)", errNotEnvelope)
		case xml.StartElement:
			switch {
			case tok.Name.Space == ns && tok.Name.Local == "Header":
				if outHeader != nil {
					err = d.DecodeElement(outHeader, &tok)
				} else {
					err = d.Skip()
				}
				if err != nil {
					return nil, err
				}
			case tok.Name.Space == ns && tok.Name.Local == "Body":
				return readBody(d, version, out)
			default:
				if err := d.Skip(); err != nil {
					return nil, err
				}
			}
		}
	}
}

func readBody(d *xml.Decoder, v Version, out any) (*Fault, error) {
	for {
		t, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch tok := t.(type) {
		case xml.EndElement:
			return nil, nil // empty body (one-way operations)
		case xml.StartElement:
			if tok.Name.Local == "Fault" && (tok.Name.Space == Namespace11 || tok.Name.Space == Namespace12) {
				var fx faultXML
				if err := d.DecodeElement(&fx, &tok); err != nil {
					return nil, err
				}
				return fx.fault(v, 0), nil
			}
			if out == nil {
				return nil, d.Skip()
			}
			return nil, d.DecodeElement(out, &tok)
		}
	}
}
