#!/usr/bin/env bash
# t0270-corpora.sh — real project histories (../shared/corpora, or
# CF_CORPORA): `migrate up` from empty gives psql's schema, preflight of a
# suffix against the prefix reports no failure, and preflight's root /
# consequence labels agree with the counterfactual on drifted copies
# (tests/lib/counterfactual.py).  Skipped, saying so, without the corpora.
. "$(dirname "$0")/../lib/tap.sh"

unset CONFITURE_DATABASE_URL NO_COLOR

root=$(cd "$(dirname "$0")/../.." && pwd)
CORPORA=${CF_CORPORA:-$root/../shared/corpora}
if [ ! -d "$CORPORA/hydra/db/migrations" ] ||
	[ ! -d "$CORPORA/documenso/db/migrations" ]; then
	skip_all "no corpora in $CORPORA (set CF_CORPORA to the folder holding hydra/ and documenso/)"
fi

# The version of the file at 70% of a history: the first pending one.
split_at()
{
	local files n

	files=$(ls "$1"/*.up.sql)
	n=$(printf '%s\n' "$files" | wc -l)
	printf '%s\n' "$files" | sed -n "$((n * 7 / 10 + 1))p" |
		xargs basename | cut -d_ -f1
}

# Applies the up files of $2 to database $1 with psql, each in its own
# transaction (autocommit for the files marked no-transaction), up to and
# excluding version $3 when given.
psql_apply()
{
	local f v

	for f in "$2"/*.up.sql; do
		v=$(basename "$f" | cut -d_ -f1)
		[ -n "${3:-}" ] && [[ "$v" > "$3" || "$v" == "$3" ]] && break
		if grep -q '^-- confiture:no-transaction' "$f"; then
			psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$f" >/dev/null || return 1
		else
			psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$1" -f "$f" >/dev/null || return 1
		fi
	done
}

schema_without_tracking()
{
	pg_dump --schema-only --exclude-table=tb_confiture "$1" |
		grep -v '^\\\(un\)\{0,1\}restrict'
}

for corpus in hydra documenso; do
	M=$CORPORA/$corpus/db/migrations

	test_expect_success "$corpus: migrate up from empty gives the schema psql gives" '
		new_db t0250_psql >/dev/null &&
		new_db t0250_up >/dev/null &&
		psql_apply t0250_psql "$M" &&
		run_cf migrate up --migrations-dir "$M" --database-url "$(db_url t0250_up)" &&
		expect_rc 0 &&
		expect_eq "$(ls "$M"/*.up.sql | wc -l)" \
			"$(psql_q t0250_up "SELECT count(*) FROM tb_confiture")" "applied" &&
		schema_without_tracking t0250_psql >"$TEST_TMP/psql.sql" &&
		schema_without_tracking t0250_up >"$TEST_TMP/up.sql" &&
		diff -u "$TEST_TMP/psql.sql" "$TEST_TMP/up.sql"
	'

	test_expect_success "$corpus: preflight of the last 30% against the first 70% reports no failure" '
		split=$(split_at "$M") &&
		new_db t0250_prefix >/dev/null &&
		psql_apply t0250_prefix "$M" "$split" &&
		run_cf migrate preflight --migrations-dir "$M" --since "$split" \
			--against "$(db_url t0250_prefix)" --mode clone --format json &&
		expect_rc 0 &&
		check_json "
a = d[\"against\"]
eq((a[\"failed\"], a[\"skipped\"]), (0, 0), \"failed, skipped\")
assert a[\"passed\"] > 0, a
"
	'
done

test_expect_success 'the labels agree with the counterfactual on drifted copies' '
	: >"$TEST_TMP/cfx"
	for corpus in hydra documenso; do
		M=$CORPORA/$corpus/db/migrations
		case $corpus in
		hydra) set -- "DROP TABLE hydra_oauth2_refresh" "DROP TABLE networks CASCADE" ;;
		documenso) set -- "DROP TABLE \"TemplateMeta\"" ;;
		esac
		[ "${CF_CFX_GENERATED:-0}" -gt 0 ] && set -- "$@" "gen:$CF_CFX_GENERATED"
		python3 "$root/tests/lib/counterfactual.py" "$CONFITURE" "$M" \
			"$(split_at "$M")" "$@" >>"$TEST_TMP/cfx" || return 1
	done
	sed "s/^/# /" "$TEST_TMP/cfx"
	# the README drifts: every label; generated ones too: 95 %
	python3 - "$TEST_TMP/cfx" "${CF_CFX_GENERATED:-0}" <<-\EOF
	import re, sys
	agree = total = 0
	for line in open(sys.argv[1]):
	    m = re.match(r"accuracy (\d+)/(\d+)", line)
	    if m:
	        agree += int(m.group(1)); total += int(m.group(2))
	print("# label accuracy: %d/%d" % (agree, total))
	need = total if sys.argv[2] == "0" else 0.95 * total
	if total < 40 or agree < need:
	    sys.exit("accuracy %d/%d, want %d" % (agree, total, need))
	EOF
'

test_done
