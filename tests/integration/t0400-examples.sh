#!/usr/bin/env bash
# t0400-examples.sh — the README's first command (examples/demo.sh), the
# manual workflow script and the library API example all work as written.
. "$(dirname "$0")/../lib/tap.sh"

BUILD_DIR=$(dirname "$CONFITURE")
DB_PROD=$(new_db t0400_prod) || exit 1
DB_PF=$(new_db t0400_pf) || exit 1

test_expect_success 'examples/demo.sh: one command, embedded server, the expected report' '
	CONFITURE="$CONFITURE" "$CF_SRC/examples/demo.sh" --cache-dir "$TEST_TMP/cache" >out 2>err
	grep -q "dump loaded into template" out
	grep -q "✗ 004 customer_email_length" out
	grep -q "SQLSTATE: 0A000" out
	grep -q "relation \"idx_orders_status\" already exists" out
	grep -q "✗ 009 verified_customers_index .*consequence of 004" out
	grep -q "✓ 010 index_product_price .*(autocommit)" out
	grep -q "^3 failed: 2 root causes, 1 consequence; 4 passed, 0 skipped" out
	grep -q "^clone dropped" out
	grep -q "exit 1: some pending migrations fail" out
'

test_expect_success 'examples/demo.sh again: the cached template is reused' '
	CONFITURE="$CONFITURE" "$CF_SRC/examples/demo.sh" --cache-dir "$TEST_TMP/cache" >out 2>err
	grep -q "(cache hit)" out
	grep -q "^3 failed: 2 root causes, 1 consequence" out
	"$CONFITURE" cache clear --cache-dir "$TEST_TMP/cache" >/dev/null
'

test_expect_success 'examples/demo-against.sh: status and preflight --against on a throwaway cluster' '
	CONFITURE="$CONFITURE" "$CF_SRC/examples/demo-against.sh" >out 2>err
	grep -q "10 migrations: 3 applied, 7 pending" out
	grep -q "(clone mode)" out
	grep -q "^3 failed: 2 root causes, 1 consequence" out
'

test_expect_success 'examples/preflight_api.c: the library API gives the same verdicts' '
	[ -x "$BUILD_DIR/preflight_api" ]
	psql_q "$DB_PROD" "CREATE ROLE t0400_owner" >/dev/null 2>&1 || true
	sed "s/OWNER TO shop_owner/OWNER TO postgres/; /^GRANT /d" "$CF_SRC/examples/shop/production-schema.sql" >prod.sql
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB_PROD" -f prod.sql >/dev/null
	psql -X -q -v ON_ERROR_STOP=1 -d "$DB_PF" -f prod.sql >/dev/null
	cp -r "$CF_SRC/examples/shop" shop
	cd shop
	export SHOP_PRODUCTION_URL="$(db_url "$DB_PROD")"
	"$CONFITURE" migrate baseline --through 003 --env production >/dev/null
	set +e
	"$BUILD_DIR/preflight_api" . production "$(db_url "$DB_PF")" >out 2>err
	rc=$?
	set -e
	expect_eq 1 "$rc" "exit status"
	grep -q "^004 .*FAILED: \[0A000\] cannot alter type of a column used by a view or rule (db/migrations/004_customer_email_length.up.sql:3:1)" out
	grep -q "^009 .*consequence: \[42703\]" out
	grep -q "^005 .*ok$" out
	grep -q "^4 passed, 3 failed (2 root causes), 0 skipped; clone dropped" out
'

test_expect_success 'make install layout: binary, libraries, header, pkg-config, man page; the example builds against it' '
	build=$(cd "$BUILD_DIR" && pwd)
	meson install -C "$build" --destdir "$TEST_TMP/dest" >install.log 2>&1
	prefix=$(meson introspect "$build" --buildoptions | python3 -c "import json,sys; print([o[\"value\"] for o in json.load(sys.stdin) if o[\"name\"] == \"prefix\"][0])")
	root="$TEST_TMP/dest$prefix"
	[ -x "$root/bin/confiture" ]
	[ -f "$root/include/confiture.h" ]
	[ -f "$root/share/man/man1/confiture.1" ]
	pc=$(find "$root" -name confiture.pc)
	ls "$root"/lib*/*/libconfiture.so* "$root"/lib*/*/libconfiture.a >/dev/null 2>&1 || ls "$root"/lib*/libconfiture.so* >/dev/null
	flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$root" --cflags --libs confiture)
	cc -std=c17 -Wall -Werror -o api "$CF_SRC/examples/preflight_api.c" $flags
	LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") ./api >out 2>err || true
	grep -q "usage:" err
	"$root/bin/confiture" --version | grep -q "^confiture "
'

test_done
