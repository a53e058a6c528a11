#!/usr/bin/env bash
# The deployment checks' tools (tests/deploy), built once with this machine's Go from the Go module proxy and
# cached in <repo>/.local/bin; no Docker engine or Kubernetes runs here, and these need neither.
# usage: tools.sh helm [ARGS...]            Helm (pinned below); without ARGS prints the binary's path
#        tools.sh compose-config [FILE...]  tests/deploy/compose_config: loads compose files the way
#                                           `docker compose config` does; without FILE prints the binary's path
# Go's module and build caches live under <repo>/.local/go (writable, so removing .local removes them).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Pinned exactly: the checks' verdicts must not change with a new release.
HELM_MODULE="helm.sh/helm/v3"
HELM_VERSION="v3.21.4"
COMPOSE_CONFIG_SRC="$REPO_ROOT/tests/deploy/compose_config"
TOOLS_DIR="$REPO_ROOT/.local"
BIN_DIR="$TOOLS_DIR/bin"
GO="${STAGETRACK_GO:-$(command -v go || echo /usr/local/go/bin/go)}"

say() { echo "[tools] $*" >&2; }
die() { echo "[tools] ERROR: $*" >&2; exit 1; }

go_env() {
  # env, so that a caller's own NAME=VALUE arguments (GOBIN=...) are assignments too, not a command name
  env GOPATH="$TOOLS_DIR/go/path" GOMODCACHE="$TOOLS_DIR/go/mod" GOCACHE="$TOOLS_DIR/go/build" \
    GOFLAGS=-modcacherw CGO_ENABLED=0 GOTOOLCHAIN=local "$@"
}

# One build at a time: a second caller waits for the first, then finds the binary built.
lock_builds() {
  [ -x "$GO" ] || die "Go not found (looked for go on PATH and /usr/local/go/bin/go; set STAGETRACK_GO)"
  mkdir -p "$BIN_DIR" "$TOOLS_DIR/go"
  exec 9>"$TOOLS_DIR/go/build.lock"
  flock 9
}

# The version Go recorded in the Helm binary (`go version -m`): the module's, whatever `helm version` says.
helm_version() {
  [ -x "$BIN_DIR/helm" ] || return 0
  "$GO" version -m "$BIN_DIR/helm" 2>/dev/null | awk -v m="$HELM_MODULE" '$1 == "mod" && $2 == m { print $3 }'
}

ensure_helm() {
  [ "$(helm_version)" = "$HELM_VERSION" ] && return 0
  lock_builds
  [ "$(helm_version)" = "$HELM_VERSION" ] && return 0
  say "building $HELM_MODULE@$HELM_VERSION with $("$GO" env GOVERSION) (once; cached in $BIN_DIR/helm)"
  local staging
  staging="$(mktemp -d "$TOOLS_DIR/go/bin.XXXXXX")"
  go_env GOBIN="$staging" "$GO" install -trimpath "$HELM_MODULE/cmd/helm@$HELM_VERSION" \
    || { rm -rf "$staging"; die "go install $HELM_MODULE/cmd/helm@$HELM_VERSION failed"; }
  mv -f "$staging/helm" "$BIN_DIR/helm"
  rm -rf "$staging"
  [ "$(helm_version)" = "$HELM_VERSION" ] || die "$BIN_DIR/helm does not report $HELM_MODULE $HELM_VERSION"
}

# The compose checker is rebuilt whenever its source or its pinned modules change.
compose_config_source_sum() { cat "$COMPOSE_CONFIG_SRC"/go.mod "$COMPOSE_CONFIG_SRC"/go.sum "$COMPOSE_CONFIG_SRC"/*.go | sha256sum; }

ensure_compose_config() {
  local binary="$BIN_DIR/compose-config" want
  want="$(compose_config_source_sum)"
  [ -x "$binary" ] && [ "$(cat "$binary.sum" 2>/dev/null)" = "$want" ] && return 0
  lock_builds
  [ -x "$binary" ] && [ "$(cat "$binary.sum" 2>/dev/null)" = "$want" ] && return 0
  say "building tests/deploy/compose_config with $("$GO" env GOVERSION) (cached in $binary)"
  (cd "$COMPOSE_CONFIG_SRC" && go_env "$GO" build -mod=readonly -trimpath -o "$binary.new" .) \
    || die "go build of $COMPOSE_CONFIG_SRC failed"
  mv -f "$binary.new" "$binary"
  echo "$want" >"$binary.sum"
}

tool="${1:-}"
shift || true
case "$tool" in
  helm) ensure_helm; binary="$BIN_DIR/helm" ;;
  compose-config) ensure_compose_config; binary="$BIN_DIR/compose-config" ;;
  *) die "usage: tools.sh helm|compose-config [ARGS...]" ;;
esac
if [ $# -eq 0 ]; then echo "$binary"; else exec "$binary" "$@"; fi
