package nic

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/carrierhub/hub/sdk"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// EWBAction performs an e-Way Bill write: POST <BaseURL>/ewayapi/ with
// {"action": action, "data": Seal(JSON(payload))}, then decrypts the response's data
// with the SEK into out (a pointer, or nil to discard). Stale sessions are renewed
// once (see Do). payload may be a value to marshal or a json.RawMessage.
func (m *Manager) EWBAction(ctx context.Context, c Credentials, action string, payload, out any) error {
	if m.cfg.Flavor != EWayBill {
		return sdk.Errorf(sdk.CodeInternal, "nic: EWBAction on a %s manager", m.cfg.Flavor)
	}
	if action == "" {
		return sdk.InvalidField("/action", "nic: e-way bill action is empty")
	}
	plain, err := marshalPayload(payload)
	if err != nil {
		return err
	}
	return m.Do(ctx, c, func(ctx context.Context, s *Session) error {
		data, err := s.Seal(plain)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(struct {
			Action string `json:"action"`
			Data   string `json:"data"`
		}{action, data})
		var r struct {
			Status Digits          `json:"status"`
			Data   string          `json:"data"`
			Error  json.RawMessage `json:"error"`
		}
		if err := m.exchange(ctx, c, s, http.MethodPost, m.cfg.BaseURL+"/ewayapi/", body, action, &r); err != nil {
			return err
		}
		if !r.Status.ok() {
			return ClassifyCodes(ewbErrorCodes(r.Error))
		}
		js, err := s.Open(r.Data)
		if err != nil {
			return err
		}
		return decodeOut(js, out, action)
	})
}

// EWBGet performs an e-Way Bill read: GET <BaseURL>/ewayapi/<method>?<query>, then
// opens the REK-encrypted response (checking its HMAC) into out.
func (m *Manager) EWBGet(ctx context.Context, c Credentials, method string, query url.Values, out any) error {
	return m.ewbRead(ctx, c, "/ewayapi/", method, query, out)
}

// EWBMaster performs an e-Way Bill master lookup (GetGSTINDetails,
// GetTransporterDetails, GetHsnDetailsByHsnCode): GET
// <BaseURL>/Master/<method>?<query>, its answer opened as EWBGet's.
func (m *Manager) EWBMaster(ctx context.Context, c Credentials, method string, query url.Values, out any) error {
	return m.ewbRead(ctx, c, "/Master/", method, query, out)
}

// ewbRead sends one e-Way Bill read under prefix and opens its REK-sealed answer.
func (m *Manager) ewbRead(ctx context.Context, c Credentials, prefix, method string, query url.Values, out any) error {
	if m.cfg.Flavor != EWayBill {
		return sdk.Errorf(sdk.CodeInternal, "nic: an e-way bill read on a %s manager", m.cfg.Flavor)
	}
	if method == "" || strings.ContainsAny(method, "?#") || strings.Contains(method, "..") {
		return sdk.InvalidField("/method", "nic: e-way bill GET method %q is not a plain path", method)
	}
	u := m.cfg.BaseURL + prefix + strings.TrimLeft(method, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return m.Do(ctx, c, func(ctx context.Context, s *Session) error {
		var r struct {
			Status Digits          `json:"status"`
			Data   string          `json:"data"`
			Rek    string          `json:"rek"`
			HMAC   string          `json:"hmac"`
			Error  json.RawMessage `json:"error"`
		}
		if err := m.exchange(ctx, c, s, http.MethodGet, u, nil, method, &r); err != nil {
			return err
		}
		if !r.Status.ok() {
			return ClassifyCodes(ewbErrorCodes(r.Error))
		}
		js, err := s.OpenREK(RekResponse{Data: r.Data, Rek: r.Rek, HMAC: r.HMAC})
		if err != nil {
			return err
		}
		return decodeOut(js, out, method)
	})
}

// IRPPost performs an e-Invoice write: POST <BaseURL><path> with
// {"Data": Seal(JSON(payload))} and the IRP headers, then decrypts the response's
// Data with the SEK into out. Stale sessions are renewed once (see Do).
func (m *Manager) IRPPost(ctx context.Context, c Credentials, path string, payload, out any) error {
	plain, err := marshalPayload(payload)
	if err != nil {
		return err
	}
	return m.irpCall(ctx, c, http.MethodPost, path, plain, out)
}

// IRPGet performs an e-Invoice read: GET <BaseURL><path> (the IRN or the
// document in the path or query) with the IRP headers, then decrypts the
// response's Data with the SEK into out, as for a write.
func (m *Manager) IRPGet(ctx context.Context, c Credentials, path string, out any) error {
	return m.irpCall(ctx, c, http.MethodGet, path, nil, out)
}

// irpCall sends one IRP call, its payload (nil for a read) sealed with the
// session key, and opens the answer's Data.
func (m *Manager) irpCall(ctx context.Context, c Credentials, method, path string, plain []byte, out any) error {
	if m.cfg.Flavor != EInvoice {
		return sdk.Errorf(sdk.CodeInternal, "nic: an IRP call on a %s manager", m.cfg.Flavor)
	}
	if !strings.HasPrefix(path, "/") || strings.Contains(path, "..") {
		return sdk.InvalidField("/path", "nic: IRP path %q must start with / and stay under the base URL", path)
	}
	what, _, _ := strings.Cut(path, "?")
	return m.Do(ctx, c, func(ctx context.Context, s *Session) error {
		var body []byte
		if plain != nil {
			data, err := s.Seal(plain)
			if err != nil {
				return err
			}
			body, _ = json.Marshal(map[string]string{"Data": data})
		}
		var r struct {
			Status       Digits           `json:"Status"`
			Data         string           `json:"Data"`
			ErrorDetails []irpErrorDetail `json:"ErrorDetails"`
		}
		if err := m.exchange(ctx, c, s, method, m.cfg.BaseURL+path, body, what, &r); err != nil {
			return err
		}
		if !r.Status.ok() {
			return irpError(r.ErrorDetails)
		}
		js, err := s.Open(r.Data)
		if err != nil {
			return err
		}
		return decodeOut(js, out, what)
	})
}

// exchange sends one authenticated request (body nil for GET) and decodes NIC's
// JSON envelope into into; what names the call in errors.
func (m *Manager) exchange(ctx context.Context, c Credentials, s *Session, method, u string, body []byte, what string, into any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector, NotSent: true, Message: "nic: building request: " + err.Error()}
	}
	m.setHeaders(req, c, s)
	status, resp, err := m.send(req)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp, into); err != nil {
		return badResponse(status, resp, what)
	}
	return nil
}

func marshalPayload(payload any) ([]byte, error) {
	if raw, ok := payload.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true, Message: "nic: payload is not valid JSON"}
		}
		return raw, nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true, Message: "nic: encoding payload: " + err.Error()}
	}
	return b, nil
}

func decodeOut(js []byte, out any, what string) error {
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], js...)
		return nil
	}
	if err := json.Unmarshal(js, out); err != nil {
		return &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector, Message: "nic: decoding " + what + " response: " + err.Error()}
	}
	return nil
}
