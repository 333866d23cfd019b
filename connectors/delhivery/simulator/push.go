package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// PushBody returns the status push Delhivery would send for a shipment's current
// status, in the shape of Delhivery's "Tracking Via PUSH API - Web hook" page:
// {"Shipment": {"Status": {...}, "NSLCode", "ReferenceNo", "AWB", ...}}.
func (s *Simulator) PushBody(waybill string) ([]byte, error) {
	s.mu.Lock()
	sh, ok := s.shipments[waybill]
	var st currentStatus
	var order string
	if ok {
		st, order = sh.status, sh.order
	}
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("simulator: no shipment with waybill %q", waybill)
	}
	type status struct {
		Status         string `json:"Status"`
		StatusDateTime string `json:"StatusDateTime"`
		StatusType     string `json:"StatusType"`
		StatusLocation string `json:"StatusLocation"`
		Instructions   string `json:"Instructions"`
	}
	body := map[string]any{"Shipment": map[string]any{
		"Status": status{Status: st.Status, StatusDateTime: st.StatusDateTime, StatusType: st.StatusType,
			StatusLocation: st.StatusLocation, Instructions: st.Instructions},
		"NSLCode": st.StatusCode, "ReferenceNo": order, "AWB": waybill, "Sortcode": "",
		"PickUpDate": st.StatusDateTime,
	}}
	return json.Marshal(body)
}

// Push POSTs a shipment's current status to url as Delhivery's push does, with
// the Authorization header set to authorization when it is not empty, and
// returns the answer's status code and body.
func (s *Simulator) Push(ctx context.Context, url, authorization, waybill string) (int, []byte, error) {
	body, err := s.PushBody(waybill)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, out, err
}
