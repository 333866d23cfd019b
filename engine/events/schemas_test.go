package events_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/carrierhub/hub/engine/events"
	"github.com/carrierhub/hub/sdk/modelschema"
)

var update = flag.Bool("update", false, "rewrite the committed schemas in schemas/")

type obj = map[string]any

// generate builds every event schema.
func generate() map[string][]byte {
	out := map[string]obj{}
	types := []any{}
	for _, t := range events.Types {
		types = append(types, string(t))
	}
	out["envelope.json"] = obj{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         events.SchemaBaseID + "envelope.json",
		"title":       "Event",
		"description": "A hub event: the body of a webhook delivery and the value of a Kafka message.",
		"type":        "object",
		"required":    []any{"id", "type", "tenant_id", "time", "subject", "data"},
		"properties": obj{
			"id":        obj{"type": "string", "pattern": "^evt_", "description": "Stable for the event's life; receivers de-duplicate by it."},
			"type":      obj{"type": "string", "enum": types},
			"tenant_id": obj{"type": "string"},
			"time":      obj{"type": "string", "format": "date-time", "description": "When it happened (UTC, millisecond precision)."},
			"subject":   obj{"type": "string", "minLength": 1, "description": "What it is about; events of one subject are ordered."},
			"connector": obj{"type": "string"},
			"account":   obj{"type": "string"},
			"data":      obj{"description": "The canonical payload for the type."},
		},
		"additionalProperties": false,
	}
	local := map[events.Type]obj{
		events.ConnectorHealthChanged: {
			"type": "object", "required": []any{"connector", "from", "to"},
			"properties": obj{"connector": obj{"type": "string"}, "account": obj{"type": "string"},
				"from": obj{"type": "string"}, "to": obj{"type": "string"}, "reason": obj{"type": "string"}},
		},
		events.WebhookEndpointDisabled: {
			"type": "object", "required": []any{"endpoint_id", "url", "failing_since", "last_error"},
			"properties": obj{"endpoint_id": obj{"type": "string"}, "url": obj{"type": "string"},
				"failing_since": obj{"type": "string", "format": "date-time"}, "last_error": obj{"type": "string"}},
		},
		events.WebhookTest: {
			"type": "object", "required": []any{"endpoint_id", "message"},
			"properties": obj{"endpoint_id": obj{"type": "string"}, "message": obj{"type": "string"}},
		},
	}
	for _, t := range events.Types {
		data := local[t]
		if f, ok := events.DataSchemas[t]; ok {
			data = obj{"$ref": events.ModelSchemaBaseID + f}
		}
		name := string(t) + ".json"
		out[name] = obj{
			"$schema": "https://json-schema.org/draft/2020-12/schema",
			"$id":     events.SchemaBaseID + name,
			"title":   string(t),
			"allOf":   []any{obj{"$ref": events.SchemaBaseID + "envelope.json"}},
			"properties": obj{
				"type": obj{"const": string(t)},
				"data": data,
			},
		}
	}
	files := map[string][]byte{}
	for name, v := range out {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			panic(err)
		}
		files[name] = append(b, '\n')
	}
	return files
}

func TestCommittedSchemasAreCurrent(t *testing.T) {
	want := generate()
	if *update {
		for name, b := range want {
			if err := os.WriteFile(filepath.Join("schemas", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	committed, _ := fs.Glob(events.Schemas(), "*.json")
	for _, f := range committed {
		if _, ok := want[f]; !ok {
			t.Errorf("schemas/%s is not generated any more; run go test ./engine/events -update", f)
		}
	}
	for name, b := range want {
		got, err := fs.ReadFile(events.Schemas(), name)
		if err != nil {
			t.Errorf("schemas/%s missing; run go test ./engine/events -update", name)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("schemas/%s is stale; run go test ./engine/events -update", name)
		}
	}
}

func TestDataSchemasExistInModel(t *testing.T) {
	if events.ModelSchemaBaseID != modelschema.BaseID {
		t.Fatalf("ModelSchemaBaseID %q != modelschema.BaseID %q", events.ModelSchemaBaseID, modelschema.BaseID)
	}
	for typ, f := range events.DataSchemas {
		if _, err := fs.Stat(modelschema.FS(), f); err != nil {
			t.Errorf("%s: data schema %s: %v", typ, f, err)
		}
	}
}
