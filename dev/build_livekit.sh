#!/usr/bin/env bash
# Builds (once) the real LiveKit media stack that `deno task dev` and CI's end-to-end tier run:
# livekit-server and the egress service, from the Go module proxy (the bucket they write to is
# the project's own GCS double, `dev/local_bucket.ts`, so no GCS emulator is built). Binaries are
# cached outside the clone, keyed by version, so a second clone or a CI run reuses them:
#
#   ${VRSTREAM_BIN_CACHE:-~/.cache/vrstream/bin}/livekit-server-v1.13.5
#   ${VRSTREAM_BIN_CACHE:-~/.cache/vrstream/bin}/egress-v1.8.6/egress
#
# Usage: dev/build_livekit.sh [livekit-server|egress]...  (default: both)
# Prints one "built"/"cached" line per binary on stderr and its path on stdout. Needs Go; egress
# also needs GStreamer's development packages (see README, "LiveKit locally and in CI").
#
# Why these versions: livekit-server v1.13.6 and later replace pion with forks in their go.mod,
# which the module proxy refuses, so v1.13.5 is the newest that builds from the proxy; egress
# v1.8.6 is the only egress version the proxy serves whose module builds.
set -euo pipefail

LIVEKIT_SERVER_VERSION=v1.13.5
EGRESS_VERSION=v1.8.6

CACHE=${VRSTREAM_BIN_CACHE:-$HOME/.cache/vrstream/bin}
mkdir -p "$CACHE"

log() { printf 'build_livekit: %s\n' "$*" >&2; }

need_go() {
  command -v go >/dev/null || {
    log "Go is not installed: cannot build $1"
    exit 3
  }
}

# go install into a scratch GOBIN, then move the binary into the cache under its versioned name
# (atomically, so a concurrent reader never sees half a file).
go_install() {
  local package=$1 built_name=$2 target=$3
  local scratch
  scratch=$(mktemp -d)
  GOBIN=$scratch GOFLAGS=-buildvcs=false go install "$package"
  mv "$scratch/$built_name" "$target.tmp.$$"
  mv "$target.tmp.$$" "$target"
  rm -rf "$scratch"
}

build_livekit_server() {
  local target=$CACHE/livekit-server-$LIVEKIT_SERVER_VERSION
  if [[ -x $target ]]; then
    log "cached livekit-server $LIVEKIT_SERVER_VERSION"
  else
    need_go livekit-server
    log "building livekit-server $LIVEKIT_SERVER_VERSION (about 2.5 min the first time)"
    go_install "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION" server "$target"
    log "built livekit-server $LIVEKIT_SERVER_VERSION"
  fi
  echo "$target"
}

# `go install` refuses the egress module (its go.mod has replace directives), and its
# `//go:embed templates` folder is not part of the module: build it from a copy of the
# module source with a placeholder page. The folder holds one binary named `egress`, as the
# service starts its handlers by running `egress` from PATH.
build_egress() {
  local dir=$CACHE/egress-$EGRESS_VERSION
  if [[ -x $dir/egress ]]; then
    log "cached egress $EGRESS_VERSION"
  else
    need_go egress
    pkg-config --exists gstreamer-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0 || {
      log "GStreamer development files are missing: cannot build egress"
      exit 3
    }
    log "building egress $EGRESS_VERSION (about 3.5 min the first time)"
    local module source
    module=$(go mod download -json "github.com/livekit/egress@$EGRESS_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -n $module && -d $module ]] || {
      log "go mod download gave no source folder for egress"
      exit 1
    }
    source=$(mktemp -d)
    cp -r "$module/." "$source/"
    chmod -R u+w "$source"
    mkdir -p "$source/cmd/server/templates"
    printf '<!doctype html><title>egress</title>\n' >"$source/cmd/server/templates/index.html"
    (cd "$source" && GOFLAGS=-buildvcs=false go build -o "$source/egress.bin" ./cmd/server)
    mkdir -p "$dir"
    mv "$source/egress.bin" "$dir/egress.tmp.$$"
    mv "$dir/egress.tmp.$$" "$dir/egress"
    rm -rf "$source"
    log "built egress $EGRESS_VERSION"
  fi
  echo "$dir/egress"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(livekit-server egress)
for target in "${targets[@]}"; do
  case $target in
    livekit-server) build_livekit_server ;;
    egress) build_egress ;;
    *)
      log "unknown target: $target"
      exit 2
      ;;
  esac
done
