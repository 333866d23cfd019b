// Package docs holds the hub's documentation pages and the tests that keep
// them true: the tutorial is run as written, and every repository path a page
// names must exist. It has no code of its own.
package docs
