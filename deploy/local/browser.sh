#!/usr/bin/env bash
# The browser side of the website: Debian's chromium (driven by Playwright for Python, never `playwright install`)
# and the tracking libraries' browser bundles, fetched from npm once and cached in $STAGETRACK_LOCAL/npm.
# usage: browser.sh setup   installs what is missing, then prints one `name=path` line per thing (stdout)
#        browser.sh paths   prints those lines only, failing when something is missing
#        browser.sh demo    serves examples/website on 127.0.0.1:$STAGETRACK_DEMO_PORT (8080) for the local ingest
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

DEMO_PORT="${STAGETRACK_DEMO_PORT:-8080}"
DEMO_ORIGIN="http://127.0.0.1:$DEMO_PORT"
DEMO_DIR="$LOCAL_DIR/demo"
STAGETRACK="$REPO_ROOT/.venv/bin/stagetrack"

# demo_key_live KEY: the key is in the store, active, and allows the demo's origin (the database may be new).
demo_key_live() {
  "$STAGETRACK" keys list 2>/dev/null | awk -F'\t' -v prefix="${1:0:12}…" -v origin="$DEMO_ORIGIN" \
    '$2 == prefix && $7 == "active" && (" " $5 " ") ~ (" " origin " ") { found = 1 } END { exit !found }'
}

# demo_write_key: $STAGETRACK_DEMO_WRITE_KEY, else the key made for the demo before (if still live), else a new
# tracker key for the demo's origin; kept in $DEMO_DIR (git-ignored) with its lead-id verification secret.
demo_write_key() {
  if [ -n "${STAGETRACK_DEMO_WRITE_KEY:-}" ]; then echo "$STAGETRACK_DEMO_WRITE_KEY"; return 0; fi
  local saved="$DEMO_DIR/write-key" out key
  if [ -s "$saved" ] && demo_key_live "$(cat "$saved")"; then cat "$saved"; return 0; fi
  [ -x "$STAGETRACK" ] || die "$STAGETRACK not found: run make install"
  say "creating a tracker key for $DEMO_ORIGIN"
  out="$("$STAGETRACK" keys create --source web --scope tracker --origin "$DEMO_ORIGIN")" \
    || die "stagetrack keys create failed (is PostgreSQL up and migrated? make migrate)"
  key="$(sed -n 's/^source web: //p' <<<"$out")"
  [ -n "$key" ] || die "could not read the new key from: $out"
  (umask 077; echo "$key" >"$saved"; sed -n 's/^lead id verification secret: //p' <<<"$out" >"$DEMO_DIR/lead-id-secret")
  echo "$key"
}

# demo: the site's files linked into $DEMO_DIR/site beside a config.js naming the key and the ingest; the
# npm bundle under /vendor/analytics-next/ for sites that host analytics.js themselves (STAGETRACK_DEMO_BUNDLE).
demo() {
  fetch_package @segment/analytics-next "$ANALYTICS_NEXT_VERSION" "$ANALYTICS_NEXT_DIR"
  if port_open "$DEMO_PORT"; then die "port $DEMO_PORT is taken; stop what serves it or set STAGETRACK_DEMO_PORT"; fi
  mkdir -p "$DEMO_DIR"
  local key site="$DEMO_DIR/site" ingest="http://127.0.0.1:$INGEST_PORT" file
  key="$(demo_write_key)"
  rm -rf "$site"; mkdir -p "$site/vendor"
  for file in "$REPO_ROOT"/examples/website/*; do ln -s "$file" "$site/"; done
  ln -s "$(dirname "$ANALYTICS_NEXT_BUNDLE")" "$site/vendor/analytics-next"
  cat >"$site/config.js" <<JS
// Written by deploy/local/browser.sh demo; see examples/website/site.js for the fields.
window.STAGETRACK_SITE = {"writeKey": "$key", "cdn": "$ingest", "bundle": "${STAGETRACK_DEMO_BUNDLE:-}"};
JS
  cat >&2 <<TEXT
[stack] the demo site: $DEMO_ORIGIN/ (tracker key ${key:0:12}…, events to the ingest at $ingest)
[stack]   1. in another terminal: make run   (the ingest, engine and KPI service)
[stack]   2. open $DEMO_ORIGIN/, read a page or two, then send the form on $DEMO_ORIGIN/contact.html
[stack]   3. watch the visitor become a lead: docs/website.md, "Watch a visitor become a lead"
[stack] Ctrl-C stops the site.
TEXT
  exec "$REPO_ROOT/.venv/bin/python" -m http.server "$DEMO_PORT" --bind 127.0.0.1 --directory "$site"
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
  demo) demo ;;
  *) die "usage: $0 setup|paths|demo" ;;
esac
