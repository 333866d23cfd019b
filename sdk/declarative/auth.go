package declarative

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/carrierhub/hub/mappings"
	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/rest"
	"github.com/carrierhub/hub/sdk/transport/soap"
)

// buildAuth turns an auth entry into the rest transport's Auth for this call's
// account; wsse signs bodies instead (see request) and returns nil here.
func (ex *exchanger) buildAuth(a *sdk.AuthSpec) (rest.Auth, error) {
	if a == nil {
		return nil, nil
	}
	look := ex.lookup(ex.call.Payload, "", nil, "")
	field := func(name, template string) (string, error) {
		v := sdk.ExpandTemplate(template, look, nil)
		if v == "" {
			return "", &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceConnector, NotSent: true,
				Message: fmt.Sprintf("account has no value for the %s auth's %s (%s)", a.Type, name, template)}
		}
		return v, nil
	}
	switch a.Type {
	case sdk.AuthAPIKey, sdk.AuthBearer:
		v, err := field("value", a.Value)
		if err != nil {
			return nil, err
		}
		header, prefix := a.Header, a.Prefix
		if a.Type == sdk.AuthBearer && header == "" && a.Query == "" {
			header = "Authorization"
			if prefix == "" {
				prefix = "Bearer "
			}
		}
		return rest.APIKey{Key: v, Header: header, Prefix: prefix, Query: a.Query}, nil
	case sdk.AuthBasic:
		u, err := field("username", a.Username)
		if err != nil {
			return nil, err
		}
		p, err := field("password", a.Password)
		if err != nil {
			return nil, err
		}
		return rest.Basic{Username: u, Password: p}, nil
	case sdk.AuthOAuth2:
		id, err := field("client_id", a.ClientID)
		if err != nil {
			return nil, err
		}
		secret, err := field("client_secret", a.ClientSecret)
		if err != nil {
			return nil, err
		}
		return &rest.OAuth2{TokenURL: ex.absolute(sdk.ExpandTemplate(a.TokenURL, look, nil)), ClientID: id, ClientSecret: secret,
			Scopes: a.Scopes, SecretInBody: a.SecretInBody, HTTP: ex.c.rest.HTTPClient()}, nil
	case sdk.AuthHMAC:
		secret, err := field("secret", a.Secret)
		if err != nil {
			return nil, err
		}
		return &rest.HMAC{Secret: []byte(secret), Header: a.Header, Prefix: a.Prefix, TimestampHeader: a.TimestampHeader}, nil
	case sdk.AuthTokenLogin:
		return ex.tokenLogin(a, look)
	case sdk.AuthWSSecurity, sdk.AuthBody:
		return nil, nil // written into the body (see request)
	}
	return nil, sdk.Errorf(sdk.CodeInternal, "auth type %q has no runtime", a.Type)
}

// absolute joins a relative URL (a token endpoint) to the account's base URL.
func (ex *exchanger) absolute(u string) string {
	if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
		return u
	}
	return strings.TrimRight(ex.call.Account.BaseURL, "/") + "/" + strings.TrimLeft(u, "/")
}

// tokenLogin logs in with the login exchange and caches the token per account
// credentials; a 401 drops it and logs in again (rest.TokenLogin).
func (ex *exchanger) tokenLogin(a *sdk.AuthSpec, look func(kind, name string) string) (rest.Auth, error) {
	acct := ex.call.Account
	// The login's route keys the token with the account: two token_login
	// entries of one manifest (an account login and a session) keep theirs apart.
	key := []string{ex.c.manifest.ID, acct.BaseURL, a.Login.Method, a.Login.Path}
	for _, kv := range []map[string]string{acct.Credentials, acct.Settings} {
		names := make([]string, 0, len(kv))
		for name := range kv {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			key = append(key, name, kv[name])
		}
	}
	login := func(ctx context.Context) (string, time.Duration, error) {
		var body *mappings.Program
		if a.Login.Body != nil {
			body = ex.c.programs[a.Login.Body.Mapping]
		}
		req, err := ex.request(a.Login, body, ex.loginInput(), nil, look)
		if err != nil {
			return "", 0, err
		}
		var signer rest.Auth = rest.AuthFunc(func(context.Context, *http.Request) error { return nil })
		if a.LoginAuth != "" {
			if signer, err = ex.buildAuth(ex.c.manifest.Auth[a.LoginAuth]); err != nil {
				return "", 0, err
			}
		}
		plain, err := ex.api.For("", signer)
		if err != nil {
			return "", 0, err
		}
		resp, err := plain.Do(ctx, req)
		if err != nil {
			return "", 0, err
		}
		tok := gjson.GetBytes(resp.Body, a.Token).String()
		if a.Token == sdk.TokenIsBody {
			tok = strings.TrimSpace(string(resp.Body))
		}
		if tok == "" {
			// A login answered in 2xx with no token refused the account in
			// its own words (a GSP passing NIC's 108 "invalid login" on):
			// not a passing outage, so not worth a blind retry.
			return "", 0, &sdk.Error{Code: sdk.CodeAuthFailed, Source: sdk.SourceCarrier,
				Message: fmt.Sprintf("%s's login answered without a token at %s: %s", ex.c.manifest.Name, a.Token, redact(snippet(resp.Body), ex.secrets))}
		}
		ttl := time.Duration(a.TTL)
		if a.TTLPath != "" {
			if s := gjson.GetBytes(resp.Body, a.TTLPath); s.Exists() && s.Int() > 0 {
				ttl = time.Duration(s.Int()) * time.Second
			}
		}
		return tok, ttl, nil
	}
	return &rest.TokenLogin{Key: key, Login: login, Header: a.Header, Prefix: a.Prefix, Query: a.Query}, nil
}

// loginInput is what a login body mapping reads: the account's credentials and
// settings, and nothing of the call.
func (ex *exchanger) loginInput() []byte {
	acct := ex.call.Account
	b, _ := json.Marshal(map[string]map[string]string{"credentials": acct.Credentials, "settings": acct.Settings})
	return b
}

// wsse is the WS-Security UsernameToken of a wsse auth entry.
func (ex *exchanger) wsse(a *sdk.AuthSpec, look func(kind, name string) string) *soap.UsernameToken {
	return &soap.UsernameToken{Username: sdk.ExpandTemplate(a.Username, look, nil),
		Password: sdk.ExpandTemplate(a.Password, look, nil), Digest: a.Digest}
}
