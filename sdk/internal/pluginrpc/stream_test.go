package pluginrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// testServer serves both services in this process over loopback TCP; invoke
// decides every call.
type testServer struct {
	UnimplementedConnectorServer
	UnimplementedCallStreamServer
	invoke   func(context.Context, *InvokeRequest) *InvokeResponse
	inflight atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func (s *testServer) Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error) {
	return s.invoke(ctx, req), nil
}

func (s *testServer) Calls(stream CallStream_CallsServer) error {
	return ServeCalls(stream, s.invoke, &s.inflight)
}

// breakConns closes the server's side of every connection so far.
func (s *testServer) breakConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

// recordingListener remembers accepted connections, so a test can break them.
type recordingListener struct {
	net.Listener
	s *testServer
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns = append(l.s.conns, c)
		l.s.mu.Unlock()
	}
	return c, err
}

// serve starts a server and returns a client connection to it.
func serve(t testing.TB, invoke func(context.Context, *InvokeRequest) *InvokeResponse) (*testServer, *grpc.ClientConn) {
	t.Helper()
	ts := &testServer{invoke: invoke}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(ServerOptions()...)
	RegisterConnectorServer(srv, ts)
	RegisterCallStreamServer(srv, ts)
	go func() { _ = srv.Serve(recordingListener{l, ts}) }()
	conn, err := grpc.NewClient("passthrough:///"+l.Addr().String(), append(DialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return ts, conn
}

// echo answers with the payload, after the pause the operation names ("sleep:10ms").
func echo(ctx context.Context, req *InvokeRequest) *InvokeResponse {
	if d, err := time.ParseDuration(req.GetOperation()); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return &InvokeResponse{Error: &Error{Code: "timeout", Message: ctx.Err().Error()}}
		}
	}
	return &InvokeResponse{Payload: req.GetPayload()}
}

func TestMuxMatchesResultsToCalls(t *testing.T) {
	_, conn := serve(t, echo)
	m := NewMux(NewCallStreamClient(conn))
	defer m.Close()
	callsOutOfOrder(t, m.Invoke)
}

// callsOutOfOrder makes 40 concurrent calls through invoke, the later ones
// pausing less in the connector so that results come back out of order, and
// checks each gets its own answer.
func callsOutOfOrder(t *testing.T, invoke func(context.Context, *InvokeRequest) (*InvokeResponse, error)) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op := fmt.Sprintf("%dms", 40-i)
			want := []byte(strconv.Itoa(i))
			resp, err := invoke(context.Background(), &InvokeRequest{Operation: op, Payload: want})
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(resp.GetPayload(), want) {
				t.Errorf("call %d got %q", i, resp.GetPayload())
			}
		}()
	}
	wg.Wait()
}

func TestMuxCarriesTheAbsoluteDeadline(t *testing.T) {
	got := make(chan time.Time, 1)
	_, conn := serve(t, func(ctx context.Context, req *InvokeRequest) *InvokeResponse {
		dl, _ := ctx.Deadline()
		got <- dl
		return &InvokeResponse{}
	})
	m := NewMux(NewCallStreamClient(conn))
	defer m.Close()
	want := time.Now().Add(time.Hour)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	if _, err := m.Invoke(ctx, &InvokeRequest{}); err != nil {
		t.Fatal(err)
	}
	if dl := <-got; !dl.Equal(want.Round(0)) {
		t.Fatalf("connector's deadline %v, hub's %v", dl, want)
	}

	if _, err := m.Invoke(context.Background(), &InvokeRequest{}); err != nil {
		t.Fatal(err)
	}
	if dl := <-got; !dl.IsZero() {
		t.Fatalf("call without a deadline got %v", dl)
	}
}

func TestMuxCancellationReachesTheConnector(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 1)
	ts, conn := serve(t, func(ctx context.Context, req *InvokeRequest) *InvokeResponse {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return &InvokeResponse{}
	})
	m := NewMux(NewCallStreamClient(conn))
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-started
		if n := ts.inflight.Load(); n != 1 {
			t.Errorf("%d calls in flight, want 1", n)
		}
		cancel()
	}()
	if _, err := m.Invoke(ctx, &InvokeRequest{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("connector's context ended with %v", err)
	}
	// The connector still answers the cancelled call, which counts it out.
	for ts.inflight.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
}

