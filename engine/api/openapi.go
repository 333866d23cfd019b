package api

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/modelschema"
)

// canonicalSchemas returns every canonical request and response schema by Go
// type name, read from sdk/modelschema's committed files. A type without a file
// gets a placeholder object schema naming it, so every reference resolves.
func canonicalSchemas() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, op := range sdk.Operations() {
		for _, t := range []reflect.Type{op.Request, op.Response} {
			name := t.Name()
			if _, done := out[name]; done {
				continue
			}
			file, ok := modelschema.NameFor(t)
			if !ok {
				out[name] = json.RawMessage(fmt.Sprintf(`{"type":"object","description":"The canonical %s (sdk/model.%s)."}`, name, name))
				continue
			}
			data, err := fs.ReadFile(modelschema.FS(), file)
			if err != nil {
				return nil, fmt.Errorf("reading schema of %s: %w", name, err)
			}
			if !json.Valid(data) {
				return nil, fmt.Errorf("schema %s is not JSON", file)
			}
			out[name] = data
		}
	}
	return out, nil
}

func operationRequests() schema {
	var one []any
	seen := map[string]bool{}
	for _, op := range sdk.Operations() {
		if n := op.Request.Name(); !seen[n] {
			seen[n] = true
			one = append(one, schema{"$ref": "#/components/schemas/" + n, "title": string(op.Name)})
		}
	}
	return schema{"oneOf": one, "description": "The canonical request of the operation named in the path: " + operationList(func(op sdk.OperationSpec) string { return op.Request.Name() }) + "."}
}

func operationResponses() schema {
	var one []any
	seen := map[string]bool{}
	for _, op := range sdk.Operations() {
		if n := op.Response.Name(); !seen[n] {
			seen[n] = true
			one = append(one, ref(n))
		}
	}
	return schema{"oneOf": one, "description": "The canonical response of the operation named in the path: " + operationList(func(op sdk.OperationSpec) string { return op.Response.Name() }) + "."}
}

func operationList(name func(sdk.OperationSpec) string) string {
	var parts []string
	for _, op := range sdk.Operations() {
		parts = append(parts, string(op.Name)+" takes "+name(op))
	}
	return strings.Join(parts, ", ")
}

var pathParam = regexp.MustCompile(`\{([a-zA-Z_]+)\}`)

