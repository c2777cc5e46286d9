/*
 * report_markdown.c — a Markdown summary for a pull-request comment or
 * $GITHUB_STEP_SUMMARY: a verdict line, a table of root causes and other
 * errors with each root's consequences folded under it, then warnings and
 * the list of migrations.
 *
 * Cells hold text from hostile files, so HTML and Markdown punctuation is
 * escaped: a migration cannot inject markup, links or images.
 */
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* More cases than this are folded in a <details> block. */
#define MARKDOWN_OPEN_CASES 10

static void
put_md(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		/* runs of plain text in one write: thousands of findings */
		size_t n = strcspn(s, "&<>\n\r|\\`*_[]!#~");

		fwrite(s, 1, n, f);
		s += n;
		if (!*s)
			break;
		if (*s != '"' && report_put_entity(f, *s))
			continue;
		switch (*s) {
		case '\n':
		case '\r':
			fputs("<br>", f);
			break;
		case '|':
		case '\\':
		case '`':
		case '*':
		case '_':
		case '[':
		case ']':
		case '!':
		case '#':
		case '~':
			fputc('\\', f);
			fputc(*s, f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void
put_location(FILE *f, const struct report_finding *x)
{
	if (!x->file)
		return;
	put_md(f, x->file);
	if (x->line > 0)
		fprintf(f, ":%d", x->line);
	if (x->line > 0 && x->column > 0)
		fprintf(f, ":%d", x->column);
}

static const char *
case_name(const struct report *r, const struct report_finding *x)
{
	return x->testcase >= 0 ? r->cases[x->testcase].name : "";
}

static void
put_problem(FILE *f, const struct report_finding *x)
{
	put_md(f, x->message);
	if (x->sqlstate) {
		fputs(" (SQLSTATE ", f);
		put_md(f, x->sqlstate);
		fputs(")", f);
	}
	if (x->hint) {
		fputs("<br>hint: ", f);
		put_md(f, x->hint);
	}
}

/* A table row; what is the first cell, or NULL for a table without it. */
static void
put_row(FILE *f, const struct report *r, const struct report_finding *x,
	const char *what)
{
	if (what)
		fprintf(f, "| %s ", what);
	fputs("| ", f);
	put_md(f, case_name(r, x));
	fputs(" | ", f);
	put_problem(f, x);
	fputs(" | ", f);
	put_location(f, x);
	fputs(" |\n", f);
}

/* How many findings each finding is the root of: one pass, not one per
 * finding (thousands of them).  Caller frees. */
static size_t *
consequence_counts(const struct report *r)
{
	size_t *n = cli_realloc(NULL, r->n_findings + 1, sizeof(size_t));

	memset(n, 0, (r->n_findings + 1) * sizeof(size_t));
	for (size_t i = 0; i < r->n_findings; i++) {
		long root = r->findings[i].root;

		if (root >= 0 && (size_t)root < r->n_findings)
			n[root]++;
	}
	return n;
}

static void
put_errors(FILE *f, const struct report *r)
{
	size_t n = 0, *consequences;

	for (size_t i = 0; i < r->n_findings; i++)
		n += r->findings[i].level == REPORT_ERROR &&
		     r->findings[i].root < 0;
	if (!n)
		return;
	consequences = consequence_counts(r);
	fputs("| | Migration | Problem | Location |\n|---|---|---|---|\n", f);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct report_finding *x = &r->findings[i];

		if (x->level != REPORT_ERROR || x->root >= 0)
			continue;
		put_row(f, r, x,
			x->artifact   ? "⚠️ artifact" :
			x->root_cause ? "❌ root cause" :
					"❌ error");
	}
	fputc('\n', f);
	for (size_t i = 0; i < r->n_findings; i++) {
		size_t nc = consequences[i];

		if (!nc)
			continue;
		fprintf(f, "<details><summary>%zu consequence%s of ", nc,
			nc == 1 ? "" : "s");
		put_md(f, case_name(r, &r->findings[i]));
		fputs("</summary>\n\n", f);
		fputs("| Migration | Problem | Location |\n|---|---|---|\n", f);
		for (size_t k = 0; k < r->n_findings; k++)
			if (r->findings[k].root == (long)i)
				put_row(f, r, &r->findings[k], NULL);
		fputs("\n</details>\n\n", f);
	}
	free(consequences);
}

static void
put_level(FILE *f, const struct report *r, enum report_level level,
	  const char *label)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_findings; i++)
		n += r->findings[i].level == level;
	if (!n)
		return;
	fprintf(f,
		"<details><summary>%zu %s%s</summary>\n\n"
		"| | Migration | Problem | Location |\n|---|---|---|---|\n",
		n, label, n == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_findings; i++)
		if (r->findings[i].level == level)
			put_row(f, r, &r->findings[i],
				level == REPORT_WARNING ? "⚠️" : "ℹ️");
	fputs("\n</details>\n\n", f);
}

static void
put_cases(FILE *f, const struct report *r)
{
	bool fold = r->n_cases > MARKDOWN_OPEN_CASES;

	if (!r->n_cases)
		return;
	if (fold)
		fprintf(f, "<details><summary>All %zu migrations</summary>\n\n",
			r->n_cases);
	fputs("| | Migration | Status | Time |\n|---|---|---|---|\n", f);
	for (size_t i = 0; i < r->n_cases; i++) {
		const struct report_case *c = &r->cases[i];

		fprintf(f, "| %s | ",
			c->state == REPORT_CASE_FAILED	? "❌" :
			c->state == REPORT_CASE_SKIPPED ? "➖" :
							  "✅");
		put_md(f, c->name);
		fputs(" | ", f);
		put_md(f, c->status);
		if (c->time_ms > 0)
			fprintf(f, " | %.0f ms |\n", c->time_ms);
		else
			fputs(" | |\n", f);
	}
	fputs(fold ? "\n</details>\n\n" : "\n", f);
}

void
report_markdown(FILE *f, const struct report *r)
{
	fprintf(f, "### %s confiture migrate %s: ", r->ok ? "✅" : "❌",
		r->command);
	put_md(f, r->headline);
	fputs("\n\n", f);
	put_errors(f, r);
	put_level(f, r, REPORT_WARNING, "warning");
	put_level(f, r, REPORT_NOTE, "note");
	put_cases(f, r);
}
