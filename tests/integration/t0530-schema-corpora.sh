#!/usr/bin/env bash
# t0530-schema-corpora.sh — the schema snapshot on real histories
# (../shared/corpora: hydra, documenso): `migrate up` from empty, then
# pg_dump --schema-only | psql into another database gives no difference,
# and `migrate drift` of the migrated database finds no drift (the history
# replayed from empty, once more, is the same schema).  Skipped when the
# corpora are absent.
. "$(dirname "$0")/../lib/tap.sh"

unset NO_COLOR CONFITURE_DATABASE_URL
CORPORA=${CF_CORPORA:-$CF_SRC/../shared/corpora}
[ -d "$CORPORA" ] || CORPORA=/work/shared/corpora
if [ ! -d "$CORPORA/hydra/db/migrations" ]; then
	skip_all "corpora not found (set CF_CORPORA)"
fi
SCHEMA_DIFF="$(dirname "$CONFITURE")/schema_diff"
if [ ! -x "$SCHEMA_DIFF" ]; then
	skip_all "test driver $SCHEMA_DIFF not built (meson -Dtests=true)"
fi

for corpus in hydra documenso; do
	test_expect_success "$corpus: migrate up, then pg_dump | psql: no difference" '
		up=t0530_${corpus}_up
		copy=t0530_${corpus}_copy
		new_db "$up" >/dev/null
		new_db "$copy" >/dev/null
		run_cf migrate up --migrations-dir "$CORPORA/$corpus/db/migrations" --database-url "$(db_url "$up")"
		expect_rc 0
		pg_dump --schema-only "$(db_url "$up")" | grep -v "^\\\\\(un\)\{0,1\}restrict" |
			psql -XAtq -v ON_ERROR_STOP=1 -d "$copy" >/dev/null
		CONFITURE="$SCHEMA_DIFF" run_cf "$(db_url "$up")" "$(db_url "$copy")"
		expect_rc 0
		expect_out_empty
	'

	test_expect_success "$corpus: migrate drift after migrate up finds no drift" '
		up=t0530_${corpus}_up
		run_cf migrate drift --migrations-dir "$CORPORA/$corpus/db/migrations" --database-url "$(db_url "$up")" --server "$(db_url postgres)"
		expect_rc 0
		expect_out_contains "no drift"
	'
done

test_done
