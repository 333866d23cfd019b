package xml

import (
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/carrierhub/hub/mappings/doc"
)

// SOAPVersion is a SOAP envelope version.
type SOAPVersion int

// The SOAP versions in use by carriers and ERPs.
const (
	SOAP11 SOAPVersion = 1
	SOAP12 SOAPVersion = 2
)

// Namespace returns the version's envelope namespace URI.
func (v SOAPVersion) Namespace() string {
	if v == SOAP12 {
		return NamespaceSOAP12
	}
	return NamespaceSOAP11
}

// String returns "1.1" or "1.2".
func (v SOAPVersion) String() string {
	if v == SOAP12 {
		return "1.2"
	}
	return "1.1"
}

// ContentType returns the HTTP Content-Type for a request in this version.
// SOAP 1.2 carries the action as a media type parameter; SOAP 1.1 sends it in
// a separate SOAPAction header, so action is ignored for it.
func (v SOAPVersion) ContentType(action string) string {
	if v == SOAP12 {
		if action != "" {
			return `application/soap+xml; charset=utf-8; action="` + action + `"`
		}
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// Envelope returns the tree of a SOAP envelope of version v around header and
// body, ready for Write: {"soap:Envelope": {"@xmlns:soap": ns, "soap:Header":
// header, "soap:Body": body}}. The envelope declares its own "soap" prefix;
// header and body are element trees (objects whose keys are the header blocks
// and the payload element), written with the prefixes WriteOptions declares.
// A nil header leaves the Header element out.
func Envelope(v SOAPVersion, header, body any) *doc.Object {
	env := doc.NewObject(3)
	env.Set("@xmlns:soap", v.Namespace())
	if header != nil {
		env.Set("soap:Header", header)
	}
	if body == nil {
		body = ""
	}
	env.Set("soap:Body", body)
	root := doc.NewObject(1)
	root.Set("soap:Envelope", env)
	return root
}

// MarshalSOAP writes a SOAP envelope of version v around header and body; see
// Envelope and Write. WriteOptions.Prefixes must not bind "soap" to another
// namespace.
func MarshalSOAP(v SOAPVersion, header, body any, opts WriteOptions) ([]byte, error) {
	if uri, ok := opts.Prefixes["soap"]; ok && uri != v.Namespace() {
		return nil, &Error{Kind: ErrNamespace, Msg: fmt.Sprintf("prefix soap is reserved for the SOAP %s envelope namespace", v)}
	}
	return Marshal(Envelope(v, header, body), opts)
}

// FaultTree returns the body content of a SOAP fault of version v, for servers
// and simulators: Envelope(v, nil, FaultTree(v, f)). Code and Subcodes are
// written as qualified names in the envelope namespace when they have no
// prefix of their own.
func FaultTree(v SOAPVersion, f *Fault) *doc.Object {
	qualify := func(c string) string {
		if strings.Contains(c, ":") {
			return c
		}
		return "soap:" + c
	}
	fault := doc.NewObject(5)
	if v == SOAP12 {
		code := doc.NewObject(2)
		code.Set("soap:Value", qualify(f.Code))
		inner := code
		for _, sc := range f.Subcodes {
			sub := doc.NewObject(2)
			sub.Set("soap:Value", sc)
			inner.Set("soap:Subcode", sub)
			inner = sub
		}
		fault.Set("soap:Code", code)
		text := doc.NewObject(2)
		text.Set("@xml:lang", "en")
		text.Set("#text", f.Reason)
		reason := doc.NewObject(1)
		reason.Set("soap:Text", text)
		fault.Set("soap:Reason", reason)
		if f.Node != "" {
			fault.Set("soap:Node", f.Node)
		}
		if f.Actor != "" {
			fault.Set("soap:Role", f.Actor)
		}
		if f.Detail != nil {
			fault.Set("soap:Detail", f.Detail)
		}
	} else {
		fault.Set("faultcode", qualify(f.Code))
		fault.Set("faultstring", f.Reason)
		if f.Actor != "" {
			fault.Set("faultactor", f.Actor)
		}
		if f.Detail != nil {
			fault.Set("detail", f.Detail)
		}
	}
	body := doc.NewObject(1)
	body.Set("soap:Fault", fault)
	return body
}

// SOAPEnvelope is a SOAP message read by ReadSOAP.
type SOAPEnvelope struct {
	// Version is the envelope's version, told by its namespace.
	Version SOAPVersion
	// Header is the Header element's value (an object keyed by header block),
	// or nil when there is no header.
	Header any
	// Body is the Body element's value: an object keyed by the payload
	// element, or "" for an empty body.
	Body any
	// Fault is the decoded fault when the body holds one.
	Fault *Fault
}

// Fault is a SOAP 1.1 or 1.2 fault, normalised. A fault is a valid answer, so
// ReadSOAP returns it in the envelope rather than as an error; Fault still
// implements error for callers that want to return it.
type Fault struct {
	// Version is the SOAP version of the fault.
	Version SOAPVersion
	// Code is the local part of the fault code: Client or Server (1.1),
	// Sender or Receiver (1.2), VersionMismatch, MustUnderstand, or a
	// service's own code such as WCF's InternalServiceFault.
	Code string
	// RawCode is the fault code as written, prefix included ("s:Client").
	RawCode string
	// Subcodes are SOAP 1.2 subcode values, outermost first, as written.
	Subcodes []string
	// Reason is faultstring (1.1) or the first Reason/Text (1.2).
	Reason string
	// Actor is faultactor (1.1) or Role (1.2).
	Actor string
	// Node is the SOAP 1.2 Node.
	Node string
	// Detail is the detail element's value, as the reader shapes it.
	Detail any
}

// Error describes the fault with its code and reason.
func (f *Fault) Error() string {
	return fmt.Sprintf("soap fault %s: %s", f.RawCode, f.Reason)
}

// ReadSOAP reads a SOAP 1.1 or 1.2 envelope. The envelope namespace is keyed
// with the prefix "soap" whatever the document used (any binding of "soap" in
// opts.Prefixes is replaced); other elements follow opts. It returns ErrNotSOAP
// when the root is not a SOAP Envelope or has no Body.
func ReadSOAP(r io.Reader, opts Options) (*SOAPEnvelope, error) {
	o := opts
	o.Prefixes = maps.Clone(opts.Prefixes)
	delete(o.Prefixes, "soap")
	p := newParser(o)
	if p.keys == nil {
		p.keys = make(map[string]string, 2)
	}
	p.keys[NamespaceSOAP11] = "soap"
	p.keys[NamespaceSOAP12] = "soap"
	max := p.maxBytes
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("xml: reading input: %w", err)
	}
	root, ns, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	envV, ok := root.Get("soap:Envelope")
	if !ok {
		k, _ := root.At(0)
		if ns != "" {
			k = "{" + ns + "}" + k
		}
		return nil, &Error{Kind: ErrNotSOAP, Msg: fmt.Sprintf("root element is %s, not a SOAP 1.1 or 1.2 Envelope", k)}
	}
	out := &SOAPEnvelope{Version: SOAP11}
	if ns == NamespaceSOAP12 {
		out.Version = SOAP12
	}
	env, ok := envV.(*doc.Object)
	if !ok {
		return nil, &Error{Kind: ErrNotSOAP, Path: "/soap:Envelope", Msg: "envelope has no Body"}
	}
	out.Header, _ = env.Get("soap:Header")
	body, ok := env.Get("soap:Body")
	if !ok {
		return nil, &Error{Kind: ErrNotSOAP, Path: "/soap:Envelope", Msg: "envelope has no Body"}
	}
	if _, isList := body.([]any); isList {
		return nil, &Error{Kind: ErrNotSOAP, Path: "/soap:Envelope", Msg: "envelope has more than one Body"}
	}
	out.Body = body
	if b, ok := body.(*doc.Object); ok {
		if fv, ok := b.Get("soap:Fault"); ok {
			out.Fault = decodeFault(out.Version, fv)
		}
	}
	return out, nil
}

func decodeFault(v SOAPVersion, fv any) *Fault {
	f := &Fault{Version: v}
	if list, ok := fv.([]any); ok && len(list) > 0 {
		fv = list[0]
	}
	obj, _ := fv.(*doc.Object)
	if obj == nil {
		return f
	}
	if v == SOAP12 {
		code := first(obj, "soap:Code")
		f.RawCode = text(firstValue(code, "soap:Value"))
		for sub := first(code, "soap:Subcode"); sub != nil; sub = first(sub, "soap:Subcode") {
			f.Subcodes = append(f.Subcodes, text(firstValue(sub, "soap:Value")))
		}
		reason := first(obj, "soap:Reason")
		f.Reason = text(firstValue(reason, "soap:Text"))
		f.Node = text(firstValue(obj, "soap:Node"))
		f.Actor = text(firstValue(obj, "soap:Role"))
		f.Detail, _ = obj.Get("soap:Detail")
	} else {
		// The children are unqualified by the specification; a few
		// servers qualify them anyway.
		pick := func(name string) any {
			if v := firstValue(obj, name); v != nil {
				return v
			}
			return firstValue(obj, "soap:"+name)
		}
		f.RawCode = text(pick("faultcode"))
		f.Reason = text(pick("faultstring"))
		f.Actor = text(pick("faultactor"))
		f.Detail = pick("detail")
	}
	f.RawCode = strings.TrimSpace(f.RawCode)
	f.Code = f.RawCode
	if i := strings.LastIndexByte(f.Code, ':'); i >= 0 {
		f.Code = f.Code[i+1:]
	}
	return f
}

// firstValue returns the first value under key, unwrapping repetition.
func firstValue(o *doc.Object, key string) any {
	if o == nil {
		return nil
	}
	v, _ := o.Get(key)
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil
		}
		return list[0]
	}
	return v
}

func first(o *doc.Object, key string) *doc.Object {
	obj, _ := firstValue(o, key).(*doc.Object)
	return obj
}

// text returns an element value's text: the string itself or its "#text".
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *doc.Object:
		if x == nil {
			return ""
		}
		if t, ok := x.Get("#text"); ok {
			s, _ := t.(string)
			return s
		}
	}
	return ""
}
