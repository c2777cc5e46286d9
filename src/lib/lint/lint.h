/*
 * lint.h — the lint rules run as the files arrive, for a caller that reads
 * and parses them itself (a static preflight reads, checksums and parses
 * each pending file once, and lints it in the same pass).  Internal to the
 * library; cf_lint_files() and cf_lint_scripts() in confiture.h are the
 * same rules on files or scripts in one call.
 */
#ifndef CF_LINT_H
#define CF_LINT_H

#include "confiture.h"
#include "history/model.h"

typedef struct cf_lint_stream cf_lint_stream;

/*
 * Starts linting for opts (borrowed until cf_lint_stream_end()) and lints
 * opts->context.  keep_models as for cf_lint_scripts().  Fails as
 * cf_lint_scripts() does (unknown rule ids); *out is then NULL.
 */
int cf_lint_stream_begin(const cf_lint_options *opts, bool keep_models,
			 cf_lint_stream **out, cf_error **err);

/*
 * A script longer than this keeps only its statement models from
 * cf_lint_stream_prepare(): each statement is parsed again when linted
 * and its tree freed at once.  Trees take about 75 times the text (a
 * 2.3 MB baseline of 5,000 tables held 178 MB of them, 34 MB now, in the
 * same time); migrations are far smaller (the corpora's largest is
 * 30 kB).  256 kB; the tests set it to 0 to prove both ways the same.  Not
 * to be changed while lint runs.
 */
extern size_t cf_lint_trees_max;

/* At most how many scripts to prepare ahead of the one being linted. */
size_t cf_lint_stream_window(int threads);

/*
 * The parse trees the rules will read for script (trees: the script's
 * whole-text trees, or NULL).  Touches only script: any thread.  Pass the
 * result to cf_lint_stream_consume() and then to cf_lint_stream_release()
 * on the thread that prepared it; trees must outlive both.
 */
void *cf_lint_stream_prepare(cf_lint_stream *ls, cf_script *script,
			     const cf_script_trees *trees);

/* Runs the rules on a prepared script, in file order, one at a time. */
void cf_lint_stream_consume(cf_lint_stream *ls, cf_script *script,
			    void *prepared);

/* Frees what cf_lint_stream_prepare() made. */
void cf_lint_stream_release(cf_lint_stream *ls, cf_script *script,
			    void *prepared);

/* Ends the stream (NULL is fine): returns the findings (the caller's; free
 * with cf_lint_result_free()) and frees ls. */
cf_lint_result *cf_lint_stream_end(cf_lint_stream *ls);

#endif /* CF_LINT_H */
