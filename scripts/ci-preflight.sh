#!/usr/bin/env bash
# ci-preflight.sh — the CI step: runs `confiture migrate preflight` once and
# leaves everything a CI needs from that one run:
#   - the text log, then GitHub annotations (workflow commands) on stdout;
#   - JUnit, SARIF 2.1.0 and Markdown reports in $CF_REPORT_DIR;
#   - the Markdown summary appended to $GITHUB_STEP_SUMMARY when set;
#   - outputs (exit-code, result, junit, sarif, markdown) appended to
#     $GITHUB_OUTPUT when set.
# It exits with confiture's status (0 passed, 1 failures, 2 errors).  Used
# by action.yml (GitHub) and ci/gitlab-confiture.yml (GitLab); see docs/ci.md.
#
# Settings (environment):
#   CONFITURE      the binary (default: confiture on PATH)
#   CF_FROM_DUMP   schema dump to replay on (--from-dump)
#   CF_FROM_ENV    environment to pg_dump the schema from (--from-env)
#   CF_AGAINST     a disposable database URL instead (--against)
#   CF_SERVER      with CF_FROM_*: load on this server (--server)
#   CF_ENV         environment whose tracking table gives the pending set
#   CF_SINCE       only versions >= this one
#   CF_STRICT      "true": warnings fail too
#   CF_PROJECT_DIR project root (default .)
#   CF_REPORT_DIR  where the reports go (default $RUNNER_TEMP/confiture or
#                  ./confiture-reports)
#   CF_ANNOTATIONS "false": no workflow commands (GitLab, plain shell)
#   CF_ARGS        more arguments, split on white space

set -uo pipefail

confiture=${CONFITURE:-confiture}
report_dir=${CF_REPORT_DIR:-${RUNNER_TEMP:+$RUNNER_TEMP/confiture}}
report_dir=${report_dir:-confiture-reports}

args=(migrate preflight)
[ -n "${CF_FROM_DUMP:-}" ] && args+=(--from-dump "$CF_FROM_DUMP")
[ -n "${CF_FROM_ENV:-}" ] && args+=(--from-env "$CF_FROM_ENV")
[ -n "${CF_AGAINST:-}" ] && args+=(--against "$CF_AGAINST")
[ -n "${CF_SERVER:-}" ] && args+=(--server "$CF_SERVER")
[ -n "${CF_ENV:-}" ] && args+=(--env "$CF_ENV")
[ -n "${CF_SINCE:-}" ] && args+=(--since "$CF_SINCE")
[ -n "${CF_PROJECT_DIR:-}" ] && args+=(-C "$CF_PROJECT_DIR")
[ "${CF_STRICT:-false}" = true ] && args+=(--strict)
if [ -n "${CF_ARGS:-}" ]; then
	# split on white space only: no globbing, no other expansion
	read -r -a extra <<<"$CF_ARGS"
	args+=("${extra[@]}")
fi

if ! mkdir -p "$report_dir"; then
	echo "ci-preflight: cannot create report directory '$report_dir'" >&2
	exit 2
fi
junit="$report_dir/preflight.xml"
sarif="$report_dir/preflight.sarif"
markdown="$report_dir/preflight.md"
args+=(--report "junit:$junit" --report "sarif:$sarif"
	--report "markdown:$markdown")
[ "${CF_ANNOTATIONS:-true}" != false ] && args+=(--report github:-)

rc=0
"$confiture" "${args[@]}" || rc=$?

case $rc in
0) result=passed ;;
1) result=failed ;;
*) result=error ;;
esac

if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$markdown" ]; then
	cat "$markdown" >>"$GITHUB_STEP_SUMMARY"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
	{
		echo "exit-code=$rc"
		echo "result=$result"
		[ -f "$junit" ] && echo "junit=$junit"
		[ -f "$sarif" ] && echo "sarif=$sarif"
		[ -f "$markdown" ] && echo "markdown=$markdown"
	} >>"$GITHUB_OUTPUT"
fi
echo "ci-preflight: $result (exit $rc); reports in $report_dir"
exit "$rc"
