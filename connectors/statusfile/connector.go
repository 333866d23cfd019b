package statusfile

import (
	"context"
	"embed"
	"io/fs"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/model"
)

// folder is the connector's own directory as the hub sees it: the manifest,
// the mappings with their tables and fixtures, and the recorded exchanges.
//
//go:embed manifest.yaml mappings testdata/exchanges
var folder embed.FS

// Folder returns the connector's folder (manifest.yaml, mappings/ and
// testdata/exchanges/) for the registry of built-ins, so that conformance
// checks the manifest against the schema, runs the mapping fixtures and
// replays the recorded exchanges through the connector.
func Folder() fs.FS { return folder }

// manifest is loaded once; a broken embedded manifest fails every test.
var manifest = sdk.LazyManifest(folder, "manifest.yaml")

// HeaderFileName is the push header in which the hub passes the status file's
// base name; it is used only in error messages.
const HeaderFileName = "x-hub-file-name"

// Content types the hub gives a status file by its extension: .edi, .x12 and
// .214 are X12, .csv is CSV, and anything else is octet-stream, which the
// connector sniffs.
const (
	ContentTypeX12   = "application/edi-x12"
	ContentTypeCSV   = "text/csv"
	ContentTypeOctet = "application/octet-stream"
)

// Connector is the generic carrier status-file connector. It serves only
// receive_push: the hub hands it one file fetched from an account's SFTP inbox
// and it answers one tracking result per shipment in the file. It holds no
// state; one value serves every account concurrently.
type Connector struct {
	sdk.Unimplemented
}

var _ sdk.PushReceiver = (*Connector)(nil)

// New returns the status-file connector.
func New() sdk.Connector { return &Connector{} }

// Describe returns the connector's manifest.
func (c *Connector) Describe() *sdk.Manifest { return manifest() }

// ReceivePush reads one status file: an X12 214 interchange or a carrier CSV in
// the connector's default layout (README.md). There is no signature to check
// here: the file came over the account's authenticated SFTP session, or was
// POSTed with the account's inbound_token, which the hub checked. The format
// follows the content type (ContentTypeX12, ContentTypeCSV); any other type is
// sniffed, X12 when the file starts with "ISA" and CSV otherwise. A file that
// cannot be read, or that breaks the format's rules, is refused whole with an
// invalid_request error naming the segment or line, so the hub can set it
// aside rather than retry it.
func (c *Connector) ReceivePush(ctx context.Context, req *sdk.Request[model.PushRequest]) (*model.PushResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, sdk.AsError(err)
	}
	name := fileName(req.Body.Headers)
	res, err := readFile(detectFormat(req.Body.ContentType, req.Body.Body), req.Body.Body)
	if err != nil {
		e := sdk.AsError(err)
		if e.Code == sdk.CodeInvalidRequest && name != "" {
			e.Message = "status file " + name + ": " + e.Message
		}
		e.NotSent = true
		return nil, e
	}
	return res, nil
}

// fileName returns the file's base name from the hub's header, trimmed and
// clipped so an odd name cannot flood an error message.
func fileName(headers map[string]string) string {
	n := strings.TrimSpace(headers[HeaderFileName])
	if len(n) > 255 {
		n = n[:255]
	}
	return strings.ToValidUTF8(n, "?")
}
