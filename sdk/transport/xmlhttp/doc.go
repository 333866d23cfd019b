// Package xmlhttp is the SDK's client for plain XML over HTTP: it posts an XML
// document, reads the reply within a size limit, decodes it safely and turns the
// provider's answer into a classified *sdk.Error when it is a refusal. Connectors
// for TallyPrime (ENVELOPE/HEADER/BODY on http://host:9000), Canada Post (REST
// with XML bodies and vendor media types) and the like compose it; package soap
// builds its envelopes on top of it.
//
// What the client does on every call:
//
//   - Sends the body as given (UTF-8) or transcoded to UTF-16LE with a byte order
//     mark (Client.Encoding), with the configured Content-Type and Accept, static
//     headers and an optional auth hook (BasicAuth).
//   - Marks failures before a connection was made as NotSent (so the engine may
//     retry them safely), classifies the context's deadline as a timeout, and never
//     echoes the request URL (it may carry keys) or credentials in an error.
//   - Reads at most MaxResponseBytes of the reply; more is refused with a permanent
//     error, since the provider may have acted on the request.
//   - Decodes replies in UTF-8, UTF-16LE/BE (with or without a byte order mark;
//     some Tally versions answer UTF-16LE with a BOM) and ISO-8859-1.
//   - Refuses a DOCTYPE or ENTITY declaration anywhere in a reply (encoding/xml
//     never expands external entities, but a reply that declares them is refused
//     outright) and elements nested deeper than MaxDepth.
//   - Recognises HTML error pages from proxies and gateways, runs the provider's
//     error reader (TallyErrors, CanadaPostErrors or the connector's own), then
//     classifies any remaining non-2xx status (401/403 auth, 404 not found, 409
//     conflict, 400/422 invalid, 429 rate limited with Retry-After, 5xx
//     retryable).
//
// Provider facts, and where they come from:
//
//   - TallyPrime: requests are POSTed to the Tally server (port 9000 by default)
//     as ENVELOPE/HEADER(VERSION, TALLYREQUEST Import|Export|Execute, TYPE,
//     ID)/BODY; an import answers with counters CREATED, ALTERED, DELETED,
//     LASTVCHID, LASTMID, COMBINED, IGNORED, ERRORS, CANCELLED (and EXCEPTIONS in
//     TallyPrime), either inside <RESPONSE> (Tally.ERP 9) or inside
//     ENVELOPE/BODY/DATA/IMPORTRESULT (TallyPrime), and reports each refused
//     object as a <LINEERROR>. Tally answers HTTP 200 even when it refuses.
//     Sources: help.tallysolutions.com/developer-reference/integration-capabilities/case-study-1/
//     (request and response formats), help.tallysolutions.com/tally/significance_of_tags/,
//     help.tallysolutions.com/pre-requisites-for-integrations (port 9000, no
//     authentication), the tallyprime-sdk crate's ImportResult
//     (docs.rs/crate/tallyprime-sdk/0.2.0) for the TallyPrime counter set.
//   - Canada Post: REST over XML with vendor media types such as
//     application/vnd.cpc.shipment-v8+xml in both Content-Type and Accept, HTTP
//     Basic auth; errors come back as
//     <messages xmlns="http://www.canadapost.ca/ws/messages"><message><code/>
//     <description/></message></messages>, with AA0xx codes for account and
//     key problems and code "Server" / "Rejected by SLM Monitor" when the API
//     key's throttle limit is exceeded. Sources:
//     www.canadapost-postescanada.ca/info/mc/business/productsservices/developers/services/fundamentals.jsf
//     and .../developers/messagescodetables.jsf.
//
// Errors are *sdk.Error. This package imports sdk and the standard library only,
// never engine/.
package xmlhttp
