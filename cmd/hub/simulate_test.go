package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/internal/syncbuf"
)

func TestSimulateServesUntilInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"simulate", "delhivery_express"}, streams{in: strings.NewReader(""), out: &out, err: &errb})
	}()
	addr := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no address printed: %q %q", out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "--credential api_token=") {
		t.Errorf("no account instructions: %s", out.String())
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/packages/json/?waybill=1234567890", nil)
	req.Header.Set("Authorization", "Token wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("simulator answered a wrong token with %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if r := hub(t, "", "simulate", "nope"); r.code != 1 || !strings.Contains(r.err, "delhivery_express") {
		t.Fatalf("unknown simulator: %d %s", r.code, r.err)
	}
}
