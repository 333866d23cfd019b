package odata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/carrierhub/hub/sdk"
)

// Page is one page of a collection.
type Page[T any] struct {
	// Items holds the page's entities.
	Items []T
	// NextLink is the server's link to the next page (v2 __next, v4
	// @odata.nextLink); empty on the last page.
	NextLink string
	// Count is the total count the server reported when the query asked for it.
	Count int64
	// HasCount says whether the server reported a count.
	HasCount bool
}

// Entity is one entity and its ETag.
type Entity[T any] struct {
	// Value is the decoded entity; the zero T when the server answered 204.
	Value T
	// ETag is the entity's version for If-Match: the ETag header, or the payload's
	// @odata.etag (v4) or __metadata.etag (v2).
	ETag string
}

// List reads the first page of the collection q addresses.
func List[T any](ctx context.Context, c *Client, q *Query) (*Page[T], error) {
	rel, err := q.Build(c.opts.Version)
	if err != nil {
		return nil, local(sdk.CodeInvalidRequest, "building query: %v", err)
	}
	return getPage[T](ctx, c, c.base+"/"+rel)
}

// Pages iterates over the pages of the collection q addresses, following next
// links. A next link must stay on the service root's scheme and host (credentials
// are never sent elsewhere); more than Options.MaxPages pages, or a link that
// repeats, is an error. The iteration ends after the first error.
func Pages[T any](ctx context.Context, c *Client, q *Query) iter.Seq2[*Page[T], error] {
	return func(yield func(*Page[T], error) bool) {
		rel, err := q.Build(c.opts.Version)
		if err != nil {
			yield(nil, local(sdk.CodeInvalidRequest, "building query: %v", err))
			return
		}
		next := c.base + "/" + rel
		seen := map[string]bool{}
		for n := 1; ; n++ {
			p, err := getPage[T](ctx, c, next)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(p, nil) || p.NextLink == "" {
				return
			}
			seen[next] = true
			link, err := c.followable(next, p.NextLink)
			if err == nil && seen[link] {
				err = badResponse("odata GET", "next link repeats an earlier page")
			}
			if err == nil && n >= c.opts.MaxPages {
				err = &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
					Message: fmt.Sprintf("odata GET: collection has more than %d pages (Options.MaxPages)", c.opts.MaxPages)}
			}
			if err != nil {
				yield(nil, err)
				return
			}
			next = link
		}
	}
}

// All reads every page of the collection q addresses (see Pages for the guards)
// and returns all entities.
func All[T any](ctx context.Context, c *Client, q *Query) ([]T, error) {
	var out []T
	for p, err := range Pages[T](ctx, c, q) {
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
	}
	return out, nil
}

// followable resolves a next link against the page it came from and refuses a
// link to another scheme or host.
func (c *Client) followable(current, link string) (string, error) {
	cur, err := url.Parse(current)
	if err != nil {
		return "", badResponse("odata GET", "current page URL: %v", err)
	}
	ref, err := url.Parse(link)
	if err != nil {
		return "", badResponse("odata GET", "next link is not a URL")
	}
	u := cur.ResolveReference(ref)
	if u.Scheme != c.root.Scheme || u.Host != c.root.Host {
		return "", &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
			Message: fmt.Sprintf("odata GET: next link points to %s://%s, not the service host %s; refused", u.Scheme, u.Host, c.root.Host)}
	}
	return u.String(), nil
}

func getPage[T any](ctx context.Context, c *Client, rawURL string) (*Page[T], error) {
	resp, body, err := c.exchange(ctx, http.MethodGet, rawURL, nil, "", nil)
	if err != nil {
		return nil, err
	}
	p, err := decodePage[T](c.opts.Version, body)
	if err != nil {
		return nil, badResponse(c.where(http.MethodGet, resp.Request.URL), "%v", err)
	}
	return p, nil
}

// Get reads the single entity q addresses (normally a key predicate).
func Get[T any](ctx context.Context, c *Client, q *Query) (*Entity[T], error) {
	rel, err := q.Build(c.opts.Version)
	if err != nil {
		return nil, local(sdk.CodeInvalidRequest, "building query: %v", err)
	}
	resp, body, err := c.exchange(ctx, http.MethodGet, c.base+"/"+rel, nil, "", nil)
	if err != nil {
		return nil, err
	}
	return entityFrom[T](c, resp, body)
}

// Create posts body to the entity set q addresses and returns the created
// entity (zero when the server answered 204 without a body).
func Create[T any](ctx context.Context, c *Client, q *Query, body any) (*Entity[T], error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Query: q, Body: body})
	if err != nil {
		return nil, err
	}
	return entityFrom[T](c, &http.Response{StatusCode: resp.Status, Header: resp.Header}, resp.Body)
}

