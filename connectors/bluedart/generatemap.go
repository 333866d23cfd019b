package bluedart

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

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
// dimensions in cm (from the units the request names), rounding, names cut to
// 30 characters, the addresses packed into three lines of 30 characters
// (wrap(30)), commodities, the declared and collectable values, the product
// codes and the pickup date are the mapping's.
//
// Go keeps the validation with JSON pointers (checkWayBill). The one check
// only the mapping can make, that an address fits three lines, comes back as a
// mapping refusal naming the party's input lines; buildWayBill turns an input
// path under shipment into the request's JSON pointer (/ship_to/lines).
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

// packedParty is what validation computed for a party: its phone as the ten
// digits Blue Dart takes.
type packedParty struct {
	Phone string `json:"phone"`
}

// generateProgram compiles the waybill request mapping on first use.
var generateProgram = mappings.Lazy(mappingFiles, "mappings/generate-request.mapping")

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
		var re *mappings.RuntimeError
		if errors.As(err, &re) {
			if ptr, ok := requestPointer(re.Path); ok {
				return nil, sdk.InvalidField(ptr, "%s", re.Msg)
			}
		}
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

// requestPointer turns a mapping input path under shipment
// (shipment.ship_to.lines, shipment.parcels[0].weight) into the JSON pointer
// of the canonical request's field (/ship_to/lines, /parcels/0/weight). Other
// paths (settings, derived values) are not the request's, and ok is false.
func requestPointer(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "shipment.")
	if !ok || rest == "" {
		return "", false
	}
	var b strings.Builder
	for _, part := range strings.Split(rest, ".") {
		name, index, _ := strings.Cut(part, "[")
		if name == "" {
			return "", false
		}
		b.WriteString("/" + name)
		for index != "" {
			i, more, _ := strings.Cut(index, "]")
			if _, err := strconv.Atoi(i); err != nil {
				return "", false
			}
			b.WriteString("/" + i)
			index = strings.TrimPrefix(more, "[")
		}
	}
	return b.String(), true
}
