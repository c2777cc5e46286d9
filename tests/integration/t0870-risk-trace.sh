#!/usr/bin/env bash
# t0870-risk-trace.sh — preflight --trace-locks: per statement, the locks
# the replay really took on relations that existed before it, whether it
# rewrote (relfilenode changed) or scanned a table, production's sizes of
# what it touched (read from the --env database, not the replay's), a
# tier, a reason and an estimated lock time; the change_set; savepoint
# mode; --from-dump without --env reports sizes as unknown.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

# by[version] = the against migration; st(v, i) = its statement i (1-based);
# lk(v, i, rel) = that statement's lock on rel (None when none)
CHECK_JSON_PRELUDE='
a = d["against"]
by = dict((m["version"], m) for m in a["migrations"])
def st(v, i=1):
    s = [x for x in by[v]["statements"] if x["index"] == i]
    return s[0] if s else None
def lk(v, i, rel):
    s = st(v, i)
    l = [x for x in (s["locks"] if s else []) if x["relation"] == rel]
    return l[0] if l else None
def work(v, i=1, rel="public.orders"):
    l = lk(v, i, rel)
    return (l["mode"], l["rewrite"], l["scan"]) if l else None
TIERS = ["additive", "reversible", "lock_risky", "destructive", "irreversible"]
'

PROD=$(new_db t0870_prod) || exit 1
PRE=$(new_db t0870_pre) || exit 1
PROJ=$TEST_TMP/proj
M=$PROJ/db/migrations
mkdir -p "$M" "$PROJ/db/environments" || exit 1
cat >"$PROJ/db/environments/production.yaml" <<EOF || exit 1
database_url: "$(db_url "$PROD")"
EOF

# One migration per case, so each statement's trace stands alone.
write_migrations()
{
	m() { printf '%s\n' "$2" >"$M/$1.up.sql"; }
	m 002_widen_numeric "ALTER TABLE orders ALTER COLUMN amount TYPE numeric(14,2);"
	m 003_scale_numeric "ALTER TABLE orders ALTER COLUMN price TYPE numeric(14,4);"
	m 004_varchar_text "ALTER TABLE orders ALTER COLUMN note TYPE text;"
	m 005_char_text "ALTER TABLE orders ALTER COLUMN code TYPE text;"
	m 006_const_default "ALTER TABLE orders ADD COLUMN c1 int DEFAULT 7;"
	m 007_volatile_default "ALTER TABLE orders ADD COLUMN c2 float8 DEFAULT random();"
	m 008_set_not_null "ALTER TABLE orders ALTER COLUMN qty SET NOT NULL;"
	m 009_add_check "ALTER TABLE orders ADD CONSTRAINT ref_nn CHECK (ref IS NOT NULL);"
	m 010_not_null_checked "ALTER TABLE orders ALTER COLUMN ref SET NOT NULL;"
	m 011_index "CREATE INDEX orders_qty ON orders (qty);"
	printf -- '-- confiture:no-transaction\nCREATE INDEX CONCURRENTLY orders_ref ON orders (ref);\n' \
		>"$M/012_index_concurrently.up.sql"
	m 013_fk "ALTER TABLE orders ADD CONSTRAINT fk1 FOREIGN KEY (ref) REFERENCES customers (id);"
	m 014_fk_not_valid "ALTER TABLE orders ADD CONSTRAINT fk2 FOREIGN KEY (ref) REFERENCES customers (id) NOT VALID;"
	m 015_validate "ALTER TABLE orders VALIDATE CONSTRAINT fk2;"
	printf 'CREATE TABLE fresh (id int PRIMARY KEY, v int);\nCREATE INDEX fresh_v ON fresh (v);\nALTER TABLE fresh ALTER COLUMN v TYPE bigint;\n' \
		>"$M/016_new_table.up.sql"
	m 017_drop_column "ALTER TABLE orders DROP COLUMN c1;"
}

test_expect_success 'setup: production with 100k orders, a replay copy with 100' '
	cd "$PROJ" &&
	cat >"$M/001_base.up.sql" <<-\EOF &&
	CREATE TABLE customers (id int PRIMARY KEY);
	CREATE TABLE orders (id int PRIMARY KEY, amount numeric(12,2),
	    price numeric(14,2), note varchar(50), code char(8), qty int,
	    ref int);
	EOF
	run_cf migrate up --env production &&
	expect_rc 0 &&
	dump_schema "$PROD" | psql -XAtq -v ON_ERROR_STOP=1 -d "$PRE" >/dev/null &&
	psql_q "$PROD" "INSERT INTO customers SELECT g FROM generate_series(1, 1000) g;
		INSERT INTO orders SELECT g, g, g, md5(g::text), left(md5(g::text), 8), g, 1 + g % 1000
		FROM generate_series(1, 100000) g" &&
	psql_q "$PROD" "VACUUM ANALYZE orders" &&
	psql_q "$PROD" "VACUUM ANALYZE customers" &&
	psql_q "$PRE" "INSERT INTO customers SELECT g FROM generate_series(1, 10) g;
		INSERT INTO orders SELECT g, g, g, md5(g::text), left(md5(g::text), 8), g, 1 + g % 10
		FROM generate_series(1, 100) g" &&
	psql_q "$PRE" "VACUUM ANALYZE orders" &&
	write_migrations
