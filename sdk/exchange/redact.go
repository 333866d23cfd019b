package exchange

import (
	"encoding/base64"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// redacted replaces every secret in a record.
const redacted = "[redacted]"

// sensitiveFields are the words that make a body field's value a secret
// (password, access_token, x_api_key, otp, ...).
var sensitiveFields = []string{"auth", "token", "secret", "password", "passwd", "pwd", "signature", "apikey", "api_key",
	"access_key", "secret_key", "private_key", "session", "credential", "otp", "cookie"}

// sensitiveName reports whether a header or query parameter name carries a
// credential: a sensitive field's words, or any name with "key" in it
// (X-Api-Key, key, client_key).
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	return sensitiveField(n) || strings.Contains(n, "key")
}

// sensitiveField reports whether a body field's name says its value is secret.
func sensitiveField(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveFields {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

var (
	// jsonField matches "name": value in JSON text, a string value possibly
	// cut off by the record's length limit.
	jsonField = regexp.MustCompile(`("([^"\\]{1,64})"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|[^,{}\[\]\s"]+)`)
	// xmlField matches <name attrs>text</ in XML and SOAP, text possibly cut off.
	xmlField = regexp.MustCompile(`<([A-Za-z_][\w:.-]{0,64})(\s[^<>]*)?>([^<]*)(</|$)`)
)

// redact takes every secret out of a record: sensitive headers and query
// parameters, sensitive body fields, then the secret values themselves
// wherever they remain.
func redact(r Record, reqType, respType string, secrets map[string]string) Record {
	values := variants(secrets)
	scrub := func(s string) string { return scrubValues(s, values) }
	r.URL = scrub(redactURL(r.URL))
	r.RequestHeaders = redactHeaders(maps.Clone(r.RequestHeaders), scrub)
	r.ResponseHeaders = redactHeaders(maps.Clone(r.ResponseHeaders), scrub)
	r.RequestBody = scrub(redactBody(r.RequestBody, reqType))
	r.ResponseBody = scrub(redactBody(r.ResponseBody, respType))
	r.Error = scrub(r.Error)
	return r
}

// variants are the forms a secret travels in: as is, URL-encoded, JSON-escaped
// and base64-encoded. Values shorter than 4 bytes are not looked for (they
// would blank out ordinary text).
func variants(secrets map[string]string) []string {
	var out []string
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		q := strconv.Quote(s)
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), q[1 : len(q)-1],
			base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s))} {
			if len(v) >= 4 && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// scrubValues replaces every secret value in s, and a secret's start that s
// ends with (a body cut off by the length limit inside a secret).
func scrubValues(s string, values []string) string {
	for _, v := range values {
		s = strings.ReplaceAll(s, v, redacted)
	}
	for _, v := range values {
		for k := min(len(v)-1, len(s)); k >= 4; k-- {
			if strings.HasSuffix(s, v[:k]) {
				s = s[:len(s)-k] + redacted
				break
			}
		}
	}
	return s
}

func redactHeaders(h map[string]string, scrub func(string) string) map[string]string {
	for k, v := range h {
		if sensitiveName(k) {
			h[k] = redacted
		} else {
			h[k] = scrub(v)
		}
	}
	return h
}

// redactURL hides a URL's password and its sensitive query parameters.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted // an address that does not parse is not shown at all
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	if u.RawQuery != "" {
		u.RawQuery = redactForm(u.RawQuery)
	}
	return u.String()
}

// redactForm hides the values of sensitive names in name=value&... text,
// keeping everything else as written.
func redactForm(s string) string {
	parts := strings.Split(s, "&")
	for i, p := range parts {
		name, _, has := strings.Cut(p, "=")
		if n, err := url.QueryUnescape(name); err == nil && has && sensitiveName(n) {
			parts[i] = name + "=" + url.QueryEscape(redacted)
		}
	}
	return strings.Join(parts, "&")
}

// redactBody hides the values of sensitive fields in a JSON, form or XML body,
// by its content type or, without one, by its first character.
func redactBody(body, contentType string) string {
	if body == "" {
		return body
	}
	ct := strings.ToLower(contentType)
	trimmed := strings.TrimLeft(body, " \t\r\n")
	switch {
	case strings.Contains(ct, "json") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "["):
		return jsonField.ReplaceAllStringFunc(body, func(m string) string {
			sub := jsonField.FindStringSubmatch(m)
			if !sensitiveField(sub[2]) {
				return m
			}
			return sub[1] + `"` + redacted + `"`
		})
	case strings.Contains(ct, "xml") || strings.HasPrefix(trimmed, "<"):
		return xmlField.ReplaceAllStringFunc(body, func(m string) string {
			sub := xmlField.FindStringSubmatch(m)
			if !sensitiveField(sub[1]) || strings.TrimSpace(sub[3]) == "" {
				return m
			}
			return "<" + sub[1] + sub[2] + ">" + redacted + sub[4]
		})
	case strings.Contains(ct, "x-www-form-urlencoded") || (!strings.ContainsAny(trimmed, " \n<{") && strings.Contains(trimmed, "=")):
		return redactForm(body)
	}
	return body
}
