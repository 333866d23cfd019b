package faultcarrier

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T) (*Server, *http.Client) {
	t.Helper()
	s := Start()
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		s.Close()
	})
	return s, client
}

func get(t *testing.T, client *http.Client, url string) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestNormalAnswers(t *testing.T) {
	s, client := start(t)
	resp, body, err := get(t, client, s.URL+"/track/AWB1")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("track: %v %v", resp, err)
	}
	var tr struct {
		TrackingNumber string `json:"tracking_number"`
		Events         []struct{ Code string }
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.TrackingNumber != "AWB1" || len(tr.Events) != 2 {
		t.Fatalf("track body %s: %v", body, err)
	}
	resp, err = client.Post(s.URL+"/shipments", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !strings.Contains(string(body), `"tracking_number":"FC000001"`) {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, _, _ := get(t, client, s.URL+"/nowhere"); resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	if s.Carrier.Count(PathTrack) != 1 || s.Carrier.Count(PathShipments) != 1 || s.Carrier.Count(PathOther) != 1 || s.Carrier.Total() != 3 {
		t.Fatalf("counts track=%d shipments=%d other=%d", s.Carrier.Count(PathTrack), s.Carrier.Count(PathShipments), s.Carrier.Count(PathOther))
	}
}

func TestFaultModes(t *testing.T) {
	s, client := start(t)
	cases := []struct {
		fault Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{Fault{Mode: ModeError}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 503 || !strings.Contains(string(body), "SERVICE_UNAVAILABLE") {
				t.Errorf("error mode: %v %v %s", resp, err, body)
			}
		}},
		{Fault{Mode: ModeError, Status: 500}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 500 {
				t.Errorf("error mode status 500: %v %v", resp, err)
			}
		}},
		{Fault{Mode: ModeRateLimit, RetryAfter: 1500 * time.Millisecond}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
				t.Errorf("rate limit: %v %v", resp, err)
			}
		}},
		{Fault{Mode: ModeMalformed}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || json.Valid(body) {
				t.Errorf("malformed: %v %v %s", resp, err, body)
			}
		}},
		{Fault{Mode: ModeHTML}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 502 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html>") {
				t.Errorf("html: %v %v %s", resp, err, body)
			}
		}},
		{Fault{Mode: ModeDribble, Delay: time.Millisecond}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err != nil || resp.StatusCode != 200 || !json.Valid(body) {
				t.Errorf("dribble: %v %v %s", resp, err, body)
			}
		}},
		{Fault{Mode: ModeReset}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil {
				t.Errorf("reset: got %v, want a connection error", resp)
			} else if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
				t.Logf("reset surfaced as %v", err)
			}
		}},
	}
	// net/http's Transport silently replays a GET once when a reused keep-alive
	// connection breaks; a fresh connection per request keeps the count exact.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range cases {
		t.Run(string(tc.fault.Mode), func(t *testing.T) {
			s.Carrier.SetFault(tc.fault)
			before := s.Carrier.Injected()
			c := client
			if tc.fault.Mode == ModeReset {
				c = fresh
			}
			resp, body, err := get(t, c, s.URL+"/track/X")
			tc.check(t, resp, body, err)
			if got := s.Carrier.Injected() - before; got != 1 {
				t.Errorf("injected %d, want 1", got)
			}
		})
	}
}

func TestErrorFraction(t *testing.T) {
	s, client := start(t)
	s.Carrier.SetFault(Fault{Mode: ModeError, Fraction: 0.5})
	failed := 0
	for range 200 {
		resp, _, err := get(t, client, s.URL+"/track/X")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == 503 {
			failed++
		}
	}
	if failed == 0 || failed == 200 {
		t.Fatalf("%d of 200 failed with fraction 0.5", failed)
	}
}

func TestHangEndsWhenClientLeaves(t *testing.T) {
	s, client := start(t)
	s.Carrier.SetFault(Fault{Mode: ModeHang})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/track/X", nil)
	_, err := client.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
}

func TestHangReleasedByClose(t *testing.T) {
	s := Start()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	s.Carrier.SetFault(Fault{Mode: ModeHang})
	done := make(chan error, 1)
	go func() {
		resp, err := client.Get(s.URL + "/track/X")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for s.Carrier.Count(PathTrack) == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close() // must not block on the hanging handler
	if err := <-done; err == nil {
		t.Fatal("a hung request got an answer")
	}
}

func TestControlEndpoint(t *testing.T) {
	s, client := start(t)
	resp, body, err := get(t, client, s.URL+"/_fault?mode=rate_limit&retry_after=3s&latency=1ms")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("control: %v %v %s", resp, err, body)
	}
	if f := s.Carrier.Fault(); f.Mode != ModeRateLimit || f.RetryAfter != 3*time.Second {
		t.Fatalf("fault = %+v", f)
	}
	if resp, _, _ := get(t, client, s.URL+"/track/X"); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("after control: %v", resp)
	}
	if resp, _, _ := get(t, client, s.URL+"/_fault?mode=sideways"); resp.StatusCode != 400 {
		t.Fatalf("bad mode: %v", resp)
	}
	if resp, _, _ := get(t, client, s.URL+"/_fault?delay=soon"); resp.StatusCode != 400 {
		t.Fatalf("bad delay: %v", resp)
	}
	_, body, _ = get(t, client, s.URL+"/_fault?mode=ok&latency=0s&reset_counts=1")
	var st struct {
		Fault  Fault            `json:"fault"`
		Counts map[string]int64 `json:"counts"`
	}
	if err := json.Unmarshal(body, &st); err != nil || st.Fault.Mode != ModeOK || st.Counts[PathTrack] != 0 {
		t.Fatalf("status %s: %v", body, err)
	}
	if resp, _, _ := get(t, client, s.URL+"/track/X"); resp.StatusCode != 200 {
		t.Fatalf("after mode=ok: %v", resp)
	}
	if s.Carrier.Count(PathTrack) != 1 {
		t.Fatalf("control requests were counted: %d", s.Carrier.Count(PathTrack))
	}
}

func TestWrapDelegatesWhenNoFault(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"from":"simulator","path":"`+r.URL.Path+`"}`)
	})
	s := Serve(Wrap(next))
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		s.Close()
	})
	resp, body, err := get(t, client, s.URL+"/api/v1/packages/json/?waybill=1")
	if err != nil || resp.StatusCode != 200 || string(body) != `{"from":"simulator","path":"/api/v1/packages/json/"}` {
		t.Fatalf("no fault: %v %s %v", resp, body, err)
	}
	s.Carrier.SetFault(Fault{Mode: ModeError, Status: 502})
	resp, body, err = get(t, client, s.URL+"/api/v1/packages/json/?waybill=1")
	if err != nil || resp.StatusCode != 502 || strings.Contains(string(body), "simulator") {
		t.Fatalf("fault: %v %s %v", resp, body, err)
	}
	if s.Carrier.Count(PathOther) != 2 || s.Carrier.Injected() != 1 {
		t.Fatalf("counts: other=%d injected=%d", s.Carrier.Count(PathOther), s.Carrier.Injected())
	}
}
