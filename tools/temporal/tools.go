//go:build tools

// Package tools pins the Temporal CLI (dev server and Web UI) in its own module so its
// large dependency graph never touches hookflow's go.mod.
package tools

import _ "github.com/temporalio/cli/cmd/temporal"
