package pluginrpc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// serveDataPlane serves invoke on a data-plane socket in a temporary
// directory and returns its path and the server's in-flight count.
func serveDataPlane(t *testing.T, invoke func(context.Context, *InvokeRequest) *InvokeResponse) (string, *atomic.Int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "calls.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	inflight := new(atomic.Int64)
	go func() { _ = ServeData(l, invoke, inflight) }()
	t.Cleanup(func() { l.Close() })
	return path, inflight
}

func newDataClient(t *testing.T, path string) *DataClient {
	t.Helper()
	c := NewDataClient(path)
	t.Cleanup(c.Close)
	return c
}

// waitZero waits until n is zero: the server has answered or cancelled every call.
func waitZero(t *testing.T, n *atomic.Int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); n.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still in flight", n.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCallHeaderIsTheProtobufEncoding(t *testing.T) {
	for _, req := range []*InvokeRequest{
		{},
		{Operation: "track"},
		{Operation: "create_shipment", IdempotencyKey: "k-1", RequestId: "req_1",
			Trace: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": ""},
			Account: &Account{Id: "acc_1", TenantId: "ten_1", Environment: "sandbox", BaseUrl: "https://example.test/ä",
				Credentials: map[string]string{"api_key": "s3cr3t", "": "empty key", "token": ""},
				Settings:    map[string]string{"client_code": "ACME"}}},
		{Account: &Account{}},
	} {
		got := &InvokeRequest{}
		if err := proto.Unmarshal(appendCallHeader(nil, req), got); err != nil {
			t.Fatalf("%v: %v", req, err)
		}
		if !proto.Equal(got, req) {
			t.Fatalf("decoded %v, want %v", got, req)
		}
	}
}

func TestCallFrameRoundTrip(t *testing.T) {
	req := &InvokeRequest{Operation: "track", Payload: []byte(`{"tracking_numbers":["1"]}`),
		Account: &Account{Id: "acc_1", Credentials: map[string]string{"api_key": "k"}}}
	frame, err := appendCall([]byte("before"), 7, 1234, req)
	if err != nil {
		t.Fatal(err)
	}
	frame = append(frame, req.Payload...)
	kind, id, body, err := newFrameReader(bytes.NewReader(frame[len("before"):])).next()
	if err != nil || kind != frameCall || id != 7 {
		t.Fatalf("frame kind %d id %d: %v", kind, id, err)
	}
	deadline, got, err := parseCall(body)
	if err != nil || deadline != 1234 || !proto.Equal(got, req) {
		t.Fatalf("parsed deadline %d, %v (%v), want %v", deadline, got, err, req)
	}
}

func TestDataClientMatchesResultsToCalls(t *testing.T) {
	path, inflight := serveDataPlane(t, echo)
	c := newDataClient(t, path)
	callsOutOfOrder(t, c.Invoke)
	waitZero(t, inflight)
	// One connection carried them all, and no caller is left reading it.
	c.mu.Lock()
	dc := c.cur
	c.mu.Unlock()
	if dc == nil {
		t.Fatal("no connection kept after the calls")
	}
	dc.mu.Lock()
	defer dc.mu.Unlock()
	if len(dc.pending) != 0 || dc.reading {
		t.Fatalf("after every call: %d pending, reading %v", len(dc.pending), dc.reading)
	}
}

