package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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
// engine checks the push against the inbound authentication the connector's
// manifest declares (a shared token, an HMAC signature with a timestamp
// window, or basic auth) and the account's credentials, before the connector
// sees it; the account id names the tenant.
func (s *server) inboundRoutes() []route {
	accounts := inbound.NewAccounts(s.store, 5*time.Second)
	verifier := inbound.NewPushVerifier()
	return []route{
		{Method: "POST", Pattern: "/v1/inbound/{connector}/{account}", ID: "receivePush",
			Summary: "Receive a carrier's push (status webhook or status file) for one account. No API key: the push must carry the account's inbound credentials as the connector's manifest declares (inbound: a shared token in a header or query parameter, an HMAC signature of the body with a timestamp, or basic auth), checked in constant time before the connector sees it. An unknown account, an account of another connector, an account holding no inbound credential and missing or wrong credentials all get the same 401 (unauthenticated). Pushes are rate limited per account id (429 with Retry-After). An accepted push's results are recorded as tracking (tracking.updated, shipment.delivered, shipment.exception) and proofs of delivery (pod.received). A retried push records nothing twice.",
			Auth:    public,
			Responses: []response{{200, "The push was verified and recorded.", schema{"type": "object",
				"required":   []string{"results", "pods"},
				"properties": schema{"results": schema{"type": "integer", "minimum": 0}, "pods": schema{"type": "integer", "minimum": 0}}}}},
			Errors: []int{400, 401, 404, 413, 422, 429, 503, 504},
			handler: func(w http.ResponseWriter, r *http.Request, _ store.APIKey) {
				s.receivePush(w, r, accounts, verifier)
			}},
	}
}

// pushRefused is the one answer to a push the hub does not accept for its
// account, whatever the reason (no such account for the connector, no
// inbound credential on it, missing or wrong credentials in the push), so
// that the answer does not tell which accounts exist.
func pushRefused() *Problem {
	p := newProblem(http.StatusUnauthorized, codeUnauthenticated,
		"the push is not authenticated: it must carry the inbound credentials of an account of this connector, as the connector's manifest declares")
	p.Source = string(sdk.SourceHub)
	return p
}

// receivePush answers POST /v1/inbound/{connector}/{account}: the connector
// must take pushes (404 otherwise: that depends on the path alone), the
// account id's bucket must have a token (429), then the account is found and
// the push authenticated, with the same answer for every failure (401), and
// only then handed to the connector.
func (s *server) receivePush(w http.ResponseWriter, r *http.Request, accounts *inbound.Accounts, verifier *inbound.PushVerifier) {
	connector, account := r.PathValue("connector"), r.PathValue("account")
	st := stateOf(r.Context())
	st.connector, st.operation = connector, string(sdk.OpReceivePush)
	st.account.Store(account)
	m, ok := s.conns.Manifest(connector)
	if ok {
		_, ok = m.Operation(sdk.OpReceivePush)
	}
	if !ok {
		p := newProblem(http.StatusNotFound, string(sdk.CodeNotFound), fmt.Sprintf("connector %q takes no pushes", connector))
		p.Source = string(sdk.SourceHub)
		writeProblem(w, r, p)
		return
	}
	if ok, wait := s.pushLimit.Allow(account, s.now()); !ok {
		p := newProblem(http.StatusTooManyRequests, string(sdk.CodeRateLimited), "too many pushes for this account; retry after the time Retry-After gives")
		p.Source = string(sdk.SourceHub)
		p.RetryAfter = max(1, int(math.Ceil(wait.Seconds())))
		writeProblem(w, r, p)
		return
	}
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
	push := inbound.Push{Header: r.Header, Query: r.URL.Query(), Body: body}
	// creds stays nil for an account the push cannot be for: the verifier
	// then does the same work against a stand-in and refuses.
	var creds map[string]string
	tenantID, owner, err := accounts.Lookup(r.Context(), account)
	switch {
	case err == nil && owner == connector:
		acct, aerr := s.router.Account(r.Context(), tenantID, connector, account)
		var se *sdk.Error
		switch {
		case aerr == nil:
			creds = acct.Credentials
			if creds == nil {
				creds = map[string]string{}
			}
		case errors.As(aerr, &se) && (se.Code == sdk.CodeNotFound || se.Code == sdk.CodeInvalidRequest):
			// Deleted since the index was built, or unusable: no account to push to.
		default:
			writeProblem(w, r, problemFromError(aerr))
			return
		}
	case err != nil && !errors.Is(err, inbound.ErrUnknownAccount):
		writeProblem(w, r, s.storeProblem(r.Context(), err, "accounts"))
		return
	}
	if verr := verifier.Verify(m.Inbound, creds, push, s.now()); verr != nil {
		reason := verr.Error()
		if creds == nil {
			reason = "no account " + account + " of connector " + connector
		}
		s.log.InfoContext(r.Context(), "inbound push refused", "connector", connector, "account", account,
			"request_id", st.requestID, "reason", reason)
		writeProblem(w, r, pushRefused())
		return
	}
	st.tenant = tenantID
	req := model.PushRequest{Headers: map[string]string{}, ContentType: r.Header.Get("Content-Type"), Body: body}
	for name, vals := range r.Header {
		if !skippedPushHeaders[name] {
			req.Headers[strings.ToLower(name)] = strings.Join(vals, ", ")
		}
	}
	if q := push.Query; len(q) > 0 {
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
