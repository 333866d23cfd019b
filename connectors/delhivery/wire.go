package delhivery

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The types below are Delhivery's wire shapes, named after the carrier's own
// fields. Only the fields the connector reads or writes are declared. The create
// payload has no type: mappings/create-request.mapping writes it.

// createResponse is the answer to a create call. Delhivery answers 200 for both
// success and refusal; success and the package status tell them apart.
type createResponse struct {
	Success   flexBool        `json:"success"`
	Error     flexBool        `json:"error"`
	RMK       string          `json:"rmk"`
	UploadWBN flexString      `json:"upload_wbn"`
	Packages  []createPackage `json:"packages"`
}

// createPackage is one package's outcome in a create response.
type createPackage struct {
	Waybill     string     `json:"waybill"`
	RefNum      string     `json:"refnum"`
	Status      string     `json:"status"`
	Client      string     `json:"client"`
	SortCode    string     `json:"sort_code"`
	Serviceable *bool      `json:"serviceable"`
	Remarks     stringList `json:"remarks"`
}

// trackResponse is the envelope of a tracking answer. Its ShipmentData is read
// by the tracking mapping (trackmap.go), not by encoding/json.
type trackResponse struct {
	Error   string   `json:"Error"`
	RMK     string   `json:"rmk"`
	Success flexBool `json:"Success"`
}

// cancelRequest is the JSON body of a cancellation.
type cancelRequest struct {
	Waybill      string `json:"waybill"`
	Cancellation string `json:"cancellation"`
}

// cancelResponse is the answer to a cancellation.
type cancelResponse struct {
	Status  flexBool `json:"status"`
	Waybill string   `json:"waybill"`
	Remark  string   `json:"remark"`
	Error   string   `json:"error"`
}

// pinCodeResponse is the answer to a pin-code serviceability query.
type pinCodeResponse struct {
	DeliveryCodes []json.RawMessage `json:"delivery_codes"`
}

// errorBody is what Delhivery sends with a non-200 status, when it sends JSON.
type errorBody struct {
	Detail  string `json:"detail"`
	Message string `json:"message"`
	Error   string `json:"error"`
	RMK     string `json:"rmk"`
}

// text returns the first non-empty message of the body.
func (b errorBody) text() string {
	for _, s := range []string{b.Detail, b.Message, b.Error, b.RMK} {
		if s != "" {
			return s
		}
	}
	return ""
}

// flexBool reads true, false, "true", "false", "True" and null.
type flexBool bool

// UnmarshalJSON accepts a boolean or a string holding one.
func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(data)), `"`)
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*b = true
	default:
		*b = false
	}
	return nil
}

// flexString reads a string, a number, a list (first element) or null.
type flexString string

// UnmarshalJSON accepts a string, a number, a list of strings or null.
func (s *flexString) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null":
		*s = ""
	case data[0] == '"':
		var v string
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case data[0] == '[':
		var l stringList
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		if len(l) > 0 {
			*s = flexString(l[0])
		}
	default:
		*s = flexString(data)
	}
	return nil
}

// stringList reads a list of strings, a single string, or null. Delhivery sends
// package remarks both ways.
type stringList []string

// UnmarshalJSON accepts a string, a list of strings (nested lists flattened) or null.
func (l *stringList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		*l = nil
		return nil
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if strings.TrimSpace(x) != "" {
				out = append(out, x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out = append(out, strconv.FormatBool(x))
		}
	}
	walk(raw)
	*l = out
	return nil
}
