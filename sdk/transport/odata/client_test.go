package odata_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
	"github.com/carrierhub/hub/sdk/transport/odata"
)

type order struct {
	ID       string `json:"ID"`
	Customer string `json:"Customer"`
	Amount   string `json:"Amount"`
}

func client(t *testing.T, s *sim, v odata.Version, mod func(*odata.Options)) *odata.Client {
	t.Helper()
	root := v2Root
	if v == odata.V4 {
		root = v4Root
	}
	opts := odata.Options{
		ServiceRoot: s.srv.URL + root,
		Version:     v,
		HTTPClient:  s.srv.Client(), // no cookie jar: the Client keeps its own
		CSRF:        v == odata.V2,
		Auth: func(r *http.Request) error {
			r.SetBasicAuth("COMM_USER", "s3cret-pass")
			return nil
		},
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := odata.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func asSDK(t *testing.T, err error) *sdk.Error {
	t.Helper()
	e := sdktest.Error(t, err)
	if strings.Contains(e.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", e)
	}
	return e
}

func TestPagingThreePages(t *testing.T) {
	for _, v := range []odata.Version{odata.V2, odata.V4} {
		t.Run(v.String(), func(t *testing.T) {
			s := newSim(t)
			c := client(t, s, v, nil)
			var pages []*odata.Page[order]
			for p, err := range odata.Pages[order](context.Background(), c, odata.From("Orders").Count()) {
				if err != nil {
					t.Fatalf("page %d: %v", len(pages)+1, err)
				}
				pages = append(pages, p)
			}
			if len(pages) != 3 {
				t.Fatalf("got %d pages, want 3", len(pages))
			}
			var ids []string
			for _, p := range pages {
				if !p.HasCount || p.Count != 7 {
					t.Errorf("count = %d (has %v), want 7", p.Count, p.HasCount)
				}
				for _, o := range p.Items {
					ids = append(ids, o.ID)
				}
			}
			if got := strings.Join(ids, ","); got != "1,2,3,4,5,6,7" {
				t.Errorf("ids %s", got)
			}
			if pages[2].NextLink != "" {
				t.Errorf("last page has next link %q", pages[2].NextLink)
			}
			root := v2Root
			if v == odata.V4 {
				root = v4Root
			}
			if n := s.count("GET " + root + "/Orders"); n != 3 {
				t.Errorf("server saw %d collection GETs, want 3", n)
			}
			s.mu.Lock()
			auths := append([]string(nil), s.authHeaders...)
			s.mu.Unlock()
			for i, a := range auths {
				if !strings.HasPrefix(a, "Basic ") {
					t.Errorf("request %d had no credentials", i)
				}
			}
			all, err := odata.All[order](context.Background(), c, odata.From("Orders"))
			if err != nil || len(all) != 7 {
				t.Fatalf("All = %d items, %v", len(all), err)
			}
		})
	}
}

func TestFilterValueReachesServerIntact(t *testing.T) {
	for _, v := range []odata.Version{odata.V2, odata.V4} {
		t.Run(v.String(), func(t *testing.T) {
			s := newSim(t)
			c := client(t, s, v, nil)
			p, err := odata.List[order](context.Background(), c, odata.From("Orders").Filter(odata.Eq("Customer", odata.String("O'Neil & Sons"))))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 1 || p.Items[0].ID != "7" {
				t.Fatalf("items %+v", p.Items)
			}
			// An attempt to widen the filter matches nothing instead of everything.
			p, err = odata.List[order](context.Background(), c, odata.From("Orders").Filter(odata.Eq("Customer", odata.String("x' or Customer ne '"))))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != 0 {
				t.Fatalf("injected filter matched %d orders", len(p.Items))
			}
		})
	}
}

func TestMaxPagesAndLoopGuard(t *testing.T) {
	s := newSim(t)
	c := client(t, s, odata.V4, func(o *odata.Options) { o.MaxPages = 2 })
	_, err := odata.All[order](context.Background(), c, odata.From("Orders"))
	if e := asSDK(t, err); e.Code != sdk.CodePermanent || !strings.Contains(e.Message, "more than 2 pages") {
		t.Fatalf("got %v", e)
	}
	if n := s.count("GET " + v4Root + "/Orders"); n != 2 {
		t.Errorf("server saw %d GETs, want 2", n)
	}
	c = client(t, s, odata.V4, nil)
	_, err = odata.All[order](context.Background(), c, odata.From("Loop"))
	if e := asSDK(t, err); !strings.Contains(e.Message, "repeats") {
		t.Fatalf("got %v", e)
	}
}

func TestForeignNextLinkRefused(t *testing.T) {
	s := newSim(t)
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilHits.Add(1)
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	defer evil.Close()
	s.nextHost = evil.URL
	c := client(t, s, odata.V4, nil)
	n := 0
	var last error
	for p, err := range odata.Pages[order](context.Background(), c, odata.From("Evil")) {
		if err != nil {
			last = err
			break
		}
		n += len(p.Items)
	}
	e := asSDK(t, last)
	if e.Code != sdk.CodePermanent || !strings.Contains(e.Message, "refused") {
		t.Fatalf("got %v", e)
	}
	if n != 1 || evilHits.Load() != 0 {
		t.Fatalf("items %d, foreign host hits %d", n, evilHits.Load())
	}
}

func TestGetEntityAndETagSources(t *testing.T) {
	for _, v := range []odata.Version{odata.V2, odata.V4} {
		t.Run(v.String(), func(t *testing.T) {
			s := newSim(t)
			c := client(t, s, v, nil)
			e, err := odata.Get[order](context.Background(), c, odata.From("Orders").Key(odata.String("3")))
			if err != nil {
				t.Fatal(err)
			}
			if e.Value.ID != "3" || e.Value.Amount != "30.50" || e.ETag != `W/"1"` {
				t.Fatalf("got %+v", e)
			}
			// Without the header, the ETag comes from __metadata.etag / @odata.etag.
			e, err = odata.Get[order](context.Background(), c, odata.From("Orders").Key(odata.String("3")).Param("noheader", "1"))
			if err != nil || e.ETag != `W/"1"` {
				t.Fatalf("body etag: %+v %v", e, err)
			}
			_, err = odata.Get[order](context.Background(), c, odata.From("Orders").Key(odata.String("404")))
			if se := asSDK(t, err); se.Code != sdk.CodeNotFound || se.CarrierCode != "/IWBEP/CM_MGW_RT/020" || se.Source != sdk.SourceCarrier {
				t.Fatalf("got %+v", se)
			}
			// A collection where an entity is expected, and the reverse, are refused.
			if _, err := odata.List[order](context.Background(), c, odata.From("Orders").Key(odata.String("3"))); err == nil {
				t.Fatal("List accepted a single entity")
			}
		})
	}
}

func TestCSRFFetchAndRetryOnce(t *testing.T) {
	s := newSim(t)
	c := client(t, s, odata.V2, nil)
	ctx := context.Background()

	created, err := odata.Create[order](ctx, c, odata.From("Orders"), map[string]string{"Customer": "NEW"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Value.ID != "8" || created.ETag != `W/"1"` {
		t.Fatalf("created %+v", created)
	}
	if f, _, _ := s.stats(); f != 1 {
		t.Fatalf("fetches = %d, want 1", f)
	}
	// The token is reused while it is good.
	if _, err := c.Update(ctx, odata.From("Orders").Key(odata.String("8")), map[string]string{"Customer": "X"}, created.ETag); err != nil {
		t.Fatalf("update: %v", err)
	}
	if f, _, _ := s.stats(); f != 1 {
		t.Fatalf("fetches = %d after a second write, want 1", f)
	}
	// The session ends on the server: the next write gets 403 Required, the
	// Client fetches once more and retries once.
	s.mu.Lock()
	s.sessions = map[string]string{}
	s.mu.Unlock()
	etag, err := c.Update(ctx, odata.From("Orders").Key(odata.String("8")), map[string]string{"Customer": "Y"}, `W/"2"`)
	if err != nil {
		t.Fatalf("update after expiry: %v", err)
	}
	if f, _, _ := s.stats(); etag != `W/"3"` || f != 2 || s.count("MERGE "+v2Root+"/Orders('8')") != 3 {
		t.Fatalf("etag %q, fetches %d, merges %d", etag, f, s.count("MERGE "+v2Root+"/Orders('8')"))
	}
	// A server that keeps refusing: exactly one retry, then auth_failed.
	s.mu.Lock()
	s.rejectAll = true
	s.mu.Unlock()
	before := s.count("DELETE " + v2Root + "/Orders('8')")
	err = c.Delete(ctx, odata.From("Orders").Key(odata.String("8")), odata.AnyETag)
	e := asSDK(t, err)
	if e.Code != sdk.CodeAuthFailed || !strings.Contains(e.Message, "CSRF") || e.CarrierMessage != "CSRF token validation failed" {
		t.Fatalf("got %+v", e)
	}
	if n := s.count("DELETE "+v2Root+"/Orders('8')") - before; n != 2 {
		t.Fatalf("DELETE sent %d times, want 2", n)
	}
}

func TestCSRFWithoutCookiesFails(t *testing.T) {
	// The token is bound to the session cookie: a client that dropped cookies
	// would be refused. Ours keeps them, so this proves the jar is used.
	s := newSim(t)
	jarless := &http.Client{Transport: s.srv.Client().Transport}
	c := client(t, s, odata.V2, func(o *odata.Options) { o.HTTPClient = jarless })
	if _, err := odata.Create[order](context.Background(), c, odata.From("Orders"), json.RawMessage(`{}`)); err != nil {
		t.Fatalf("create with own jar: %v", err)
	}
}

func TestV2MergeTunnelAndETagConflict(t *testing.T) {
	for _, m := range []odata.UpdateMethod{odata.Merge, odata.MergeTunnel} {
		s := newSim(t)
		c := client(t, s, odata.V2, func(o *odata.Options) { o.V2Update = m })
		ctx := context.Background()
		q := odata.From("Orders").Key(odata.String("2"))
		got, err := odata.Get[order](ctx, c, q)
		if err != nil {
			t.Fatal(err)
		}
		newTag, err := c.Update(ctx, q, map[string]string{"Amount": "1.00"}, got.ETag)
		if err != nil || newTag != `W/"2"` {
			t.Fatalf("update: %q %v", newTag, err)
		}
		// The ETag read before the update is now stale.
		_, err = c.Update(ctx, q, map[string]string{"Amount": "2.00"}, got.ETag)
		e := asSDK(t, err)
		if e.Code != sdk.CodeConflict || e.CarrierCode != "/IWBEP/CM_MGW_RT/022" || !strings.Contains(e.CarrierMessage, "ETag mismatch") {
			t.Fatalf("stale etag: %+v", e)
		}
		// No If-Match at all: the server requires one (428).
		_, err = c.Update(ctx, q, map[string]string{"Amount": "2.00"}, "")
		if e := asSDK(t, err); e.Code != sdk.CodeInvalidRequest {
			t.Fatalf("missing etag: %+v", e)
		}
		_, tunneled, _ := s.stats()
		if want := map[odata.UpdateMethod]int{odata.Merge: 0, odata.MergeTunnel: 3}[m]; tunneled != want {
			t.Fatalf("%d requests tunneled through POST, want %d", tunneled, want)
		}
	}
}

func TestV4PatchConflict(t *testing.T) {
	s := newSim(t)
	s.csrfOn = false
	c := client(t, s, odata.V4, nil)
	q := odata.From("Orders").Key(odata.String("1"))
	if _, err := c.Update(context.Background(), q, map[string]string{"Amount": "1"}, `W/"9"`); asSDK(t, err).Code != sdk.CodeConflict {
		t.Fatalf("got %v", err)
	}
	tag, err := c.Update(context.Background(), q, map[string]string{"Amount": "1"}, `W/"1"`)
	if err != nil || tag != `W/"2"` || s.count("PATCH "+v4Root+"/Orders('1')") != 2 {
		t.Fatalf("patch: %q %v", tag, err)
	}
}

func TestErrorShapes(t *testing.T) {
	cases := []struct {
		name, status, shape, retry string
		code                       sdk.Code
		carrierCode, carrierMsg    string
		msgHas                     string
		retryAfter                 time.Duration
	}{
		{"v2 400", "400", "v2", "", sdk.CodeInvalidRequest, "SY/530", "Sales order 999 does not exist", "V1/302 Sales document 999", 0},
		{"v4 400 details", "400", "v4", "", sdk.CodeInvalidRequest, "ValidationError", "One or more fields contain incorrect values", "MissingField CustomerAccount is required", 0},
		{"v4 401", "401", "v4", "", sdk.CodeAuthFailed, "ValidationError", "One or more fields contain incorrect values", "HTTP 401", 0},
		{"v2 403", "403", "v2", "", sdk.CodeAuthFailed, "SY/530", "Sales order 999 does not exist", "HTTP 403", 0},
		{"v2 404", "404", "v2", "", sdk.CodeNotFound, "SY/530", "Sales order 999 does not exist", "HTTP 404", 0},
		{"v4 409", "409", "v4", "", sdk.CodeConflict, "ValidationError", "One or more fields contain incorrect values", "HTTP 409", 0},
		{"v2 412", "412", "v2", "", sdk.CodeConflict, "SY/530", "Sales order 999 does not exist", "HTTP 412", 0},
		{"v4 429 retry-after", "429", "v4", "7", sdk.CodeRateLimited, "ValidationError", "One or more fields contain incorrect values", "HTTP 429", 7 * time.Second},
		{"429 http date", "429", "", "Wed, 01 May 2024 10:31:00 GMT", sdk.CodeRateLimited, "http-429", "", "HTTP 429", 60 * time.Second},
		{"v2 500", "500", "v2", "", sdk.CodeCarrierUnavailable, "SY/530", "Sales order 999 does not exist", "HTTP 500", 0},
		{"503 html", "503", "html", "30", sdk.CodeCarrierUnavailable, "http-503", "", "HTML page", 30 * time.Second},
		{"502 empty", "502", "", "", sdk.CodeCarrierUnavailable, "http-502", "", "HTTP 502", 0},
	}
	s := newSim(t)
	now := time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC)
	c := client(t, s, odata.V4, func(o *odata.Options) { o.Now = func() time.Time { return now } })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := odata.From("Errors").Param("status", tc.status).Param("shape", tc.shape).Param("retry", tc.retry)
			_, err := odata.List[order](context.Background(), c, q)
			e := asSDK(t, err)
			if e.Code != tc.code || e.Source != sdk.SourceCarrier || e.CarrierCode != tc.carrierCode || e.CarrierMessage != tc.carrierMsg || e.RetryAfter != tc.retryAfter {
				t.Fatalf("got %+v", e)
			}
			if !strings.Contains(e.Message, tc.msgHas) || e.NotSent {
				t.Fatalf("message %q (NotSent %v), want it to contain %q", e.Message, e.NotSent, tc.msgHas)
			}
			if strings.Contains(e.Message, "status=") {
				t.Fatalf("message repeats the query string: %q", e.Message)
			}
		})
	}
}

