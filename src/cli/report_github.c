/*
 * report_github.c — GitHub Actions workflow commands: one
 * "::error file=F,line=L,col=C,title=T::message" per finding, so that each
 * shows as an annotation on its line of the pull request.
 *
 * Messages come from hostile files (a syntax error quotes the migration),
 * so every value is escaped: no newline survives, and a message can never
 * start a workflow command of its own.
 */
#include <string.h>

#include "report.h"

/* s with each byte of set as %XX, as the runner decodes it; runs without
 * one in a single write (thousands of findings). */
static void
put_percent(FILE *f, const char *s, const char *set)
{
	while (s && *s) {
		size_t n = strcspn(s, set);

		fwrite(s, 1, n, f);
		s += n;
		if (!*s)
			break;
		fprintf(f, "%%%02X", (unsigned char)*s++);
	}
}

/* Escapes data (after "::"): %, CR and LF. */
static void
put_data(FILE *f, const char *s)
{
	put_percent(f, s, "%\r\n");
}

/* Escapes a property value: data escapes plus ':' and ','. */
static void
put_property(FILE *f, const char *s)
{
	put_percent(f, s, "%\r\n:,");
}

static const char *
command(enum report_level level)
{
	return level == REPORT_ERROR   ? "error" :
	       level == REPORT_WARNING ? "warning" :
					 "notice";
}

static void
put_finding(FILE *f, const struct report *r, const struct report_finding *x)
{
	bool sep = false;

	fprintf(f, "::%s", command(x->level));
	if (x->file) {
		fputs(" file=", f);
		put_property(f, x->file);
		if (x->line > 0)
			fprintf(f, ",line=%d", x->line);
		if (x->line > 0 && x->column > 0)
			fprintf(f, ",col=%d", x->column);
		sep = true;
	}
	fputs(sep ? ",title=" : " title=", f);
	put_property(f, "confiture ");
	put_property(f, r->command);
	put_property(f, x->title ? ": " : " ");
	put_property(f, x->title ? x->title : x->rule);
	fputs("::", f);
	put_data(f, x->message);
	if (x->sqlstate) {
		put_data(f, " (SQLSTATE ");
		put_data(f, x->sqlstate);
		put_data(f, ")");
	}
	if (x->root >= 0) {
		put_data(f, "\nconsequence of ");
		put_data(f, report_root_name(r, x));
		put_data(f, ": ");
		put_data(f, r->findings[x->root].message);
	}
	if (x->detail) {
		put_data(f, "\nDETAIL: ");
		put_data(f, x->detail);
	}
	if (x->context) {
		put_data(f, "\nCONTEXT: ");
		put_data(f, x->context);
	}
	if (x->hint) {
		put_data(f, "\nHINT: ");
		put_data(f, x->hint);
	}
	fputc('\n', f);
}

/* Roots and other errors first (GitHub shows only the first few of each
 * kind per step), then consequences, warnings and notices. */
void
report_github(FILE *f, const struct report *r)
{
	for (int pass = 0; pass < 4; pass++)
		for (size_t i = 0; i < r->n_findings; i++) {
			const struct report_finding *x = &r->findings[i];
			int rank = x->level == REPORT_ERROR ?
					   (x->root >= 0 ? 1 : 0) :
				   x->level == REPORT_WARNING ? 2 :
								3;

			if (rank == pass)
				put_finding(f, r, x);
		}
	fprintf(f, "confiture %s: ", r->command);
	put_data(f, r->headline);
	fputc('\n', f);
}
