package simulator

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
)

// The simulator's answers are built from the recorded payloads in
// connectors/delhivery/testdata: each file is decoded once, strictly, into the
// types below, and every answer is a copy of one of them with the request's
// values filled in.

// createAnswer is Delhivery's answer to POST /api/cmu/create.json.
type createAnswer struct {
	CashPickupsCount float64         `json:"cash_pickups_count"`
	PackageCount     int             `json:"package_count"`
	UploadWBN        *string         `json:"upload_wbn"`
	ReplacementCount int             `json:"replacement_count"`
	RMK              string          `json:"rmk"`
	PickupsCount     int             `json:"pickups_count"`
	Packages         []createdPacket `json:"packages"`
	CashPickups      float64         `json:"cash_pickups"`
	CODCount         int             `json:"cod_count"`
	Success          bool            `json:"success"`
	Error            bool            `json:"error,omitempty"`
	PrepaidCount     int             `json:"prepaid_count"`
	CODAmount        float64         `json:"cod_amount"`
}

// createdPacket is one package of a create answer.
type createdPacket struct {
	Status      string   `json:"status"`
	Client      string   `json:"client"`
	SortCode    string   `json:"sort_code"`
	Remarks     []string `json:"remarks"`
	Waybill     string   `json:"waybill"`
	CODAmount   float64  `json:"cod_amount"`
	Payment     string   `json:"payment"`
	Serviceable bool     `json:"serviceable"`
	RefNum      string   `json:"refnum"`
}

// trackAnswer is Delhivery's answer to GET /api/v1/packages/json/.
type trackAnswer struct {
	ShipmentData []trackedEntry `json:"ShipmentData"`
}

// trackedEntry wraps one shipment of a track answer.
type trackedEntry struct {
	Shipment trackedShipment `json:"Shipment"`
}

// trackedShipment is one shipment's tracking state.
type trackedShipment struct {
	AWB                  string        `json:"AWB"`
	ReferenceNo          string        `json:"ReferenceNo"`
	Origin               string        `json:"Origin"`
	Destination          string        `json:"Destination"`
	PickUpDate           *string       `json:"PickUpDate"`
	DestRecieveDate      *string       `json:"DestRecieveDate"`
	ExpectedDeliveryDate *string       `json:"ExpectedDeliveryDate"`
	PromisedDeliveryDate *string       `json:"PromisedDeliveryDate"`
	OrderType            string        `json:"OrderType"`
	SenderName           string        `json:"SenderName"`
	ChargedWeight        *float64      `json:"ChargedWeight"`
	Status               currentStatus `json:"Status"`
	Scans                []scanEntry   `json:"Scans"`
}

// currentStatus is a shipment's latest status.
type currentStatus struct {
	Status         string `json:"Status"`
	StatusType     string `json:"StatusType"`
	StatusCode     string `json:"StatusCode"`
	StatusLocation string `json:"StatusLocation"`
	StatusDateTime string `json:"StatusDateTime"`
	Instructions   string `json:"Instructions"`
	RecievedBy     string `json:"RecievedBy"`
}

// scanEntry wraps one scan.
type scanEntry struct {
	ScanDetail scanDetail `json:"ScanDetail"`
}

// scanDetail is one scan.
type scanDetail struct {
	ScanDateTime    string `json:"ScanDateTime"`
	ScanType        string `json:"ScanType"`
	Scan            string `json:"Scan"`
	StatusDateTime  string `json:"StatusDateTime"`
	ScannedLocation string `json:"ScannedLocation"`
	StatusCode      string `json:"StatusCode"`
	Instructions    string `json:"Instructions"`
}

// trackMissing is the answer for an unknown waybill or order id.
type trackMissing struct {
	RMK     string `json:"rmk"`
	Success bool   `json:"Success"`
	Error   string `json:"Error"`
}

// cancelAnswer is Delhivery's answer to POST /api/p/edit with cancellation.
type cancelAnswer struct {
	Status  bool   `json:"status"`
	Waybill string `json:"waybill"`
	Remark  string `json:"remark"`
}

// authAnswer is the body of a 401.
type authAnswer struct {
	Detail string `json:"detail"`
}

// pinAnswer is Delhivery's answer to GET /c/api/pin-codes/json/.
type pinAnswer struct {
	DeliveryCodes []pinEntry `json:"delivery_codes"`
}

// pinEntry wraps one postal code.
type pinEntry struct {
	PostalCode pinCode `json:"postal_code"`
}

// pinCode is one postal code's serviceability.
type pinCode struct {
	Pin         int     `json:"pin"`
	District    string  `json:"district"`
	StateCode   string  `json:"state_code"`
	CountryCode string  `json:"country_code"`
	COD         string  `json:"cod"`
	PrePaid     string  `json:"pre_paid"`
	Pickup      string  `json:"pickup"`
	Repl        string  `json:"repl"`
	Cash        string  `json:"cash"`
	IsODA       string  `json:"is_oda"`
	SortCode    string  `json:"sort_code"`
	MaxAmount   float64 `json:"max_amount"`
	MaxWeight   float64 `json:"max_weight"`
}

// payloads are the decoded recorded payloads.
type payloads struct {
	createSuccess  createAnswer
	createRefused  createAnswer
	createRejected createAnswer
	tracked        trackedEntry
	trackMissing   trackMissing
	cancelSuccess  cancelAnswer
	cancelRefused  cancelAnswer
	authFailed     authAnswer
	pin            pinAnswer
	badGateway     []byte
}

// recorded holds the payloads the simulator answers with, written from
// Delhivery's documented examples.
//
//go:embed testdata
var recorded embed.FS

// embeddedPayloads returns the recorded payloads compiled into the simulator.
func embeddedPayloads() fs.FS {
	sub, err := fs.Sub(recorded, "testdata")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// loadPayloads decodes every recorded payload, rejecting unknown fields so a
// payload and the simulator's types cannot drift apart silently.
func loadPayloads(fsys fs.FS) (*payloads, error) {
	p := &payloads{}
	files := []struct {
		name string
		into any
	}{
		{"create_success.json", &p.createSuccess},
		{"create_refused.json", &p.createRefused},
		{"create_rejected.json", &p.createRejected},
		{"track_shipment.json", &p.tracked},
		{"track_not_found.json", &p.trackMissing},
		{"cancel_success.json", &p.cancelSuccess},
		{"cancel_refused.json", &p.cancelRefused},
		{"auth_failed.json", &p.authFailed},
		{"pincode.json", &p.pin},
	}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return nil, fmt.Errorf("reading payload: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.into); err != nil {
			return nil, fmt.Errorf("decoding payload %s: %w", f.name, err)
		}
	}
	html, err := fs.ReadFile(fsys, "error_502.html")
	if err != nil {
		return nil, fmt.Errorf("reading payload: %w", err)
	}
	p.badGateway = html
	if len(p.createSuccess.Packages) != 1 || len(p.createRefused.Packages) != 1 || len(p.pin.DeliveryCodes) != 1 {
		return nil, fmt.Errorf("recorded create and pin-code payloads must hold exactly one package or code")
	}
	return p, nil
}
