//go:build tools

// Package tools pins the Temporal server and its SQL schema tool in their own module, at
// the server version the pinned Temporal CLI embeds (tools/temporal/go.mod), so the
// benchmark can run that same server on PostgreSQL persistence without the server's
// dependency graph touching hookflow's go.mod.
package tools

import (
	_ "go.temporal.io/server/cmd/server"
	_ "go.temporal.io/server/cmd/tools/sql"
)
