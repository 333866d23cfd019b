package soap_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/soap"
	"github.com/carrierhub/hub/sdk/transport/soap/internal/trackws"
	"github.com/carrierhub/hub/sdk/transport/xmlhttp"
	gsoap "github.com/hooklift/gowsdl/soap"
)

// trackService answers the generated client's Track operation, checking the
// SOAPAction and the WS-Security digest on its own.
type trackService struct {
	t        *testing.T
	password string
	fault    string // when set, answered with HTTP 500
	sawTrace bool
}

type gotEnvelope struct {
	Header struct {
		Security struct {
			Token struct {
				Username string `xml:"Username"`
				Password string `xml:"Password"`
				Nonce    string `xml:"Nonce"`
				Created  string `xml:"Created"`
			} `xml:"UsernameToken"`
		} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Security"`
		Trace *struct {
			ID string `xml:"ID"`
		} `xml:"urn:carrierhub:test:trace Trace"`
	} `xml:"Header"`
	Body struct {
		Track struct {
			Number []string `xml:"Number"`
		} `xml:"urn:carrierhub:test:track:v1 TrackRequest"`
	} `xml:"Body"`
}

func (s *trackService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fail := func(code, text string) {
		w.WriteHeader(500)
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>`+
			code+`</faultcode><faultstring>`+text+`</faultstring></s:Fault></s:Body></s:Envelope>`)
	}
	if a := strings.Trim(r.Header.Get("SOAPAction"), `"`); a != "urn:carrierhub:test:track:v1/Track" {
		fail("s:Client", "unknown action "+a)
		return
	}
	var env gotEnvelope
	if err := xml.NewDecoder(r.Body).Decode(&env); err != nil {
		fail("s:Client", "unreadable envelope")
		return
	}
	tok := env.Header.Security.Token
	nonce, _ := base64.StdEncoding.DecodeString(tok.Nonce)
	sum := sha1.Sum(append(append(nonce, tok.Created...), s.password...))
	if tok.Username != "hub" || len(nonce) == 0 || tok.Password != base64.StdEncoding.EncodeToString(sum[:]) {
		fail("wsse:FailedAuthentication", "The security token could not be authenticated or authorized")
		return
	}
	s.sawTrace = env.Header.Trace != nil && env.Header.Trace.ID == "t-1"
	if s.fault != "" {
		fail("s:Client", s.fault)
		return
	}
	var events strings.Builder
	for _, n := range env.Body.Track.Number {
		events.WriteString(`<Event><Number>` + n + `</Number><Code>DLV</Code><Description>Delivered</Description><Location>Mumbai</Location></Event>`)
	}
	io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>`+
		`<TrackResponse xmlns="urn:carrierhub:test:track:v1">`+events.String()+`</TrackResponse></s:Body></s:Envelope>`)
}

type trace struct {
	XMLName xml.Name `xml:"urn:carrierhub:test:trace Trace"`
	ID      string   `xml:"ID"`
}

func TestGeneratedClientThroughTransport(t *testing.T) {
	t.Parallel()
	svc := &trackService{t: t, password: "s3cret"}
	srv := httptest.NewServer(svc)
	defer srv.Close()

	tr := &soap.Transport{
		HTTP:     xmlhttp.Client{Provider: "TrackSim"},
		Security: &soap.UsernameToken{Username: "hub", Password: "s3cret", Digest: true, MustUnderstand: true},
	}
	client := gsoap.NewClient(srv.URL+"/track", gsoap.WithHTTPClient(tr.Client()))
	client.AddHeader(&trace{ID: "t-1"}) // the generated envelope already has a Header
	port := trackws.NewTrackPort(client)

	ctx := context.Background()
	res, err := port.TrackContext(ctx, &trackws.TrackRequest{Number: []string{"A1", "A2"}})
	if err != nil {
		t.Fatal(soap.Classify(ctx, "TrackSim", err))
	}
	if len(res.Event) != 2 || res.Event[1].Number != "A2" || res.Event[0].Description != "Delivered" {
		t.Fatalf("decoded %+v", res.Event)
	}
	if !svc.sawTrace {
		t.Error("the generated client's own header was lost")
	}

	// The wrong password: the server's WS-Security fault becomes auth_failed.
	bad := &soap.Transport{Security: &soap.UsernameToken{Username: "hub", Password: "wrong", Digest: true}}
	port = trackws.NewTrackPort(gsoap.NewClient(srv.URL, gsoap.WithHTTPClient(bad.Client())))
	_, err = port.TrackContext(ctx, &trackws.TrackRequest{Number: []string{"A1"}})
	e := soap.Classify(ctx, "TrackSim", err)
	if e.Code != sdk.CodeAuthFailed || e.CarrierCode != "wsse:FailedAuthentication" {
		t.Fatalf("got %+v", e)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}

	// A business fault: invalid_request with the provider's text.
	svc2 := &trackService{t: t, password: "s3cret", fault: "Number A9 is not a waybill"}
	srv2 := httptest.NewServer(svc2)
	defer srv2.Close()
	port = trackws.NewTrackPort(gsoap.NewClient(srv2.URL, gsoap.WithHTTPClient(tr.Client())))
	_, err = port.TrackContext(ctx, &trackws.TrackRequest{Number: []string{"A9"}})
	e = soap.Classify(ctx, "TrackSim", err)
	if e.Code != sdk.CodeInvalidRequest || e.CarrierMessage != "Number A9 is not a waybill" {
		t.Fatalf("got %+v", e)
	}
}
