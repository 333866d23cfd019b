// Package console is the operators' console: a browser application that hub
// serve serves at /console/. Its files in assets/ are served as they are,
// embedded in the binary: no build step, and nothing loaded from anywhere else
// at run time (the Content-Security-Policy forbids it). The page talks to the
// hub only through /v1, signed in with a console session cookie (POST
// /v1/console/sessions, in engine/api), so it sees exactly what the key it
// signed in with may see.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// securityHeaders are set on every console response: scripts, styles, images
// and fetches only from the hub itself, no framing, no sniffing, no referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// Handler serves the console's files for paths under Prefix.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("console: " + err.Error()) // the embedded directory is always there
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		files.ServeHTTP(w, r)
	})
}
