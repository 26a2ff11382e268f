# Shared by kiln's scripts: make sure Go and Debian packages are there.
# Every step checks first, so a second run costs almost nothing.

GO_VERSION=1.26.8   # the toolchain fetched when no Go 1.26 is installed

log() { printf 'kiln: %s\n' "$*" >&2; }

# as_root runs a command as root, through sudo when needed.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else log "need root for: $*"; return 1
  fi
}

# ensure_apt installs the Debian packages that are missing.
ensure_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  # Packages such as apache2 and renderd start services from their
  # maintainer scripts; kiln's tests start their own on loopback instead.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then as_root apt-get update -q; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  if [ $own_policy = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
}

# ensure_go puts a Go >= 1.26 on PATH: the installed one, or a toolchain
# fetched from the Go module proxy (the one place Go is served from here).
ensure_go() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/kiln/go$GO_VERSION"
  for d in "$cache/go/bin" /usr/local/go/bin; do
    [ -x "$d/go" ] && case ":$PATH:" in *":$d:"*) ;; *) PATH="$PATH:$d" ;; esac
  done
  if command -v go >/dev/null; then
    local v
    v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
    case "$v" in 1.2[6-9]*|1.[3-9][0-9]*) export PATH; return 0 ;; esac
  fi
  ensure_apt curl unzip ca-certificates
  local arch
  arch=$(dpkg --print-architecture)
  log "fetching Go $GO_VERSION ($arch) from the Go module proxy"
  local zip
  zip=$(mktemp)
  curl -fsSL -o "$zip" "${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-$arch.zip"
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
  unzip -q "$zip" -d "$cache.tmp"
  rm -f "$zip"
  # The module zip holds golang.org/toolchain@.../ with the Go tree inside.
  rm -rf "$cache" && mkdir -p "$cache"
  mv "$cache.tmp"/golang.org/toolchain@*/ "$cache/go"
  rm -rf "$cache.tmp"
  chmod +x "$cache"/go/bin/* "$cache"/go/pkg/tool/*/* 2>/dev/null || true
  PATH="$cache/go/bin:$PATH"
  export PATH
  go version >&2
}

# Packages kiln runs with: Chromium renders web page thumbnails (the
# headless shell, Chromium's build for automation, at well under half the
# CPU per page; chromium itself for the web page tests and as the fallback),
# with the Noto fonts (CJK too) so that pages in any script render.
RUN_PACKAGES=(chromium chromium-headless-shell fonts-noto-core fonts-noto-cjk)

# Packages the test suite drives for real: Apache with mod_tile and renderd
# (byte compatibility of the metatile cache, both ways), and PostgreSQL 15
# with PostGIS 3, whose binaries internal/pgtest runs as a throwaway server
# of its own on 127.0.0.1 (it uses no cluster the packages may create);
# Chromium, which loads the web page in the page tests; Python 3 with zeep,
# which run an old AST client and a SOAP client generated from kiln's WSDL
# against the server (internal/server/ast_interop_test.go).
TEST_PACKAGES=(
  "${RUN_PACKAGES[@]}" apache2 libapache2-mod-tile renderd
  postgresql-15 postgresql-15-postgis-3 postgresql-15-postgis-3-scripts
  python3 python3-zeep
)

# ensure_versitygw builds versitygw, the S3-compatible server the tests run
# for the S3 cache (internal/s3test), once into the kiln cache directory
# (about 10 minutes cold), and exports KILN_VERSITYGW. Debian has no S3
# server package.
VERSITYGW_VERSION=v1.8.0
ensure_versitygw() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/kiln/tools/versitygw-$VERSITYGW_VERSION"
  if [ ! -x "$dir/versitygw" ]; then
    log "building versitygw $VERSITYGW_VERSION (go install)"
    mkdir -p "$dir"
    GOBIN="$dir" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  fi
  export KILN_VERSITYGW="$dir/versitygw"
}