'

test_expect_success 'clone mode: every pending migration passes, traced' '
	cd "$PROJ" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks --format json &&
	expect_rc 0 &&
	cp "$TEST_TMP/out" "$TEST_TMP/clone.json" &&
	check_json "
eq(a[\"mode\"], \"clone\", \"mode\")
eq(a[\"trace\"][\"traced\"], True, \"traced\")
eq(len(a[\"migrations\"]), 16, \"pending\")
for m in a[\"migrations\"]:
    assert m[\"statements\"], m[\"version\"]
    for s in m[\"statements\"]:
        assert s[\"duration_ms\"] is not None and s[\"duration_ms\"] >= 0, s
        assert s[\"tier\"] in TIERS, s
"
'

test_expect_success 'type changes: numeric(12,2)->(14,2) and varchar->text keep the file, numeric scale and char->text rewrite' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq(work(\"002\"), (\"ACCESS EXCLUSIVE\", False, False), \"numeric(12,2)->(14,2)\")
eq(work(\"003\")[:2], (\"ACCESS EXCLUSIVE\", True), \"numeric(14,2)->(14,4)\")
eq(work(\"004\"), (\"ACCESS EXCLUSIVE\", False, False), \"varchar(50)->text\")
eq(work(\"005\")[:2], (\"ACCESS EXCLUSIVE\", True), \"char(8)->text\")
eq(lk(\"003\", 1, \"public.orders_pkey\")[\"rewrite\"], True, \"index rebuilt with its table\")
eq(lk(\"002\", 1, \"public.orders_pkey\"), None, \"index untouched\")
"
'

test_expect_success 'ADD COLUMN: a constant default is metadata, a volatile one rewrites' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq(work(\"006\"), (\"ACCESS EXCLUSIVE\", False, False), \"constant default\")
eq(work(\"007\")[:2], (\"ACCESS EXCLUSIVE\", True), \"volatile default\")
"
'

test_expect_success 'SET NOT NULL scans, unless a validated CHECK proves it; the CHECK itself scans' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq(work(\"008\"), (\"ACCESS EXCLUSIVE\", False, True), \"SET NOT NULL\")
eq(work(\"009\"), (\"ACCESS EXCLUSIVE\", False, True), \"ADD CHECK\")
eq(work(\"010\"), (\"ACCESS EXCLUSIVE\", False, False), \"SET NOT NULL with the CHECK\")
"
'

test_expect_success 'CREATE INDEX holds SHARE and scans; CONCURRENTLY is SHARE UPDATE EXCLUSIVE (a static fact)' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq(work(\"011\"), (\"SHARE\", False, True), \"CREATE INDEX\")
l = lk(\"011\", 1, \"public.orders\")
eq((l[\"observed\"], l[\"acquired\"]), (True, True), \"observed in pg_locks\")
eq(st(\"011\")[\"blocks\"], \"writes\", \"SHARE blocks writes\")
eq(work(\"012\"), (\"SHARE UPDATE EXCLUSIVE\", False, True), \"CONCURRENTLY\")
eq(lk(\"012\", 1, \"public.orders\")[\"observed\"], False, \"static, labelled\")
eq(st(\"012\")[\"autocommit\"], True, \"autocommit\")
eq(st(\"012\")[\"blocks\"], \"nothing\", \"SHARE UPDATE EXCLUSIVE blocks no DML\")
"
'

test_expect_success 'FK: validated scans the table, NOT VALID does not, VALIDATE scans under SHARE UPDATE EXCLUSIVE' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq(work(\"013\"), (\"SHARE ROW EXCLUSIVE\", False, True), \"FK\")
eq(work(\"013\", 1, \"public.customers\")[0], \"SHARE ROW EXCLUSIVE\", \"referenced table\")
eq(work(\"014\"), (\"SHARE ROW EXCLUSIVE\", False, False), \"FK NOT VALID\")
eq(work(\"015\"), (\"SHARE UPDATE EXCLUSIVE\", False, True), \"VALIDATE\")
eq(st(\"015\")[\"blocks\"], \"nothing\", \"VALIDATE blocks no DML\")
"
'

test_expect_success 'relations the pending migrations create are not reported' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
eq([s[\"locks\"] for s in by[\"016\"][\"statements\"]], [[], [], []], \"new table\")
"
'

test_expect_success 'sizes come from production (pg_class there), not from the replay database' '
	rows=$(psql_q "$PROD" "SELECT reltuples::bigint FROM pg_class WHERE relname = '\''orders'\''") &&
	bytes=$(psql_q "$PROD" "SELECT pg_total_relation_size('\''orders'\'')") &&
	pages=$(psql_q "$PROD" "SELECT relpages FROM pg_class WHERE relname = '\''orders'\''") &&
	test "$rows" -eq 100000 &&
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
l = lk(\"003\", 1, \"public.orders\")
eq((l[\"rows\"], l[\"bytes\"], l[\"pages\"]), ($rows, $bytes, $pages), \"orders sizes\")
assert \"t0870_prod\" in a[\"trace\"][\"sizes_from\"], a[\"trace\"]
eq(a[\"trace\"][\"sizes_note\"], None, \"no note\")
"
'

test_expect_success 'estimates: calibrated once and stated, lock time from production bytes' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
c = a[\"trace\"][\"calibration\"]
assert c and c[\"rewrite_mb_s\"] > 0 and c[\"scan_mb_s\"] > 0, c
assert \"sample table\" in c[\"method\"], c
s = st(\"003\")
assert s[\"est_lock_ms\"] is not None and s[\"est_lock_ms\"] > 0, s
l = lk(\"003\", 1, \"public.orders\")
exp = l[\"bytes\"] / 1e3 / c[\"rewrite_mb_s\"]
assert abs(s[\"est_lock_ms\"] - exp) <= 1, (s[\"est_lock_ms\"], exp)
assert \"ACCESS EXCLUSIVE + rewrite of public.orders (\" in s[\"reason\"], s[\"reason\"]
assert \"100 k rows): blocks reads and writes, est. \" in s[\"reason\"], s[\"reason\"]
m = by[\"003\"]
eq(m[\"est_lock_ms\"], sum(x[\"est_lock_ms\"] for x in m[\"statements\"]), \"migration estimate\")
eq(st(\"008\")[\"blocks\"], \"reads and writes\", \"ACCESS EXCLUSIVE\")
"
'

test_expect_success 'tiers and change_set: the Python tool'\''s names and shape' '
	cp "$TEST_TMP/clone.json" "$TEST_TMP/out" &&
	check_json "
cs = d[\"change_set\"]
eq(cs[\"contract_version\"], 1, \"contract\")
for c in cs[\"changes\"]:
    eq(sorted(c), [\"detail\", \"kind\", \"migration\", \"object\", \"tier\"], \"keys\")
    assert c[\"tier\"] in TIERS, c
kinds = dict((c[\"migration\"], (c[\"kind\"], c[\"tier\"])) for c in cs[\"changes\"])
eq(kinds[\"006\"], (\"add_column\", \"additive\"), \"add column\")
eq(kinds[\"017\"], (\"drop_column\", \"irreversible\"), \"drop column\")
eq(kinds[\"002\"][0], \"alter_column_type\", \"type change\")
eq(kinds[\"012\"][0], \"create_index_concurrently\", \"CIC\")
eq(by[\"017\"][\"tier\"], \"irreversible\", \"migration tier\")
"
'

test_expect_success 'human output leads with the riskiest change and states the basis' '
	cd "$PROJ" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks &&
	expect_rc 0 &&
	sed -n "/^Deploy risk/{n;p;}" "$TEST_TMP/out" >"$TEST_TMP/first" &&
	grep -q "irreversible *017 drop_column:1 .*drop_column" "$TEST_TMP/first" &&
	expect_out_matches "calibration: this server scanned [0-9]+ MB/s and rewrote [0-9]+ MB/s" &&
	expect_out_contains "sizes: reltuples, relpages and pg_total_relation_size read from" &&
	expect_out_matches "017 drop_column:1 .*gone for good; ACCESS EXCLUSIVE on public.orders, no rewrite or scan: blocks reads and writes"
'

test_expect_success 'CI formats: lock_risky and worse statements are warnings at their line' '
	cd "$PROJ" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks --format github &&
	expect_rc 0 &&
	expect_out_matches "^::warning file=db/migrations/017_drop_column.up.sql,line=1,title=confiture preflight%3A 017_drop_column%3A irreversible::irreversible: drop_column" &&
	expect_out_not_contains "002_widen_numeric%3A reversible"
'

test_expect_success 'without --trace-locks the output has no trace' '
	cd "$PROJ" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint --format json &&
	expect_rc 0 &&
	check_json "
eq(a[\"trace\"][\"traced\"], False, \"traced\")
eq(set(m[\"statements\"] is None for m in a[\"migrations\"]), {True}, \"no statements\")
eq(sorted(d), [\"against\", \"static\"], \"the envelope is unchanged\")
" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint &&
	expect_out_not_contains "Deploy risk"
'

test_expect_success '--check-down: the down and the second up are not blamed on the next migration' '
	cd "$PROJ" &&
	echo "ALTER TABLE orders ALTER COLUMN price TYPE numeric(14,2);" \
		>"$M/003_scale_numeric.down.sql" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks --check-down --format json &&
	rm "$M/003_scale_numeric.down.sql" &&
	expect_rc 0 &&
	check_json "
eq(by[\"003\"][\"down\"][\"status\"], \"reversible\", \"down checked\")
eq(work(\"003\")[1], True, \"the up rewrites\")
eq(work(\"004\"), (\"ACCESS EXCLUSIVE\", False, False), \"varchar->text still no rewrite\")
eq(work(\"005\")[:2], (\"ACCESS EXCLUSIVE\", True), \"char->text still a rewrite\")
"
'

test_expect_success 'savepoint mode: the same signals where exact, and a note where not' '
	cd "$PROJ" &&
	run_cf migrate preflight --env production --against "$(db_url "$PRE")" \
		--mode savepoint --no-lint --trace-locks --format json &&
	expect_rc 0 &&
	check_json "
eq(a[\"mode\"], \"savepoint\", \"mode\")
assert \"savepoint mode\" in a[\"trace\"][\"note\"], a[\"trace\"]
eq(work(\"002\"), (\"ACCESS EXCLUSIVE\", False, False), \"no rewrite\")
eq(work(\"003\")[1], True, \"rewrite\")
eq(work(\"008\")[2], True, \"scan\")
eq(work(\"010\"), None, \"lock already held, no scan\")
eq(by[\"012\"][\"skipped\"], True, \"CIC skipped\")
"
'

test_expect_success '--from-dump without --env: sizes unknown, reported as such' '
	cd "$PROJ" &&
	pg_dump --schema-only "$PRE" >"$TEST_TMP/pre.sql" &&
	run_cf migrate preflight --from-dump "$TEST_TMP/pre.sql" \
		--server "$(db_url postgres)" --cache-dir "$TEST_TMP/cache" \
		--since 002 --no-lint --trace-locks --format json &&
	expect_rc 0 &&
	cp "$TEST_TMP/out" "$TEST_TMP/fromdump.json" &&
	check_json "
eq(a[\"trace\"][\"sizes_from\"], None, \"no source\")
assert \"unknown\" in a[\"trace\"][\"sizes_note\"], a[\"trace\"]
eq(a[\"trace\"][\"calibration\"], None, \"nothing to weigh\")
l = lk(\"003\", 1, \"public.orders\")
eq((l[\"rewrite\"], l[\"rows\"], l[\"bytes\"]), (True, None, None), \"unknown sizes\")
s = st(\"003\")
eq((s[\"tier\"], s[\"est_lock_ms\"]), (\"lock_risky\", None), \"risky when unknown\")
assert \"production size unknown\" in s[\"reason\"], s[\"reason\"]
"
'

test_expect_success 'a password in the production URL never appears in the output' '
	cd "$PROJ" &&
	u=$(db_url "$PROD") &&
	cat >db/environments/secret.yaml <<-EOF &&
	database_url: "postgresql://postgres:Sekr1tPw@/${u#postgresql:///}"
	EOF
	run_cf migrate preflight --env secret --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks --format json &&
	expect_rc 0 &&
	check_json "
assert a[\"trace\"][\"sizes_from\"], a[\"trace\"]
eq(lk(\"003\", 1, \"public.orders\")[\"rows\"], 100000, \"sizes read\")
" &&
	expect_out_not_contains Sekr1tPw &&
	expect_err_not_contains Sekr1tPw &&
	run_cf migrate preflight --env secret --against "$(db_url "$PRE")" \
		--mode clone --no-lint --trace-locks &&
	expect_out_contains "sizes: reltuples" &&
	expect_out_not_contains Sekr1tPw &&
	expect_err_not_contains Sekr1tPw
'

test_expect_success 'the JSON validates against docs/preflight.schema.json' '
	for f in clone.json fromdump.json; do
		python3 - "$CF_SRC/docs/preflight.schema.json" "$TEST_TMP/$f" <<-\EOF || return 1
		import json, sys
		try:
		    import jsonschema
		except ImportError:
		    sys.exit("no python3 with jsonschema: run scripts/install-deps")
		schema = json.load(open(sys.argv[1]))
		doc = json.load(open(sys.argv[2]))
		cls = jsonschema.validators.validator_for(schema)
		cls.check_schema(schema)
		cls(schema).validate(doc)
		# the schema describes what is asserted above
		bad = json.loads(json.dumps(doc))
		for m in bad["against"]["migrations"]:
		    for s in m["statements"] or []:
		        s["tier"] = "risky"
		assert not cls(schema).is_valid(bad) or not any(
		    m["statements"] for m in doc["against"]["migrations"])
		EOF
	done
'

test_done
