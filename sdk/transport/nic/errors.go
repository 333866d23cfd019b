package nic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
)

// NIC e-Way Bill error codes that mean the session (token or SEK) is no longer
// good, so a forced re-login may fix the call: 105 invalid token, 106 token
// expired, 109 decryption of data failed (SEK out of step), 238 invalid auth
// token. IRP: 1005 invalid token (medium confidence, from public client code).
var staleSessionCodes = map[string]bool{"105": true, "106": true, "109": true, "238": true, "1005": true}

// Codes for credentials NIC refused at login or on a call; re-logging in cannot help.
var credentialCodes = map[string]bool{
	"101": true, "102": true, "103": true, "104": true, "107": true, "108": true,
	"110": true, "111": true, "237": true,
}

// EWB codes meaning "already done": 604 an e-way bill exists for this document number.
// IRP 2150 duplicate IRN.
var conflictCodes = map[string]bool{"604": true, "2150": true}

// EWB codes meaning NIC failed internally ("please contact helpdesk").
var unavailableCodes = map[string]bool{"240": true, "309": true, "317": true, "322": true, "350": true, "357": true, "383": true}

// Codes for a record that does not exist: EWB 325 could not retrieve data;
// IRP 2148 requested IRN data is not available (NIC's e-invoice error list,
// as ClearTax passes it on for a Get IRN of an unknown IRN).
var notFoundCodes = map[string]bool{"325": true, "2148": true}

// IsStaleSession reports whether err is NIC saying the token or SEK is no longer
// valid (as opposed to wrong credentials), so the Manager re-logs in once.
func IsStaleSession(err error) bool {
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeAuthFailed || e.Source != sdk.SourceCarrier {
		return false
	}
	return staleSessionCodes[firstCode(e.CarrierCode)] || e.CarrierCode == "http-401"
}

// ClassifyCodes turns NIC's error code list ("238" or "702,238,") and optional text
// into an *sdk.Error. The first code decides the class; all codes are kept.
func ClassifyCodes(codes, text string) *sdk.Error {
	codes = strings.Trim(strings.TrimSpace(codes), ",")
	first := firstCode(codes)
	code := sdk.CodeInvalidRequest
	switch {
	case first == "":
		code = sdk.CodeCarrierUnavailable
	case staleSessionCodes[first] || credentialCodes[first]:
		code = sdk.CodeAuthFailed
	case conflictCodes[first]:
		code = sdk.CodeConflict
	case unavailableCodes[first]:
		code = sdk.CodeCarrierUnavailable
	case notFoundCodes[first]:
		code = sdk.CodeNotFound
	}
	if text == "" {
		text = "NIC reported error " + codes
		if codes == "" {
			text = "NIC reported an error without a code"
		}
	}
	return sdk.CarrierError(code, codes, text)
}

func firstCode(codes string) string {
	for _, c := range strings.Split(codes, ",") {
		if c = strings.TrimSpace(c); c != "" {
			return c
		}
	}
	return ""
}

// Digits reads a value NIC writes as a JSON number or a string of digits
// (its samples use both for statuses, e-way bill numbers, state and reason
// codes): the digits as text; null reads as empty.
type Digits string

// UnmarshalJSON reads a number, a string or null.
func (d *Digits) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*d = Digits(strings.TrimSpace(v))
	case string(b) == "null":
		*d = ""
	default:
		var num json.Number
		if err := json.Unmarshal(b, &num); err != nil {
			return fmt.Errorf("%s is neither a number nor a string", xmlhttp.Truncate(string(b), 20))
		}
		*d = Digits(num.String())
	}
	return nil
}

// Int returns the digits as a number, and whether they are one.
func (d Digits) Int() (int, bool) {
	n, err := strconv.Atoi(string(d))
	return n, err == nil
}

// ok reports NIC's status 1.
func (d Digits) ok() bool { return d == "1" }

// ewbErrorCodes decodes the EWB error field: Base64 of {"errorCodes":"..."} (some
// gateways send the object itself, or a plain string).
func ewbErrorCodes(raw json.RawMessage) (codes, text string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", ""
	}
	var obj struct {
		ErrorCodes string `json:"errorCodes"`
		Message    string `json:"message"`
	}
	if raw[0] == '{' {
		_ = json.Unmarshal(raw, &obj)
		return obj.ErrorCodes, obj.Message
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", ""
	}
	if dec, err := base64.StdEncoding.DecodeString(s); err == nil && json.Unmarshal(dec, &obj) == nil {
		return obj.ErrorCodes, obj.Message
	}
	return "", xmlhttp.Truncate(s, 200)
}

// irpErrorDetails reads the IRP ErrorDetails list.
type irpErrorDetail struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

func irpError(details []irpErrorDetail) *sdk.Error {
	var codes, texts []string
	for _, d := range details {
		if d.ErrorCode != "" {
			codes = append(codes, d.ErrorCode)
		}
		if d.ErrorMessage != "" {
			texts = append(texts, d.ErrorMessage)
		}
	}
	return ClassifyCodes(strings.Join(codes, ","), strings.Join(texts, "; "))
}

// httpStatusError classifies a non-200 answer whose body is not NIC's JSON.
func httpStatusError(status int, body []byte) *sdk.Error {
	text := fmt.Sprintf("NIC answered HTTP %d", status)
	if looksHTML(body) {
		text += " with an HTML page"
	}
	code := sdk.CodeCarrierUnavailable
	switch {
	case status == 401 || status == 403:
		code = sdk.CodeAuthFailed
	case status == 429:
		code = sdk.CodeRateLimited
	case status == 404:
		code = sdk.CodeNotFound
	case status >= 400 && status < 500:
		code = sdk.CodeInvalidRequest
	}
	return sdk.CarrierError(code, fmt.Sprintf("http-%d", status), text)
}

func looksHTML(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '<'
}
