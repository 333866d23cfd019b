-- The console's shipment search indexes (00011) led with tenant_id, so they
-- also matched the hub's hottest statement, a shipment by its primary key
-- (tenant, connector, tracking number), by its first column alone. A plan
-- cached while the table was nearly empty and never analyzed (a new
-- database taking load before autovacuum's first analyze) then read every
-- shipment of the tenant per lookup, found with bench/e2e on Postgres
-- (bench/README.md, "Capacity on Postgres"). Led by the searched column,
-- they serve the search as before and can no longer stand in for the key.
-- Portable SQL for SQLite and Postgres alike.

-- +goose Up
DROP INDEX shipments_by_reference;
DROP INDEX shipments_by_tracking_number;
CREATE INDEX shipments_by_tracking_number ON shipments (tracking_number, tenant_id);
CREATE INDEX shipments_by_reference ON shipments (reference, tenant_id);

-- +goose Down
DROP INDEX shipments_by_reference;
DROP INDEX shipments_by_tracking_number;
CREATE INDEX shipments_by_tracking_number ON shipments (tenant_id, tracking_number);
CREATE INDEX shipments_by_reference ON shipments (tenant_id, reference);
