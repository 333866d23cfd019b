package pluginrpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
)

// ErrMuxClosed is the cause of a StreamError after Mux.Close.
var ErrMuxClosed = errors.New("call stream closed by the hub")

// StreamError reports that a call's stream broke before its result arrived.
// The connector may or may not have run the call.
type StreamError struct {
	// Err is why the stream broke: the gRPC status of the stream, io.EOF when
	// the connector ended it, or ErrMuxClosed.
	Err error
}

// Error implements error.
func (e *StreamError) Error() string { return "call stream broke: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *StreamError) Unwrap() error { return e.Err }

// Mux is the hub's side of protocol version 2: it multiplexes concurrent calls
// over one CallStream stream, opening it on first use and again after it
// breaks. It is safe for concurrent use.
type Mux struct {
	client CallStreamClient
	nextID atomic.Uint64

	mu     sync.Mutex
	cur    *muxStream
	closed bool
}

// NewMux returns a Mux over client; it opens no stream yet.
func NewMux(client CallStreamClient) *Mux { return &Mux{client: client} }

// muxStream is one open stream and the calls waiting for results on it.
type muxStream struct {
	stream CallStream_CallsClient
	cancel context.CancelFunc
	sendMu sync.Mutex

	mu      sync.Mutex
	pending map[uint64]chan *InvokeResponse
	err     error         // set, under mu, before dead is closed
	dead    chan struct{} // closed when the stream broke
}

// Invoke runs req in the connector and returns its response; req must be
// smaller than MaxMessageSize. When ctx ends
// first, Invoke tells the connector to cancel the call and returns ctx's error
// as it is; when the stream breaks, the error is a *StreamError. The
// connector's context carries ctx's deadline. A send held up by flow control
// (4 MiB unread by a frozen connector) waits without regard to ctx.
func (m *Mux) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error) {
	s, err := m.stream(ctx)
	if err != nil {
		return nil, err
	}
	id := m.nextID.Add(1)
	ch := make(chan *InvokeResponse, 1)
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, &StreamError{Err: err}
	}
	s.pending[id] = ch
	s.mu.Unlock()

	frame := &CallFrame{Id: id, Invoke: req}
	if dl, ok := ctx.Deadline(); ok {
		frame.DeadlineUnixNano = dl.UnixNano()
	}
	// A failed send means a broken stream, whose cause the receiver reports:
	// wait for it below.
	_ = s.send(frame)

	select {
	case resp := <-ch:
		return resp, nil
	case <-s.dead:
		select {
		case resp := <-ch: // answered just before the stream broke
			return resp, nil
		default:
		}
		return nil, &StreamError{Err: s.err}
	case <-ctx.Done():
		s.mu.Lock()
		_, running := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if running {
			_ = s.send(&CallFrame{Id: id, Cancel: true})
		}
		return nil, ctx.Err()
	}
}

// stream returns the open stream, opening one when there is none.
func (m *Mux) stream(ctx context.Context) (*muxStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, &StreamError{Err: ErrMuxClosed}
	}
	if m.cur != nil {
		return m.cur, nil
	}
	// The stream outlives the call that opens it: it keeps ctx's values but
	// neither its deadline nor its cancellation.
	// Opening it, though, must not outlast ctx.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	stream, err := m.client.Calls(sctx)
	if !stop() {
		cancel()
		return nil, ctx.Err()
	}
	if err != nil {
		cancel()
		return nil, &StreamError{Err: err}
	}
	s := &muxStream{stream: stream, cancel: cancel, pending: make(map[uint64]chan *InvokeResponse), dead: make(chan struct{})}
	m.cur = s
	go m.receive(s)
	return s, nil
}

// receive hands results to their callers until the stream breaks, then fails
// every pending call and forgets the stream, so the next call opens another.
func (m *Mux) receive(s *muxStream) {
	for {
		f, err := s.stream.Recv()
		if err != nil {
			m.fail(s, err)
			return
		}
		s.mu.Lock()
		ch := s.pending[f.GetId()]
		delete(s.pending, f.GetId())
		s.mu.Unlock()
		if ch != nil {
			ch <- f.GetResponse()
		}
	}
}

// fail marks s broken with err and wakes its callers.
func (m *Mux) fail(s *muxStream, err error) {
	m.mu.Lock()
	if m.cur == s {
		m.cur = nil
	}
	m.mu.Unlock()
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		s.pending = nil
		close(s.dead)
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *muxStream) send(f *CallFrame) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	return s.stream.Send(f)
}

