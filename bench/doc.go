// Command bench measures the mapping language against the alternatives on the
// same FedEx Track → canonical translation: Bloblang, gojq and hand-written
// gjson code. It is its own module so that their dependencies stay out of the
// product's go.mod.
package main