// buildOpenAPI writes the OpenAPI 3.1 document of the route table.
func buildOpenAPI(routes []route, version string) ([]byte, error) {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		op := map[string]any{"operationId": rt.ID, "summary": rt.Summary}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
			p := map[string]any{"name": m[1], "in": "path", "required": true, "schema": schema{"type": "string"}}
			if m[1] == "operation" {
				var names []any
				for _, o := range sdk.Operations() {
					names = append(names, string(o.Name))
				}
				p["schema"] = schema{"type": "string", "enum": names}
			}
			params = append(params, p)
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": schema{"type": "string"}})
		}
		for _, h := range append(append([]param(nil), rt.Headers...), requestIDHdr) {
			params = append(params, map[string]any{"name": h.Name, "in": "header", "description": h.Description, "schema": schema{"type": "string"}})
		}
		op["parameters"] = params
		if rt.Body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": rt.Body}}}
		}
		responses := map[string]any{}
		for _, resp := range rt.Responses {
			r := map[string]any{"description": resp.Description}
			if resp.Schema != nil {
				r["content"] = map[string]any{"application/json": map[string]any{"schema": resp.Schema}}
			}
			responses[strconv.Itoa(resp.Status)] = r
		}
		errs := append([]int(nil), rt.Errors...)
		if rt.Auth != public {
			errs = append(errs, 401, 503)
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		} else {
			op["security"] = []any{}
		}
		if rt.Auth == tenant || rt.Auth == operator {
			errs = append(errs, 403)
		}
		if rt.Body != nil {
			errs = append(errs, 400, 413, 415, 422)
		}
		errs = append(errs, 431)
		for _, st := range errs {
			responses[strconv.Itoa(st)] = map[string]any{"$ref": "#/components/responses/Problem" + strconv.Itoa(st)}
		}
		responses["default"] = map[string]any{"$ref": "#/components/responses/Problem"}
		op["responses"] = responses
		if paths[rt.Pattern] == nil {
			paths[rt.Pattern] = map[string]any{}
		}
		paths[rt.Pattern][strings.ToLower(rt.Method)] = op
	}

	schemas := map[string]any{}
	canon, err := canonicalSchemas()
	if err != nil {
		return nil, err
	}
	for name, s := range canon {
		schemas[name] = s
	}
	for name, s := range managementSchemas() {
		schemas[name] = s
	}
	for name, s := range webhookSchemas() {
		schemas[name] = s
	}
	for name, s := range consoleSchemas() {
		schemas[name] = s
	}
	schemas["UnconfirmedShipment"] = unconfirmedSchema()
	schemas["Shipment"] = shipmentSchema()
	schemas["Overview"] = overviewSchema()
	schemas["ProviderExchange"] = schema{"type": "object", "description": "One exchange with a provider, redacted (sdk/exchange.Record).",
		"required": []string{"at", "account", "method", "url", "duration_ms"}, "properties": schema{
			"at": schema{"type": "string", "format": "date-time"}, "account": schema{"type": "string"}, "operation": schema{"type": "string"},
			"request_id": schema{"type": "string"}, "method": schema{"type": "string"}, "url": schema{"type": "string"},
			"request_headers": schema{"type": "object", "additionalProperties": schema{"type": "string"}}, "request_body": schema{"type": "string"},
			"status": schema{"type": "integer"}, "response_headers": schema{"type": "object", "additionalProperties": schema{"type": "string"}},
			"response_body": schema{"type": "string"}, "truncated": schema{"type": "boolean"}, "duration_ms": schema{"type": "integer"},
			"error": schema{"type": "string"},
		}}
	problemResponses := map[string]any{
		"Problem": map[string]any{"description": "An error, as RFC 9457 problem details.",
			"content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}},
	}
	var statuses []int
	for _, rt := range routes {
		statuses = append(statuses, rt.Errors...)
	}
	statuses = append(statuses, 400, 401, 403, 413, 415, 422, 431, 503)
	sort.Ints(statuses)
	for _, st := range statuses {
		problemResponses["Problem"+strconv.Itoa(st)] = map[string]any{
			"description": http.StatusText(st) + ": " + problemMeaning[st],
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}},
		}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Carrier hub API",
			"version":     version,
			"description": "The hub routes canonical requests (shipments, tracking, e-way bills, ERP postings) to carrier, government and ERP connectors. Errors are RFC 9457 problem+json with a stable code.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":   schemas,
			"responses": problemResponses,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <secret>. A tenant's API key (hub_sk_...) sees only its tenant; a hub-wide operator key (hub_op_..., made with hub operator-keys create) manages tenants and is refused elsewhere. Unknown, revoked and expired keys are 401."},
			},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

var problemMeaning = map[int]string{
	400: "the body is not JSON.",
	401: "no API key, or an unknown, revoked or expired one.",
	403: "the key may not do this: an operator key on a tenant's route, a tenant's key on an operator route, or a non-admin key creating or revoking an admin key.",
	404: "no such connector, operation, account or key.",
	409: "the request conflicts with existing state (a taken name, an Idempotency-Key still running, the tenant's last live admin key); or (code outcome_unknown) a create of unknown outcome the hub cannot look up needs the caller's word: check the provider, then retry with Hub-Confirm-Not-Created: true if nothing was created.",
	413: "the body exceeds the limit.",
	415: "the body is not application/json.",
	422: "the request is invalid (errors name the fields) or the provider refused it for good (code permanent).",
	424: "the provider refused the account's credentials (code auth_failed); fix the account, not the API key.",
	429: "rate limited; Retry-After says when to come back.",
	431: "the request line and headers exceed " + strconv.Itoa(MaxHeaderBytes>>10) + " KiB (code request_header_fields_too_large).",
	502: "the connector failed unexpectedly (code internal); or (code outcome_unknown) a create may have reached the provider without an answer coming back: retry with the same Idempotency-Key after Retry-After to settle it, never with a new key.",
	503: "the provider, or the hub's store, is unavailable; worth retrying.",
	504: "the provider did not answer in time.",
}

