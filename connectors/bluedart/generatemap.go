package bluedart

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/carrierhub/hub/connectors/bluedart/internal/waybill"
	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// Waybill generation builds its SOAP Request through
// mappings/generate-request.mapping: the mapping reads an envelope Go assembles
// once the request is valid (the canonical request, the account's settings and
// what validation computed) and writes JSON named after the generated types in
// internal/waybill, which Go decodes strictly into
// waybill.WayBillGenerationRequest for the SOAP client to send. Weights in kg,
// dimensions in cm, rounding, names cut to 30 characters, commodities, the
// declared and collectable values, the product codes and the pickup date are
// the mapping's.
//
// Go keeps the validation with JSON pointers (checkWayBill) and the packing of
// an address into Blue Dart's three lines of 30 characters (addressLines): it
// is a greedy word wrap that carries state from word to word (which line, how
// full, whether a comma may start it), and the language has no fold over a
// list to say that; the packed lines reach the mapping as derived values.
//
// The answers stay in Go (FromWayBillResponse, FromCancelResponse): gowsdl has
// already decoded them into structs, their success paths are a handful of
// assignments, and the label is base64 text that has to be decoded and checked,
// which the language cannot do. A mapping over the struct marshalled back to
// JSON would be longer than the code it replaced.

// wayBillInput is the document generate-request.mapping reads.
type wayBillInput struct {
	Shipment *model.ShipmentRequest `json:"shipment"`
	Settings Settings               `json:"settings"`
	Derived  *wayBillDerived        `json:"derived"`
}

// wayBillDerived are the values validation computes that the mapping should
// not compute again.
type wayBillDerived struct {
	// Today is the pickup date when the request has none, yyyy-MM-dd in IST.
	Today    string       `json:"today"`
	ShipTo   packedParty  `json:"ship_to"`
	ShipFrom packedParty  `json:"ship_from"`
	ReturnTo *packedParty `json:"return_to,omitempty"`
}

// packedParty is an address as Blue Dart takes it: ten phone digits and three
// lines of at most 30 characters.
type packedParty struct {
	Phone string    `json:"phone"`
	Lines [3]string `json:"lines"`
}

// generateProgram compiles the waybill request mapping on first use.
var generateProgram = sync.OnceValues(func() (*mappings.Program, error) {
	return compileMapping("generate-request.mapping")
})

// buildWayBill runs the waybill request mapping over a validated request and
// decodes its output into the generated SOAP type.
func buildWayBill(r *model.ShipmentRequest, s Settings, d *wayBillDerived) (*waybill.WayBillGenerationRequest, error) {
	prog, err := generateProgram()
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the waybill request mapping: %v", err)
	}
	in, err := json.Marshal(wayBillInput{Shipment: r, Settings: s, Derived: d})
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encoding the waybill mapping's input: %v", err)
	}
	out, err := prog.ApplyJSON(nil, in)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "building the waybill request: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var req waybill.WayBillGenerationRequest
	if err := dec.Decode(&req); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading the waybill mapping's output: %v", err)
	}
	return &req, nil
}