// Update sends a partial update of the entity q addresses (PATCH in v4, MERGE in
// v2 as Options.V2Update says) with If-Match: etag when etag is not empty. A
// stale ETag comes back as a conflict. It returns the new ETag when the server
// sent one.
func (c *Client) Update(ctx context.Context, q *Query, body any, etag string) (string, error) {
	method := http.MethodPatch
	if c.opts.Version == V2 && c.opts.V2Update != Patch {
		method = "MERGE"
	}
	resp, err := c.Do(ctx, Request{Method: method, Query: q, Body: body, IfMatch: etag})
	if err != nil {
		return "", err
	}
	return resp.Header.Get("ETag"), nil
}

// Delete deletes the entity q addresses, with If-Match: etag when etag is not empty.
func (c *Client) Delete(ctx context.Context, q *Query, etag string) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Query: q, IfMatch: etag})
	return err
}

func entityFrom[T any](c *Client, resp *http.Response, body []byte) (*Entity[T], error) {
	e := &Entity[T]{ETag: resp.Header.Get("ETag")}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode == http.StatusNoContent {
			return e, nil
		}
		return nil, badResponse("odata", "HTTP %d with an empty body where an entity was expected", resp.StatusCode)
	}
	if err := decodeEntity(c.opts.Version, body, e); err != nil {
		where := "odata"
		if resp.Request != nil {
			where = c.where(resp.Request.Method, resp.Request.URL)
		}
		return nil, badResponse(where, "%v", err)
	}
	return e, nil
}

// v4Collection is {"value":[...],"@odata.nextLink":"...","@odata.count":12}.
type v4Collection[T any] struct {
	Value    []T       `json:"value"`
	NextLink string    `json:"@odata.nextLink"`
	Count    flexCount `json:"@odata.count"`
}

// v2Collection is the "d" of {"d":{"results":[...],"__next":"...","__count":"12"}},
// or the bare array of the older {"d":[...]}.
type v2Collection[T any] struct {
	Results []T       `json:"results"`
	Next    string    `json:"__next"`
	Count   flexCount `json:"__count"`
}

// UnmarshalJSON accepts the object and the bare array forms of d.
func (v *v2Collection[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &v.Results)
	}
	type plain v2Collection[T]
	return json.Unmarshal(b, (*plain)(v))
}

// flexCount reads a count sent as a number (v4) or a string (v2, and v4 with
// IEEE754Compatible=true).
type flexCount struct {
	n   int64
	set bool
}

// UnmarshalJSON accepts 12 or "12".
func (f *flexCount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 1 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("count %q is not an integer", clip(string(b)))
	}
	f.n, f.set = n, true
	return nil
}

func decodePage[T any](v Version, body []byte) (*Page[T], error) {
	if v == V4 {
		var c v4Collection[T]
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, fmt.Errorf("decoding v4 collection: %w", err)
		}
		if c.Value == nil {
			return nil, fmt.Errorf("answer is not a v4 collection (no \"value\" array)")
		}
		return &Page[T]{Items: c.Value, NextLink: c.NextLink, Count: c.Count.n, HasCount: c.Count.set}, nil
	}
	var env struct {
		D *v2Collection[T] `json:"d"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decoding v2 collection: %w", err)
	}
	if env.D == nil || env.D.Results == nil {
		return nil, fmt.Errorf("answer is not a v2 collection (no \"d\" with \"results\")")
	}
	return &Page[T]{Items: env.D.Results, NextLink: env.D.Next, Count: env.D.Count.n, HasCount: env.D.Count.set}, nil
}

func decodeEntity[T any](v Version, body []byte, e *Entity[T]) error {
	if v == V4 {
		if err := json.Unmarshal(body, &e.Value); err != nil {
			return fmt.Errorf("decoding v4 entity: %w", err)
		}
		if e.ETag == "" {
			var meta struct {
				ETag string `json:"@odata.etag"`
			}
			_ = json.Unmarshal(body, &meta)
			e.ETag = meta.ETag
		}
		return nil
	}
	var env struct {
		D *json.RawMessage `json:"d"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("decoding v2 entity: %w", err)
	}
	if env.D == nil || len(*env.D) == 0 || (*env.D)[0] != '{' {
		return fmt.Errorf("answer is not a v2 entity (no \"d\" object)")
	}
	if err := json.Unmarshal(*env.D, &e.Value); err != nil {
		return fmt.Errorf("decoding v2 entity: %w", err)
	}
	if e.ETag == "" {
		var meta struct {
			Metadata struct {
				ETag string `json:"etag"`
			} `json:"__metadata"`
		}
		_ = json.Unmarshal(*env.D, &meta)
		e.ETag = meta.Metadata.ETag
	}
	return nil
}
