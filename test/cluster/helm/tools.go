//go:build tools

// Package tools pins Helm's command so that `go mod tidy` keeps its module in
// go.mod and go.sum; build.sh builds it with `go build helm.sh/helm/v4/cmd/helm`.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
