package soap

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestAddSecurity(t *testing.T) {
	t.Parallel()
	tok := &UsernameToken{Username: "u", Password: "p", MustUnderstand: true, Now: fixedNow}
	cases := []struct {
		name, env string
		v         Version
	}{
		{"no header", `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><X xmlns="urn:x"/></soap:Body></soap:Envelope>`, V11},
		{"header", `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><H xmlns="urn:h"/></soap:Header><soap:Body><X xmlns="urn:x"/></soap:Body></soap:Envelope>`, V11},
		{"self-closing header 1.2", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Header/><e:Body><X xmlns="urn:x"/></e:Body></e:Envelope>`, V12},
		{"unprefixed", `<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">` + "\n" + `<Body><X xmlns="urn:x"/></Body></Envelope>`, V11},
	}
	for _, tc := range cases {
		out, err := addSecurity([]byte(tc.env), tok)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var env simEnvelope
		if err := xml.Unmarshal(out, &env); err != nil {
			t.Fatalf("%s: result is not XML: %v\n%s", tc.name, err, out)
		}
		if err := checkUsernameToken(env.Header.Security, "u", "p", false); err != nil {
			t.Errorf("%s: %v\n%s", tc.name, err, out)
		}
		want := "1"
		if tc.v == V12 {
			want = "true"
		}
		if env.Header.Security.MustUnderstand != want {
			t.Errorf("%s: mustUnderstand %q", tc.name, env.Header.Security.MustUnderstand)
		}
		if !strings.Contains(string(out), `<X xmlns="urn:x"/>`) {
			t.Errorf("%s: body lost:\n%s", tc.name, out)
		}
	}
	if _, err := addSecurity([]byte(`<NotSoap/>`), tok); err == nil {
		t.Error("a non-envelope was accepted")
	}
}
