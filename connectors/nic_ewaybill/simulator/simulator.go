// Package simulator runs NIC's e-Way Bill system for the nic_ewaybill
// connector: the session simulator sdk/transport/nic/nicsim (login, session key,
// encrypted payloads) behind the account a test or hub connector test needs.
//
// On its own it keeps bills in memory and serves GENEWAYBILL, VEHEWB,
// EXTENDVALIDITY, CANEWB and the GetEwayBill read as NIC does (nicsim's rules). Select makes it
// replay one of the connector's recorded exchanges instead: the recorded
// provider payloads (decrypted JSON in the files) are what the connector must
// send, and the recorded answers are sealed with the session key and sent back.
// Calls that differ from the recording are reported by Unmatched.
package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	nicewaybill "github.com/carrierhub/hub/connectors/nic_ewaybill"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

// The simulator's API user. The GSTIN is the one of NIC's published samples
// (29AKLPM8755F1Z2) with its check character corrected.
const (
	ClientID     = "sim-client-id"
	ClientSecret = "sim-client-secret"
	GSTIN        = "29AKLPM8755F1ZJ"
	Username     = "sim_api_user"
	Password     = "sim-api-password"
)

// Simulator is a running NIC simulator for the connector (nicsim.Fixture):
// the e-Way Bill API's base URL on the simulator is its URL plus …/ewaybillapi/v1.03.
type Simulator = nicsim.Fixture

// New starts a simulator with the real clock; Close it when done.
func New() (*Simulator, error) { return NewWithOptions(nicsim.Options{}) }

// NewWithOptions starts a simulator with nicsim's options (a clock, token lifetimes).
func NewWithOptions(opts nicsim.Options) (*Simulator, error) {
	user := nicsim.User{ClientID: ClientID, ClientSecret: ClientSecret, GSTIN: GSTIN, Username: Username, Password: Password}
	return nicsim.NewFixture(opts, user, nicsim.EWBBase, nicewaybill.Folder(), replies)
}

// replies reads a recorded file's provider exchanges as nicsim replies. A
// write (POST /ewayapi/) has the request body {"action": ..., "data":
// <decrypted JSON>}; a read (GET /ewayapi/GetEwayBill) has its query (ewbNo)
// and no body. Both are answered {"status": "1", "data": <decrypted JSON>} or
// {"status": "0", "error": {"errorCodes": "..."}}; a read's data is sealed
// under a fresh REK, signed with its HMAC, as NIC answers reads.
func replies(f *exchanges.File) ([]nicsim.Reply, error) {
	file := f.Name
	var out []nicsim.Reply
	for i, x := range f.Exchanges {
		var r nicsim.Reply
		switch path := strings.TrimRight(x.Request.Path, "/"); {
		case x.Request.Method == http.MethodPost && path == "/ewayapi":
			var req struct {
				Action string          `json:"action"`
				Data   json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal([]byte(x.Request.Body), &req); err != nil || req.Action == "" {
				return nil, fmt.Errorf("%s: exchanges[%d].request.body is not {\"action\": ..., \"data\": {...}}", file, i)
			}
			r = nicsim.Reply{Method: http.MethodPost, Action: req.Action, Request: req.Data}
		case x.Request.Method == http.MethodGet && path == "/ewayapi/"+nicewaybill.MethodGet:
			if strings.TrimSpace(x.Request.Body) != "" {
				return nil, fmt.Errorf("%s: exchanges[%d]: a GET %s has no body", file, i, nicewaybill.MethodGet)
			}
			if x.Request.Query["ewbNo"] == "" {
				return nil, fmt.Errorf("%s: exchanges[%d].request.query: GET %s needs ewbNo", file, i, nicewaybill.MethodGet)
			}
			r = nicsim.Reply{Method: http.MethodGet, Action: nicewaybill.MethodGet, Query: x.Request.Query}
		case x.Request.Method == http.MethodGet && path == "/Master/"+nicewaybill.MethodGSTIN:
			if x.Request.Query["GSTIN"] == "" {
				return nil, fmt.Errorf("%s: exchanges[%d].request.query: GET %s needs GSTIN", file, i, nicewaybill.MethodGSTIN)
			}
			r = nicsim.Reply{Method: http.MethodGet, Action: nicewaybill.MethodGSTIN, Query: x.Request.Query}
		default:
			return nil, fmt.Errorf("%s: exchanges[%d]: only e-Way Bill writes (POST /ewayapi/), GET /ewayapi/%s and GET /Master/%s are replayed, not %s %s",
				file, i, nicewaybill.MethodGet, nicewaybill.MethodGSTIN, x.Request.Method, x.Request.Path)
		}
		var resp struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
			Error  struct {
				ErrorCodes string `json:"errorCodes"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(x.Response.Body), &resp); err != nil {
			return nil, fmt.Errorf("%s: exchanges[%d].response.body is not NIC's answer: %v", file, i, err)
		}
		switch resp.Status {
		case "1":
			r.Data = resp.Data
		case "0":
			r.ErrorCodes = resp.Error.ErrorCodes
		default:
			return nil, fmt.Errorf("%s: exchanges[%d].response.body has status %q, not \"1\" or \"0\"", file, i, resp.Status)
		}
		out = append(out, r)
	}
	return out, nil
}
