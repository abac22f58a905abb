# Developer recipes of the nixdots repository. The recipes for users' own
# justfiles live in just/rebuild-smart.just (imported here, so `just
# rebuild-smart` works in this checkout too).

import 'just/rebuild-smart.just'

# List the recipes
default:
    @just --list

# The whole test suite with the real tools: gofmt, go vet, go test -race (ARGS go to go test)
test *ARGS:
    scripts/test {{ ARGS }}

# Mutation testing: curated bugs applied one at a time, the tests that must catch each (ARGS: -quick, -only RE, -list)
mutate *ARGS:
    scripts/mutate {{ ARGS }}

# Two simulated hosts and a local bare remote: a sync, a parked conflict, resolved and published
demo:
    scripts/demo

# Every benchmark, printed as one table of ratios (see docs/proof.md); PATTERN filters benchmarks
bench PATTERN="." *ARGS:
    BENCH='{{ PATTERN }}' scripts/bench {{ ARGS }}

# Build the five binaries into ./bin
build:
    go build -o bin/ ./cmd/chezmoi-sync ./cmd/chezmoi-status ./cmd/chezmoi-show-conflicts ./cmd/rebuild-smart ./cmd/rebuild-rollback

# Regenerate the shell completions (completions/) from the kong models
completions:
    go run ./cmd/nixdots-gendocs -out . -only completions

# Regenerate the man pages (man/) from the kong models
man:
    go run ./cmd/nixdots-gendocs -out . -only man

# Regenerate everything derived: completions, man pages, nix/config-keys.json, docs/configuration.md tables
docs:
    go run ./cmd/nixdots-gendocs -out .

# Print the vendorHash for nix/package.nix (the NAR hash of `go mod vendor`)
vendor-hash:
    #!/usr/bin/env bash
    set -euo pipefail
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    go mod vendor -o "$tmp/vendor"
    NIX_CONFIG='experimental-features = nix-command flakes' nix hash path "$tmp/vendor"

# Install the git hooks into a repository (see docs/hooks in docs/quickstart.md)
install-hooks REPO="." *ARGS:
    hooks/install --repo {{ REPO }} {{ ARGS }}
