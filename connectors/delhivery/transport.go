package delhivery

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/carrierhub/hub/sdk/transport/rest"
)

// Every call goes through one sdk/transport/rest client, shared by the bindings
// (the declarative runtime signs each request with the manifest's auth, the
// "Authorization: Token <api_token>" header) and the Go health check. What is
// Delhivery's here is where its error bodies keep their words and that its
// carrier code is the HTTP status (extractError): a binding's error mapping
// reads the body but not the status.

// credentialToken is the account credential holding the API token.
const credentialToken = "api_token"

// productionURL is the REST client's base; every call replaces it with the
// account's own base URL.
const productionURL = "https://track.delhivery.com"

// pinCodePath is the pin-code serviceability endpoint the health check asks.
const pinCodePath = "/c/api/pin-codes/json/"

// maxResponseBytes bounds how much of a response the connector reads.
const maxResponseBytes = 10 << 20

// newAPI returns the REST client the connector shares across calls and tenants.
func newAPI() (*rest.Client, error) {
	return rest.New(rest.Config{
		Name:             "Delhivery",
		BaseURL:          productionURL,
		MaxResponseBytes: maxResponseBytes,
		ExtractError:     extractError,
	})
}

// errorBody is what Delhivery sends with a non-200 status, when it sends JSON.
type errorBody struct {
	Detail  string `json:"detail"`
	Message string `json:"message"`
	Error   string `json:"error"`
	RMK     string `json:"rmk"`
}

// extractError reads Delhivery's own words from a non-2xx answer: the first of
// detail, message, error and rmk in a JSON body, else the body itself. Delhivery
// sends no error codes of its own, so the carrier code is the HTTP status.
func extractError(status int, _ http.Header, body []byte) (code, message string, ok bool) {
	var b errorBody
	if json.Unmarshal(body, &b) == nil {
		for _, s := range []string{b.Detail, b.Message, b.Error, b.RMK} {
			if s != "" {
				message = s
				break
			}
		}
	}
	if message == "" {
		message = snippet(body)
	}
	return strconv.Itoa(status), message, true
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
