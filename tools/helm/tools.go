//go:build tools

// Package helm pins the Helm CLI that renders and lints deploy/helm/hookflow, built once
// into bin/ (make helm) like the Temporal CLI, and holds the test that checks every
// manifest it renders against its Kubernetes type.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