func managementSchemas() map[string]any {
	str := schema{"type": "string"}
	strMap := schema{"type": "object", "additionalProperties": str}
	timeStr := schema{"type": "string", "format": "date-time"}
	integer := schema{"type": "integer"}
	number := schema{"type": "number"}
	duration := schema{"type": "string", "description": "A Go duration such as 10s or 1m30s."}
	state := schema{"type": "string", "enum": []any{"idle", "starting", "running", "crashed", "stopped"}}
	obj := func(required []string, props schema) schema {
		s := schema{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{
		"Problem": obj([]string{"type", "title", "status", "code"}, schema{
			"type": str, "title": str, "status": schema{"type": "integer"}, "detail": str, "instance": str,
			"code":            schema{"type": "string", "description": "invalid_request, auth_failed, not_found, conflict, rate_limited, carrier_unavailable, timeout, permanent, internal, outcome_unknown; or for the HTTP exchange itself unauthenticated, forbidden, method_not_allowed, payload_too_large, unsupported_media_type, request_header_fields_too_large, unavailable."},
			"source":          schema{"type": "string", "enum": []any{"hub", "connector", "carrier"}},
			"carrier_code":    str,
			"carrier_message": str,
			"retry_after":     schema{"type": "integer", "description": "Seconds to wait before retrying."},
			"errors": arrayOf(obj([]string{"detail"}, schema{
				"pointer": schema{"type": "string", "description": "JSON pointer into the request body."}, "parameter": schema{"type": "string", "description": "The offending query parameter or header."}, "detail": str,
			})),
			"request_id": str,
		}),
		"Operation": obj([]string{"name", "idempotent", "creates"}, schema{"name": str, "idempotent": schema{"type": "boolean"}, "creates": schema{"type": "boolean"}}),
		"Connector": obj([]string{"id", "name", "category", "version", "operations", "state", "restarts"}, schema{
			"id": str, "name": str, "category": str, "version": str, "builtin": schema{"type": "boolean"},
			"operations": arrayOf(ref("Operation")), "state": state, "pid": schema{"type": "integer"},
			"restarts": schema{"type": "integer"}, "last_error": str, "started_at": timeStr,
			"region": str, "description": str, "protocols": arrayOf(str), "docs": str,
			"sources":    arrayOf(obj([]string{"url"}, schema{"url": str, "covers": str, "confidence": str})),
			"resilience": schema{"type": "object", "description": "The call policy the manifest declares (fields as in connector manifests' resilience)."},
			"account": obj([]string{"credentials", "settings", "environments"}, schema{
				"credentials":  arrayOf(ref("AccountField")),
				"settings":     arrayOf(ref("AccountField")),
				"environments": strMap,
			}),
		}),
		"AccountField": obj([]string{"name"}, schema{"name": str, "description": str, "required": schema{"type": "boolean"}}),
		"ConnectorProcess": obj([]string{"id", "state", "restarts", "uptime_seconds"}, schema{
			"id": str, "state": state, "pid": schema{"type": "integer"}, "started_at": timeStr,
			"uptime_seconds": schema{"type": "integer"}, "restarts": schema{"type": "integer"}, "last_error": str,
			"calls": ref("CallSummary"),
		}),
		"CallSummary": obj([]string{"accounts", "breakers_open", "breakers_half_open", "requests", "failures", "error_rate", "rejected", "in_flight", "queued", "retries_refused"}, schema{
			"p95_ms":          schema{"type": "number", "description": "The 95th percentile of the connector's latest calls (up to 512), in milliseconds."},
			"latency_samples": integer,
			"accounts":        integer, "breakers_open": integer, "breakers_half_open": integer,
			"requests": schema{"type": "integer", "description": "Attempts that reached providers in the breaker window."},
			"failures": integer, "error_rate": number, "rejected": schema{"type": "integer", "description": "Calls failed fast by open breakers in the window."},
			"in_flight": integer, "queued": integer, "retries_refused": integer,
		}),
		"Resilience": obj([]string{"connector", "in_flight", "queued", "max_in_flight", "max_queued", "retry_budget", "accounts"}, schema{
			"connector": str, "in_flight": integer, "queued": integer, "max_in_flight": integer, "max_queued": integer,
			"retry_budget": obj([]string{"window", "requests", "retries", "refused", "allowed"}, schema{
				"window": duration, "requests": integer, "retries": integer, "refused": integer, "allowed": integer,
			}),
			"accounts": arrayOf(obj([]string{"account", "breaker", "window", "requests", "failures", "rejected", "error_rate", "last_used"}, schema{
				"account": str, "breaker": schema{"type": "string", "enum": []any{"closed", "open", "half_open"}},
				"open_remaining": duration, "window": duration, "requests": integer, "failures": integer, "rejected": integer,
				"error_rate": number, "rate_limit": schema{"type": "number", "description": "Requests per second allowed; absent when unlimited."},
				"rate_burst": integer, "tokens_available": schema{"type": "number", "description": "Rate-limit headroom: requests the account may send now without waiting."},
				"last_used": timeStr,
			})),
		}),
		"ConnectorHealth": obj([]string{"id", "state", "healthy", "check_supported"}, schema{
			"id": str, "state": state, "pid": schema{"type": "integer"}, "restarts": schema{"type": "integer"},
			"last_error": str, "started_at": timeStr, "account": str, "check_supported": schema{"type": "boolean"},
			"healthy": schema{"type": "boolean"}, "check_error": ref("Problem"), "resilience": ref("Resilience"),
		}),
		"AccountInput": schema{"type": "object", "additionalProperties": false, "required": []string{"connector_id", "name", "environment"}, "properties": schema{
			"connector_id": str, "name": str,
			"environment": schema{"type": "string", "enum": []any{"sandbox", "production"}},
			"base_url":    schema{"type": "string", "format": "uri", "description": "Overrides the connector's URL for the environment (sandboxes, simulators)."},
			"credentials": strMap, "settings": strMap,
		}},
		"Account": obj([]string{"id", "tenant_id", "connector_id", "name", "environment", "created_at"}, schema{
			"id": str, "tenant_id": str, "connector_id": str, "name": str, "environment": str, "base_url": str,
			"settings": strMap, "created_at": timeStr,
		}),
		"APIKeyInput": schema{"type": "object", "additionalProperties": false, "required": []string{"name"}, "properties": schema{
			"name": str, "admin": schema{"type": "boolean", "description": "Only an admin key may create an admin key (else 403)."},
			"expires_at": schema{"type": "string", "format": "date-time", "description": "When the key stops authenticating (RFC 3339, in the future); absent means never. A key made by an expiring key expires no later than it, and by default with it."},
		}},
		"APIKey": obj([]string{"id", "tenant_id", "name", "prefix", "admin", "created_at"}, schema{
			"id": str, "tenant_id": str, "name": str, "prefix": str,
			"admin":      schema{"type": "boolean", "description": "Admin keys create and revoke the tenant's admin keys."},
			"created_at": timeStr,
			"expires_at": schema{"type": "string", "format": "date-time", "description": "When the key stops authenticating; absent means never. An expired key is listed and answered 401 like a revoked one."},
			"revoked_at": timeStr,
		}),
		"APIKeyCreated": schema{"allOf": []any{ref("APIKey"), obj([]string{"secret"}, schema{"secret": schema{"type": "string", "description": "The bearer secret; shown only once."}})}},
		"TenantInput":   schema{"type": "object", "additionalProperties": false, "required": []string{"name"}, "properties": schema{"name": str}},
		"Tenant":        obj([]string{"id", "name", "created_at"}, schema{"id": str, "name": str, "created_at": timeStr}),
		"TenantCreated": obj([]string{"tenant", "api_key"}, schema{"tenant": ref("Tenant"), "api_key": ref("APIKeyCreated")}),
	}
}
