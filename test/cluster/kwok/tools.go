//go:build tools

// Package tools pins kwok's command so that `go mod tidy` keeps its module in
// go.mod and go.sum; build.sh builds it with `go build sigs.k8s.io/kwok/cmd/kwok`.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
