package loadgen

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// Request is one HTTP request of a workload.
type Request struct {
	// Kind labels the request in the report ("track", "create"); latencies are
	// also kept per kind.
	Kind string
	// Method is the HTTP method.
	Method string
	// Target is the request target: path and query, "/v1/...?a=b".
	Target string
	// Header holds extra headers; Host, Content-Length and User-Agent are set by
	// the generator.
	Header http.Header
	// Body is sent as is; empty means no body.
	Body []byte
}

// Workload makes the next request: its argument is the user (0 to N-1) in users
// mode and the request's sequence number in rate mode. It is called from many
// goroutines at once.
type Workload func(user int) Request

// encode writes r as an HTTP/1.1 request for host.
func (r Request) encode(buf []byte, host string) []byte {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	buf = append(buf, method...)
	buf = append(buf, ' ')
	buf = append(buf, r.Target...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\nUser-Agent: hub-bench-loadgen\r\n"...)
	for k, vs := range r.Header {
		for _, v := range vs {
			buf = append(buf, k...)
			buf = append(buf, ": "...)
			buf = append(buf, v...)
			buf = append(buf, "\r\n"...)
		}
	}
	if len(r.Body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		buf = append(buf, "Content-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(r.Body)), 10)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	return append(buf, r.Body...)
}

// Error kinds a request can end with, besides "status NNN" for a non-2xx answer.
const (
	// ErrConnect is a failure to open the connection.
	ErrConnect = "connect"
	// ErrTimeout is a request that got no full answer within the timeout.
	ErrTimeout = "timeout"
	// ErrIO is a connection that broke (reset, closed) while sending or reading.
	ErrIO = "io"
)

// statusKind names a non-2xx status as an error kind.
func statusKind(code int) string { return "status " + strconv.Itoa(code) }

// conn is one keep-alive client connection, dialled on first use and again
// after an error or a "Connection: close".
type conn struct {
	addr  string
	host  string
	open  *atomic.Int64 // connections open across the run
	peak  *atomic.Int64
	dials *atomic.Int64
	nc    net.Conn
	br    *bufio.Reader
	buf   []byte
}

func newConn(addr string, open, peak, dials *atomic.Int64) *conn {
	return &conn{addr: addr, host: addr, open: open, peak: peak, dials: dials}
}

func (c *conn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
		c.open.Add(-1)
	}
}

// do sends r and reads the whole answer within timeout. It returns "" on a 2xx
// answer, else the error kind.
func (c *conn) do(r Request, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	if c.nc == nil {
		d := net.Dialer{Deadline: deadline}
		nc, err := d.Dial("tcp", c.addr)
		c.dials.Add(1)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ErrTimeout
			}
			return ErrConnect
		}
		c.nc = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 2048)
		} else {
			c.br.Reset(nc)
		}
		n := c.open.Add(1)
		for {
			p := c.peak.Load()
			if n <= p || c.peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	_ = c.nc.SetDeadline(deadline)
	c.buf = r.encode(c.buf[:0], c.host)
	kind := c.roundTrip()
	if kind != "" && !isStatus(kind) {
		c.close()
	}
	return kind
}

func isStatus(kind string) bool { return len(kind) > 7 && kind[:7] == "status " }

func (c *conn) roundTrip() string {
	if _, err := c.nc.Write(c.buf); err != nil {
		return classify(err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return classify(err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return classify(err)
	}
	if resp.Close {
		c.close()
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusKind(resp.StatusCode)
	}
	return ""
}

func classify(err error) string {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ErrTimeout
	}
	return ErrIO
}
