package odata_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/carrierhub/hub/sdk/transport/odata"
)

func TestBuildGolden(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC)
	ist := time.FixedZone("IST", 5*3600+1800)
	const guid = "0F8FAD5B-D9CB-469F-A165-70867728950E"
	cases := []struct {
		name string
		v    odata.Version
		q    *odata.Query
		want string
	}{
		{"v2 single string key", odata.V2,
			odata.From("A_SalesOrder").Key(odata.String("1000")),
			"A_SalesOrder('1000')?$format=json"},
		{"v4 single string key", odata.V4,
			odata.From("A_SalesOrder").Key(odata.String("1000")),
			"A_SalesOrder('1000')"},
		{"v2 composite key", odata.V2,
			odata.From("A_SalesOrderItem").Keys(odata.K("SalesOrder", odata.String("1")), odata.K("SalesOrderItem", odata.String("10"))),
			"A_SalesOrderItem(SalesOrder='1',SalesOrderItem='10')?$format=json"},
		{"quote doubled and slash escaped in key", odata.V4,
			odata.From("Customers").Key(odata.String("O'Brien/Sons & Co")),
			"Customers('O''Brien%2FSons%20%26%20Co')"},
		{"v2 guid key", odata.V2,
			odata.From("Customers").Key(odata.GUID(guid)),
			"Customers(guid'0f8fad5b-d9cb-469f-a165-70867728950e')?$format=json"},
		{"v4 guid key and navigation (Business Central)", odata.V4,
			odata.From("companies").Key(odata.GUID(guid)).Nav("salesOrders").Top(2),
			"companies(0f8fad5b-d9cb-469f-a165-70867728950e)/salesOrders?$top=2"},
		{"v2 datetime filter, converted to UTC", odata.V2,
			odata.From("A_SalesOrder").Filter(odata.And(odata.Eq("SoldToParty", odata.String("17100001")), odata.Ge("CreationDate", odata.DateTime(at.In(ist))))),
			"A_SalesOrder?$filter=SoldToParty%20eq%20'17100001'%20and%20CreationDate%20ge%20datetime'2024-05-01T10:30:00'&$format=json"},
		{"v4 datetime filter", odata.V4,
			odata.From("SalesOrderHeadersV2").Filter(odata.Ge("CreatedDateTime", odata.DateTime(at))),
			"SalesOrderHeadersV2?$filter=CreatedDateTime%20ge%202024-05-01T10:30:00Z"},
		{"v2 substringof and startswith", odata.V2,
			odata.From("A_Customer").Filter(odata.Contains("CustomerName", "Tata")).Filter(odata.StartsWith("Customer", "17")),
			"A_Customer?$filter=substringof('Tata',CustomerName)%20and%20startswith(Customer,'17')&$format=json"},
		{"v4 contains, not, nested or", odata.V4,
			odata.From("Customers").Filter(odata.Or(odata.Contains("Name", "Ltd"), odata.And(odata.Not(odata.EndsWith("Name", "X")), odata.Ne("Blocked", odata.Bool(true))))),
			"Customers?$filter=contains(Name,'Ltd')%20or%20(not%20(endswith(Name,'X'))%20and%20Blocked%20ne%20true)"},
		{"v2 typed literals", odata.V2,
			odata.From("Items").Filter(odata.And(odata.Eq("Qty", odata.Int64(5)), odata.Gt("Price", odata.Decimal("12.50")), odata.Lt("Weight", odata.Double(1.5)), odata.Ne("Note", odata.Null()), odata.Le("Due", odata.Date(at)), odata.Eq("At", odata.DateTimeOffset(at)))),
			"Items?$filter=Qty%20eq%205L%20and%20Price%20gt%2012.50M%20and%20Weight%20lt%201.5d%20and%20Note%20ne%20null%20and%20Due%20le%20datetime'2024-05-01T00:00:00'%20and%20At%20eq%20datetimeoffset'2024-05-01T10:30:00Z'&$format=json"},
		{"v4 typed literals", odata.V4,
			odata.From("Items").Filter(odata.And(odata.Eq("Qty", odata.Int64(5)), odata.Gt("Price", odata.Decimal("12.50")), odata.Lt("Weight", odata.Double(1e21)), odata.Le("Due", odata.Date(at)), odata.Eq("Id", odata.GUID(guid)))),
			"Items?$filter=Qty%20eq%205%20and%20Price%20gt%2012.50%20and%20Weight%20lt%201e%2B21%20and%20Due%20le%202024-05-01%20and%20Id%20eq%200f8fad5b-d9cb-469f-a165-70867728950e"},
		{"v2 select expand orderby top skip inlinecount", odata.V2,
			odata.From("A_OutbDeliveryHeader").Select("DeliveryDocument", "to_DeliveryDocumentItem/Material").Expand("to_DeliveryDocumentItem").OrderBy("CreationDate", odata.Desc).OrderBy("DeliveryDocument", odata.Asc).Top(50).Skip(100).Count(),
			"A_OutbDeliveryHeader?$select=DeliveryDocument,to_DeliveryDocumentItem/Material&$expand=to_DeliveryDocumentItem&$orderby=CreationDate%20desc,DeliveryDocument&$top=50&$skip=100&$inlinecount=allpages&$format=json"},
		{"v4 count and custom param", odata.V4,
			odata.From("Orders").Count().Top(0).Param("cross-company", "true"),
			"Orders?$top=0&$count=true&cross-company=true"},
		{"v2 sap-client param", odata.V2,
			odata.From("A_SalesOrder").Param("sap-client", "100").Param("sap-language", "EN"),
			"A_SalesOrder?sap-client=100&sap-language=EN&$format=json"},
		{"injection attempt stays inside the literal", odata.V2,
			odata.From("A_Customer").Filter(odata.Eq("Customer", odata.String("x' or 1 eq 1&$top=1#"))),
			"A_Customer?$filter=Customer%20eq%20'x''%20or%201%20eq%201%26$top%3D1%23'&$format=json"},
		{"non-ASCII", odata.V4,
			odata.From("Cities").Filter(odata.Eq("Name", odata.String("Bengaluru ಬೆಂ"))),
			"Cities?$filter=Name%20eq%20'Bengaluru%20%E0%B2%AC%E0%B3%86%E0%B2%82'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.q.Build(c.v)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if got != c.want {
				t.Errorf("Build(%v)\n got %s\nwant %s", c.v, got, c.want)
			}
			// Every golden output is a valid relative URL.
			if _, err := url.Parse(got); err != nil {
				t.Errorf("not a URL: %v", err)
			}
		})
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		q    *odata.Query
		want string
	}{
		{"property with spaces", odata.From("A").Filter(odata.Eq("Name eq 'x' or Name", odata.String("y"))), "not an OData identifier"},
		{"select injection", odata.From("A").Select("Name,Secret&$top=1"), "$select"},
		{"expand empty segment", odata.From("A").Expand("to_Item//x"), "property path"},
		{"entity set with paren", odata.From("A('1')"), "not an OData identifier"},
		{"negative top", odata.From("A").Top(-1), "negative"},
		{"negative skip", odata.From("A").Skip(-5), "negative"},
		{"bad guid", odata.From("A").Key(odata.GUID("not-a-guid')")), "not a GUID"},
		{"bad decimal", odata.From("A").Filter(odata.Eq("P", odata.Decimal("1e5 or 1 eq 1"))), "not a plain decimal"},
		{"NaN", odata.From("A").Filter(odata.Eq("P", odata.Double(nan()))), "cannot be sent"},
		{"zero value", odata.From("A").Filter(odata.Eq("P", odata.Value{})), "constructor"},
		{"zero expr", odata.From("A").Filter(odata.Expr{}), "constructor"},
		{"empty and", odata.From("A").Filter(odata.And()), "no operands"},
		{"system option as param", odata.From("A").Param("$filter", "1 eq 1"), "must not"},
		{"param name with =", odata.From("A").Param("a=b", "c"), "character outside"},
		{"key twice", odata.From("A").Key(odata.String("1")).Key(odata.String("2")), "already has a key"},
		{"invalid UTF-8", odata.From("A").Filter(odata.Eq("N", odata.String("\xff"))), "UTF-8"},
		{"composite key bad name", odata.From("A").Keys(odata.K("a b", odata.Int(1))), "not an OData identifier"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.q.Build(odata.V4)
			if err == nil {
				t.Fatalf("Build = %q, want an error containing %q", got, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
	if _, err := odata.From("A").Build(odata.Version(3)); err == nil {
		t.Error("version 3 accepted")
	}
	if _, err := odata.From("A").Top(1).BuildPath(odata.V4); err == nil {
		t.Error("BuildPath accepted $top")
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

// FuzzFilterEscaping checks that whatever a user types, the built query has
// exactly one $filter whose literal decodes back to the input, and no other
// options appear.
func FuzzFilterEscaping(f *testing.F) {
	for _, s := range []string{"", "'", "''", "x' or 1 eq 1", "a&$top=1", "#frag", "%27", "a+b", "a;b", "O'Neil & Sons", "\u00e9\u0000", "?$x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []odata.Version{odata.V2, odata.V4} {
			got, err := odata.From("Set").Filter(odata.Eq("Name", odata.String(s))).Build(v)
			if err != nil {
				if strings.Contains(err.Error(), "UTF-8") {
					return
				}
				t.Fatalf("Build: %v", err)
			}
			u, err := url.Parse(got)
			if err != nil {
				t.Fatalf("Parse(%q): %v", got, err)
			}
			if u.Fragment != "" || u.Path != "Set" {
				t.Fatalf("input %q changed the URL: %q", s, got)
			}
			vals, err := url.ParseQuery(u.RawQuery)
			if err != nil {
				t.Fatalf("ParseQuery(%q): %v", u.RawQuery, err)
			}
			wantKeys := 1
			if v == odata.V2 {
				wantKeys = 2
			}
			if len(vals) != wantKeys || len(vals["$filter"]) != 1 {
				t.Fatalf("input %q produced options %v", s, vals)
			}
			want := "Name eq '" + strings.ReplaceAll(s, "'", "''") + "'"
			if vals["$filter"][0] != want {
				t.Fatalf("filter %q, want %q", vals["$filter"][0], want)
			}
		}
	})
}
