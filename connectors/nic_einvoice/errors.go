package niceinvoice

import (
	"errors"
	"strings"

	"github.com/carrierhub/hub/sdk"
)

// errorTexts are NIC's own words for the IRP error codes Generate IRN and the
// login can answer, from NIC's e-Invoice error code lists (see the manifest's
// sources). The IRP usually sends its text with the code (ErrorMessage); these
// fill in when it does not.
var errorTexts = map[string]string{
	"1004": "Header GSTIN is required",
	"1005": "Invalid Token",
	"1006": "User Name is required",
	"1007": "Authentication failed. Pls. inform the helpdesk",
	"1008": "Invalid login credentials",
	"1010": "Invalid Client-ID/Client-Secret",
	"1011": "Client Id is required",
	"1012": "Client Secret is required",
	"1013": "Decryption of password failed",
	"1014": "Inactive User",
	"1015": "Invalid GSTIN for this user",
	"1016": "Decryption of App Key failed",
	"1017": "Incorrect user id/User does not exists",
	"1018": "Client Id is not mapped to this user",
	"1019": "Incorrect Password",
	"2140": "Error while validating invoice",
	"2142": "Incomplete request parameters",
	"2146": "Unable to create IRN, Pls. try after some time",
	"2147": "Unable to sign invoice, Pl try after some time",
	"2150": "Duplicate IRN",
	"2155": "Supplier GSTIN is required",
	"2172": "For intra-state transactions, IGST amounts are not applicable; only CGST and SGST amounts are applicable",
	"2176": "Invalid HSN code(s)",
	"2182": "The taxable value of all items must be equal to the total taxable value",
	"2189": "Invalid total invoice value",
	"2193": "AssAmt value should be equal to (TotAmt - Discount)",
}

// authCodes are the IRP's vital (login and header) codes: a refusal of the
// account, not of the invoice. 1005 is the kernel's stale session, renewed once.
var authCodes = map[string]bool{
	"1004": true, "1005": true, "1006": true, "1007": true, "1008": true, "1010": true, "1011": true, "1012": true,
	"1013": true, "1014": true, "1015": true, "1016": true, "1017": true, "1018": true, "1019": true,
}

// unavailableCodes are NIC's "try after some time" failures.
var unavailableCodes = map[string]bool{"2146": true, "2147": true}

// explain adds NIC's words for its codes to a carrier error and classifies the
// IRP's own codes the shared kernel leaves as invalid_request, keeping every
// code NIC sent.
func explain(what string, err error) error {
	var e *sdk.Error
	if err == nil || !errors.As(err, &e) || e.Source != sdk.SourceCarrier || e.CarrierCode == "" || strings.HasPrefix(e.CarrierCode, "http-") {
		return err
	}
	out := *e
	codes := strings.Split(e.CarrierCode, ",")
	for i := range codes {
		codes[i] = strings.TrimSpace(codes[i])
	}
	if out.Code == sdk.CodeInvalidRequest {
		switch {
		case authCodes[codes[0]]:
			out.Code = sdk.CodeAuthFailed
		case unavailableCodes[codes[0]]:
			out.Code = sdk.CodeCarrierUnavailable
		}
	}
	// NIC's text, code by code: its own ErrorMessage when it sent one for each
	// code, else the code list's. Words that do not split into one text per
	// code (a text of NIC's own holds a "; ") are kept whole.
	nicTexts := strings.Split(e.CarrierMessage, "; ")
	ownWords := e.CarrierMessage != "" && !strings.HasPrefix(e.CarrierMessage, "NIC reported error")
	if !ownWords || len(nicTexts) != len(codes) {
		nicTexts = nil
	}
	if ownWords && nicTexts == nil {
		out.CarrierMessage = e.CarrierMessage
		out.Message = "NIC refused " + what + " (" + strings.Join(codes, ", ") + "): " + out.CarrierMessage
		if out.Code == sdk.CodeAuthFailed {
			out.Message = "NIC refused the account's login or session (" + what + "): " + out.CarrierMessage
		}
		return &out
	}
	var texts []string
	for i, c := range codes {
		t := ""
		if nicTexts != nil {
			t = strings.TrimSpace(nicTexts[i])
		}
		if t == "" {
			t = errorTexts[c]
		}
		if t == "" {
			t = "NIC reported error " + c
		}
		texts = append(texts, c+": "+t)
	}
	out.CarrierMessage = strings.Join(texts, "; ")
	out.Message = "NIC refused " + what + ": " + out.CarrierMessage
	if out.Code == sdk.CodeAuthFailed {
		out.Message = "NIC refused the account's login or session (" + what + "): " + out.CarrierMessage
	}
	return &out
}
