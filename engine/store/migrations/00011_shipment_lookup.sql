-- Finding a shipment by its tracking number or the shipper's reference, across a
-- tenant's connectors (the console's shipment search, GET /v1/shipments?q=).
-- The primary key leads with the connector, so these lookups need their own
-- indexes. Portable SQL for SQLite and Postgres alike.

-- +goose Up
CREATE INDEX shipments_by_tracking_number ON shipments (tenant_id, tracking_number);
CREATE INDEX shipments_by_reference ON shipments (tenant_id, reference);

-- +goose Down
DROP INDEX shipments_by_reference;
DROP INDEX shipments_by_tracking_number;
