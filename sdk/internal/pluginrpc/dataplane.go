package pluginrpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

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
//	cancel  empty: cancel the running call id; a call cancelled so is not
//	        answered (an answer already on its way is dropped by the hub)
//	result  the canonical answer's JSON as the connector wrote it
//	error   an Error, protobuf
//
// Both sides multiplex: any number of calls travel on one connection at once,
// answered in any order. Neither side keeps a goroutine just for moving bytes:
//
//   - Writes combine. A goroutine with a frame to send writes it itself when
//     no write is under way, and then whatever other senders queued meanwhile,
//     until the queue is empty; so frames that pile up under load leave in one
//     system call (frameWriter).
//   - In the hub, a waiting caller reads. The first caller to wait reads
//     frames for everyone, hands each result to its caller, and when its own
//     has come passes the reading to another waiting caller (DataClient). A
//     lone call reads its own answer: no goroutine has to wake for it.
//   - In the connector, the goroutine that reads a call runs it itself while
//     no other call is running, and goes on reading after it; a call that
//     arrives while others run, or one still running after followerDelay, gets
//     a reader or worker of its own (ServeData).
//
// So each side drains its socket whenever a frame can be waiting for it, a
// cancellation reaches its call within followerDelay, and a writer waits only
// for a peer that has stopped reading altogether (frozen), which a write
// deadline bounds. A connection that fails a write or breaks a rule is closed:
// the hub fails the calls it carried and the connector cancels them.

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

// TooLargeError refuses a call larger than MaxMessageSize before it is sent.
type TooLargeError struct{ Size int }

// Error implements error.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the call of %d bytes exceeds the connector protocol's limit of %d bytes", e.Size, MaxMessageSize)
}

// errProtocol reports a frame that breaks the rules above.
var errProtocol = errors.New("data plane: protocol violation")

// putHeader writes a frame header into b[:frameHeaderSize].
func putHeader(b []byte, kind byte, id uint64, bodyLen int) {
	binary.BigEndian.PutUint32(b[0:4], uint32(bodyLen))
	b[4] = kind
	b[5], b[6], b[7] = 0, 0, 0
	binary.BigEndian.PutUint64(b[8:16], id)
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
		return nil, &TooLargeError{Size: body}
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
const maxPooledBuf = 256 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// frameReader reads frames from a connection, and resumes a frame cut short by
// a read deadline where it stopped: the hub's reading caller sets deadlines
// to notice its own cancellation, and the next reader carries on.
type frameReader struct {
	r     *bufio.Reader
	hdr   [frameHeaderSize]byte
	hdrN  int
	body  []byte // allocated once the header is whole
	sized bool
	bodyN int
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, readBuffer)}
}

// next returns the next whole frame; its body is a new slice the caller owns.
// After an error other than a protocol violation it may be called again.
func (fr *frameReader) next() (kind byte, id uint64, body []byte, err error) {
	for fr.hdrN < frameHeaderSize {
		n, err := fr.r.Read(fr.hdr[fr.hdrN:])
		fr.hdrN += n
		if err != nil && fr.hdrN < frameHeaderSize {
			if err == io.EOF && fr.hdrN > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, nil, err
		}
	}
	if !fr.sized {
		n := binary.BigEndian.Uint32(fr.hdr[0:4])
		if n > MaxMessageSize || fr.hdr[5]|fr.hdr[6]|fr.hdr[7] != 0 {
			return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes, header %x", errProtocol, n, fr.hdr[4:8])
		}
		fr.body = make([]byte, n)
		fr.sized = true
	}
	for fr.bodyN < len(fr.body) {
		n, err := fr.r.Read(fr.body[fr.bodyN:])
		fr.bodyN += n
		if err != nil && fr.bodyN < len(fr.body) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, nil, err
		}
	}
	kind, id, body = fr.hdr[4], binary.BigEndian.Uint64(fr.hdr[8:16]), fr.body
	fr.hdrN, fr.body, fr.sized, fr.bodyN = 0, nil, false, 0
	return kind, id, body, nil
}

// frameWriter combines the frames of concurrent senders into as few writes
// as it can: the first sender writes what is queued, its own frame and those
// queued meanwhile, until the queue is empty; the others only queue.
type frameWriter struct {
	conn net.Conn

	mu      sync.Mutex
	queue   []byte
	spare   []byte
	writing bool
	err     error
}

// send writes frame, or queues it when another sender is writing; a sender
// that writes goes on with what was queued meanwhile until the queue is
// empty. It returns the error of the writes it made; a frame another sender
// failed to write is lost with the connection, which that sender closes.
//
// A write waits for a peer that does not read for writeStall, whatever the
// deadline of the sender's call: it carries other calls' frames too, and a
// frame cut short would break the connection for all of them. Peers always
// read, so only a frozen one holds a write up.
func (w *frameWriter) send(frame []byte) error {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if w.writing {
		w.queue = append(w.queue, frame...)
		w.mu.Unlock()
		return nil
	}
	w.writing = true
	out, queued := frame, false // the sender's own frame is written without a copy
	var err error
	for {
		w.mu.Unlock()
		err = w.conn.SetWriteDeadline(time.Now().Add(writeStall))
		if err == nil {
			_, err = w.conn.Write(out)
		}
		w.mu.Lock()
		if queued && cap(out) <= maxQueueBuf {
			w.spare = out[:0]
		}
		if err != nil || len(w.queue) == 0 {
			break
		}
		out, queued = w.queue, true
		w.queue = w.spare[:0]
		w.spare = nil
	}
	w.writing = false
	if err != nil {
		w.err = err
		w.queue = nil
	}
	w.mu.Unlock()
	return err
}

// maxQueueBuf is the largest queue buffer a connection keeps for reuse.
const maxQueueBuf = 1 << 20
