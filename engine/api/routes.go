package api

import (
	"net/http"
	"slices"

	"github.com/carrierhub/hub/engine/store"
)

// route is one entry of the API's route table, which both registers the
// ServeMux handler and writes the OpenAPI operation.
type route struct {
	Method  string
	Pattern string
	// ID is the OpenAPI operationId.
	ID      string
	Summary string
	Auth    access
	// Query lists the query parameters, Headers the request headers it reads.
	Query   []param
	Headers []param
	// Body is the JSON Schema of the request body; nil when there is none.
	Body schema
	// Responses are the success responses by status; problems are added by auth and body rules.
	Responses []response
	// Errors are the extra problem statuses the route may answer.
	Errors  []int
	handler func(w http.ResponseWriter, r *http.Request, key store.APIKey)
}

type param struct {
	Name        string
	Description string
}

type response struct {
	Status      int
	Description string
	Schema      schema
}

// schema is a JSON Schema fragment of the OpenAPI document.
type schema = map[string]any

func ref(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }

func arrayOf(s schema) schema { return schema{"type": "array", "items": s} }

var (
	accountParam  = param{"account", "The account to act for; needed when the tenant has several accounts of this connector. The Hub-Account header does the same."}
	hubAccountHdr = param{"Hub-Account", "The account to act for, as a header."}
	idemHdr       = param{"Idempotency-Key", "The caller's key for a creating operation; only accepted where the operation creates something. A retry with the same key and body gets the first answer again, except an unknown outcome (502 outcome_unknown), which the retry settles."}
	confirmHdr    = param{"Hub-Confirm-Not-Created", "true: the caller checked the provider and nothing was created, so a create of unknown outcome that the hub cannot look up may be made again under the same Idempotency-Key (see the 409 outcome_unknown problem). Read only when settling such a create."}
	requestIDHdr  = param{"X-Request-Id", "The caller's request id (at most 128 printable characters); generated when absent and echoed on every response."}
)

// routeHandler is a route's handler on the ServeMux; ServeHTTP tells it from
// the mux's own handlers (404, 405, redirects to the clean path) by its type.
type routeHandler func(w http.ResponseWriter, r *http.Request)

func (h routeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h(w, r) }

// wrap applies a route's access rule and hands the caller's key to its handler.
func (s *server) wrap(rt route) routeHandler {
	return routeHandler(func(w http.ResponseWriter, r *http.Request) {
		var key store.APIKey
		if rt.Auth != public {
			k, ok := s.authenticate(w, r, rt.Auth)
			if !ok {
				return
			}
			key = k
		}
		rt.handler(w, r, key)
	})
}

