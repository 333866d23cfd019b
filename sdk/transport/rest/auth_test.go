package rest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

// verifySignature is the server's side of the ready-made canonical form, written
// independently of CanonicalRequest.
func verifySignature(r *http.Request, secret []byte) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	keys := make([]string, 0)
	q := r.URL.Query()
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := q[k]
		for _, v := range vs {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	bodySum := sha256.Sum256(body)
	msg := r.Method + "\n" + r.URL.EscapedPath() + "\n" + strings.Join(parts, "&") + "\n" + r.Header.Get("X-Acme-Date") + "\n" + hex.EncodeToString(bodySum[:])
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Acme-Signature"))) {
		return fmt.Errorf("signature mismatch for %q", msg)
	}
	return nil
}

func TestHMACSignatureVerifiedByServer(t *testing.T) {
	secret := []byte("whsec-test-secret")
	clock := newClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Acme-Date") != fmt.Sprint(clock.Now().Unix()) {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"message":"stale timestamp"}`)
			return
		}
		if err := verifySignature(r, secret); err != nil {
			w.WriteHeader(401)
			fmt.Fprintf(w, `{"message":%q}`, err.Error())
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	signer := &HMAC{Secret: secret, Header: "X-Acme-Signature", Prefix: "v1=", TimestampHeader: "X-Acme-Date", Now: clock.Now}
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Auth = Chain{APIKey{Header: "X-Api-Key", Key: "k1"}, signer} })
	ctx := context.Background()
	req, _ := NewJSON("POST", "/v2/shipments?z=last&a=first%2Fone", map[string]any{"awb": "123", "pieces": 2})
	req.Query = url.Values{"m": {"x y"}}
	if _, err := c.Do(ctx, req); err != nil {
		t.Fatalf("signed POST refused: %v", err)
	}
	if err := c.GetJSON(ctx, "/v2/track/a b", url.Values{"awb": {"1", "2"}}, nil); err != nil {
		t.Fatalf("signed GET refused: %v", err)
	}
	// A wrong secret is refused by the server, as a check on the check.
	bad := newClient(t, srv.URL, func(cfg *Config) {
		cfg.Auth = &HMAC{Secret: []byte("wrong"), Header: "X-Acme-Signature", Prefix: "v1=", TimestampHeader: "X-Acme-Date", Now: clock.Now}
	})
	if e := sdktest.Error(t, bad.GetJSON(ctx, "/v2/track", nil, nil)); e.Code != sdk.CodeAuthFailed {
		t.Fatalf("wrong secret: %v", e)
	}
}

func TestHMACCustomCanonical(t *testing.T) {
	secret := []byte("k")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		want := Sign(secret, r.Header.Get("X-Key-Id")+"|"+string(body), true)
		if r.Header.Get("Signature") != want || r.Header.Get("X-Timestamp") != "" {
			w.WriteHeader(403)
			return
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(cfg *Config) {
		cfg.Header = http.Header{"X-Key-Id": {"kid-7"}}
		cfg.Auth = &HMAC{Secret: secret, Header: "Signature", TimestampHeader: "-", Base64: true,
			Canonical: func(r *http.Request, body []byte, _ time.Time) string {
				return r.Header.Get("X-Key-Id") + "|" + string(body)
			}}
	})
	if err := c.PostJSON(context.Background(), "/x", []int{1, 2}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestStaticAuths(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		fmt.Fprintf(w, `{"auth":%q,"xkey":%q,"query":%q,"user":%q,"pass":%q}`, r.Header.Get("Authorization"), r.Header.Get("X-Key"), r.URL.RawQuery, u, p)
	}))
	defer srv.Close()
	type seen struct{ Auth, XKey, Query, User, Pass string }
	cases := []struct {
		auth Auth
		want seen
	}{
		{APIKey{Key: "abc", Prefix: "Token "}, seen{Auth: "Token abc"}},
		{APIKey{Key: "abc", Header: "X-Key"}, seen{XKey: "abc"}},
		{APIKey{Key: "a&b", Query: "key"}, seen{Query: "key=a%26b&q=1"}},
		{Basic{Username: "u", Password: "p:w"}, seen{Auth: "Basic dTpwOnc=", User: "u", Pass: "p:w"}},
	}
	for _, tc := range cases {
		c := newClient(t, srv.URL, func(cfg *Config) { cfg.Auth = tc.auth })
		var got struct{ Auth, XKey, Query, User, Pass string }
		if err := c.GetJSON(context.Background(), "/x", url.Values{"q": {"1"}}, &got); err != nil {
			t.Fatal(err)
		}
		if tc.want.Query == "" {
			tc.want.Query = "q=1"
		}
		if seen(got) != tc.want {
			t.Errorf("%v: server saw %+v, want %+v", tc.auth, got, tc.want)
		}
	}
	c := newClient(t, srv.URL, func(cfg *Config) { cfg.Auth = APIKey{} })
	if e := sdktest.Error(t, c.GetJSON(context.Background(), "/x", nil, nil)); e.Code != sdk.CodeAuthFailed || !e.NotSent {
		t.Errorf("empty key: %+v", e)
	}
}

func TestCanonicalRequestForm(t *testing.T) {
	r, _ := http.NewRequest("POST", "https://api.example/v1/a%20b?y=2&x=1", nil)
	got := CanonicalRequest(r, []byte("{}"), time.Unix(1700000000, 0))
	want := "POST\n/v1/a%20b\nx=1&y=2\n1700000000\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	if got != want {
		t.Fatalf("canonical form:\n%q\nwant\n%q", got, want)
	}
}
