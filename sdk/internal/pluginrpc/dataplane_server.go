package pluginrpc

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
)

// ServeData serves protocol version 3's data plane in a connector process on
// l until l is closed, each connection as ServeCalls serves a stream: every
// call with a context that carries the call's deadline and ends when the hub
// cancels the call or the connection ends; inflight counts each call from its
// arrival until its result is written.
func ServeData(l net.Listener, invoke func(context.Context, *InvokeRequest) *InvokeResponse, inflight *atomic.Int64) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		sc := &servedConn{conn: conn, fr: newFrameReader(conn), w: frameWriter{conn: conn}, invoke: invoke, inflight: inflight}
		go sc.start()
	}
}

// servedConn is the connector's state of one data-plane connection. One
// goroutine at a time reads it (the reader); results are written by the
// goroutines that ran the calls.
type servedConn struct {
	conn     net.Conn
	fr       *frameReader
	w        frameWriter
	invoke   func(context.Context, *InvokeRequest) *InvokeResponse
	inflight *atomic.Int64
	// follow hands the reading over when the reader's own call runs long.
	follow  *time.Timer
	running runningCalls

	mu sync.Mutex
	// inline is set while the reader runs a call itself; epoch counts the
	// times follow took the reading from such a reader, so the goroutine
	// that ran the call knows, once it is done, whether it still reads.
	inline bool
	epoch  uint64
}

// followerDelay is how long the reader runs a call of its own before another
// goroutine takes over the reading. A call that arrives while no other runs
// starts without waiting for a goroutine to wake (about 40 us of a 1 KB
// round trip on a 2-core VM, BenchmarkRoundTrip), and most such calls that
// are quick end before anyone needs to read behind them; a cancellation, or a
// call that arrives meanwhile, is read within this delay.
const followerDelay = time.Millisecond

// start checks the connection's opening and becomes its reader.
func (sc *servedConn) start() {
	var magic [len(dataMagic)]byte
	if _, err := io.ReadFull(sc.fr.r, magic[:]); err != nil || magic != dataMagic {
		sc.conn.Close()
		return
	}
	sc.follow = time.AfterFunc(time.Hour, sc.handOff)
	sc.follow.Stop()
	sc.read()
}

// read reads frames until the connection ends or breaks a rule; it then closes
// it and cancels the calls still running, whose results are not written. A
// call that arrives while others run goes to a worker; one that arrives alone
// runs here, and the reading goes on after it unless the call outlasted
// followerDelay, in which case another goroutine has taken the reading over.
func (sc *servedConn) read() {
	for {
		kind, id, body, err := sc.fr.next()
		if err != nil {
			sc.end()
			return
		}
		switch kind {
		case frameCancel:
			sc.running.cancel(id)
		case frameCall:
			deadline, req, err := parseCall(body)
			if err != nil {
				sc.end()
				return
			}
			sc.inflight.Add(1)
			ctx, cancel, running := sc.running.start(context.Background(), id, deadline)
			if running > 1 || sc.fr.r.Buffered() > 0 {
				workers.run(func() { sc.run(ctx, cancel, id, req) })
				continue
			}
			sc.mu.Lock()
			sc.inline = true
			epoch := sc.epoch
			sc.mu.Unlock()
			sc.follow.Reset(followerDelay)
			sc.run(ctx, cancel, id, req)
			sc.mu.Lock()
			if sc.epoch != epoch {
				// Another goroutine reads now; the timer is its reader's.
				sc.mu.Unlock()
				return
			}
			sc.inline = false
			sc.follow.Stop()
			sc.mu.Unlock()
		default:
			sc.end()
			return
		}
	}
}

// handOff gives the reading to a worker while the reader runs a long call.
// A timer that fires late may hand over the reader's next call early, which
// costs only the wake-up inline running saves.
func (sc *servedConn) handOff() {
	sc.mu.Lock()
	if !sc.inline {
		sc.mu.Unlock()
		return
	}
	sc.inline = false
	sc.epoch++
	sc.mu.Unlock()
	workers.run(sc.read)
}

// run runs one call and writes its result, unless the hub cancelled the call
// (a cancel frame, or the connection's end): nobody waits for it then, and
// answers no one reads could fill the socket.
func (sc *servedConn) run(ctx context.Context, cancel context.CancelFunc, id uint64, req *InvokeRequest) {
	resp := sc.invoke(ctx, req)
	sc.running.done(id)
	cancelled := ctx.Err() == context.Canceled
	cancel()
	if !cancelled {
		sc.answer(id, resp)
	}
	sc.inflight.Add(-1)
}

// end closes the connection and cancels its running calls.
func (sc *servedConn) end() {
	sc.conn.Close()
	sc.running.cancelAll()
}

// answer writes call id's result: the payload as it is, or the error. A
// failed write means the connection is gone or the hub froze: the
// connection is closed, and the hub fails the call.
func (sc *servedConn) answer(id uint64, resp *InvokeResponse) {
	bp := getBuf()
	b := appendResult((*bp)[:0], id, resp)
	if err := sc.w.send(b); err != nil {
		sc.conn.Close()
	}
	*bp = b
	putBuf(bp)
}

// appendResult appends call id's result frame to b: the payload as it is, or
// the error; an answer too large for a frame becomes an error saying so.
func appendResult(b []byte, id uint64, resp *InvokeResponse) []byte {
	e := resp.GetError()
	if e == nil && len(resp.GetPayload()) > MaxMessageSize {
		e = &Error{Code: "internal", Source: "connector",
			Message: fmt.Sprintf("the connector's answer of %d bytes exceeds the protocol's limit of %d bytes", len(resp.GetPayload()), MaxMessageSize)}
	}
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	if e == nil {
		b = append(b, resp.GetPayload()...)
		putHeader(b[start:], frameResult, id, len(b)-start-frameHeaderSize)
		return b
	}
	b, err := proto.MarshalOptions{}.MarshalAppend(b, e)
	if err != nil {
		// An Error holds strings that failed UTF-8 validation: send what
		// cannot fail instead.
		b, _ = proto.MarshalOptions{}.MarshalAppend(b[:start+frameHeaderSize], &Error{Code: e.GetCode(), Source: e.GetSource(), Message: "the connector's error could not be encoded"})
	}
	putHeader(b[start:], frameError, id, len(b)-start-frameHeaderSize)
	return b
}
