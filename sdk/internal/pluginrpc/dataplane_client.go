package pluginrpc

import (
	"bufio"
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

// writeStall bounds how long a frame's write may wait for a peer that has
// stopped reading; a call's own deadline bounds it sooner. A write that
// stalls that long means the peer is frozen, and its connection is closed.
const writeStall = 10 * time.Second

// readBuffer is the size of each side's read buffer on a data-plane
// connection: most frames fit, so one read syscall brings a whole frame.
const readBuffer = 64 << 10

// maxIdleConns is how many unused connections a DataClient keeps open for the
// next calls; more are closed as their calls end.
const maxIdleConns = 64

// DataClient is the hub's side of protocol version 3's data plane. Each call
// holds a connection of its own for its duration, like an HTTP/1.1 client:
// it writes its call frame and reads its result frame itself, so no goroutine
// of the hub's stands between the socket and the caller, and the only wake-up
// on the way back is the caller's own. Connections are dialled as
// concurrency needs them and kept for later calls. A call whose context ends
// first closes its connection, which cancels it in the connector.
//
// It is safe for concurrent use and has the same contract as Mux.Invoke.
type DataClient struct {
	path   string
	nextID atomic.Uint64

	mu     sync.Mutex
	idle   []*dataConn
	open   map[*dataConn]struct{}
	closed bool
}

// NewDataClient returns a client of the data plane at the Unix socket path;
// it dials nothing yet.
func NewDataClient(path string) *DataClient {
	return &DataClient{path: path, open: make(map[*dataConn]struct{})}
}

// dataConn is one connection, held by one call at a time.
type dataConn struct {
	conn net.Conn
	r    *bufio.Reader
	hdr  [frameHeaderSize]byte
	buf  []byte // the last frame written, reused for the next
}

// Connect dials one connection and keeps it for the first call, so a
// connector whose data plane cannot be reached is found at start rather than
// on a call.
func (c *DataClient) Connect(ctx context.Context) error {
	dc, err := c.get(ctx)
	if err != nil {
		return err
	}
	c.put(dc)
	return nil
}

// Invoke runs req in the connector and returns its response. When ctx ends
// first, Invoke closes the call's connection, which cancels the call in the
// connector, and returns ctx's error as it is; when the connection breaks, the
// error is a *StreamError. The connector's context carries ctx's deadline.
func (c *DataClient) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error) {
	dc, err := c.get(ctx)
	if err != nil {
		return nil, err
	}
	id := c.nextID.Add(1)
	deadline, hasDeadline := ctx.Deadline()
	var dl int64
	if hasDeadline {
		dl = deadline.UnixNano()
	}
	frame, err := appendCall(dc.buf[:0], id, dl, req)
	if err != nil {
		c.put(dc)
		return nil, err
	}
	frame = append(frame, req.Payload...)
	if cap(frame) <= maxPooledBuf {
		dc.buf = frame
	} else {
		dc.buf = nil
	}
	if err := dc.write(deadline, hasDeadline, frame); err != nil {
		c.discard(dc)
		return nil, c.callError(ctx, err)
	}

	// Read the result with the call's deadline; a cancellation cuts the read
	// short through the same deadline.
	if err := dc.conn.SetReadDeadline(deadline); err != nil { // zero: none
		c.discard(dc)
		return nil, &StreamError{Err: err}
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = dc.conn.SetReadDeadline(aLongTimeAgo) })
	}
	kind, rid, body, err := readFrame(dc.r, &dc.hdr)
	if stop != nil && !stop() {
		// The cancellation ran, or runs now, and may cut a later call's
		// read short: this connection is not used again.
		c.discard(dc)
		if err == nil {
			err = ctx.Err()
		}
		return nil, c.callError(ctx, err)
	}
	if err != nil {
		c.discard(dc)
		return nil, c.callError(ctx, err)
	}
	if rid != id {
		c.discard(dc)
		return nil, &StreamError{Err: fmt.Errorf("%w: the answer to call %d came for call %d", errProtocol, id, rid)}
	}
	switch kind {
	case frameResult:
		c.put(dc)
		return &InvokeResponse{Payload: body}, nil
	case frameError:
		e := &Error{}
		if err := proto.Unmarshal(body, e); err != nil {
			c.discard(dc)
			return nil, &StreamError{Err: fmt.Errorf("%w: error frame: %v", errProtocol, err)}
		}
		c.put(dc)
		return &InvokeResponse{Error: e}, nil
	default:
		c.discard(dc)
		return nil, &StreamError{Err: fmt.Errorf("%w: frame kind %d from the connector", errProtocol, kind)}
	}
}

// aLongTimeAgo is a deadline that has passed: setting it ends a read at once.
var aLongTimeAgo = time.Unix(1, 0)

// callError turns a failed read or write into what Invoke returns: ctx's own
// error when it ended (a deadline the connection saw first counts as ctx's),
// else a *StreamError.
func (c *DataClient) callError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return &StreamError{Err: err}
}

// write sends one whole frame, waiting no longer than the call's deadline or
// writeStall for a peer that does not read.
func (dc *dataConn) write(deadline time.Time, hasDeadline bool, frame []byte) error {
	limit := time.Now().Add(writeStall)
	if hasDeadline && deadline.Before(limit) {
		limit = deadline
	}
	if err := dc.conn.SetWriteDeadline(limit); err != nil {
		return err
	}
	_, err := dc.conn.Write(frame)
	return err
}

// get returns an idle connection, or dials one.
func (c *DataClient) get(ctx context.Context) (*dataConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, &StreamError{Err: ErrMuxClosed}
	}
	if n := len(c.idle); n > 0 {
		dc := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return dc, nil
	}
	c.mu.Unlock()

	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &StreamError{Err: fmt.Errorf("dialling the connector's data plane: %w", err)}
	}
	dc := &dataConn{conn: conn, r: bufio.NewReaderSize(conn, readBuffer)}
	dl, ok := ctx.Deadline()
	if err := dc.write(dl, ok, dataMagic[:]); err != nil {
		conn.Close()
		return nil, &StreamError{Err: fmt.Errorf("opening the connector's data plane: %w", err)}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return nil, &StreamError{Err: ErrMuxClosed}
	}
	c.open[dc] = struct{}{}
	return dc, nil
}

// put keeps a connection whose call is over for the next one.
func (c *DataClient) put(dc *dataConn) {
	c.mu.Lock()
	if !c.closed && len(c.idle) < maxIdleConns {
		c.idle = append(c.idle, dc)
		c.mu.Unlock()
		return
	}
	delete(c.open, dc)
	c.mu.Unlock()
	dc.conn.Close()
}

// discard closes a connection that is not to be used again.
func (c *DataClient) discard(dc *dataConn) {
	c.mu.Lock()
	delete(c.open, dc)
	c.mu.Unlock()
	dc.conn.Close()
}

// Close closes every connection, failing the calls on them, and makes later
// calls fail with ErrMuxClosed.
func (c *DataClient) Close() {
	c.mu.Lock()
	c.closed = true
	open := c.open
	c.open = map[*dataConn]struct{}{}
	c.idle = nil
	c.mu.Unlock()
	for dc := range open {
		dc.conn.Close()
	}
}
