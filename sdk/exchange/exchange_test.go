package exchange

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	password = "s3cr3t-pass-771"
	apiToken = "tok-0123456789abcdef"
)

// TestTransportRecordsRedacted sends secrets every way a connector does (a
// bearer header, an API-key header, query parameters, a path segment, basic
// auth, JSON, form and XML bodies, a login answer's token, a body cut off
// inside a secret, a failed dial) and checks the provider got them all while
// no record holds one, and that the rest of each exchange is kept.
func TestTransportRecordsRedacted(t *testing.T) {
	var got []string
	long := strings.Repeat("x", MaxBody-10) + apiToken + strings.Repeat("y", 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, string(b)+" "+r.Header.Get("Authorization")+" "+r.URL.String())
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "cookie-value-123"})
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"access_token":"server-issued-xyz","expires_in":3600,"user":{"otp":123456},"status":"ok"}`)
		case "/long":
			fmt.Fprint(w, long)
		default:
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<Answer><Status>Delivered</Status><Echo>`+password+`</Echo></Answer>`)
		}
	}))
	defer srv.Close()
	var log Log
	client := &http.Client{Transport: &Transport{Log: &log}}
	ctx := WithCall(context.Background(), Call{Account: "acc_1", Operation: "track", RequestID: "req_1", Secrets: map[string]string{"password": password, "api_token": apiToken, "pin": "ab"}})
	send := func(method, target, contentType, body string, header ...string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "Delivered") && !strings.Contains(string(b), "server-issued") && string(b) != long {
			t.Fatalf("the caller got %q", b)
		}
		resp.Body.Close()
	}
	send("POST", srv.URL+"/login?api_key=zz-key-value&waybill=1490001&token=tt-query", "application/json",
		`{"username":"ops","password":"`+password+`","awb":"1490001"}`, "Authorization", "Bearer "+apiToken, "X-Api-Key", "hdr-key-value")
	send("POST", srv.URL+"/oauth", "application/x-www-form-urlencoded",
		"grant_type=password&username=ops&password="+url.QueryEscape(password)+"&scope=track")
	send("POST", srv.URL+"/soap", "text/xml; charset=utf-8", `<Login><UserName>ops</UserName><Password>`+password+`</Password><Ref>R-9</Ref></Login>`)
	send("GET", srv.URL+"/track/"+apiToken+"?ref=R-9", "", "", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ops:"+password)))
	send("GET", srv.URL+"/long", "", "")
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("ops", password)
	req, _ := http.NewRequestWithContext(ctx, "GET", u.String()+"/x", nil)
	srv.Close() // the last exchange fails: no answer comes
	if _, err := client.Do(req); err == nil {
		t.Fatal("a request to a closed server succeeded")
	}

	if len(got) != 5 || !strings.Contains(got[0], password) || !strings.Contains(got[0], apiToken) || !strings.Contains(got[1], url.QueryEscape(password)) {
		t.Fatalf("the provider did not get the secrets it needs: %q", got)
	}
	recs := log.Recent("acc_1", 10)
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	encoded, _ := json.Marshal(recs)
	plain := fmt.Sprintf("%+v", recs) // the records' strings as they are, unescaped
	for _, secret := range []string{password, apiToken, url.QueryEscape(password), base64.StdEncoding.EncodeToString([]byte("ops:" + password)),
		"server-issued-xyz", "cookie-value-123", "zz-key-value", "tt-query", "hdr-key-value", "123456", apiToken[:8]} {
		for _, text := range []string{plain, string(encoded)} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("a record holds %q: ...%s...", secret, text[max(0, i-80):min(len(text), i+80)])
			}
		}
	}
	for _, kept := range []string{"waybill=1490001", `"awb":"1490001"`, "grant_type=password", "scope=track", "<Ref>R-9</Ref>",
		"<Status>Delivered</Status>", `"expires_in":3600`, `"status":"ok"`, "/track/" + redacted, "req_1", "Operation:track"} {
		if !strings.Contains(plain, kept) {
			t.Errorf("the records lost %q:\n%s", kept, plain)
		}
	}
	newest := recs[0]
	if newest.Error == "" || newest.Status != 0 {
		t.Errorf("the failed exchange = %+v", newest)
	}
	if cut := recs[1]; !cut.Truncated || len(cut.ResponseBody) > MaxBody+len(redacted) {
		t.Errorf("the long answer's record: truncated %v, %d bytes", cut.Truncated, len(cut.ResponseBody))
	}
	if recs[5].Status != 200 || recs[5].Method != "POST" || recs[5].DurationMS < 0 || recs[5].RequestHeaders["Content-Type"] != "application/json" {
		t.Errorf("the first exchange = %+v", recs[5])
	}
}

// TestLogKeepsLatestPerAccount checks the bound, the order and that an
// account sees only its own exchanges; a request of no call is not recorded.
func TestLogKeepsLatestPerAccount(t *testing.T) {
	var log Log
	for i := range PerAccount + 5 {
		log.add(kept{call: &Call{Account: "a", RequestID: fmt.Sprint(i)}, url: &url.URL{Path: "/a"}})
	}
	log.add(kept{call: &Call{Account: "b", RequestID: "b0"}, url: &url.URL{Path: "/b"}})
	recs := log.Recent("a", 100)
	if len(recs) != PerAccount || recs[0].RequestID != fmt.Sprint(PerAccount+4) || recs[len(recs)-1].RequestID != "5" {
		t.Fatalf("account a: %d records, newest %q, oldest %q", len(recs), recs[0].RequestID, recs[len(recs)-1].RequestID)
	}
	if b := log.Recent("b", 100); len(b) != 1 || b[0].RequestID != "b0" {
		t.Fatalf("account b: %+v", b)
	}
	if two := log.Recent("a", 2); len(two) != 2 {
		t.Fatalf("a limit of 2 gave %d", len(two))
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var quiet Log
	resp, err := (&http.Client{Transport: &Transport{Log: &quiet}}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(quiet.Recent("", 10)); n != 0 {
		t.Fatalf("a request of no call was recorded (%d)", n)
	}
}
