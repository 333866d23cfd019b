// Package model holds the hub's canonical data model: the shapes every connector
// translates to and from, whatever the provider speaks.
//
// The types are plain structs with JSON tags in snake_case. Their JSON Schemas are
// generated from these structs by sdk/modelschema (go test ./sdk/modelschema
// -update rewrites them; a test fails when they are stale) and the engine
// validates every request against them before a connector sees it.
//
// Conventions, so that every connector fills a field the same way:
//   - weights carry their unit (kg, g, lb, oz); dimensions theirs (cm, in);
//   - money is an amount in major units (rupees, dollars) with an ISO 4217 currency;
//   - times are RFC 3339 with an offset; a provider's local time without one is read
//     in the provider's zone (Asia/Kolkata for Indian providers);
//   - country codes are ISO 3166-1 alpha-2; Indian state codes are the two-digit
//     GST state codes ("27" Maharashtra);
//   - anything a carrier says about status keeps its raw code and text next to the
//     normalized value (see TRACKING.md for the vocabulary and the mapping rules).
//
// This package imports nothing of the hub's.
package model
