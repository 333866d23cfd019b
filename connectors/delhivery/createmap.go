package delhivery

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// Booking translates through two mappings beside track.mapping:
//
//   - mappings/create-request.mapping builds the create payload (the JSON that
//     travels as data=) from an envelope Go assembles once the request is valid:
//     the canonical request, the account's settings and the few values the
//     validation already computed (createInput). Unit conversions, rounding,
//     address joins, the payment and shipping modes, HSN codes, quantities and
//     the seller and return blocks are the mapping's.
//   - mappings/create-response.mapping reads a booking (packages[0]) into
//     model.ShipmentResponse, from the answer as Go decoded it (wire.go's
//     createResponse, which normalises Delhivery's loosely typed fields).
//
// Go keeps what a mapping cannot say or should not own: validation with JSON
// pointers and sdk codes (checkCreate), the form wrapping (format=json&data=),
// deciding whether an answer is a booking or a refusal, and classifying a
// refusal (classifyCreateRefusal).
//
// Cancellation stays in Go on purpose: its request is two constant-shaped
// fields (the waybill and "cancellation": "true"), and its answer's only
// success field is the remark; everything else in fromCancelResponse is
// classification, which belongs to Go. A mapping would be longer than the code.

// createInput is the document create-request.mapping reads.
type createInput struct {
	Shipment *model.ShipmentRequest `json:"shipment"`
	Settings createSettings         `json:"settings"`
	Derived  createDerived          `json:"derived"`
}

// createDerived are the values validation computes that the mapping should not
// compute again: the phone numbers it normalised and the consignment value it
// checked against the e-way bill threshold.
type createDerived struct {
	Phone       string  `json:"phone"`
	ReturnPhone string  `json:"return_phone,omitempty"`
	TotalAmount float64 `json:"total_amount"`
}

// createRequestProgram compiles the create request mapping on first use.
var createRequestProgram = mappings.Lazy(mappingFiles, "mappings/create-request.mapping")

// createResponseProgram compiles the create response mapping on first use.
var createResponseProgram = mappings.Lazy(mappingFiles, "mappings/create-response.mapping")

// buildCreateBody validates a canonical shipment request and returns the exact
// form body of Delhivery's create call (format=json&data=<json>). Problems come
// back as invalid_request errors naming the offending field by JSON pointer.
func buildCreateBody(req *model.ShipmentRequest, set createSettings) ([]byte, error) {
	derived, err := checkCreate(req, set)
	if err != nil {
		return nil, err
	}
	data, err := createPayloadJSON(req, set, derived)
	if err != nil {
		return nil, err
	}
	return []byte("format=json&data=" + url.QueryEscape(string(data))), nil
}

// createPayloadJSON runs the create request mapping over a validated request.
// The JSON is as the mapping writer escapes it (<, > and & as they are, a
// backspace as \u0008 rather than encoding/json's \u003c and \b): the same
// values, which is all Delhivery reads.
func createPayloadJSON(req *model.ShipmentRequest, set createSettings, derived createDerived) ([]byte, error) {
	prog, err := createRequestProgram()
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the create request mapping: %v", err)
	}
	in, err := json.Marshal(createInput{Shipment: req, Settings: set, Derived: derived})
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encoding the create mapping's input: %v", err)
	}
	out, err := prog.ApplyJSON(nil, in)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "building the create payload: %v", err)
	}
	return out, nil
}

// fromCreateResponse turns Delhivery's create answer into the canonical response,
// or into a classified carrier error when Delhivery refused the shipment. The
// response mapping reads the answer as decoded here, re-encoded: Delhivery's
// loosely typed fields are normalised by then (upload_wbn a string, remarks a
// list of non-blank strings), so no shape of a remark can fail a booking that
// Delhivery made.
func fromCreateResponse(r *createResponse) (*model.ShipmentResponse, error) {
	var pkg *createPackage
	if len(r.Packages) > 0 {
		pkg = &r.Packages[0]
	}
	if !bool(r.Success) || pkg == nil || !strings.EqualFold(pkg.Status, "Success") || pkg.Waybill == "" {
		return nil, classifyCreateRefusal(r, pkg)
	}
	prog, err := createResponseProgram()
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "compiling the create response mapping: %v", err)
	}
	in, err := json.Marshal(r)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encoding the create response mapping's input: %v", err)
	}
	out, err := prog.ApplyJSON(nil, in)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading Delhivery's create response: %v", err)
	}
	var resp model.ShipmentResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "reading the create response mapping's output: %v", err)
	}
	return &resp, nil
}
