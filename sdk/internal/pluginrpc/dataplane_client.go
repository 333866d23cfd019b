package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
)

// writeStall bounds how long a write may wait for a peer that has stopped
// reading. A write that stalls that long means the peer is frozen, and its
// connection is closed. (A variable for tests.)
var writeStall = 10 * time.Second

// readBuffer is the size of each side's read buffer on a data-plane
// connection: under load one read brings many frames.
const readBuffer = 64 << 10

// DataClient is the hub's side of protocol version 3's data plane: it
// multiplexes concurrent calls over one connection to a connector's socket,
// dialling on first use and again after the connection broke. It has no
// goroutine of its own: the callers write their frames (combined under load)
// and one waiting caller at a time reads for all of them (see dataplane.go).
// It is safe for concurrent use and has the same contract as Mux.Invoke.
type DataClient struct {
	path   string
	nextID atomic.Uint64

	mu     sync.Mutex
	cur    *dataConn
	closed bool
}

// NewDataClient returns a client of the data plane at the Unix socket path;
// it dials nothing yet.
func NewDataClient(path string) *DataClient { return &DataClient{path: path} }

// dataConn is one connection and the calls waiting for results on it.
type dataConn struct {
	conn net.Conn
	w    frameWriter
	fr   *frameReader // used by the reading caller only

	mu      sync.Mutex
	pending map[uint64]*dataCall
	reading bool          // a caller reads for everyone
	err     error         // set, under mu, before dead is closed
	dead    chan struct{} // closed when the connection broke
}

// dataCall is one waiting call: it receives its result, or readNext, which
// makes it the reader. Pooled.
type dataCall struct{ ch chan *InvokeResponse }

// readNext, sent to a waiting call, passes the reading to it.
var readNext = &InvokeResponse{}

var dataCalls = sync.Pool{New: func() any { return &dataCall{ch: make(chan *InvokeResponse, 1)} }}

// Connect dials the socket unless a connection is open, so a connector whose
// data plane cannot be reached is found at start rather than on a call.
func (c *DataClient) Connect(ctx context.Context) error {
	_, err := c.conn(ctx)
	return err
}

// Invoke runs req in the connector and returns its response. When ctx ends
// first, Invoke tells the connector to cancel the call and returns ctx's error
// as it is; when the connection breaks, the error is a *StreamError. The
// connector's context carries ctx's deadline.
func (c *DataClient) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error) {
	dc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	id := c.nextID.Add(1)
	deadline, _ := ctx.Deadline()
	var dl int64
	if !deadline.IsZero() {
		dl = deadline.UnixNano()
	}
	bp := getBuf()
	frame, err := appendCall(*bp, id, dl, req)
	if err != nil {
		putBuf(bp)
		return nil, err
	}
	frame = append(frame, req.Payload...)

	call := dataCalls.Get().(*dataCall)
	dc.mu.Lock()
	if dc.err != nil {
		err := dc.err
		dc.mu.Unlock()
		dataCalls.Put(call)
		putBuf(bp)
		return nil, &StreamError{Err: err}
	}
	dc.pending[id] = call
	dc.mu.Unlock()
	werr := dc.w.send(frame)
	*bp = frame
	putBuf(bp)
	if werr != nil {
		// The connection is unusable now (a frame may be half written); the
		// failure reaches every call on it. This one's own deadline, when it
		// passed, is the reason it gets.
		c.fail(dc, werr)
		if errors.Is(werr, os.ErrDeadlineExceeded) && (ctx.Err() != nil || !deadline.IsZero() && !time.Now().Before(deadline)) {
			return nil, callError(ctx)
		}
	}

	for {
		// With no one reading, the call reads, unless its result has been
		// handed out already (it is no longer pending): then it is in the
		// channel, or about to be.
		dc.mu.Lock()
		if _, waiting := dc.pending[id]; waiting && dc.err == nil && !dc.reading {
			dc.reading = true
			dc.mu.Unlock()
			return c.read(ctx, dc, id, call)
		}
		dc.mu.Unlock()
		select {
		case resp := <-call.ch:
			if resp == readNext {
				return c.read(ctx, dc, id, call)
			}
			dataCalls.Put(call)
			return resp, nil
		case <-dc.dead:
			select {
			case resp := <-call.ch: // answered just before the connection broke
				if resp != readNext {
					dataCalls.Put(call)
					return resp, nil
				}
			default:
			}
			// The connection's last reader may still hand call a result: it is
			// not reused.
			return nil, &StreamError{Err: dc.err}
		case <-ctx.Done():
			c.abandon(dc, id, call, false)
			return nil, ctx.Err()
		}
	}
}

