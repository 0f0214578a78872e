# flux-action-operator. `make dev` and `make test` are the two commands a newcomer needs.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
# Every target runs on the pinned Node.js LTS (hack/node.sh installs it into the per-user cache
# when the machine's node is older).
NODE_BIN := $(shell bash hack/node.sh)
$(if $(NODE_BIN),,$(error hack/node.sh found no Node.js))
export PATH := $(NODE_BIN):$(PATH)

node_modules: package.json package-lock.json
	npm ci
	@touch node_modules

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: build
build: node_modules ## Compile the TypeScript sources to dist/
	npm run build

.PHONY: generate
generate: node_modules ## Write the CRD's kind enum and CEL rules and the ClusterRoles' Flux rules from src/flux/kinds.ts
	npm run generate

.PHONY: test
test: node_modules ## Type-check, format check, lint, unit, integration and end-to-end tests (on a local control plane of their own)
	bash test/run.sh

.PHONY: test-image
test-image: node_modules ## Build the image and run it as a pod against the local control plane: the operator carries out a request, the MCP adapter answers
	bash test/image/run.sh

.PHONY: lint
lint: node_modules ## Format check and typescript-eslint (type-aware, recommended + strict)
	npm run --silent format:check
	npm run --silent lint

.PHONY: e2e
e2e: node_modules ## Only the end-to-end tests: the real Flux controllers, a Git server, a Helm repository
	bash test/run.sh e2e

.PHONY: test-compat
test-compat: node_modules ## The end-to-end tests against the oldest supported Kubernetes and Flux (test/cluster/versions-compat.env)
	FLUXACT_VERSIONS=compat bash test/run.sh e2e

.PHONY: chaos
chaos: node_modules ## The chaos suite at full size: kills, restarts, failover, a slow API server, fuzzing (sizes: CHAOS_* variables)
	bash test/run.sh chaos

.PHONY: dev
dev: node_modules ## Local control plane + real Flux controllers + operator, the samples carried out by Flux, and the sample policies
	bash test/cluster/dev.sh up

.PHONY: dev-down
dev-down: ## Stop the operator started by make dev (the cluster and Flux: make cluster-down)
	bash test/cluster/dev.sh down

.PHONY: cluster-build
cluster-build: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl into the per-user cache
	bash test/cluster/build.sh

.PHONY: cluster-up
cluster-up: ## Start the local control plane (builds it first if needed)
	bash test/cluster/cluster.sh up

.PHONY: cluster-nodes
cluster-nodes: ## Same, plus kube-scheduler, kwok and a fake Node whose pods run and log
	bash test/cluster/cluster.sh up --with-nodes

.PHONY: cluster-flux
cluster-flux: ## Same, plus the real Flux controllers and flux-operator as processes
	bash test/cluster/cluster.sh up --with-flux

.PHONY: cluster-down
cluster-down: ## Stop the local control plane
	bash test/cluster/cluster.sh down

.PHONY: bench
bench: node_modules ## Run the benchmark against the local control plane
	npm run bench

.PHONY: bench-peers
bench-peers: node_modules ## Reconcile with source through flux CLI, kubectl + requests and both MCP servers, on the real Flux controllers (make cluster-flux first; builds the peers into the per-user cache)
	npm run bench:peers

.PHONY: bench-mcp-peers
bench-mcp-peers: node_modules ## The MCP server beside the Flux Operator MCP server: the seed workflow's calls and bytes, docs search hit@1/hit@3 (make cluster-flux first)
	npm run bench:mcp-peers

.PHONY: chart
chart: ## helm lint and helm template of charts/flux-action-operator (builds helm into the per-user cache if needed)
	bash test/chart/check.sh

IMAGE ?= flux-action-operator:latest

.PHONY: image
image: ## Build the container image (IMAGE, default flux-action-operator:latest): with docker, or with podman where no Docker engine answers
	bash hack/image.sh $(IMAGE)
