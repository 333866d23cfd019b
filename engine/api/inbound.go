package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/carrierhub/hub/engine/inbound"
	"github.com/carrierhub/hub/engine/router"
	"github.com/carrierhub/hub/engine/store"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// MaxPushBytes bounds a carrier push's body (or the API's own body limit when
// that is smaller): carriers push a handful of scans at a time.
const MaxPushBytes = 1 << 20

// PushReceived is the answer to an accepted push.
type PushReceived struct {
	// Results is how many tracking results the push carried.
	Results int `json:"results"`
	// PODs is how many proofs of delivery it carried.
	PODs int `json:"pods"`
}

// skippedPushHeaders are not handed to connectors: hop-by-hop and proxy headers
// say nothing about the push.
var skippedPushHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authorization": true, "Proxy-Authenticate": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// inboundRoutes are the routes providers call. They carry no API key: the
// connector checks the provider's signature or shared token against the
// account's credentials, and the account id (unguessable) names the tenant.
func (s *server) inboundRoutes() []route {
	accounts := inbound.NewAccounts(s.store, 5*time.Second)
	return []route{
		{Method: "POST", Pattern: "/v1/inbound/{connector}/{account}", ID: "receivePush",
			Summary: "Receive a carrier's push (status webhook) for one account. No API key: the connector verifies the provider's signature or shared token against the account's credentials, then the results are recorded as tracking (tracking.updated, shipment.delivered, shipment.exception) and proofs of delivery (pod.received). A retried push records nothing twice.",
			Auth:    public,
			Responses: []response{{200, "The push was verified and recorded.", schema{"type": "object",
				"required":   []string{"results", "pods"},
				"properties": schema{"results": schema{"type": "integer", "minimum": 0}, "pods": schema{"type": "integer", "minimum": 0}}}}},
			Errors: []int{400, 401, 404, 413, 422, 429, 503, 504},
			handler: func(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
				s.receivePush(w, r, accounts)
			}},
	}
}

// receivePush answers POST /v1/inbound/{connector}/{account}.
func (s *server) receivePush(w http.ResponseWriter, r *http.Request, accounts *inbound.Accounts) {
	connector, account := r.PathValue("connector"), r.PathValue("account")
	st := stateOf(r.Context())
	st.connector, st.operation = connector, string(sdk.OpReceivePush)
	st.account.Store(account)
	limit := min(s.maxBody, MaxPushBytes)
	if r.ContentLength > limit {
		writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the body is %d bytes; the limit is %d", r.ContentLength, limit)))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the body exceeds the limit of %d bytes", limit)))
			return
		}
		writeProblem(w, r, newProblem(http.StatusBadRequest, string(sdk.CodeInvalidRequest), "reading the body: the connection broke"))
		return
	}
	tenantID, owner, err := accounts.Lookup(r.Context(), account)
	switch {
	case errors.Is(err, inbound.ErrUnknownAccount) || (err == nil && owner != connector):
		p := newProblem(http.StatusNotFound, string(sdk.CodeNotFound), fmt.Sprintf("no account %q of connector %q", account, connector))
		p.Source = string(sdk.SourceHub)
		writeProblem(w, r, p)
		return
	case err != nil:
		writeProblem(w, r, s.storeProblem(r.Context(), err, "accounts"))
		return
	}
	st.tenant = tenantID
	req := model.PushRequest{Headers: map[string]string{}, ContentType: r.Header.Get("Content-Type"), Body: body}
	for name, vals := range r.Header {
		if !skippedPushHeaders[name] {
			req.Headers[strings.ToLower(name)] = strings.Join(vals, ", ")
		}
	}
	if q := r.URL.Query(); len(q) > 0 {
		req.Query = make(map[string]string, len(q))
		for name, vals := range q {
			req.Query[name] = strings.Join(vals, ",")
		}
	}
	payload, err := json.Marshal(req)
	if err != nil {
		writeProblem(w, r, problemFromError(err))
		return
	}
	out, err := s.router.Invoke(r.Context(), router.Route{TenantID: tenantID, ConnectorID: connector,
		Operation: sdk.OpReceivePush, AccountID: account, RequestID: st.requestID}, payload)
	if err != nil {
		writeProblem(w, r, pushProblem(err))
		return
	}
	var resp model.PushResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		writeProblem(w, r, problemFromError(&sdk.Error{Code: sdk.CodeInternal, Source: sdk.SourceConnector,
			Message: "the connector's receive_push answer is not a push response"}))
		return
	}
	writeJSON(w, http.StatusOK, PushReceived{Results: len(resp.Results), PODs: len(resp.PODs)})
}

// pushProblem classifies a receive_push failure: a push the connector could not
// verify is 401 (the provider's credentials are wrong, not the account's at the
// provider, which would be 424 elsewhere); the rest as any operation's.
func pushProblem(err error) *Problem {
	p := problemFromError(err)
	if p.Code == string(sdk.CodeAuthFailed) {
		q := newProblem(http.StatusUnauthorized, codeUnauthenticated, p.Detail)
		q.Source = p.Source
		return q
	}
	return p
}