func TestBrokenStreamFailsPendingCallsAndReopens(t *testing.T) {
	ts, conn := serve(t, echo)
	m := NewMux(NewCallStreamClient(conn))
	defer m.Close()
	if _, err := m.Invoke(context.Background(), &InvokeRequest{}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			_, err := m.Invoke(context.Background(), &InvokeRequest{Operation: "1h"})
			errs <- err
		}()
	}
	for ts.inflight.Load() != 5 {
		time.Sleep(time.Millisecond)
	}
	ts.breakConns()
	for range 5 {
		var se *StreamError
		if err := <-errs; !errors.As(err, &se) {
			t.Fatalf("pending call got %v, want a *StreamError", err)
		}
	}
	// The next call opens a new stream on the reconnected connection.
	resp, err := m.Invoke(context.Background(), &InvokeRequest{Payload: []byte("again")})
	if err != nil || string(resp.GetPayload()) != "again" {
		t.Fatalf("call after the break: %v, %v", resp, err)
	}
}

func TestMuxClose(t *testing.T) {
	_, conn := serve(t, echo)
	m := NewMux(NewCallStreamClient(conn))
	errs := make(chan error, 1)
	go func() {
		_, err := m.Invoke(context.Background(), &InvokeRequest{Operation: "1h"})
		errs <- err
	}()
	// Close may come before or after the call is sent: both fail it.
	time.Sleep(10 * time.Millisecond)
	m.Close()
	if err := <-errs; !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("pending call got %v", err)
	}
	if _, err := m.Invoke(context.Background(), &InvokeRequest{}); !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("call after Close got %v", err)
	}
}

func TestMalformedFrameGetsAClassifiedAnswer(t *testing.T) {
	ts, conn := serve(t, echo)
	stream, err := NewCallStreamClient(conn).Calls(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&CallFrame{Id: 7}); err != nil {
		t.Fatal(err)
	}
	f, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	e := f.GetResponse().GetError()
	if f.GetId() != 7 || e.GetCode() != "internal" || e.GetSource() != "hub" || !e.GetNotSent() {
		t.Fatalf("answer %v", f)
	}
	// A cancellation of an unknown call is ignored; the stream goes on.
	if err := stream.Send(&CallFrame{Id: 99, Cancel: true}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&CallFrame{Id: 8, Invoke: &InvokeRequest{Payload: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if f, err := stream.Recv(); err != nil || f.GetId() != 8 || string(f.GetResponse().GetPayload()) != "x" {
		t.Fatalf("answer %v, %v", f, err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if n := ts.inflight.Load(); n != 0 {
		t.Fatalf("%d calls in flight after all were answered", n)
	}
}

func TestOversizedAnswerIsReplacedByAnError(t *testing.T) {
	small := &ResultFrame{Id: 3, Response: &InvokeResponse{Payload: []byte("ok")}}
	if got := fitFrame(small, 100); got != small {
		t.Fatalf("small frame replaced by %v", got)
	}
	got := fitFrame(&ResultFrame{Id: 4, Response: &InvokeResponse{Payload: bytes.Repeat([]byte("x"), 200)}}, 100)
	e := got.GetResponse().GetError()
	if got.GetId() != 4 || e.GetCode() != "internal" || e.GetSource() != "connector" || len(got.GetResponse().GetPayload()) != 0 {
		t.Fatalf("oversized frame became %v", got)
	}
}

// BenchmarkTransport measures the protocol alone, both ends in this process on
// loopback TCP, the connector echoing a 1 KB payload: a unary Invoke per call
// (version 1) beside the multiplexed stream (version 2).
func BenchmarkTransport(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1<<10)
	req := &InvokeRequest{Operation: "create_shipment", Payload: payload, Account: &Account{Id: "acc_1", Credentials: map[string]string{"api_key": "k"}}}
	_, conn := serve(b, echo)
	b.Run("v1-unary", func(b *testing.B) {
		c := NewConnectorClient(conn)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Invoke(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v2-stream", func(b *testing.B) {
		m := NewMux(NewCallStreamClient(conn))
		defer m.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Invoke(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
