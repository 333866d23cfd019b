package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/sdktest"
)

type item struct {
	ID int `json:"id"`
}

// listing serves items 1..total in the requested style and counts requests.
func listing(t *testing.T, total int, style string) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("size"))
		if size == 0 {
			size = 10
		}
		start := 0
		switch style {
		case "page":
			p, _ := strconv.Atoi(q.Get("page"))
			if p == 0 {
				p = 1
			}
			start = (p - 1) * size
		case "offset":
			start, _ = strconv.Atoi(q.Get("offset"))
		case "cursor":
			if c := q.Get("cursor"); c != "" {
				start, _ = strconv.Atoi(c[len("c"):])
			}
		case "link":
			start, _ = strconv.Atoi(q.Get("from"))
		}
		var page []item
		for i := start; i < start+size && i < total; i++ {
			page = append(page, item{ID: i + 1})
		}
		body := map[string]any{"data": map[string]any{"items": page}}
		more := start+size < total
		switch style {
		case "cursor":
			if more {
				body["meta"] = map[string]any{"next": fmt.Sprintf("c%d", start+size)}
			} else {
				body["meta"] = map[string]any{"next": nil}
			}
		case "link":
			if more {
				w.Header().Add("Link", fmt.Sprintf(`</items?from=0&size=%d>; rel="first"`, size))
				w.Header().Add("Link", fmt.Sprintf(`</items?from=%d&size=%d>; rel="next last-seen", <%s/items?from=%d>; rel=prev`, start+size, size, srv.URL, start))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func collect[T any](t *testing.T, p *Pager[T]) ([]T, error) {
	t.Helper()
	var out []T
	for it, err := range p.All(context.Background()) {
		if err != nil {
			return out, err
		}
		out = append(out, it)
	}
	return out, nil
}

func checkIDs(t *testing.T, got []item, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d items, want %d", len(got), n)
	}
	for i, it := range got {
		if it.ID != i+1 {
			t.Fatalf("item %d has id %d", i, it.ID)
		}
	}
}

func TestPaginationStyles(t *testing.T) {
	cases := []struct {
		style string
		first *Request
		next  Next
		total int
		hits  int64
	}{
		{"page", &Request{Path: "/items", Query: url.Values{"page": {"1"}, "size": {"10"}}}, PageNumber("page", 1, 10), 25, 3},
		{"page", &Request{Path: "/items", Query: url.Values{"size": {"10"}}}, PageNumber("page", 1, 10), 20, 3}, // exact multiple: one empty page ends it
		{"offset", &Request{Path: "/items", Query: url.Values{"size": {"10"}}}, Offset("offset", 10), 25, 3},
		{"cursor", &Request{Path: "/items"}, CursorJSON("cursor", "meta.next"), 25, 3},
		{"link", &Request{Path: "/items", Query: url.Values{"size": {"10"}}}, LinkNext(), 25, 3},
		{"link", &Request{Path: "/items"}, LinkNext(), 0, 1},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-%d", tc.style, tc.total), func(t *testing.T) {
			srv, hits := listing(t, tc.total, tc.style)
			p := &Pager[item]{Client: newClient(t, srv.URL, nil), First: tc.first, Next: tc.next, Items: JSONItems[item]("data.items")}
			got, err := collect(t, p)
			if err != nil {
				t.Fatal(err)
			}
			checkIDs(t, got, tc.total)
			if hits.Load() != tc.hits {
				t.Fatalf("requests = %d, want %d", hits.Load(), tc.hits)
			}
			// Ranging again starts over.
			again, err := collect(t, p)
			if err != nil || len(again) != tc.total {
				t.Fatalf("second walk: %d items, %v", len(again), err)
			}
		})
	}
}

func TestPaginationMaxPages(t *testing.T) {
	srv, hits := listing(t, 1000, "link")
	p := &Pager[item]{Client: newClient(t, srv.URL, nil), First: &Request{Path: "/items"}, Next: LinkNext(), Items: JSONItems[item]("data.items"), MaxPages: 4}
	got, err := collect(t, p)
	e := sdktest.Error(t, err)
	if e.Code != sdk.CodePermanent || len(got) != 40 || hits.Load() != 4 {
		t.Fatalf("error %v after %d items and %d requests; want permanent after 40 and 4", e, len(got), hits.Load())
	}
}

func TestPaginationStopsEarly(t *testing.T) {
	srv, hits := listing(t, 100, "offset")
	p := &Pager[item]{Client: newClient(t, srv.URL, nil), First: &Request{Path: "/items"}, Next: Offset("offset", 10), Items: JSONItems[item]("data.items")}
	n := 0
	for _, err := range p.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 15 {
			break
		}
	}
	if hits.Load() != 2 {
		t.Fatalf("requests = %d after breaking on the 15th item, want 2", hits.Load())
	}
}

func TestPaginationGuards(t *testing.T) {
	// A cursor that never moves would loop forever.
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":1}],"next":"same"}`)
	}))
	defer stuck.Close()
	p := &Pager[item]{Client: newClient(t, stuck.URL, nil), First: &Request{Path: "/"}, Next: CursorJSON("cursor", "next"), Items: JSONItems[item]("items")}
	if _, err := collect(t, p); sdktest.Error(t, err).Code != sdk.CodePermanent {
		t.Fatalf("stuck cursor: %v", err)
	}
	// A next link to another host is not followed with our credentials.
	var elsewhereHits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhereHits.Add(1) }))
	defer elsewhere.Close()
	hop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "<"+elsewhere.URL+"/steal>; rel=\"next\"")
		fmt.Fprint(w, `[{"id":1}]`)
	}))
	defer hop.Close()
	p2 := &Pager[item]{Client: newClient(t, hop.URL, nil), First: &Request{Path: "/"}, Next: LinkNext(), Items: JSONItems[item]("@this")}
	got, err := collect(t, p2)
	if sdktest.Error(t, err).Code != sdk.CodePermanent || len(got) != 1 || elsewhereHits.Load() != 0 {
		t.Fatalf("cross-host link: %v, %d items, %d foreign requests", err, len(got), elsewhereHits.Load())
	}
	// A failing page ends the walk with its classified error.
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer fail.Close()
	p3 := &Pager[item]{Client: newClient(t, fail.URL, nil), First: &Request{Path: "/"}, Next: LinkNext(), Items: JSONItems[item]("@this")}
	if _, err := collect(t, p3); sdktest.Error(t, err).Code != sdk.CodeCarrierUnavailable {
		t.Fatalf("failing page: %v", err)
	}
}

func TestNextLink(t *testing.T) {
	cases := map[string][]string{
		"":                    {`<https://a/x?page=1>; rel="prev"`},
		"https://a/x?page=3":  {`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"`},
		"/p?a=1,2":            {`<https://a/first>; rel=first`, `</p?a=1,2>; title="x; y"; REL=Next`},
		"https://a/y":         {`<https://a/y>; rel="last next"`},
		"https://a/next-only": {`<https://a/nope>; rel="nextish", <https://a/next-only>;rel=next`},
	}
	for want, values := range cases {
		if got := NextLink(values); got != want {
			t.Errorf("NextLink(%q) = %q, want %q", values, got, want)
		}
	}
}
