//go:build tools

// Package tools pins flux-operator's command so that `go mod tidy` keeps its
// module in go.mod and go.sum; build.sh builds it with
// `go build github.com/controlplaneio-fluxcd/flux-operator/cmd/operator`.
package tools

import _ "github.com/controlplaneio-fluxcd/flux-operator/cmd/operator"
