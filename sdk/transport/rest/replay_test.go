package rest

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// dropSecond is a provider on loopback that answers the first request on each
// connection (keeping the connection alive) and reads every later one in full,
// then closes the connection without answering: what a provider (or a load
// balancer in front of it) does when it closes a kept-alive connection just as a
// request arrives, possibly after acting on it.
type dropSecond struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	// seen counts the requests read, by method and path.
	seen map[string]int
}

func newDropSecond(t *testing.T) *dropSecond {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dropSecond{ln: ln, seen: map[string]int{}}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			d.mu.Lock()
			d.conns = append(d.conns, c)
			d.mu.Unlock()
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				d.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		d.mu.Lock()
		for _, c := range d.conns {
			c.Close() // the client keeps idle connections open
		}
		d.mu.Unlock()
		d.wg.Wait()
	})
	return d
}

func (d *dropSecond) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		d.mu.Lock()
		d.seen[req.Method+" "+req.URL.Path]++
		d.mu.Unlock()
		if n > 1 {
			return // read, perhaps acted on, never answered
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	}
}

func (d *dropSecond) count(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[key]
}

// TestNoTransportReplayOfCreates: net/http re-sends a request whose kept-alive
// connection closes before any answer when it deems the request replayable,
// which includes a POST or PATCH carrying an Idempotency-Key or
// X-Idempotency-Key header whose body can be rewound. The provider may have acted
// on the first copy, and a provider that ignores the header would book twice. The
// Client never lets the transport do that: the provider sees the request once
// and the caller gets a failure that is not NotSent (it may have been acted on),
// for the engine to settle. A GET is still re-sent by net/http, which is safe.
func TestNoTransportReplayOfCreates(t *testing.T) {
	for _, tc := range []struct {
		name, method, header string
		body                 []byte
	}{
		{"post with a body and Idempotency-Key", http.MethodPost, "Idempotency-Key", []byte(`{"reference":"ORD-1"}`)},
		{"post without a body and X-Idempotency-Key", http.MethodPost, "X-Idempotency-Key", nil},
		{"patch with Idempotency-Key", http.MethodPatch, "Idempotency-Key", []byte(`{"status":"booked"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newDropSecond(t)
			base := "http://" + p.ln.Addr().String()
			c := newClient(t, base, func(c *Config) { c.HTTP = NewHTTPClient() })
			ctx := context.Background()
			// The first request opens the connection the create then finds closed.
			if _, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "/warm-up"}); err != nil {
				t.Fatalf("warm-up: %v", err)
			}
			_, err := c.Do(ctx, &Request{Method: tc.method, Path: "/create", Body: tc.body, ContentType: "application/json",
				Header: http.Header{tc.header: {"key-1"}}})
			e := sdktest.Error(t, err)
			if n := p.count(tc.method + " /create"); n != 1 {
				t.Fatalf("the provider received the %s %d times, want once (error %v)", tc.method, n, e)
			}
			if e.NotSent || e.Code != sdk.CodeCarrierUnavailable || e.Source != sdk.SourceConnector {
				t.Fatalf("error = %+v, want carrier_unavailable from the connector, not NotSent", e)
			}
			if !strings.Contains(e.Message, "/create") {
				t.Errorf("message %q does not name the path", e.Message)
			}
		})
	}

	t.Run("get is re-sent", func(t *testing.T) {
		p := newDropSecond(t)
		c := newClient(t, "http://"+p.ln.Addr().String(), func(c *Config) { c.HTTP = NewHTTPClient() })
		ctx := context.Background()
		if _, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "/warm-up"}); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
		resp, err := c.Do(ctx, &Request{Method: http.MethodGet, Path: "/track"})
		if err != nil || resp.Status != http.StatusOK || p.count("GET /track") != 2 {
			t.Fatalf("GET after a dropped connection: %v, %d requests seen; want net/http's replay to answer it", err, p.count("GET /track"))
		}
	})
}