// routes is the API's one route table.
func (s *server) routes() []route {
	return append([]route{
		{Method: "GET", Pattern: "/healthz", ID: "healthz", Summary: "Liveness: the hub process answers.", Auth: public,
			Responses: []response{{200, "The hub is alive.", schema{"type": "object", "properties": schema{"status": schema{"const": "ok"}}}}},
			handler:   s.healthz},
		{Method: "GET", Pattern: "/readyz", ID: "readyz", Summary: "Readiness: the hub's store answers.", Auth: public,
			Responses: []response{{200, "The hub is ready.", schema{"type": "object", "properties": schema{"status": schema{"const": "ready"}}}}},
			Errors:    []int{503}, handler: s.readyz},
		{Method: "GET", Pattern: "/healthz/connectors", ID: "connectorProcesses",
			Summary: "Process status of every connector, for operators and monitors; no API key needed and no tenant data.", Auth: public,
			Responses: []response{{200, "One entry per connector.", arrayOf(ref("ConnectorProcess"))}},
			handler:   s.processSummary},
		{Method: "GET", Pattern: "/openapi.json", ID: "openapi", Summary: "This OpenAPI 3.1 document.", Auth: public,
			Responses: []response{{200, "The OpenAPI document.", schema{"type": "object"}}},
			handler:   s.openAPI},
		{Method: "GET", Pattern: "/v1/connectors", ID: "listConnectors", Summary: "List connectors with their operations, account schema, sources and process status (tenant or operator keys).", Auth: tenantOrOperator,
			Responses: []response{{200, "Every connector, by id.", arrayOf(ref("Connector"))}},
			handler:   s.listConnectors},
		{Method: "GET", Pattern: "/v1/connectors/{id}", ID: "getConnector", Summary: "Get one connector (tenant or operator keys).", Auth: tenantOrOperator,
			Responses: []response{{200, "The connector.", ref("Connector")}}, Errors: []int{404},
			handler: s.getConnector},
		{Method: "GET", Pattern: "/v1/connectors/{id}/health", ID: "connectorHealth",
			Summary: "Probe a connector: its process state and its own health check, with an account when one is named (tenant keys only). Starts the process.", Auth: tenantOrOperator,
			Query:     []param{accountParam},
			Responses: []response{{200, "The probe's outcome; healthy says whether all is well.", ref("ConnectorHealth")}},
			Errors:    []int{403, 404, 422, 424, 502, 503, 504}, handler: s.connectorHealth},
		{Method: "GET", Pattern: "/v1/connectors/{id}/exchanges", ID: "connectorExchanges",
			Summary: "An account's latest exchanges with the provider (up to 20, newest first): what the connector sent and what came back, with every secret redacted by the connector before it leaves. Kept in the connector's process memory: empty after a restart.",
			Auth:    tenant, Query: []param{{"account", "The tenant's account whose exchanges to show; required."}},
			Responses: []response{{200, "The exchanges.", arrayOf(ref("ProviderExchange"))}}, Errors: []int{404, 422, 501},
			handler: s.connectorExchanges},
		{Method: "POST", Pattern: "/v1/connectors/{id}/{operation}", ID: "invoke",
			Summary: "Run a canonical operation through a connector. The body is the operation's canonical request; the answer its canonical response.", Auth: tenant,
			Query: []param{accountParam}, Headers: []param{hubAccountHdr, idemHdr, confirmHdr},
			Body:      operationRequests(),
			Responses: []response{{200, "The operation's canonical response.", operationResponses()}},
			Errors:    []int{404, 409, 424, 429, 502, 503, 504}, handler: s.invoke},
		{Method: "GET", Pattern: "/v1/accounts", ID: "listAccounts", Summary: "List the tenant's accounts (credentials are never returned).", Auth: tenant,
			Query:     []param{{"connector", "Only accounts of this connector."}},
			Responses: []response{{200, "The tenant's accounts.", arrayOf(ref("Account"))}},
			handler:   s.listAccounts},
		{Method: "POST", Pattern: "/v1/accounts", ID: "createAccount",
			Summary: "Create an account: credentials and settings for one connector, checked against the connector's declared names.", Auth: tenant,
			Body:      ref("AccountInput"),
			Responses: []response{{201, "The account, without its credentials.", ref("Account")}},
			Errors:    []int{409}, handler: s.createAccount},
		{Method: "GET", Pattern: "/v1/accounts/{id}", ID: "getAccount", Summary: "Get one of the tenant's accounts (without credentials).", Auth: tenant,
			Responses: []response{{200, "The account.", ref("Account")}}, Errors: []int{404},
			handler: s.getAccount},
		{Method: "DELETE", Pattern: "/v1/accounts/{id}", ID: "deleteAccount", Summary: "Delete one of the tenant's accounts.", Auth: tenant,
			Responses: []response{{204, "Deleted.", nil}}, Errors: []int{404},
			handler: s.deleteAccount},
		{Method: "GET", Pattern: "/v1/api-keys", ID: "listAPIKeys", Summary: "List the tenant's API keys, revoked and expired ones included (never their secrets).", Auth: tenant,
			Responses: []response{{200, "The tenant's keys.", arrayOf(ref("APIKey"))}},
			handler:   s.listAPIKeys},
		{Method: "POST", Pattern: "/v1/api-keys", ID: "createAPIKey",
			Summary: "Create an API key, optionally expiring; its secret is returned only in this response. Only an admin key creates an admin key (else 403); a key never outlives the expiring key that made it.", Auth: tenant,
			Body:      ref("APIKeyInput"),
			Responses: []response{{201, "The key and its secret.", ref("APIKeyCreated")}},
			Errors:    []int{403}, handler: s.createAPIKey},
		{Method: "DELETE", Pattern: "/v1/api-keys/{id}", ID: "revokeAPIKey",
			Summary: "Revoke one of the tenant's API keys. Only an admin key revokes an admin key (else 403); the tenant's last live admin key is not revoked (409).", Auth: tenant,
			Responses: []response{{204, "Revoked.", nil}}, Errors: []int{403, 404, 409},
			handler: s.revokeAPIKey},
		{Method: "GET", Pattern: "/v1/tenants", ID: "listTenants",
			Summary: "List tenants: every tenant for an operator key; for a tenant's key, only its own tenant.", Auth: tenantOrOperator,
			Responses: []response{{200, "The tenants the key may see.", arrayOf(ref("Tenant"))}},
			handler:   s.listTenants},
		{Method: "GET", Pattern: "/v1/tenants/{id}", ID: "getTenant",
			Summary: "Get one tenant: any for an operator key; for a tenant's key only its own (another tenant is 404, as if it did not exist).", Auth: tenantOrOperator,
			Responses: []response{{200, "The tenant.", ref("Tenant")}}, Errors: []int{404},
			handler: s.getTenant},
		{Method: "POST", Pattern: "/v1/tenants", ID: "createTenant", Summary: "Create a tenant and its first API key, an admin key (operator keys only).", Auth: operator,
			Body:      ref("TenantInput"),
			Responses: []response{{201, "The tenant and its first (admin) key, whose secret is shown only here.", ref("TenantCreated")}},
			Errors:    []int{409}, handler: s.createTenant},
	}, slices.Concat(s.webhookRoutes(), s.inboundRoutes(), s.unconfirmedRoutes(), s.consoleRoutes(), s.shipmentRoutes(), s.overviewRoutes())...)
}
