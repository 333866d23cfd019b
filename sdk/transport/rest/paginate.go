package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/sdk"
)

// DefaultMaxPages is the page limit a Pager applies when it names none.
const DefaultMaxPages = 100

// Next returns the request for the page after resp, which answered req and held
// items items, or nil when resp was the last page. PageNumber, Offset, Cursor,
// CursorJSON and LinkNext make the common styles.
type Next func(req *Request, resp *Response, items int) (*Request, error)

// PageNumber pages with a page-number query parameter (page=1, page=2, ...)
// starting at first, and stops after a page holding fewer than size items (or
// none, when size is 0).
func PageNumber(param string, first, size int) Next {
	return func(req *Request, _ *Response, items int) (*Request, error) {
		if items == 0 || (size > 0 && items < size) {
			return nil, nil
		}
		cur := first
		if v := req.Query.Get(param); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, sdk.Errorf(sdk.CodeInternal, "rest: page parameter %s=%q is not a number", param, v)
			}
			cur = n
		}
		return withParam(req, param, strconv.Itoa(cur+1)), nil
	}
}

// Offset pages with an offset query parameter advanced by the items each page
// held, and stops after a page holding fewer than size items (or none).
func Offset(param string, size int) Next {
	return func(req *Request, _ *Response, items int) (*Request, error) {
		if items == 0 || (size > 0 && items < size) {
			return nil, nil
		}
		cur := 0
		if v := req.Query.Get(param); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, sdk.Errorf(sdk.CodeInternal, "rest: offset parameter %s=%q is not a number", param, v)
			}
			cur = n
		}
		return withParam(req, param, strconv.Itoa(cur+items)), nil
	}
}

// Cursor pages with a cursor (or next-token) the provider returns: cursor reads
// it from each answer, and it is sent back in the query parameter param. An
// empty cursor ends the sequence; a cursor equal to the one just sent is an
// error, since the provider would loop.
func Cursor(param string, cursor func(*Response) (string, error)) Next {
	return func(req *Request, resp *Response, _ int) (*Request, error) {
		next, err := cursor(resp)
		if err != nil || next == "" {
			return nil, err
		}
		if next == req.Query.Get(param) {
			return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
				Message: fmt.Sprintf("%s returned the same %s cursor twice", resp.name(), param)}
		}
		return withParam(req, param, next), nil
	}
}

// CursorJSON is Cursor reading the next cursor from the JSON body at a gjson path
// such as "meta.next_cursor" or "nextToken".
func CursorJSON(param, path string) Next {
	return Cursor(param, func(r *Response) (string, error) {
		v := gjson.GetBytes(r.Body, path)
		if v.Type == gjson.Null {
			return "", nil
		}
		return v.String(), nil
	})
}

// LinkNext follows the Link header's rel="next" target (RFC 8288), resolved
// against the current page's URL. A target on another scheme or host is refused,
// so credentials never follow a link off the provider's API.
func LinkNext() Next {
	return func(req *Request, resp *Response, _ int) (*Request, error) {
		target := NextLink(resp.Header.Values("Link"))
		if target == "" {
			return nil, nil
		}
		ref, err := url.Parse(target)
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
				Message: fmt.Sprintf("%s sent a next link that is not a URL", resp.name())}
		}
		u := resp.URL.ResolveReference(ref)
		if u.Scheme != resp.URL.Scheme || u.Host != resp.URL.Host {
			return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceCarrier,
				Message: fmt.Sprintf("%s sent a next link to another host (%s); not following it", resp.name(), u.Host)}
		}
		next := req.Clone()
		next.Path, next.Query = u.String(), nil
		return next, nil
	}
}

// NextLink returns the target of the rel="next" link in Link header values, or
// "" when there is none.
func NextLink(values []string) string {
	for _, v := range values {
		for len(v) > 0 {
			lt := strings.IndexByte(v, '<')
			if lt < 0 {
				break
			}
			gt := strings.IndexByte(v[lt:], '>')
			if gt < 0 {
				break
			}
			target := v[lt+1 : lt+gt]
			rest := v[lt+gt+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			v = rest[len(params):]
			for _, p := range strings.Split(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				val = strings.Trim(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(val), ",")), `"`)
				for _, rel := range strings.Fields(val) {
					if strings.EqualFold(rel, "next") {
						return target
					}
				}
			}
		}
	}
	return ""
}

func withParam(req *Request, param, value string) *Request {
	next := req.Clone()
	if next.Query == nil {
		next.Query = url.Values{}
	}
	next.Query.Set(param, value)
	return next
}

// JSONItems returns an Items function that decodes the JSON array at a gjson
// path ("data.shipments"; "@this" for a bare array) into []T. A missing array is
// an empty page.
func JSONItems[T any](path string) func(*Response) ([]T, error) {
	return func(r *Response) ([]T, error) {
		if isHTML(r.Header.Get("Content-Type"), r.Body) {
			var v any
			return nil, r.DecodeJSON(&v)
		}
		res := gjson.GetBytes(r.Body, path)
		if !res.Exists() || res.Type == gjson.Null {
			return nil, nil
		}
		if !res.IsArray() {
			return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("reading %s's answer: %s is not a JSON array", r.name(), path)}
		}
		var out []T
		if err := json.Unmarshal([]byte(res.Raw), &out); err != nil {
			return nil, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
				Message: fmt.Sprintf("reading %s's answer: %s: %v", r.name(), path, err)}
		}
		return out, nil
	}
}

// Pager walks a paged listing. Build one per listing; All may be ranged over
// more than once, each time from the first page.
type Pager[T any] struct {
	// Client sends the requests. Required.
	Client *Client
	// First is the first page's request; later pages are derived from it. Required.
	First *Request
	// Next derives each following request (PageNumber, Offset, Cursor, LinkNext). Required.
	Next Next
	// Items extracts one page's items (JSONItems, say). Required.
	Items func(*Response) ([]T, error)
	// MaxPages bounds the walk (default DefaultMaxPages); a provider that has more
	// pages yields a permanent error after the last allowed page's items.
	MaxPages int
}

// All yields every item of every page in order. A failure is yielded once, with
// a zero item, and ends the sequence. Stopping the range early sends no further
// requests.
func (p *Pager[T]) All(ctx context.Context) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if p.Client == nil || p.First == nil || p.Next == nil || p.Items == nil {
			yield(zero, sdk.Errorf(sdk.CodeInternal, "rest: Pager needs Client, First, Next and Items"))
			return
		}
		max := p.MaxPages
		if max <= 0 {
			max = DefaultMaxPages
		}
		req := p.First
		for page := 1; req != nil; page++ {
			if page > max {
				yield(zero, &sdk.Error{Code: sdk.CodePermanent, Source: sdk.SourceConnector,
					Message: fmt.Sprintf("rest: %s has more than %d pages; stopped", p.Client.displayName(), max)})
				return
			}
			resp, err := p.Client.Do(ctx, req)
			if err != nil {
				yield(zero, err)
				return
			}
			items, err := p.Items(resp)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			req, err = p.Next(req, resp, len(items))
			if err != nil {
				yield(zero, err)
				return
			}
		}
	}
}
