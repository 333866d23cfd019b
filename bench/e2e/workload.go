package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carrierhub/hub/bench/loadgen"
	"github.com/carrierhub/hub/connectors/delhivery/simulator"
)

// connectorID is the connector the hub scenario calls.
const connectorID = "delhivery_express"

// pickupLocation is the warehouse name the account and native creates use.
const pickupLocation = "WH-E2E"

// orders numbers every create of the run, so no order id repeats on a carrier.
var orders atomic.Int64

// runID keeps order ids and idempotency keys of separate runs apart.
var runID = strconv.FormatInt(time.Now().Unix(), 36)

func nextOrder() string { return "E2E-" + runID + "-" + strconv.FormatInt(orders.Add(1), 10) }

// workload makes the requests of one scenario: tracking of known waybills and,
// a createRatio share of the time, a shipment creation.
type workload struct {
	createRatio float64
	waybills    []string
	// track and create build one request for the waybill or order id.
	track  func(waybill string) loadgen.Request
	create func(order string) loadgen.Request
}

// next is a loadgen.Workload.
func (w *workload) next(int) loadgen.Request {
	if w.createRatio > 0 && rand.Float64() < w.createRatio {
		return w.create(nextOrder())
	}
	return w.track(w.waybills[rand.IntN(len(w.waybills))])
}

// nativeWorkload calls the carrier's own API as the Delhivery connector does:
// GET /api/v1/packages/json/?waybill= and a form-encoded POST /api/cmu/create.json,
// with "Authorization: Token".
func nativeWorkload(token string, waybills []string, createRatio float64) *workload {
	h := func(extra ...string) http.Header {
		hd := http.Header{"Authorization": {"Token " + token}, "Accept": {"application/json"}}
		for i := 0; i+1 < len(extra); i += 2 {
			hd.Set(extra[i], extra[i+1])
		}
		return hd
	}
	trackHeader := h()
	createHeader := h("Content-Type", "application/x-www-form-urlencoded")
	return &workload{createRatio: createRatio, waybills: waybills,
		track: func(wb string) loadgen.Request {
			return loadgen.Request{Kind: "track", Method: http.MethodGet, Target: simulator.PathTrack + "?waybill=" + url.QueryEscape(wb), Header: trackHeader}
		},
		create: func(order string) loadgen.Request {
			return loadgen.Request{Kind: "create", Method: http.MethodPost, Target: simulator.PathCreate, Header: createHeader, Body: nativeCreateBody(order)}
		},
	}
}

// nativeCreateBody is a one-shipment Delhivery create, the fields the
// connector's create mapping writes for hubShipment.
func nativeCreateBody(order string) []byte {
	data, _ := json.Marshal(map[string]any{
		"shipments": []map[string]any{{
			"name": "R. Iyer", "add": "12 Residency Road", "pin": "560025", "city": "Bengaluru", "state": "Karnataka",
			"country": "India", "phone": "9876500000", "order": order, "payment_mode": "Prepaid",
			"seller_name": "Dock 3", "seller_add": "Plot 7, Udyog Vihar", "weight": 800, "quantity": 1,
		}},
		"pickup_location": map[string]string{"name": pickupLocation},
	})
	return []byte("format=json&data=" + url.QueryEscape(string(data)))
}

// hubShipment is the canonical create_shipment body; %s is the reference.
const hubShipment = `{"reference":"%s",` +
	`"ship_from":{"name":"Dock 3","phone":"9810000001","lines":["Plot 7, Udyog Vihar"],"city":"Gurugram","state":"Haryana","postal_code":"122016","country_code":"IN"},` +
	`"ship_to":{"name":"R. Iyer","phone":"9876500000","lines":["12 Residency Road"],"city":"Bengaluru","state":"Karnataka","postal_code":"560025","country_code":"IN"},` +
	`"parcels":[{"weight":{"value":0.8,"unit":"kg"}}],"payment_mode":"prepaid"}`

// hubWorkload calls the hub's canonical API for the same things: POST
// /v1/connectors/delhivery_express/track and create_shipment, the latter with a
// fresh Idempotency-Key each time.
func hubWorkload(apiKey string, waybills []string, createRatio float64) *workload {
	trackHeader := http.Header{"Authorization": {"Bearer " + apiKey}, "Content-Type": {"application/json"}}
	return &workload{createRatio: createRatio, waybills: waybills,
		track: func(wb string) loadgen.Request {
			return loadgen.Request{Kind: "track", Method: http.MethodPost, Target: "/v1/connectors/" + connectorID + "/track",
				Header: trackHeader, Body: []byte(`{"tracking_numbers":["` + wb + `"]}`)}
		},
		create: func(order string) loadgen.Request {
			hd := http.Header{"Authorization": {"Bearer " + apiKey}, "Content-Type": {"application/json"}, "Idempotency-Key": {"k-" + order}}
			return loadgen.Request{Kind: "create", Method: http.MethodPost, Target: "/v1/connectors/" + connectorID + "/create_shipment",
				Header: hd, Body: fmt.Appendf(nil, hubShipment, order)}
		},
	}
}

// seedWaybills books n shipments on the carrier through its native API, a few
// at a time, and returns their waybills: the pool tracking requests draw from.
func seedWaybills(ctx context.Context, base, token string, n int) ([]string, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu       sync.Mutex
		waybills []string
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				wb, err := bookNative(ctx, client, base, token)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					waybills = append(waybills, wb)
				}
				mu.Unlock()
			}
		}()
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("seeding waybills: %w", firstErr)
	}
	return waybills, nil
}

func bookNative(ctx context.Context, client *http.Client, base, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+simulator.PathCreate, strings.NewReader(string(nativeCreateBody(nextOrder()))))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var ans struct {
		Success  bool   `json:"success"`
		RMK      string `json:"rmk"`
		Packages []struct {
			Waybill string `json:"waybill"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || !ans.Success || len(ans.Packages) != 1 || ans.Packages[0].Waybill == "" {
		return "", fmt.Errorf("create answered %d %.300s", resp.StatusCode, body)
	}
	return ans.Packages[0].Waybill, nil
}
