#!/usr/bin/env bash
# demo.sh — the README's first command: a preflight of the bundled "shop"
# project against its drifted production schema, with nothing to set up.
#
#   examples/demo.sh            (after 'make'; uses build/confiture)
#
# confiture starts an embedded throwaway PostgreSQL, loads
# examples/shop/production-schema.sql (pg_dump --schema-only of a production
# where migrations 001-003 were applied and hotfixes were made by hand) into
# a cached template, clones it, replays the pending migrations 004-010 on
# the clone, drops the clone and stops the server.  Run it twice: the second
# run reuses the cached template.  'confiture cache clear' removes the cache.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
confiture=${CONFITURE:-$here/../build/confiture}
[ -x "$confiture" ] || { echo "demo: $confiture not found; run 'make' first" >&2; exit 2; }
cd "$here/shop"

echo "\$ confiture migrate preflight --from-dump production-schema.sql --since 004"
set +e
"$confiture" migrate preflight --from-dump production-schema.sql --since 004 "$@"
rc=$?
set -e
echo
case $rc in
0) echo "(exit 0: every pending migration passes on production's schema)" ;;
1) echo "(exit 1: some pending migrations fail on production's schema — fix them and run again)" ;;
*) echo "(exit $rc: the preflight could not run; see the error above)" ;;
esac
# The demo's point is the report: a failing preflight is its expected result.
[ "$rc" -le 1 ]
