package xml_test

import (
	"fmt"
	"strings"

	"github.com/carrierhub/hub/mappings/doc"
	"github.com/carrierhub/hub/mappings/xml"
)

// Three ways to address the same namespaced element.
func ExampleRead() {
	src := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
  <TrackResponse xmlns="urn:carrier:v1" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
    <Scan seq="1"><Code>DL</Code></Scan><Scan seq="2"><Code>OD</Code></Scan><Note i:nil="true"/>
  </TrackResponse></s:Body></s:Envelope>`
	for _, opts := range []xml.Options{
		{}, // local names
		{Prefixes: map[string]string{"soap": xml.NamespaceSOAP11, "c": "urn:carrier:v1"}}, // the author's prefixes
		{Expanded: true}, // "{uri}local"
	} {
		tree, err := xml.Read(strings.NewReader(src), opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		env, _ := tree.At(0)
		body := first(first(tree))
		resp, v := body.At(0)
		scans, _ := v.(*doc.Object).At(0)
		fmt.Println(env, resp, scans)
	}
	// Output:
	// Envelope TrackResponse Scan
	// soap:Envelope c:TrackResponse c:Scan
	// {http://schemas.xmlsoap.org/soap/envelope/}Envelope {urn:carrier:v1}TrackResponse {urn:carrier:v1}Scan
}

func first(o *doc.Object) *doc.Object {
	_, v := o.At(0)
	return v.(*doc.Object)
}

// Writing a SOAP 1.1 request with a declared prefix for the payload.
func ExampleMarshalSOAP() {
	body := doc.NewObject(1)
	pins := doc.NewObject(1)
	pins.Set("p:PIN", []any{"329014521622", "329014521623"})
	body.Set("p:TrackPackagesByPinRequest", pins)
	out, err := xml.MarshalSOAP(xml.SOAP11, nil, body, xml.WriteOptions{Prefixes: map[string]string{"p": "http://purolator.com/pws/datatypes/v1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
	// Output:
	// <soap:Envelope xmlns:p="http://purolator.com/pws/datatypes/v1" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><p:TrackPackagesByPinRequest><p:PIN>329014521622</p:PIN><p:PIN>329014521623</p:PIN></p:TrackPackagesByPinRequest></soap:Body></soap:Envelope>
}
