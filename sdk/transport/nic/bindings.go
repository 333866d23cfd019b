package nic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/declarative"
)

// Wire carries NIC's JSON for one canonical operation: a NIC connector's
// translation writes the canonical request as NIC's request data (payload)
// and reads NIC's answer data (out) back into the canonical answer, and a
// Wire moves them: directly to NIC through the session kernel (each
// connector's own), or through a GST Suvidha Provider's API (Bindings).
type Wire interface {
	// Exchange sends payload for call's operation (call.Payload is unused)
	// and decodes NIC's answer data into out. A refusal carrying NIC's codes
	// has them in CarrierCode.
	Exchange(ctx context.Context, call *sdk.Call, payload, out any) error
}

var _ Wire = (*Bindings)(nil)

// Translation is what a NIC connector's canonical operations run over: the
// manifest the connector describes itself with and the wire NIC's JSON
// travels on. Each NIC connector embeds it in its own translation, whose
// methods write NIC's request data and read NIC's answer data.
type Translation struct {
	sdk.Unimplemented
	// Manifest returns the connector's manifest.
	Manifest func() *sdk.Manifest
	// Wire carries NIC's JSON.
	Wire Wire
}

// Describe returns the connector's manifest.
func (t *Translation) Describe() *sdk.Manifest { return t.Manifest() }

// OverBindings is the translation over a GSP's loaded folder: its bindings
// as the wire, its manifest as the connector's.
func OverBindings(folder *declarative.Connector) Translation {
	b := NewBindings(folder)
	return Translation{Manifest: b.Describe, Wire: b}
}

// Bindings is a GST Suvidha Provider's API that passes NIC's JSON on, as a
// connector folder describes it: the GSP's base URLs, auth, paths and
// envelopes are data, and a NIC connector's translation (canonical request to
// NIC's request data, NIC's answer data to the canonical answer) runs around
// it. Each operation's binding takes NIC's request data as its input's
// "data" ({"data": {...}}; the runtime adds the account's settings beside it,
// so a body mapping sends input.data, never input whole, and templates read
// {input.data.ewbNo}); its body mapping places the data in the GSP's
// envelope, its response mapping gives NIC's answer data back, and its error
// mapping finds NIC's codes in the GSP's refusals and puts them in
// carrier_code. A Bindings is safe for concurrent use.
type Bindings struct{ folder *declarative.Connector }

// NewBindings is a GSP's connector folder, loaded by the declarative runtime.
func NewBindings(folder *declarative.Connector) *Bindings { return &Bindings{folder: folder} }

// Describe returns the folder's manifest.
func (b *Bindings) Describe() *sdk.Manifest { return b.folder.Describe() }

// codeList is a list of NIC's numeric error codes ("238" or "702,238,").
var codeList = regexp.MustCompile(`^\d+(\s*,\s*\d+)*\s*,?$`)

// Exchange runs call's operation with payload (NIC's request data; the
// call's own Payload is ignored) as the binding's input's data, and decodes the
// binding's answer (NIC's answer data) into out. A refusal that carries NIC's
// codes is given the class NIC's codes have (ClassifyCodes), whatever the
// folder's error mapping guessed: the codes are NIC's, and so is their
// meaning. The GSP's words stay.
func (b *Bindings) Exchange(ctx context.Context, call *sdk.Call, payload, out any) error {
	bound, ok := b.folder.RawHandler(call.Operation)
	if !ok {
		return &sdk.Error{Code: sdk.CodeNotFound, Source: sdk.SourceConnector, NotSent: true,
			Message: fmt.Sprintf("connector %s does not serve %s", b.Describe().ID, call.Operation)}
	}
	js, err := marshalPayload(payload)
	if err != nil {
		return err
	}
	sent := *call
	sent.Payload = append(append([]byte(`{"data":`), js...), '}')
	answer, err := bound(ctx, &sent)
	if err != nil {
		return nicClass(err)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return &sdk.Error{Code: sdk.CodeCarrierUnavailable, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("%s's answer to %s does not hold NIC's answer data: %v", b.Describe().Name, call.Operation, err)}
	}
	return nil
}

// nicClass reclassifies a carrier refusal whose code is a list of NIC's codes.
func nicClass(err error) error {
	var e *sdk.Error
	if !errors.As(err, &e) || e.Source != sdk.SourceCarrier || !codeList.MatchString(e.CarrierCode) {
		return err
	}
	out := *e
	out.Code = ClassifyCodes(e.CarrierCode, e.CarrierMessage).Code
	return &out
}