// read makes the caller of call id the connection's reader: it reads frames
// and hands results to their callers until its own comes, its ctx ends or the
// connection breaks, then passes the reading to another waiting call.
func (c *DataClient) read(ctx context.Context, dc *dataConn, id uint64, call *dataCall) (*InvokeResponse, error) {
	deadline, _ := ctx.Deadline()
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = dc.conn.SetReadDeadline(aLongTimeAgo) })
	}
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	if err := dc.conn.SetReadDeadline(deadline); err != nil { // zero: none
		c.fail(dc, err)
		return nil, &StreamError{Err: err}
	}
	for {
		kind, rid, body, err := dc.fr.next()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				c.fail(dc, err)
				return nil, &StreamError{Err: err}
			}
			if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
				c.abandon(dc, id, call, true)
				return nil, callError(ctx)
			}
			// A cancellation of an earlier reader cut this read short: go on.
			if err := dc.conn.SetReadDeadline(deadline); err != nil {
				c.fail(dc, err)
				return nil, &StreamError{Err: err}
			}
			continue
		}
		resp, err := decodeResult(kind, body)
		if err != nil {
			c.fail(dc, err)
			return nil, &StreamError{Err: err}
		}
		dc.mu.Lock()
		p := dc.pending[rid]
		delete(dc.pending, rid)
		if rid == id {
			dc.passReading()
			dc.mu.Unlock()
			dataCalls.Put(call)
			return resp, nil
		}
		dc.mu.Unlock()
		if p != nil {
			p.ch <- resp
		}
	}
}

// decodeResult turns a result or error frame into a response.
func decodeResult(kind byte, body []byte) (*InvokeResponse, error) {
	switch kind {
	case frameResult:
		return &InvokeResponse{Payload: body}, nil
	case frameError:
		e := &Error{}
		if err := proto.Unmarshal(body, e); err != nil {
			return nil, fmt.Errorf("%w: error frame: %v", errProtocol, err)
		}
		return &InvokeResponse{Error: e}, nil
	default:
		return nil, fmt.Errorf("%w: frame kind %d from the connector", errProtocol, kind)
	}
}

// passReading, under mu, gives the reading to a waiting call, or leaves the
// connection without a reader when none waits.
func (dc *dataConn) passReading() {
	dc.reading = false
	for _, p := range dc.pending {
		// Only the reader hands out results, so p's channel is empty.
		p.ch <- readNext
		dc.reading = true
		return
	}
}

// abandon ends call id's wait because its ctx ended: it tells the connector
// to cancel the call, and passes the reading on when the caller held it
// (reader, or a readNext waiting in its channel).
func (c *DataClient) abandon(dc *dataConn, id uint64, call *dataCall, reader bool) {
	dc.mu.Lock()
	_, waiting := dc.pending[id]
	delete(dc.pending, id)
	if waiting && !reader {
		select {
		case <-call.ch: // only readNext can be there while the call waits
			reader = true
		default:
		}
	}
	if reader {
		dc.passReading()
	}
	dc.mu.Unlock()
	if !waiting {
		// Answered meanwhile: the result is dropped, and may still be on its
		// way to call, which is therefore not reused.
		return
	}
	dataCalls.Put(call)
	var cancel [frameHeaderSize]byte
	putHeader(cancel[:], frameCancel, id, 0)
	if err := dc.w.send(cancel[:]); err != nil {
		c.fail(dc, err)
	}
}

// aLongTimeAgo is a deadline that has passed: setting it ends a read at once.
var aLongTimeAgo = time.Unix(1, 0)

// callError is what a call whose read ran past its deadline or cancellation
// returns: ctx's own error (a deadline the connection saw first counts as
// ctx's).
func callError(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

// conn returns the open connection, dialling one when there is none.
func (c *DataClient) conn(ctx context.Context) (*dataConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &StreamError{Err: ErrMuxClosed}
	}
	if c.cur != nil {
		return c.cur, nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &StreamError{Err: fmt.Errorf("dialling the connector's data plane: %w", err)}
	}
	dc := &dataConn{conn: conn, w: frameWriter{conn: conn}, fr: newFrameReader(conn),
		pending: make(map[uint64]*dataCall), dead: make(chan struct{})}
	if err := dc.w.send(dataMagic[:]); err != nil {
		conn.Close()
		return nil, &StreamError{Err: fmt.Errorf("opening the connector's data plane: %w", err)}
	}
	c.cur = dc
	return dc, nil
}

// fail marks dc broken with err, wakes its callers and closes it.
func (c *DataClient) fail(dc *dataConn, err error) {
	c.mu.Lock()
	if c.cur == dc {
		c.cur = nil
	}
	c.mu.Unlock()
	dc.mu.Lock()
	if dc.err == nil {
		dc.err = err
		dc.pending = nil
		close(dc.dead)
	}
	dc.mu.Unlock()
	dc.conn.Close()
}

// Close breaks the open connection, failing its pending calls, and makes
// later calls fail with ErrMuxClosed.
func (c *DataClient) Close() {
	c.mu.Lock()
	c.closed = true
	dc := c.cur
	c.mu.Unlock()
	if dc != nil {
		c.fail(dc, ErrMuxClosed)
	}
}