// The caller that reads for the others may go (cancelled, or past its
// deadline): the reading passes to a call still waiting.
func TestDataClientReaderLeavingPassesTheReadingOn(t *testing.T) {
	for _, how := range []string{"cancelled", "deadline"} {
		t.Run(how, func(t *testing.T) {
			path, inflight := serveDataPlane(t, echo)
			c := newDataClient(t, path)
			var ctx context.Context
			var cancel context.CancelFunc
			if how == "cancelled" {
				ctx, cancel = context.WithCancel(context.Background())
			} else {
				ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
			}
			defer cancel()
			first := make(chan error, 1)
			go func() { _, err := c.Invoke(ctx, &InvokeRequest{Operation: "1h"}); first <- err }()
			// The first call waits alone, so it reads; then the others wait.
			for inflight.Load() != 1 {
				time.Sleep(time.Millisecond)
			}
			others := make(chan error, 5)
			for i := range 5 {
				go func() {
					want := strconv.Itoa(i)
					resp, err := c.Invoke(context.Background(), &InvokeRequest{Operation: "300ms", Payload: []byte(want)})
					if err == nil && string(resp.GetPayload()) != want {
						err = fmt.Errorf("call %d got %q", i, resp.GetPayload())
					}
					others <- err
				}()
			}
			for inflight.Load() != 6 {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-first; err != context.Canceled && err != context.DeadlineExceeded {
				t.Fatalf("the reader's call returned %v", err)
			}
			for range 5 {
				if err := <-others; err != nil {
					t.Fatal(err)
				}
			}
			waitZero(t, inflight)
		})
	}
}

func TestDataClientCarriesErrorsAndLargePayloads(t *testing.T) {
	path, _ := serveDataPlane(t, func(_ context.Context, req *InvokeRequest) *InvokeResponse {
		if req.GetOperation() == "fail" {
			return &InvokeResponse{Error: &Error{Code: "rate_limited", Source: "carrier", RetryAfterMs: 7000, CarrierCode: "E42", NotSent: true}}
		}
		return &InvokeResponse{Payload: req.GetPayload()}
	})
	c := newDataClient(t, path)
	resp, err := c.Invoke(context.Background(), &InvokeRequest{Operation: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Error{Code: "rate_limited", Source: "carrier", RetryAfterMs: 7000, CarrierCode: "E42", NotSent: true}
	if !proto.Equal(resp.GetError(), want) || resp.GetPayload() != nil {
		t.Fatalf("error answer %v", resp)
	}
	// Larger than the read buffer and the sockets' buffers, both ways.
	big := bytes.Repeat([]byte("0123456789"), 300_000)
	resp, err = c.Invoke(context.Background(), &InvokeRequest{Operation: "echo", Payload: big})
	if err != nil || !bytes.Equal(resp.GetPayload(), big) {
		t.Fatalf("3 MB echo: %d bytes, %v", len(resp.GetPayload()), err)
	}
	// An empty answer is an empty payload, not an error.
	resp, err = c.Invoke(context.Background(), &InvokeRequest{Operation: "echo"})
	if err != nil || resp.GetError() != nil || len(resp.GetPayload()) != 0 {
		t.Fatalf("empty echo: %v, %v", resp, err)
	}
}

func TestDataClientCancellationReachesTheConnector(t *testing.T) {
	cancelled := make(chan error, 1)
	path, inflight := serveDataPlane(t, func(ctx context.Context, req *InvokeRequest) *InvokeResponse {
		<-ctx.Done()
		cancelled <- ctx.Err()
		return &InvokeResponse{}
	})
	c := newDataClient(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Invoke(ctx, &InvokeRequest{Operation: "wait"}); done <- err }()
	for inflight.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("cancelled call returned %v", err)
	}
	if err := <-cancelled; err != context.Canceled {
		t.Fatalf("the connector's context ended with %v", err)
	}
	waitZero(t, inflight)
}

func TestDataClientDeadline(t *testing.T) {
	path, inflight := serveDataPlane(t, echo)
	c := newDataClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	resp, err := c.Invoke(ctx, &InvokeRequest{Operation: "1h"})
	// Either side may see the deadline first: the hub's read, or the
	// connector's context (echo then answers a timeout error).
	if err != context.DeadlineExceeded && resp.GetError().GetCode() != "timeout" {
		t.Fatalf("call past its deadline returned %v, %v", resp, err)
	}
	waitZero(t, inflight)
	if _, err := c.Invoke(context.Background(), &InvokeRequest{Operation: "echo"}); err != nil {
		t.Fatalf("call after a deadline: %v", err)
	}
}

// fakeConnector listens where a connector's data plane would and hands over
// the first connection the hub makes, to be driven by hand; it is closed when
// the test ends.
func fakeConnector(t *testing.T) (path string, accepted <-chan net.Conn) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "calls.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 1)
	go func() {
		conn, err := l.Accept()
		if err == nil {
			ch <- conn
		}
	}()
	t.Cleanup(func() {
		l.Close()
		select {
		case conn := <-ch:
			conn.Close()
		default:
		}
	})
	return path, ch
}

func TestDataClientFailsWhenTheConnectorGoes(t *testing.T) {
	path, accepted := fakeConnector(t)
	c := newDataClient(t, path)
	done := make(chan error, 1)
	go func() { _, err := c.Invoke(context.Background(), &InvokeRequest{Operation: "x"}); done <- err }()
	conn := <-accepted
	// Read the call, then hang up without answering.
	fr := newFrameReader(conn)
	if _, err := io.ReadFull(fr.r, make([]byte, len(dataMagic))); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := fr.next(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var se *StreamError
	if err := <-done; !errors.As(err, &se) {
		t.Fatalf("call on a closed connection returned %v, want a *StreamError", err)
	}
	c.Close()
	if _, err := c.Invoke(context.Background(), &InvokeRequest{}); !errors.As(err, &se) || !errors.Is(err, ErrMuxClosed) {
		t.Fatalf("call after Close returned %v", err)
	}
}

// A connector that stops reading (frozen) holds a write up for writeStall at
// most, however large the call; the call then ends with its deadline's error.
func TestDataClientWriteToAFrozenConnectorEndsAtTheDeadline(t *testing.T) {
	path, accepted := fakeConnector(t) // accepts and never reads
	stall := writeStall
	writeStall = 100 * time.Millisecond
	defer func() { writeStall = stall }()
	c := newDataClient(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Invoke(ctx, &InvokeRequest{Operation: "x", Payload: make([]byte, 8<<20)})
	if err != context.DeadlineExceeded {
		t.Fatalf("call to a frozen connector returned %v", err)
	}
	(<-accepted).Close()
}

// rawConn opens a data-plane connection by hand.
func rawConn(t *testing.T, path string) (net.Conn, *frameReader) {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write(dataMagic[:]); err != nil {
		t.Fatal(err)
	}
	return conn, newFrameReader(conn)
}

func writeCall(t *testing.T, conn net.Conn, id uint64, op string) {
	t.Helper()
	frame, err := appendCall(nil, id, 0, &InvokeRequest{Operation: op})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// The connector serves calls multiplexed on one connection: a later call is
// answered while an earlier one still runs, and a cancel frame ends a
// running call.
func TestServeDataMultiplexesAndCancels(t *testing.T) {
	path, inflight := serveDataPlane(t, echo)
	conn, r := rawConn(t, path)
	writeCall(t, conn, 1, "1h")
	for inflight.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	writeCall(t, conn, 2, "0s")
	kind, id, _, err := r.next()
	if err != nil || kind != frameResult || id != 2 {
		t.Fatalf("first answer: kind %d id %d %v, want call 2's result", kind, id, err)
	}
	var cancel [frameHeaderSize]byte
	putHeader(cancel[:], frameCancel, 1, 0)
	if _, err := conn.Write(cancel[:]); err != nil {
		t.Fatal(err)
	}
	// The cancelled call ends, unanswered: the next frame answers call 3.
	waitZero(t, inflight)
	writeCall(t, conn, 3, "0s")
	kind, id, _, err = r.next()
	if err != nil || kind != frameResult || id != 3 {
		t.Fatalf("after the cancellation: kind %d id %d %v, want call 3's result", kind, id, err)
	}
}

// A connection that breaks the rules is closed, and the calls it carried are
// cancelled; others are untouched.
func TestServeDataClosesAConnectionThatBreaksTheRules(t *testing.T) {
	path, inflight := serveDataPlane(t, echo)
	for name, frame := range map[string][]byte{
		"oversized frame": func() []byte {
			var h [frameHeaderSize]byte
			putHeader(h[:], frameCall, 1, MaxMessageSize+1)
			return h[:]
		}(),
		"unknown kind": func() []byte {
			var h [frameHeaderSize]byte
			putHeader(h[:], 9, 1, 0)
			return h[:]
		}(),
		"short call body": func() []byte {
			var h [frameHeaderSize + 3]byte
			putHeader(h[:], frameCall, 1, 3)
			return h[:]
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			conn, r := rawConn(t, path)
			writeCall(t, conn, 1, "1h")
			for inflight.Load() != 1 {
				time.Sleep(time.Millisecond)
			}
			if _, err := conn.Write(frame); err != nil {
				t.Fatal(err)
			}
			if _, err := r.r.ReadByte(); err != io.EOF {
				t.Fatalf("connection still open after %s: %v", name, err)
			}
			waitZero(t, inflight)
		})
	}
	t.Run("wrong opening", func(t *testing.T) {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(conn).ReadByte(); err != io.EOF {
			t.Fatalf("connection with a foreign opening still open: %v", err)
		}
	})
	c := newDataClient(t, path)
	if resp, err := c.Invoke(context.Background(), &InvokeRequest{Operation: "0s", Payload: []byte("ok")}); err != nil || string(resp.GetPayload()) != "ok" {
		t.Fatalf("a good connection after the bad ones: %v, %v", resp, err)
	}
}

// Many callers at once, with small and large payloads, quick calls and calls
// longer than followerDelay, and calls cancelled by short deadlines: every
// answer reaches its own caller, and no goroutine of either side reads a
// connection another reads (the race detector watches the buffers).
func TestDataPlaneUnderMixedLoad(t *testing.T) {
	path, inflight := serveDataPlane(t, echo)
	c := newDataClient(t, path)
	large := bytes.Repeat([]byte("x"), 100<<10)
	var wg sync.WaitGroup
	var answered, timedOut atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				payload := []byte(fmt.Sprintf("%d/%d", g, i))
				if i%5 == 0 {
					payload = append(append([]byte{}, large...), payload...)
				}
				op := "0s"
				if i%3 == 0 {
					op = "2ms"
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if i%7 == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Millisecond)
				}
				resp, err := c.Invoke(ctx, &InvokeRequest{Operation: op, Payload: payload})
				cancel()
				switch {
				case err == context.DeadlineExceeded || resp.GetError().GetCode() == "timeout":
					if i%7 != 0 {
						t.Errorf("call %d/%d without a deadline timed out: %v", g, i, err)
					}
					timedOut.Add(1)
				case err != nil:
					t.Errorf("call %d/%d: %v", g, i, err)
					return
				case !bytes.Equal(resp.GetPayload(), payload):
					t.Errorf("call %d/%d got %d bytes not its own", g, i, len(resp.GetPayload()))
					return
				default:
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	waitZero(t, inflight)
	if answered.Load() < 8*150*6/7-8 {
		t.Fatalf("%d answered, %d timed out", answered.Load(), timedOut.Load())
	}
}
