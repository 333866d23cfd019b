package odata

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// salesLine resembles a Dynamics 365 F&O SalesOrderLines row, trimmed to a
// dozen fields.
type salesLine struct {
	ETag               string  `json:"@odata.etag"`
	DataAreaID         string  `json:"dataAreaId"`
	SalesOrderNumber   string  `json:"SalesOrderNumber"`
	LineNumber         float64 `json:"LineNumber"`
	ItemNumber         string  `json:"ItemNumber"`
	LineDescription    string  `json:"LineDescription"`
	OrderedSalesQty    float64 `json:"OrderedSalesQuantity"`
	SalesPrice         float64 `json:"SalesPrice"`
	LineAmount         float64 `json:"LineAmount"`
	CurrencyCode       string  `json:"CurrencyCode"`
	ShippingSiteID     string  `json:"ShippingSiteId"`
	ShippingWarehouse  string  `json:"ShippingWarehouseId"`
	RequestedShipDate  string  `json:"RequestedShippingDate"`
	DeliveryModeCode   string  `json:"DeliveryModeCode"`
	SalesOrderLineStat string  `json:"SalesOrderLineStatus"`
}

func v4Page100() []byte {
	var b strings.Builder
	b.WriteString(`{"@odata.context":"https://org.operations.dynamics.com/data/$metadata#SalesOrderLines","@odata.count":2417,"value":[`)
	for i := range 100 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.etag":"W/\"JzEsNTYzNzE0NDU3NjsxLDY4NzE5NDc2NzM2Jw==\"","dataAreaId":"inmf","SalesOrderNumber":"SO-%06d",`+
			`"LineNumber":%d,"ItemNumber":"D0001","LineDescription":"Mid-range speaker, walnut finish","OrderedSalesQuantity":%d,`+
			`"SalesPrice":1450.5,"LineAmount":%d.5,"CurrencyCode":"INR","ShippingSiteId":"1","ShippingWarehouseId":"11",`+
			`"RequestedShippingDate":"2024-05-01T12:00:00Z","DeliveryModeCode":"10","SalesOrderLineStatus":"Backorder"}`, 1000+i, i+1, i%7+1, 1450*(i%7+1))
	}
	b.WriteString(`],"@odata.nextLink":"https://org.operations.dynamics.com/data/SalesOrderLines?$skiptoken=100"}`)
	return []byte(b.String())
}

func TestBenchPageDecodes(t *testing.T) {
	p, err := decodePage[salesLine](V4, v4Page100())
	if err != nil || len(p.Items) != 100 || p.Count != 2417 || p.NextLink == "" || p.Items[99].SalesOrderNumber != "SO-001099" {
		t.Fatalf("page: %d items, count %d, next %q, err %v", len(p.Items), p.Count, p.NextLink, err)
	}
}

// BenchmarkDecodeV4Page100 decodes a 100-entity v4 page (about 47 KB) into typed
// structs, into raw JSON per entity, and into maps.
func BenchmarkDecodeV4Page100(b *testing.B) {
	body := v4Page100()
	b.Run("typed", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePage[salesLine](V4, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePage[json.RawMessage](V4, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodePage[map[string]any](V4, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBuild renders a typical filtered, paged query.
func BenchmarkBuild(b *testing.B) {
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		q := From("A_OutbDeliveryHeader").
			Filter(And(Eq("ShippingPoint", String("1710")), Ge("CreationDate", DateTime(at)), Contains("SoldToParty", "O'Neil"))).
			Select("DeliveryDocument", "SoldToParty").OrderBy("CreationDate", Desc).Top(100).Count()
		if _, err := q.Build(V2); err != nil {
			b.Fatal(err)
		}
	}
}
