package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// corpus returns n FedEx Track API responses of about 5 KB each, shaped like
// connectors/fedex/mappings/track.delivered.in.json: one to two tracking
// numbers, four to nine scans each, a mix of delivered, in-transit, failed-attempt
// and not-found results. The same seed gives the same corpus.
func corpus(n int) [][]byte {
	r := rand.New(rand.NewPCG(42, 7))
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = fedexDoc(r, i)
	}
	return docs
}

type place struct{ city, state, pin, country, loc string }

var places = []place{
	{"MEMPHIS", "TN", "38118", "US", "MEMH"}, {"INDIANAPOLIS", "IN", "46241", "US", "INDH"},
	{"MUMBAI", "MH", "400099", "IN", "BOMR"}, {"BENGALURU", "KA", "560001", "IN", "BLRA"},
	{"NEW DELHI", "DL", "110001", "IN", "DELA"}, {"GURUGRAM", "HR", "122001", "IN", "GGNA"},
	{"CHENNAI", "TN", "600001", "IN", "MAAA"}, {"PARIS", "", "95700", "FR", "CDGH"},
}

var path = []struct{ code, desc, derived string }{
	{"OC", "Shipment information sent to FedEx", "OC"},
	{"PU", "Picked up", "PU"},
	{"AR", "Arrived at FedEx location", "IT"},
	{"DP", "Departed FedEx location", "IT"},
	{"IT", "In transit", "IT"},
	{"AR", "Arrived at FedEx location", "IT"},
	{"CC", "International shipment release - Import", "IT"},
	{"OD", "On FedEx vehicle for delivery", "OD"},
}

func fedexDoc(r *rand.Rand, i int) []byte {
	var results []any
	for k := 0; k < 1+r.IntN(2); k++ {
		tn := fmt.Sprintf("7948%08d", r.IntN(1e8))
		if r.IntN(10) == 0 {
			results = append(results, map[string]any{"trackingNumber": tn, "trackResults": []any{map[string]any{
				"trackingNumberInfo": map[string]any{"trackingNumber": tn, "trackingNumberUniqueId": "", "carrierCode": ""},
				"error":              map[string]any{"code": "TRACKING.TRACKINGNUMBER.NOTFOUND", "message": "Tracking number cannot be found. Please correct the tracking number and try again."},
			}}})
			continue
		}
		nscan := 4 + r.IntN(5)
		start := time.Date(2026, 11, 1+r.IntN(20), 8+r.IntN(10), r.IntN(60), 0, 0, time.FixedZone("", -6*3600))
		var scans []any
		var last map[string]any
		end := "" // final code
		for s := 0; s < nscan; s++ {
			p := path[min(s, len(path)-1)]
			code, desc, derived := p.code, p.desc, p.derived
			if s == nscan-1 {
				switch r.IntN(4) {
				case 0, 1:
					code, desc, derived = "DL", "Delivered", "DL"
				case 2:
					code, desc, derived = "DE", "Delivery exception", "DE"
				}
			}
			pl := places[r.IntN(len(places))]
			at := start.Add(time.Duration(s*7+r.IntN(5)) * time.Hour)
			if pl.country == "IN" {
				at = at.In(time.FixedZone("", 19800))
			}
			ev := map[string]any{
				"date": at.Format(time.RFC3339), "eventType": code, "eventDescription": desc,
				"exceptionCode": "", "exceptionDescription": "",
				"scanLocation": map[string]any{"streetLines": []any{""}, "city": pl.city, "stateOrProvinceCode": pl.state,
					"postalCode": pl.pin, "countryCode": pl.country, "residential": false, "countryName": "Somewhere"},
				"locationId": pl.loc, "locationType": "FEDEX_FACILITY", "derivedStatusCode": derived, "derivedStatus": desc,
			}
			scans = append([]any{ev}, scans...) // newest first, as FedEx lists them
			last = ev
			end = code
		}
		loc := last["scanLocation"].(map[string]any)
		tr := map[string]any{
			"trackingNumberInfo":     map[string]any{"trackingNumber": tn, "trackingNumberUniqueId": "12029~" + tn + "~FDEG", "carrierCode": "FDXE"},
			"additionalTrackingInfo": map[string]any{"nickname": "", "hasAssociatedShipments": false, "packageIdentifiers": []any{map[string]any{"type": "SHIPPER_REFERENCE", "values": []any{fmt.Sprintf("ORD-%d", i)}}}},
			"shipperInformation":     map[string]any{"contact": map[string]any{}, "address": map[string]any{"city": "MEMPHIS", "stateOrProvinceCode": "TN", "countryCode": "US", "residential": false}},
			"recipientInformation":   map[string]any{"contact": map[string]any{}, "address": map[string]any{"city": loc["city"], "countryCode": loc["countryCode"], "residential": false}},
			"latestStatusDetail": map[string]any{"code": end, "derivedCode": last["derivedStatusCode"], "statusByLocale": last["eventDescription"],
				"description": last["eventDescription"], "scanLocation": loc},
			"dateAndTimes": []any{
				map[string]any{"type": "ACTUAL_PICKUP", "dateTime": start.Add(7 * time.Hour).Format(time.RFC3339)},
				map[string]any{"type": "SHIP", "dateTime": start.Format("2006-01-02T00:00:00")},
			},
			"packageDetails": map[string]any{"physicalPackagingType": "PACKAGE", "sequenceNumber": "1", "count": "1",
				"weightAndDimensions": map[string]any{"weight": []any{map[string]any{"value": "4.5", "unit": "LB"}}}},
			"scanEvents":             scans,
			"availableNotifications": []any{"ON_DELIVERY"},
		}
		switch end {
		case "DL":
			dts := tr["dateAndTimes"].([]any)
			tr["dateAndTimes"] = append(dts, map[string]any{"type": "ACTUAL_DELIVERY", "dateTime": last["date"]})
			tr["deliveryDetails"] = map[string]any{"receivedByName": "R.SHARMA", "deliveryAttempts": "0"}
		case "DE":
			tr["latestStatusDetail"].(map[string]any)["ancillaryDetails"] = []any{map[string]any{"reason": "08", "reasonDescription": "Customer not available or business closed"}}
			fallthrough
		default:
			dts := tr["dateAndTimes"].([]any)
			tr["dateAndTimes"] = append(dts, map[string]any{"type": "ESTIMATED_DELIVERY", "dateTime": start.Add(96 * time.Hour).Format("2006-01-02T15:04:05")})
		}
		results = append(results, map[string]any{"trackingNumber": tn, "trackResults": []any{tr}})
	}
	doc := map[string]any{
		"transactionId": fmt.Sprintf("624deea6-b709-470c-8c39-%012d", i),
		"output":        map[string]any{"completeTrackResults": results},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "")
	enc.Encode(doc)
	return bytes.TrimSpace(b.Bytes())
}
