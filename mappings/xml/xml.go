// Package xml reads XML documents into the mapping language's document model
// (package mappings/doc) and writes that model back as XML, with namespaces,
// attributes and SOAP 1.1/1.2 envelopes. It imports nothing of the hub's except
// mappings/doc.
//
// # Tree shape
//
// Read returns a *doc.Object with one key, the root element. Every element
// becomes a value by these rules:
//
//   - An element with neither attributes nor child elements is a string, its
//     text exactly as written (entities decoded, CDATA included, whitespace
//     kept): <pin>1371134583769923</pin> is "1371134583769923", <a/> is "".
//   - An element with attributes or child elements is a *doc.Object. Attributes
//     come first, in document order, keyed "@name". Child elements follow,
//     keyed by name; a name that repeats becomes a []any through
//     doc.Object.Append, so a list always means repetition and a single
//     <occurrence> stays an object (a mapping that expects many should accept
//     one). Text is stored under "#text" unless it is only whitespace between
//     child elements, which is layout and dropped.
//   - An element marked xsi:nil="true" with no content and no other attribute
//     is nil.
//   - Namespace declarations (xmlns, xmlns:p) are not attributes and do not
//     appear in the tree. Comments and processing instructions are skipped.
//
// # Namespaces
//
// A mapping addresses elements by name without caring which prefix a sender
// chose, because the same service answers with s:Envelope one day and
// soap:Envelope the next. Keys are built from the namespace URI, never from
// the document's prefix:
//
//   - By default a key is the local name: <soap:Envelope> and <Envelope
//     xmlns="http://schemas.xmlsoap.org/soap/envelope/"> are both "Envelope",
//     and Canada Post's <tracking-detail xmlns="http://www.canadapost.ca/ws/track-v2">
//     is "tracking-detail". This is what most mappings want.
//   - Options.Prefixes declares the author's own prefixes: with
//     {"soap": "http://schemas.xmlsoap.org/soap/envelope/"} the envelope is
//     "soap:Envelope" whatever prefix the document used, while elements in
//     namespaces the author did not declare keep their local names. Use it
//     when two namespaces share local names, or to insist on a namespace.
//   - Options.Expanded keys every element of an undeclared namespace as
//     "{uri}local", e.g. "{http://purolator.com/pws/datatypes/v1}PIN".
//
// Attributes follow the same rules behind "@": "@type", "@xsi:type" or
// "@{http://www.w3.org/2001/XMLSchema-instance}type". Unprefixed attributes
// are in no namespace and are always "@name".
//
// # Hostile input
//
// The reader refuses document type declarations outright (so no entity
// declarations, no entity expansion and no external entities: ErrDTD), refuses
// references to entities other than XML's five predefined ones and character
// references, checks that the input is UTF-8 (ErrEncoding), and enforces a
// size limit, a nesting depth limit and a per-element attribute limit
// (ErrLimit). Every error is an *Error with line, column and element path.
//
// # Writing
//
// Write accepts the same shape back. Keys "p:local" use a prefix declared in
// WriteOptions.Prefixes (declared once on the root element) or by an
// "@xmlns:p" attribute key on the element or an ancestor; "{uri}local" keys
// use the declared prefix for that URI or a generated one. An "@xmlns" key
// sets a default namespace. Envelope and MarshalSOAP build SOAP 1.1 and 1.2
// envelopes; ReadSOAP unwraps one and decodes faults.
package xml

import (
	"errors"
	"fmt"
)

// Classes of error, matched with errors.Is on an *Error.
var (
	// ErrSyntax means the input is not well-formed XML.
	ErrSyntax = errors.New("malformed xml")
	// ErrDTD means the input holds a document type declaration, which may
	// declare entities; the reader never processes one.
	ErrDTD = errors.New("document type declarations are refused")
	// ErrEncoding means the input is not UTF-8 (invalid bytes, a UTF-16 byte
	// order mark, or another declared encoding).
	ErrEncoding = errors.New("unsupported or invalid encoding")
	// ErrLimit means the input exceeds a size, depth or attribute limit.
	ErrLimit = errors.New("limit exceeded")
	// ErrNamespace means a prefix is used without a declaration, or declared
	// wrongly.
	ErrNamespace = errors.New("namespace error")
	// ErrShape means a tree handed to the writer cannot be written as XML.
	ErrShape = errors.New("value cannot be written as xml")
	// ErrNotSOAP means ReadSOAP was given a document that is not a SOAP
	// envelope.
	ErrNotSOAP = errors.New("not a soap envelope")
)

// Error is a classified problem with an XML document or tree. Kind is one of
// the Err* values above; Line and Column (1-based, 0 when unknown) locate it in
// the input; Path is the element path ("/Envelope/Body/Fault") or, for the
// writer, the path in the tree.
type Error struct {
	Kind   error
	Line   int
	Column int
	Path   string
	Msg    string
}

// Error formats the problem with its position.
func (e *Error) Error() string {
	s := "xml: "
	if e.Line > 0 {
		s += fmt.Sprintf("line %d, column %d: ", e.Line, e.Column)
	}
	if e.Path != "" {
		s += e.Path + ": "
	}
	return s + e.Msg
}

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Kind }

// Namespace URIs the package knows by heart.
const (
	// NamespaceXML is the namespace bound to the reserved prefix "xml".
	NamespaceXML = "http://www.w3.org/XML/1998/namespace"
	// NamespaceXSI is the XML Schema instance namespace (xsi:nil, xsi:type).
	NamespaceXSI = "http://www.w3.org/2001/XMLSchema-instance"
	// NamespaceSOAP11 is the SOAP 1.1 envelope namespace.
	NamespaceSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	// NamespaceSOAP12 is the SOAP 1.2 envelope namespace.
	NamespaceSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)
