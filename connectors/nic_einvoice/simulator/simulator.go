// Package simulator runs NIC's e-Invoice registration portal (IRP) for the
// nic_einvoice connector: the session simulator sdk/transport/nic/nicsim (v1.04
// login, session key, encrypted payloads) behind the account a test or hub
// connector test needs.
//
// On its own it registers invoices in memory and answers Generate IRN as NIC
// does (nicsim's rules: an IRN per seller, document type and number, a repeat
// refused with 2150 and the IRN issued). Select makes it replay one of the
// connector's recorded exchanges instead: the recorded invoice JSON (shown
// decrypted in the files) is what the connector must send, and the recorded
// answer is sealed with the session key and sent back. Calls that differ from
// the recording are reported by Unmatched.
package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	niceinvoice "github.com/carrierhub/hub/connectors/nic_einvoice"
	"github.com/carrierhub/hub/sdk/exchanges"
	"github.com/carrierhub/hub/sdk/transport/nic/nicsim"
)

// The simulator's API user. The GSTIN is the one of NIC's published e-Way
// Bill samples (29AKLPM8755F1Z2) with its check character corrected.
const (
	ClientID     = "sim-irp-client-id"
	ClientSecret = "sim-irp-client-secret"
	GSTIN        = "29AKLPM8755F1ZJ"
	Username     = "sim_irp_user"
	Password     = "sim-irp-password"
)

// Simulator is a running NIC simulator for the connector (nicsim.Fixture):
// the IRP's base URL on the simulator is its host, under which /eivital/v1.04/auth,
// /eicore/v1.03/Invoice, /eicore/v1.03/Invoice/Cancel and /eicore/v1.03/Invoice/irn/{irn} are served.
type Simulator = nicsim.Fixture

// New starts a simulator with the real clock; Close it when done.
func New() (*Simulator, error) { return NewWithOptions(nicsim.Options{}) }

// NewWithOptions starts a simulator with nicsim's options (a clock, token lifetimes).
func NewWithOptions(opts nicsim.Options) (*Simulator, error) {
	user := nicsim.User{ClientID: ClientID, ClientSecret: ClientSecret, GSTIN: GSTIN, Username: Username, Password: Password}
	return nicsim.NewFixture(opts, user, "", niceinvoice.Folder(), replies)
}

// replies reads a recorded file's provider exchanges as nicsim replies: a
// write's request body {"Data": <decrypted JSON>} (Generate IRN, Cancel IRN),
// a read's path (Get IRN details), and the answer {"Status": 1, "Data":
// <decrypted JSON>} or {"Status": 0, "ErrorDetails": [...], "InfoDtls": ...}.
func replies(f *exchanges.File) ([]nicsim.Reply, error) {
	file := f.Name
	var out []nicsim.Reply
	for i, x := range f.Exchanges {
		r := nicsim.Reply{Method: x.Request.Method, Action: x.Request.Path}
		switch {
		case x.Request.Method == http.MethodPost && (x.Request.Path == niceinvoice.InvoicePath || x.Request.Path == niceinvoice.CancelPath):
			var req struct {
				Data json.RawMessage `json:"Data"`
			}
			if err := json.Unmarshal([]byte(x.Request.Body), &req); err != nil || len(req.Data) == 0 {
				return nil, fmt.Errorf("%s: exchanges[%d].request.body is not {\"Data\": {...}}", file, i)
			}
			r.Request = req.Data
		case x.Request.Method == http.MethodGet && strings.HasPrefix(x.Request.Path, niceinvoice.IRNPath):
		case x.Request.Method == http.MethodGet && x.Request.Path == niceinvoice.FindPath:
			r.Query = x.Request.Query
		default:
			return nil, fmt.Errorf("%s: exchanges[%d]: only Generate IRN and Cancel IRN (POST %s, %s), Get IRN details (GET %s...) and by document (GET %s) are replayed, not %s %s",
				file, i, niceinvoice.InvoicePath, niceinvoice.CancelPath, niceinvoice.IRNPath, niceinvoice.FindPath, x.Request.Method, x.Request.Path)
		}
		var resp struct {
			Status       json.Number     `json:"Status"`
			Data         json.RawMessage `json:"Data"`
			InfoDtls     json.RawMessage `json:"InfoDtls"`
			ErrorDetails []struct {
				ErrorCode    string `json:"ErrorCode"`
				ErrorMessage string `json:"ErrorMessage"`
			} `json:"ErrorDetails"`
		}
		if err := json.Unmarshal([]byte(x.Response.Body), &resp); err != nil {
			return nil, fmt.Errorf("%s: exchanges[%d].response.body is not the IRP's answer: %v", file, i, err)
		}
		switch resp.Status {
		case "1":
			r.Data = resp.Data
		case "0":
			codes := ""
			for j, d := range resp.ErrorDetails {
				if j > 0 {
					codes += ","
				}
				codes += d.ErrorCode
				r.ErrorMessages = append(r.ErrorMessages, d.ErrorMessage)
			}
			if codes == "" {
				return nil, fmt.Errorf("%s: exchanges[%d].response.body has Status 0 and no ErrorDetails", file, i)
			}
			r.ErrorCodes = codes
			if string(resp.InfoDtls) != "null" {
				r.Info = resp.InfoDtls
			}
		default:
			return nil, fmt.Errorf("%s: exchanges[%d].response.body has Status %q, not 1 or 0", file, i, resp.Status)
		}
		out = append(out, r)
	}
	return out, nil
}