// Close breaks the open stream, failing its pending calls, and makes later
// calls fail with ErrMuxClosed.
func (m *Mux) Close() {
	m.mu.Lock()
	m.closed = true
	s := m.cur
	m.mu.Unlock()
	if s != nil {
		m.fail(s, ErrMuxClosed)
	}
}

// ServeCalls serves one CallStream stream in a connector process until the hub
// ends it. Each call runs on a pooled goroutine, with a context that carries
// the call's deadline and ends when the hub cancels the call or the stream
// ends. inflight counts the calls from their arrival until their result is
// handed to gRPC, so a draining process waits for exactly those.
func ServeCalls(stream CallStream_CallsServer, invoke func(context.Context, *InvokeRequest) *InvokeResponse, inflight *atomic.Int64) error {
	sc := &servedStream{stream: stream}
	base := stream.Context()
	defer sc.running.cancelAll()
	for {
		f, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		id := f.GetId()
		if f.GetCancel() {
			sc.running.cancel(id)
			continue
		}
		inflight.Add(1)
		req := f.GetInvoke()
		if req == nil {
			sc.answer(id, &InvokeResponse{Error: &Error{Code: "internal", Source: "hub", NotSent: true, Message: fmt.Sprintf("call frame %d carries neither a call nor a cancellation", id)}}, inflight)
			continue
		}
		ctx, cancel, _ := sc.running.start(base, id, f.GetDeadlineUnixNano())
		workers.run(func() {
			resp := invoke(ctx, req)
			sc.running.done(id)
			cancel()
			sc.answer(id, resp, inflight)
		})
	}
}

// servedStream is the connector's state of one stream.
type servedStream struct {
	stream  CallStream_CallsServer
	sendMu  sync.Mutex
	running runningCalls
}

// runningCalls are the calls a stream or a data-plane connection runs, by
// id, with what cancels each.
type runningCalls struct {
	mu sync.Mutex
	m  map[uint64]context.CancelFunc
}

// start returns call id's context, which carries its deadline (Unix
// nanoseconds, 0 for none) and ends when the call is cancelled or base ends,
// and how many calls run now, this one included.
func (r *runningCalls) start(base context.Context, id uint64, deadline int64) (context.Context, context.CancelFunc, int) {
	ctx, cancel := context.WithCancel(base)
	if deadline != 0 {
		ctx, cancel = context.WithDeadline(base, time.Unix(0, deadline))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[uint64]context.CancelFunc)
	}
	r.m[id] = cancel
	return ctx, cancel, len(r.m)
}

// done forgets call id, which has ended.
func (r *runningCalls) done(id uint64) {
	r.mu.Lock()
	delete(r.m, id)
	r.mu.Unlock()
}

// cancel cancels call id if it still runs.
func (r *runningCalls) cancel(id uint64) {
	r.mu.Lock()
	cancel := r.m[id]
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancelAll cancels every call still running.
func (r *runningCalls) cancelAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cancel := range r.m {
		cancel()
	}
}

// answer sends call id's result, then counts the call out. A failed send
// means the stream ended; the hub has failed the call already.
func (s *servedStream) answer(id uint64, resp *InvokeResponse, inflight *atomic.Int64) {
	frame := fitFrame(&ResultFrame{Id: id, Response: resp}, MaxMessageSize)
	s.sendMu.Lock()
	_ = s.stream.Send(frame)
	s.sendMu.Unlock()
	inflight.Add(-1)
}

// fitFrame returns f, or when f is larger than limit an error answer in its
// place: an oversized message would break the stream every call shares.
func fitFrame(f *ResultFrame, limit int) *ResultFrame {
	if n := proto.Size(f); n > limit {
		return &ResultFrame{Id: f.GetId(), Response: &InvokeResponse{Error: &Error{
			Code: "internal", Source: "connector",
			Message: fmt.Sprintf("the connector's answer of %d bytes exceeds the protocol's limit of %d bytes", n, limit),
		}}}
	}
	return f
}

// workerIdle is how long a pooled goroutine waits for more work.
const workerIdle = 30 * time.Second

// workerPool runs functions on goroutines it keeps for a while after they
// finish: a goroutine's stack, grown once by a call's JSON decoding, then
// serves later calls without growing again.
type workerPool struct {
	work chan func()
}

var workers = &workerPool{work: make(chan func())}

// run runs f on an idle worker, or on a new one when all are busy.
func (p *workerPool) run(f func()) {
	select {
	case p.work <- f:
	default:
		go p.worker(f)
	}
}

func (p *workerPool) worker(f func()) {
	f()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case f := <-p.work:
			f()
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		}
	}
}
