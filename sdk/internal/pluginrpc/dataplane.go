package pluginrpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The data plane of protocol version 3 carries calls over a Unix socket in
// frames of its own, without gRPC's HTTP/2 framing, headers, flow-control
// windows and goroutine hand-offs. go-plugin's gRPC connection still carries
// the handshake, Describe, CheckHealth and the process's lifecycle.
//
// A connection starts with dataMagic from the hub. Then both sides send
// frames; every frame is a 16-byte header followed by its body:
//
//	[0:4]   length of the body, big-endian (at most MaxMessageSize)
//	[4]     kind: frameCall, frameCancel, frameResult or frameError
//	[5:8]   zero
//	[8:16]  call id, big-endian; the hub never reuses one on a connection
//
// Bodies by kind:
//
//	call    the deadline in Unix nanoseconds (8 bytes, 0 for none), the length
//	        of the call header (4 bytes), the call header (an InvokeRequest
//	        without its payload, protobuf), then the payload as it is
//	cancel  empty: cancel the running call id (it is still answered)
//	result  the canonical answer's JSON as the connector wrote it
//	error   an Error, protobuf
//
// The connector serves any number of calls at once on a connection, in any
// order, and always has a goroutine reading it: the one that reads a call
// hands the reading to a worker and runs the call itself. So a connector
// always drains its sockets, cancellations reach running calls, and a writer
// waits only for a peer that has stopped reading altogether (frozen), which a
// write deadline bounds. A connection that fails a write or breaks a rule is
// closed; in the connector that cancels every call it carried. The hub's
// DataClient sends one call at a time on each connection it holds, and
// cancels a call by closing its connection.

// Frame kinds.
const (
	frameCall   byte = 1
	frameCancel byte = 2
	frameResult byte = 3
	frameError  byte = 4
)

const frameHeaderSize = 16

// dataMagic opens every data-plane connection, so a socket that is not a
// connector's data plane (or one of another protocol revision) fails at once.
var dataMagic = [8]byte{'H', 'U', 'B', 'D', 'P', 0, 0, 3}

// errProtocol reports a frame that breaks the rules above.
var errProtocol = errors.New("data plane: protocol violation")

// putHeader writes a frame header into b[:frameHeaderSize].
func putHeader(b []byte, kind byte, id uint64, bodyLen int) {
	binary.BigEndian.PutUint32(b[0:4], uint32(bodyLen))
	b[4] = kind
	b[5], b[6], b[7] = 0, 0, 0
	binary.BigEndian.PutUint64(b[8:16], id)
}

// readFrame reads one frame's header and body from r. The body is a new slice
// the caller owns.
func readFrame(r io.Reader, hdr *[frameHeaderSize]byte) (kind byte, id uint64, body []byte, err error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[0:4])
	kind = hdr[4]
	id = binary.BigEndian.Uint64(hdr[8:16])
	if n > MaxMessageSize || hdr[5]|hdr[6]|hdr[7] != 0 {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes, header %x", errProtocol, n, hdr[4:8])
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, err
	}
	return kind, id, body, nil
}

// callPrefix is the fixed part of a call body before the call header.
const callPrefix = 12

// appendCall appends a call frame's header, deadline and call header to b, for
// req without its payload, which the caller appends after it.
func appendCall(b []byte, id uint64, deadline int64, req *InvokeRequest) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize+callPrefix)...)
	b = appendCallHeader(b, req)
	callHeader := len(b) - start - frameHeaderSize - callPrefix
	body := callPrefix + callHeader + len(req.Payload)
	if body > MaxMessageSize {
		return nil, fmt.Errorf("the call of %d bytes exceeds the connector protocol's limit of %d bytes", body, MaxMessageSize)
	}
	putHeader(b[start:], frameCall, id, body)
	binary.BigEndian.PutUint64(b[start+frameHeaderSize:], uint64(deadline))
	binary.BigEndian.PutUint32(b[start+frameHeaderSize+8:], uint32(callHeader))
	return b, nil
}

// appendCallHeader appends req without its payload in protobuf's wire format,
// as proto.Marshal would, field by field: the generic marshaller reaches the
// account's and the trace's maps through reflection, which cost a call six
// allocations and more time than the rest of its encoding.
func appendCallHeader(b []byte, req *InvokeRequest) []byte {
	b = appendString(b, 1, req.Operation)
	if a := req.Account; a != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(accountSize(a)))
		b = appendString(b, 1, a.Id)
		b = appendString(b, 2, a.TenantId)
		b = appendString(b, 3, a.Environment)
		b = appendString(b, 4, a.BaseUrl)
		b = appendMap(b, 5, a.Credentials)
		b = appendMap(b, 6, a.Settings)
	}
	b = appendString(b, 4, req.IdempotencyKey)
	b = appendString(b, 5, req.RequestId)
	return appendMap(b, 6, req.Trace)
}

func accountSize(a *Account) int {
	return stringSize(1, a.Id) + stringSize(2, a.TenantId) + stringSize(3, a.Environment) + stringSize(4, a.BaseUrl) +
		mapSize(5, a.Credentials) + mapSize(6, a.Settings)
}

// appendString appends a string field; proto3 leaves an empty one out.
func appendString(b []byte, num protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func stringSize(num protowire.Number, v string) int {
	if v == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(v))
}

// appendMap appends a map<string, string> field: one entry message (key 1,
// value 2) per pair.
func appendMap(b []byte, num protowire.Number, m map[string]string) []byte {
	for k, v := range m {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(stringSize(1, k)+stringSize(2, v)))
		b = appendString(b, 1, k)
		b = appendString(b, 2, v)
	}
	return b
}

func mapSize(num protowire.Number, m map[string]string) int {
	n := 0
	for k, v := range m {
		n += protowire.SizeTag(num) + protowire.SizeBytes(stringSize(1, k)+stringSize(2, v))
	}
	return n
}

// parseCall decodes a call body; the request's payload is a slice of body.
func parseCall(body []byte) (deadline int64, req *InvokeRequest, err error) {
	if len(body) < callPrefix {
		return 0, nil, fmt.Errorf("%w: call body of %d bytes", errProtocol, len(body))
	}
	deadline = int64(binary.BigEndian.Uint64(body[0:8]))
	n := int(binary.BigEndian.Uint32(body[8:12]))
	if n > len(body)-callPrefix {
		return 0, nil, fmt.Errorf("%w: call header of %d bytes in a body of %d", errProtocol, n, len(body))
	}
	req = &InvokeRequest{}
	if err := proto.Unmarshal(body[callPrefix:callPrefix+n], req); err != nil {
		return 0, nil, fmt.Errorf("%w: call header: %v", errProtocol, err)
	}
	req.Payload = body[callPrefix+n:]
	return deadline, req, nil
}

// bufPool holds frame buffers for the call headers both sides encode.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf keeps a rare huge frame's buffer out of the pool.
const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
