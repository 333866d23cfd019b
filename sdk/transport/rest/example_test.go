package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/carrierhub/hub/sdk"
	"github.com/carrierhub/hub/sdk/transport/rest"
)

// A connector with a token-login flow: log in once per account, cache the token
// for its lifetime, and call the API with it.
func Example() {
	carrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/external/auth/login":
			fmt.Fprint(w, `{"token":"jwt-1"}`)
		case "/v1/external/courier/track/awb/123":
			if r.Header.Get("Authorization") != "Bearer jwt-1" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, `{"tracking_data":{"shipment_status":"DELIVERED"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"no such AWB"}`)
		}
	}))
	defer carrier.Close()
	acct := &sdk.Account{BaseURL: carrier.URL, Credentials: map[string]string{"email": "ops@example.com", "password": "pw"}}

	api, _ := rest.New(rest.Config{Name: "Shiprocket", BaseURL: acct.BaseURL})
	email, _ := acct.Credential("email")
	password, _ := acct.Credential("password")
	c, _ := api.For(acct.BaseURL, &rest.TokenLogin{
		Key: []string{"shiprocket " + acct.BaseURL, email, password},
		Login: func(ctx context.Context) (string, time.Duration, error) {
			var out struct {
				Token string `json:"token"`
			}
			err := api.PostJSON(ctx, "/v1/external/auth/login", map[string]string{"email": email, "password": password}, &out)
			return out.Token, 240 * time.Hour, err
		},
	})
	var track struct {
		TrackingData struct {
			ShipmentStatus string `json:"shipment_status"`
		} `json:"tracking_data"`
	}
	err := c.GetJSON(context.Background(), "/v1/external/courier/track/awb/"+url.PathEscape("123"), nil, &track)
	fmt.Println(track.TrackingData.ShipmentStatus, err)

	err = c.GetJSON(context.Background(), "/v1/external/courier/track/awb/999", nil, nil)
	fmt.Println(sdk.AsError(err).Code, sdk.AsError(err).CarrierMessage)
	// Output:
	// DELIVERED <nil>
	// not_found no such AWB
}
