package waybill

import (
	"encoding/xml"
	"reflect"
	"strconv"
	"strings"
)

// Namespaces of the WCF data contracts, as the WSDL declares them.
const (
	// NamespaceWayBill holds the WayBillGeneration data contracts (Consignee, Services, ...).
	NamespaceWayBill = "http://schemas.datacontract.org/2004/07/SAPI.Entities.WayBillGeneration"
	// NamespaceAdmin holds the UserProfile data contract.
	NamespaceAdmin = "http://schemas.datacontract.org/2004/07/SAPI.Entities.Admin"
)

// gowsdl writes struct tags without namespaces, so encoding/xml would put every child
// of Request and Profile in the operation's namespace (http://tempuri.org/). WCF's
// DataContractSerializer drops members whose namespace does not match, so the request
// types below marshal their members in the namespace the WSDL gives them.

// MarshalXML writes the request's members in the WayBillGeneration namespace.
func (r *WayBillGenerationRequest) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeQualified(e, start, reflect.ValueOf(r).Elem(), NamespaceWayBill)
}

// MarshalXML writes the request's members in the WayBillGeneration namespace.
func (r *AWBCancelationRequest) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeQualified(e, start, reflect.ValueOf(r).Elem(), NamespaceWayBill)
}

// MarshalXML writes the profile's members in the Admin namespace.
func (p *UserProfile) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeQualified(e, start, reflect.ValueOf(p).Elem(), NamespaceAdmin)
}

// encodeQualified writes v as start's content, naming every member element in ns and
// leaving out zero members, as the generated omitempty tags ask.
func encodeQualified(e *xml.Encoder, start xml.StartElement, v reflect.Value, ns string) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("xml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		if err := encodeMember(e, xml.Name{Space: ns, Local: name}, v.Field(i), ns); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

func encodeMember(e *xml.Encoder, name xml.Name, v reflect.Value, ns string) error {
	if v.IsZero() {
		return nil
	}
	el := xml.StartElement{Name: name}
	switch v.Kind() {
	case reflect.Pointer:
		return encodeMember(e, name, v.Elem(), ns)
	case reflect.Struct:
		return encodeQualified(e, el, v, ns)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return e.EncodeElement(v.Interface(), el)
		}
		for j := range v.Len() {
			if err := encodeMember(e, name, v.Index(j), ns); err != nil {
				return err
			}
		}
		return nil
	case reflect.Float32, reflect.Float64:
		return e.EncodeElement(strconv.FormatFloat(v.Float(), 'f', -1, 64), el)
	default:
		return e.EncodeElement(v.Interface(), el)
	}
}
