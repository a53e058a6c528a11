#!/usr/bin/env bash
# The browser side of the website: Debian's chromium (driven by Playwright for Python, never `playwright install`)
# and the tracking libraries' browser bundles, fetched from npm once and cached in $STAGETRACK_LOCAL/npm.
# usage: browser.sh setup   installs what is missing, then prints one `name=path` line per thing (stdout)
#        browser.sh paths   prints those lines only, failing when something is missing
source "$(dirname "$0")/common.sh"
CHROMIUM="${STAGETRACK_CHROMIUM:-/usr/bin/chromium}"
NPM_DIR="$LOCAL_DIR/npm"
# Pinned exactly: docs/website.md records what these versions send; a new version is a new discovery.
ANALYTICS_NEXT_VERSION="1.84.3"
RUDDERSTACK_VERSION="3.34.1"

# package_dir NAME VERSION: where the unpacked npm tarball lives (its files under package/).
package_dir() { local name="${1#@}"; echo "$NPM_DIR/${name//\//-}-$2"; }

ANALYTICS_NEXT_DIR="$(package_dir @segment/analytics-next "$ANALYTICS_NEXT_VERSION")"
RUDDERSTACK_DIR="$(package_dir @rudderstack/analytics-js "$RUDDERSTACK_VERSION")"
# analytics.js as Segment's CDN serves it (standalone: reads window.analytics' snippet buffer, loads its lazy
# chunks from <cdn>/analytics-next/bundles/, which are the other files of the same folder).
ANALYTICS_NEXT_BUNDLE="$ANALYTICS_NEXT_DIR/package/dist/umd/standalone.js"
# RudderStack's v3 SDK, the UMD build with its plugins bundled in (no plugin fetches from its CDN).
RUDDERSTACK_BUNDLE="$RUDDERSTACK_DIR/package/dist/npm/modern/bundled/umd/index.js"

ensure_chromium() {
  if [ -x "$CHROMIUM" ]; then return 0; fi
  apt_install chromium
  [ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing (set STAGETRACK_CHROMIUM)"
  say "$("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
}

# fetch_package NAME VERSION DIR: `npm pack` downloads the one tarball (no dependencies, no install scripts) and
# checks it against the registry's integrity hash; unpacked once, marked complete, never fetched again.
fetch_package() {
  local name="$1" version="$2" dir="$3"
  if [ -f "$dir/.complete" ]; then return 0; fi
  command -v npm >/dev/null || die "npm not found: it fetches $name from the npm registry (apt-get install npm)"
  say "fetching $name@$version from npm (once; cached in $dir)"
  rm -rf "$dir"; mkdir -p "$dir"
  local tarball
  tarball="$(cd "$dir" && npm pack --silent "$name@$version" 2>>"$LOG_DIR/npm.log" | tail -1)" \
    || { tail -20 "$LOG_DIR/npm.log" >&2; die "npm could not fetch $name@$version (log: $LOG_DIR/npm.log)"; }
  [ -f "$dir/$tarball" ] || die "npm pack printed '$tarball' but left no tarball in $dir"
  tar -xzf "$dir/$tarball" -C "$dir" && rm -f "$dir/$tarball"
  touch "$dir/.complete"
}

print_paths() {
  local missing=0 line path
  for line in "chromium=$CHROMIUM" "analytics-next=$ANALYTICS_NEXT_BUNDLE" "rudderstack=$RUDDERSTACK_BUNDLE"; do
    path="${line#*=}"
    if [ -e "$path" ]; then echo "$line"; else say "missing: $path (run: $0 setup)"; missing=1; fi
  done
  return "$missing"
}

case "${1:-}" in
  setup)
    ensure_chromium
    fetch_package @segment/analytics-next "$ANALYTICS_NEXT_VERSION" "$ANALYTICS_NEXT_DIR"
    fetch_package @rudderstack/analytics-js "$RUDDERSTACK_VERSION" "$RUDDERSTACK_DIR"
    print_paths ;;
  paths) print_paths ;;
  *) die "usage: $0 setup|paths" ;;
esac
