//go:build tools

// Package tools pins helm-controller's command (its module root) so that
// `go mod tidy` keeps its module in go.mod and go.sum; build.sh builds it with
// `go build github.com/fluxcd/helm-controller`.
package tools

import _ "github.com/fluxcd/helm-controller"
