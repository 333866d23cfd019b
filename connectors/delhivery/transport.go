package delhivery

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// Every call goes through sdk/transport/rest: the token as an APIKey
// ("Authorization: Token <api_token>"), one send per call, NotSent when the
// request never left, the response-size limit, Retry-After, HTML error pages
// and credentials kept out of errors. What stays here is what is Delhivery's:
// where its error bodies keep their words (extractError) and the few places
// its answers are read differently from the rest package's defaults (refine).

// maxResponseBytes bounds how much of a response the connector reads.
const maxResponseBytes = 10 << 20

// credentialToken is the account credential holding the API token.
const credentialToken = "api_token"

// productionURL is the REST client's base; every call replaces it with the
// account's own base URL.
const productionURL = "https://track.delhivery.com"

// newAPI returns the REST client the connector shares across calls and tenants.
func newAPI() (*rest.Client, error) {
	return rest.New(rest.Config{
		Name:             "Delhivery",
		BaseURL:          productionURL,
		Header:           http.Header{"Accept": {"application/json"}},
		MaxResponseBytes: maxResponseBytes,
		ExtractError:     extractError,
	})
}

// do sends one request for the account and returns a 2xx answer. Every other
// outcome is a classified *sdk.Error; the token never appears in one.
func (c *Connector) do(ctx context.Context, acct *sdk.Account, req *rest.Request) (*rest.Response, error) {
	if c.apiErr != nil {
		return nil, c.apiErr
	}
	token, err := acct.Credential(credentialToken)
	if err != nil {
		return nil, unsent(err)
	}
	if strings.TrimSpace(acct.BaseURL) == "" {
		// For would fall back to production; an account must name its host.
		return nil, &sdk.Error{Code: sdk.CodeInvalidRequest, Source: sdk.SourceConnector, NotSent: true,
			Message: "the account has no base URL"}
	}
	api, err := c.api.For(acct.BaseURL, rest.APIKey{Key: token, Prefix: "Token "})
	if err != nil {
		return nil, err
	}
	resp, err := api.Do(ctx, req)
	if err != nil {
		return nil, refine(resp, err)
	}
	return resp, nil
}

// call is do followed by decoding the JSON answer into out. It returns the body
// too, for the tracking mapping, which reads it as sent.
func (c *Connector) call(ctx context.Context, acct *sdk.Account, req *rest.Request, out any) ([]byte, error) {
	resp, err := c.do(ctx, acct, req)
	if err != nil {
		return nil, err
	}
	if err := resp.DecodeJSON(out); err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// extractError reads Delhivery's own words from a non-2xx answer: the first of
// detail, message, error and rmk in a JSON body, else the body itself. Delhivery
// sends no error codes of its own, so the carrier code is the HTTP status.
func extractError(status int, _ http.Header, body []byte) (code, message string, ok bool) {
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		message = b.text()
	}
	if message == "" {
		message = snippet(body)
	}
	return strconv.Itoa(status), message, true
}

// refine adjusts the rest client's classification where Delhivery's answers
// mean something else.
func refine(resp *rest.Response, err error) error {
	e, ok := err.(*sdk.Error)
	if !ok {
		return err
	}
	if resp == nil {
		return e
	}
	if e.CarrierCode == "" {
		// An HTML error page skips extractError; keep the status as the code.
		e.CarrierCode = strconv.Itoa(resp.Status)
	}
	// Delhivery answers an unknown waybill or order with 200 and an error in the
	// body, so a 404, 405 or redirect means the account points at the wrong host:
	// retrying or reporting "not found" would both mislead.
	if s := resp.Status; s == http.StatusNotFound || s == http.StatusMethodNotAllowed || (s >= 300 && s < 400) {
		e.Code = sdk.CodePermanent
		e.Message += "; check the account's base URL"
	}
	return e
}

// snippet returns at most 200 bytes of a body on one line, for error messages.
func snippet(data []byte) string {
	if len(data) > 1024 {
		data = data[:1024]
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
