package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
)

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.do("GET", "/openapi.json", "", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %v", r.status, r.header)
	}
	var doc map[string]any
	r.decode(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	s := &server{}
	routes := s.routes()
	for _, rt := range routes {
		item, ok := paths[rt.Pattern].(map[string]any)
		if !ok {
			t.Fatalf("path %s missing", rt.Pattern)
		}
		op, ok := item[strings.ToLower(rt.Method)].(map[string]any)
		if !ok {
			t.Fatalf("%s %s missing", rt.Method, rt.Pattern)
		}
		if op["summary"] == "" || op["operationId"] != rt.ID {
			t.Fatalf("%s %s: %v", rt.Method, rt.Pattern, op)
		}
		// Every registered route answers something other than the unmatched 404/405.
		path := strings.NewReplacer("{id}", "acme", "{operation}", "track").Replace(rt.Pattern)
		if res := h.do(rt.Method, path, h.adminKey, "{}"); res.status == 405 || (res.status == 404 && strings.Contains(string(res.body), "no route")) {
			t.Fatalf("%s %s is in the document but not served: %d %s", rt.Method, path, res.status, res.body)
		}
	}
	count := 0
	for _, item := range paths {
		count += len(item.(map[string]any))
	}
	if count != len(routes) {
		t.Fatalf("document has %d operations, route table %d", count, len(routes))
	}

	// Every local reference resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, "#/components/") {
				var node any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, ok := node.(map[string]any)
					if !ok || m[part] == nil {
						t.Fatalf("unresolved $ref %s", ref)
					}
					node = m[part]
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	// The operation route documents its body as oneOf the canonical requests, with real schemas.
	invoke := paths["/v1/connectors/{id}/{operation}"].(map[string]any)["post"].(map[string]any)
	body := invoke["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if n := len(body["oneOf"].([]any)); n != len(sdk.Operations()) {
		t.Fatalf("oneOf has %d entries for %d operations", n, len(sdk.Operations()))
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	sr, _ := json.Marshal(schemas["ShipmentRequest"])
	if !strings.Contains(string(sr), "ship_to") {
		t.Fatalf("ShipmentRequest schema is a placeholder: %s", sr)
	}
	if _, ok := invoke["security"].([]any)[0].(map[string]any)["bearer"]; !ok {
		t.Fatal("operation route is not marked as needing a bearer key")
	}
}
