// Package statusfile is the hub's generic carrier status-file connector
// (connector id statusfile). Carriers that cannot call an API drop status files
// on SFTP; the hub's inbox poller lists an account's inbox, downloads each file
// once and hands it to this connector through receive_push
// (model.PushRequest: the whole file as Body, its base name in the
// x-hub-file-name header, a content type chosen from the extension). The
// connector answers one model.Tracking per shipment in the file.
//
// Two formats are read:
//
//   - ANSI X12 214 (Transportation Carrier Shipment Status Message), through the
//     mapping language's X12 reader (mappings/edi, which checks the envelope,
//     separators, counts and control numbers) and mappings/x12-214.mapping with
//     its tables: x12-214-status.csv (AT701 status codes, refined by AT702
//     reason codes, onto the hub's statuses), x12-214-reason.csv (reason words)
//     and x12-time-code.csv (AT707 offsets).
//   - Carrier CSV in the connector's documented default layout (README.md),
//     through mappings/csv and mappings/csv.mapping with csv-status.csv.
//
// The translation, grouping per tracking number, de-duplication and ordering
// of events are the mappings'; Go (read.go) only picks the format, bounds the
// input (MaxFileBytes, MaxRows, MaxSegments), checks the CSV header, and turns
// reader and mapping failures into invalid_request errors that name the X12
// segment path or the CSV line and column. A file is accepted or refused whole.
//
// The connector checks no signature or token: a file from the account's SFTP
// inbox arrived over its authenticated SFTP session, and a file POSTed to the
// hub's inbound route was checked by the hub, before the connector saw it,
// against the account's inbound_token (the manifest's inbound section).
//
// This package imports only sdk, mappings and the standard library; it must not
// import engine.
package statusfile
