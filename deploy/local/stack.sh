#!/usr/bin/env bash
# The local stack in the background. usage: stack.sh up|down|status [kafka] [postgres] [prometheus]
source "$(dirname "$0")/common.sh"
here="$(dirname "$0")"
cmd="${1:-}"; shift || true
parts=("$@"); [ ${#parts[@]} -gt 0 ] || parts=(postgres kafka prometheus)
case "$cmd" in
  up) for p in "${parts[@]}"; do "$here/$p.sh" start; done ;;
  down)
    for p in "${parts[@]}"; do "$here/$p.sh" stop; done ;;
  status) rc=0; for p in "${parts[@]}"; do "$here/$p.sh" status || rc=1; done; exit $rc ;;
  *) die "usage: $0 up|down|status [kafka] [postgres] [prometheus]" ;;
esac
