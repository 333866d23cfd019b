// Package odata is the SDK's OData v2 and v4 transport, for ERP connectors such
// as SAP S/4HANA (Gateway v2 services like API_SALES_ORDER_SRV and
// API_OUTBOUND_DELIVERY_SRV, RAP v4 services) and Dynamics 365 Finance &
// Operations and Business Central (v4). It has two halves:
//
//   - A query builder (From, Key, Keys, Nav, Filter, Select, Expand, OrderBy, Top,
//     Skip, Count, Param) with typed literals (String, Int64, Decimal, DateTime,
//     GUID, ...) and typed filter expressions (Eq ... Le, And, Or, Not, Contains,
//     StartsWith, EndsWith). Values are rendered in the target version's syntax and
//     percent-encoded, so user input can never add to or end a $filter.
//   - A Client that reads collections and entities in both payload styles, follows
//     next links, creates, updates and deletes with ETags, runs SAP's CSRF token
//     flow, and turns every failure into a classified *sdk.Error.
//
// What the documents say, and what this package does with it:
//
//   - v2 JSON ("verbose JSON", MS-ODATA 2.2.6.3): a collection is
//     {"d":{"results":[...],"__next":"...","__count":"91"}} (the count is a string
//     and only present with $inlinecount=allpages; MS-ODATA 2.2.6.3.2.1 and
//     2.2.3.6.1.10), older services send {"d":[...]}, a single entity is
//     {"d":{...}} with its ETag in __metadata.etag. This package asks v2 services
//     for $format=json and Accept: application/json.
//   - v4 JSON (OASIS OData JSON Format 4.0/4.01): a collection is
//     {"value":[...],"@odata.nextLink":"...","@odata.count":91} ($count=true); a
//     single entity is the object itself with @odata.etag. Next links may be
//     relative and are resolved against the page they came from.
//   - Literals: v2 (OData 2.0 URI conventions, section 5.1.2 / MS-ODATA abnf)
//     writes datetime'2024-05-01T10:30:00', datetimeoffset'...', guid'...', 42L,
//     1.5M, 1.5d; v4 (URL Conventions part 2, section 5.1.1.x) writes them bare.
//     Strings are single-quoted with ' doubled in both. v2 has substringof('x',P)
//     where v4 has contains(P,'x'); the forms are the ones SAP UI5 emits.
//   - Counting: $inlinecount=allpages in v2 (MS-ODATA 2.2.3.6.1.10), $count=true
//     in v4.
//   - Updates: v2 uses MERGE (or POST with X-HTTP-Method: MERGE through proxies
//     that refuse the verb, or PATCH); v4 uses PATCH. SAP Gateway's ETag handling
//     (help.sap.com "ETag Handling") sends If-Match with the ETag read earlier and
//     answers 412 when it is stale; this package reports 409 and 412 as conflict.
//   - SAP CSRF (SAP KBA 3048103; SAP community "How CSRF tokens work in SAP web
//     services"): modifying requests need an X-CSRF-Token fetched by a GET with
//     "X-CSRF-Token: Fetch", and the token is bound to the session cookies of that
//     GET (cookie names vary: sap-XSRF_<SID>_<client>, SAP_SESSIONID_...), so the
//     Client keeps every cookie it receives. A refused or expired token comes back
//     as 403 with "X-CSRF-Token: Required"; the server has not acted, so the Client
//     fetches a new token and retries exactly once.
//   - Errors: v2 {"error":{"code":"...","message":{"lang":"en","value":"..."},
//     "innererror":{"errordetails":[...]}}} (SAP Gateway; Microsoft MS-ODATAJSON
//     2.1.28 documents the same lang/value object); v4 {"error":{"code":"...",
//     "message":"...","target":"...","details":[...]}} (OASIS JSON format, "Error
//     Response"). The code and message go to CarrierCode and CarrierMessage; the
//     details are appended to Message.
//
// Sources: docs.oasis-open.org odata-json-format v4.0/v4.01 and odata v4.02 part 2
// URL conventions; learn.microsoft.com openspecs MS-ODATA (InlineCount
// representation, $inlinecount) and MS-ODATAJSON 2.1.28; help.sap.com SAP Gateway
// "ETag Handling"; userapps.support.sap.com KBA 3048103 (CSRF token validation
// failed); community.sap.com posts on CSRF tokens and S/4HANA Cloud ETag
// validation; learn.microsoft.com OData WebApi "Add NextPageLink and $count".
//
// Status classification: 400, 413, 414, 415, 422 and 428 invalid_request; 401
// and 403 auth_failed; 404 and 410 not_found; 409 and 412 conflict; 429
// rate_limited with Retry-After; 408 timeout; 5xx carrier_unavailable (with
// Retry-After on 503); other 4xx permanent. A failure before a connection was
// obtained (DNS, connect, the Auth hook, a bad query) sets NotSent. The engine,
// not this package, decides whether to retry; the only retry here is the CSRF one.
//
// Secrets never appear in errors: messages name the method and resource path,
// never the query string or headers. This package may import sdk but never
// engine/, and does not depend on the REST transport.
package odata
