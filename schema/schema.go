// Package schema holds hookflow's SQL migrations, embedded in the binary and applied by
// `hookflow migrate` and at `hookflow serve` start.
package schema

import "embed"

// Migrations are goose migration files, applied in the order of their numbers.
//
//go:embed *.sql
var Migrations embed.FS
