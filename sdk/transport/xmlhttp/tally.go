package xmlhttp

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/sdk"
)

// TallyImportResult is what Tally reports after an import: the counters and each
// object it refused. Tally.ERP 9 puts the counters in <RESPONSE>, TallyPrime in
// ENVELOPE/BODY/DATA/IMPORTRESULT; ParseTallyResponse reads both.
type TallyImportResult struct {
	// Created, Altered, Deleted, Combined, Ignored, Cancelled count objects by outcome.
	Created, Altered, Deleted, Combined, Ignored, Cancelled int
	// Errors counts objects Tally refused; Exceptions counts vouchers with exceptions.
	Errors, Exceptions int
	// LastVoucherID and LastMasterID identify the last voucher or master touched.
	LastVoucherID, LastMasterID string
	// Status is ENVELOPE/HEADER/STATUS when present ("1" success, "0" failure).
	Status string
	// LineErrors are the texts of Tally's <LINEERROR> elements, in order.
	LineErrors []string
	// Counted is true when the reply carried any import counter.
	Counted bool
}

// Failed reports whether Tally refused anything: an error count, an exception
// count or a line error.
func (r *TallyImportResult) Failed() bool {
	return r.Errors > 0 || r.Exceptions > 0 || len(r.LineErrors) > 0
}

// ParseTallyResponse reads a Tally reply of either generation for import counters,
// STATUS and LINEERROR texts, wherever they sit. Export replies parse too (with no
// counters), so a LINEERROR answering an export is found the same way.
func ParseTallyResponse(body []byte, maxDepth int) (*TallyImportResult, error) {
	if err := checkProlog(body); err != nil {
		return nil, err
	}
	d := NewDecoder(bytes.NewReader(body), maxDepth)
	r := &TallyImportResult{}
	var path []string
	var text strings.Builder
	for {
		t, err := d.Token()
		if err == io.EOF {
			return r, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := t.(type) {
		case xml.StartElement:
			path = append(path, strings.ToUpper(tok.Name.Local))
			text.Reset()
		case xml.CharData:
			if text.Len() < MaxCarrierText {
				text.Write(tok)
			}
		case xml.EndElement:
			if len(path) == 0 {
				continue
			}
			name := path[len(path)-1]
			parent := ""
			if len(path) > 1 {
				parent = path[len(path)-2]
			}
			r.set(name, parent, strings.TrimSpace(text.String()))
			path = path[:len(path)-1]
			text.Reset()
		}
	}
}

func (r *TallyImportResult) set(name, parent, v string) {
	if name == "LINEERROR" {
		if v != "" {
			r.LineErrors = append(r.LineErrors, v)
		}
		return
	}
	if name == "STATUS" && parent == "HEADER" {
		r.Status = v
		return
	}
	if parent != "RESPONSE" && parent != "IMPORTRESULT" {
		return
	}
	n, _ := strconv.Atoi(v)
	counted := true
	switch name {
	case "CREATED":
		r.Created = n
	case "ALTERED":
		r.Altered = n
	case "DELETED":
		r.Deleted = n
	case "COMBINED":
		r.Combined = n
	case "IGNORED":
		r.Ignored = n
	case "CANCELLED":
		r.Cancelled = n
	case "ERRORS":
		r.Errors = n
	case "EXCEPTIONS":
		r.Exceptions = n
	case "LASTVCHID":
		r.LastVoucherID = v
	case "LASTMID":
		r.LastMasterID = v
	default:
		counted = false
	}
	r.Counted = r.Counted || counted
}

// TallyErrors is an error reader for Client.Errors: it turns Tally's LINEERRORs
// and ERRORS/EXCEPTIONS counts into an invalid_request error. Tally answers 200
// even when it refuses, so every reply is read. When part of an import went
// through, the message says how much (created, altered) so the caller can tell a
// partial import from a refused one; ParseTallyResponse gives the counters.
func TallyErrors(res *Response) *sdk.Error {
	r, err := ParseTallyResponse(res.Body, 0)
	if err != nil || !r.Failed() {
		return nil // not Tally's shape, or no refusal: decoding decides
	}
	return r.Err()
}

// Err returns the import's refusal as an *sdk.Error, or nil when nothing failed.
// CarrierCode holds the counters, CarrierMessage the line errors.
func (r *TallyImportResult) Err() *sdk.Error {
	if !r.Failed() {
		return nil
	}
	errs := r.Errors
	if errs == 0 {
		errs = len(r.LineErrors)
	}
	msg := strings.Join(r.LineErrors, "; ")
	e := sdk.CarrierError(sdk.CodeInvalidRequest,
		fmt.Sprintf("ERRORS=%d EXCEPTIONS=%d", r.Errors, r.Exceptions), Truncate(msg, MaxCarrierText))
	switch {
	case r.Counted && (r.Created > 0 || r.Altered > 0 || r.Deleted > 0 || r.Combined > 0):
		e.Message = fmt.Sprintf("Tally imported part of the request (created %d, altered %d, deleted %d) and refused %d",
			r.Created, r.Altered, r.Deleted, errs)
	case r.Counted:
		e.Message = fmt.Sprintf("Tally refused the import (%d errors)", errs)
	default:
		e.Message = "Tally refused the request"
	}
	if msg != "" {
		e.Message += ": " + Truncate(msg, 300)
	}
	return e
}
