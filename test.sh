#!/usr/bin/env bash
# Runs all of vakt's tests, with the race detector, as the README says.
set -euo pipefail
cd "$(dirname "$0")"
go test -race -count=1 ./...
