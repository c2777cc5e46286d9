#!/usr/bin/env bash
# demo-against.sh — the manual preflight workflow on the bundled "shop"
# project against a copy of its drifted production schema, on a throwaway
# PostgreSQL cluster that this script starts and removes.
#
#   examples/demo.sh            (after 'make'; uses build/confiture)
#
# What happens:
#   1. a throwaway cluster starts (Unix socket only, removed at the end);
#   2. "production" is loaded from examples/shop/production-schema.sql and
#      migrations 001-003 are recorded as applied (migrate baseline);
#   3. a disposable copy, shop_preflight, is made from the same dump;
#   4. 'migrate status' lists what production has not applied;
#   5. 'migrate preflight' replays the pending migrations on a clone of
#      shop_preflight and reports every failure with its root cause.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
confiture=${CONFITURE:-$root/build/confiture}
[ -x "$confiture" ] || { echo "demo: $confiture not found; run 'make' first" >&2; exit 2; }

# shellcheck source=../tests/lib/cluster.sh
. "$root/tests/lib/cluster.sh"
cluster_start >/dev/null
trap 'cluster_stop >/dev/null 2>&1' EXIT INT TERM

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
# Production's roles exist there; the copy is made as a superuser.
q -d postgres -c "CREATE ROLE shop_owner; CREATE ROLE reporting; CREATE ROLE shop_app;"
q -d postgres -c "CREATE DATABASE shop_production" -c "CREATE DATABASE shop_preflight"
q -d shop_production -f "$here/shop/production-schema.sql" >/dev/null
q -d shop_preflight -f "$here/shop/production-schema.sql" >/dev/null

export SHOP_PRODUCTION_URL="postgresql:///shop_production?host=$PGHOST&port=$PGPORT"
against="postgresql:///shop_preflight?host=$PGHOST&port=$PGPORT"
cd "$here/shop"
"$confiture" migrate baseline --through 003 --env production >/dev/null

echo "\$ confiture migrate status --env production"
"$confiture" migrate status --env production || true
echo
echo "\$ confiture migrate preflight --against <shop_preflight> --env production"
set +e
"$confiture" migrate preflight --against "$against" --env production
rc=$?
set -e
echo
echo "(preflight exit status: $rc — 1 means some pending migrations fail on production's schema)"