func TestOversizeBody(t *testing.T) {
	s := newSim(t)
	c := client(t, s, odata.V4, func(o *odata.Options) { o.MaxResponseBytes = 1024 })
	_, err := odata.List[order](context.Background(), c, odata.From("Big"))
	if e := asSDK(t, err); e.Code != sdk.CodePermanent || !strings.Contains(e.Message, "larger than 1024 bytes") {
		t.Fatalf("got %+v", e)
	}
}

func TestDeadline(t *testing.T) {
	s := newSim(t)
	c := client(t, s, odata.V4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := odata.List[order](ctx, c, odata.From("Slow"))
	if e := asSDK(t, err); e.Code != sdk.CodeTimeout || e.NotSent {
		t.Fatalf("got %+v", e)
	}
	// A context that has already ended never reaches the server.
	before := s.count("GET " + v4Root + "/Orders")
	_, err = odata.List[order](ctx, c, odata.From("Orders"))
	if e := asSDK(t, err); e.Code != sdk.CodeTimeout || !e.NotSent {
		t.Fatalf("got %+v", e)
	}
	if s.count("GET "+v4Root+"/Orders") != before {
		t.Fatal("request sent after the deadline")
	}
}

func TestNotSent(t *testing.T) {
	// Dial error: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := odata.New(odata.Options{ServiceRoot: "http://" + addr + "/odata", Version: odata.V4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = odata.List[order](context.Background(), c, odata.From("Orders"))
	if e := asSDK(t, err); e.Code != sdk.CodeCarrierUnavailable || !e.NotSent {
		t.Fatalf("dial error: %+v", e)
	}

	// A server that reads the request then drops the connection: it was sent.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		_, _ = conn.Read(buf)
		conn.Close()
	}()
	c, err = odata.New(odata.Options{ServiceRoot: "http://" + ln.Addr().String() + "/odata", Version: odata.V4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = odata.List[order](context.Background(), c, odata.From("Orders"))
	if e := asSDK(t, err); e.Code != sdk.CodeCarrierUnavailable || e.NotSent {
		t.Fatalf("reset after send: %+v", e)
	}
	<-done

	// The auth hook failing stops the call before anything is sent.
	s := newSim(t)
	c = client(t, s, odata.V4, func(o *odata.Options) {
		o.Auth = func(*http.Request) error { return errors.New("token endpoint refused client id") }
	})
	_, err = odata.List[order](context.Background(), c, odata.From("Orders"))
	if e := asSDK(t, err); e.Code != sdk.CodeAuthFailed || !e.NotSent {
		t.Fatalf("auth hook: %+v", e)
	}
	if _, _, total := s.stats(); total != 0 {
		t.Fatalf("server saw %d requests", total)
	}

	// A query mistake is reported before sending.
	_, err = odata.List[order](context.Background(), c, odata.From("Orders").Top(-1))
	if e := asSDK(t, err); e.Code != sdk.CodeInvalidRequest || !e.NotSent {
		t.Fatalf("bad query: %+v", e)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []odata.Options{
		{ServiceRoot: "http://h/x", Version: 3},
		{ServiceRoot: "ftp://h/x", Version: odata.V4},
		{ServiceRoot: "/relative", Version: odata.V4},
		{ServiceRoot: "http://h/x?sap-client=100", Version: odata.V2},
		{ServiceRoot: "http://h/x", Version: odata.V2, V2Update: 9},
	} {
		if _, err := odata.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestConcurrentWritesShareOneToken(t *testing.T) {
	s := newSim(t)
	c := client(t, s, odata.V2, nil)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := odata.Create[order](context.Background(), c, odata.From("Orders"), map[string]string{"Customer": "P"})
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if f, _, _ := s.stats(); f != 1 {
		t.Fatalf("fetches = %d, want 1", f)
	}
}

func TestCSRFFetchRefused(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"code":"/IWFND/CM_CONSUMER/101","message":{"lang":"en","value":"Logon failed"}}}`)
	}))
	defer srv.Close()
	c, err := odata.New(odata.Options{ServiceRoot: srv.URL + v2Root, Version: odata.V2, CSRF: true, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = odata.Create[order](context.Background(), c, odata.From("Orders"), map[string]string{})
	e := asSDK(t, err)
	if e.Code != sdk.CodeAuthFailed || !e.NotSent || e.CarrierCode != "/IWFND/CM_CONSUMER/101" || !strings.Contains(e.Message, "CSRF") {
		t.Fatalf("got %+v", e)
	}
	if posts.Load() != 0 {
		t.Fatal("the create was sent without a token")
	}
}
