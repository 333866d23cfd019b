// Package rest is the REST/JSON transport connectors compose instead of writing
// their own HTTP plumbing: a Client with a base URL, default headers, a
// response-size limit and JSON and form helpers; classification of every outcome
// into *sdk.Error; credentials (API key, basic, OAuth2 client credentials,
// token-login flows, HMAC signing) as composable Auth values; and iterators over
// paged listings.
//
// What the Client guarantees:
//
//   - It sends each request once. Retries, backoff, breakers and rate limits
//     belong to the engine. The one exception: after a 401, an Auth that is a
//     Renewer drops its token and the request goes once more with a new one.
//     Nor does net/http's transport re-send anything but a GET, HEAD, OPTIONS or
//     TRACE on its own when a kept-alive connection turns out closed: it would
//     for a POST or PATCH carrying an Idempotency-Key header, which a provider
//     that ignores the header could book twice (see noTransportReplay).
//   - A failure that provably happened before the request's headers were written
//     (DNS, connection refused, TLS handshake, dial timeout, a token that could
//     not be fetched) has NotSent set, so the engine may retry even a create.
//     Anything later may have reached the provider and is never marked NotSent.
//   - Every connection goes through the egress guard (package egress) by
//     default: an address the operator's policy does not admit (loopback,
//     private, link-local, metadata ...) is refused after DNS, before anything is
//     sent, as invalid_request with NotSent, naming the guard, the host and the
//     address's class. OAuth2 token requests go through the same client.
//   - The context's deadline bounds the whole exchange, body included; running
//     out is a timeout error.
//   - HTTP statuses map to codes as CodeForStatus says; Retry-After (seconds or
//     an HTTP date) fills RetryAfter; the provider's own code and text are kept
//     (DefaultExtractError, or Config.ExtractError); an HTML page (a proxy's or
//     WAF's error page, even on a 200 where JSON was expected) is a carrier error
//     quoting its title.
//   - A body over MaxResponseBytes is an error naming the limit and is never
//     buffered beyond it. Bodies quoted in errors are cut at QuoteLimit bytes.
//   - Credentials never reach errors or logs: whatever the Auth added to a
//     request is redacted from every quoted body and message, URLs are quoted
//     without their query, and the Auth types redact themselves when printed.
//
// A connector using it:
//
//	var api, _ = rest.New(rest.Config{Name: "Shiprocket", BaseURL: "https://apiv2.shiprocket.in"})
//
//	func track(ctx context.Context, acct *sdk.Account, awb string) (*trackAnswer, error) {
//		email, _ := acct.Credential("email")
//		password, err := acct.Credential("password")
//		if err != nil {
//			return nil, err
//		}
//		c, err := api.For(acct.BaseURL, &rest.TokenLogin{
//			Key:   []string{"shiprocket " + acct.BaseURL, email, password},
//			Login: func(ctx context.Context) (string, time.Duration, error) {
//				var out struct{ Token string `json:"token"` }
//				err := api.PostJSON(ctx, "/v1/external/auth/login", map[string]string{"email": email, "password": password}, &out)
//				return out.Token, 240 * time.Hour, err
//			},
//		})
//		if err != nil {
//			return nil, err
//		}
//		var out trackAnswer
//		return &out, c.GetJSON(ctx, "/v1/external/courier/track/awb/"+url.PathEscape(awb), nil, &out)
//	}
//
// This package imports sdk but never engine/.
package rest
