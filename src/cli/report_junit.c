/*
 * report_junit.c — JUnit XML as CI servers read it: one <testsuite> for the
 * command, one <testcase> per migration.  A failure carries the message,
 * SQLSTATE, location and cause; a consequence names the root it follows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/*
 * Writes s as XML character data or attribute value.  Characters XML 1.0
 * cannot hold (C0 controls other than tab, LF, CR) become U+FFFD, so a
 * hostile migration cannot make the file unreadable.
 */
static void
put_escaped(FILE *f, const char *s, bool attribute)
{
	for (; s && *s; s++) {
		const char *run = s;
		unsigned char c;

		/* runs of plain text in one write: thousands of findings */
		while ((unsigned char)*s >= 0x20 && *s != '&' && *s != '<' &&
		       *s != '>' && *s != '"')
			s++;
		fwrite(run, 1, (size_t)(s - run), f);
		if (!*s)
			break;
		c = (unsigned char)*s;
		if (report_put_entity(f, *s))
			continue;
		switch (c) {
		case '\n':
			/* a newline in an attribute would read as a space */
			fputs(attribute ? "&#10;" : "\n", f);
			break;
		case '\r':
			fputs("&#13;", f);
			break;
		case '\t':
			fputs(attribute ? "&#9;" : "\t", f);
			break;
		default:
			if (c < 0x20)
				fputs("\xef\xbf\xbd", f);
			else
				fputc(c, f);
		}
	}
}

/* Character data of an element. */
static void
put_xml(FILE *f, const char *s)
{
	put_escaped(f, s, false);
}

/* An attribute value, between double quotes. */
static void
put_attr(FILE *f, const char *s)
{
	put_escaped(f, s, true);
}

static void
put_location(FILE *f, const struct report_finding *x)
{
	if (!x->file)
		return;
	put_xml(f, x->file);
	if (x->line > 0)
		fprintf(f, ":%d", x->line);
	if (x->line > 0 && x->column > 0)
		fprintf(f, ":%d", x->column);
	put_xml(f, ": ");
}

/* "LABEL: value" on a line of its own, when there is a value. */
static void
put_field(FILE *f, const char *label, const char *value)
{
	if (!value)
		return;
	put_xml(f, label);
	put_xml(f, ": ");
	put_xml(f, value);
	put_xml(f, "\n");
}

/* The full text of a finding, one fact per line. */
static void
put_finding_text(FILE *f, const struct report *r,
		 const struct report_finding *x)
{
	static const char *const names[] = {"note", "warning", "error"};

	put_location(f, x);
	put_xml(f, names[x->level]);
	put_xml(f, ": ");
	put_xml(f, x->message);
	put_xml(f, "\n");
	put_field(f, "SQLSTATE", x->sqlstate);
	put_field(f, "DETAIL", x->detail);
	put_field(f, "CONTEXT", x->context);
	put_field(f, "HINT", x->hint);
	if (x->root >= 0) {
		put_xml(f, "cause: consequence of ");
		put_xml(f, report_root_name(r, x));
		put_xml(f, ": ");
		put_xml(f, r->findings[x->root].message);
	} else if (x->artifact) {
		put_xml(f, "cause: artifact of savepoint mode");
	} else if (x->root_cause) {
		put_xml(f, "cause: root cause");
	} else {
		put_xml(f, "check: ");
		put_xml(f, x->rule);
	}
	put_xml(f, "\n");
}

static void
count(const struct report *r, size_t *failures, size_t *skipped, double *ms)
{
	*failures = *skipped = 0;
	*ms = 0;
	for (size_t i = 0; i < r->n_cases; i++) {
		*failures += r->cases[i].state == REPORT_CASE_FAILED;
		*skipped += r->cases[i].state == REPORT_CASE_SKIPPED;
		*ms += r->cases[i].time_ms;
	}
}

/*
 * The findings of each case, in report order: findings of case c are
 * idx[start[c + 1] .. start[c + 2]), those of no case (-1) come first.
 * Built once, instead of a scan of every finding for every case
 * (thousands of both in a large run).
 */
struct by_case {
	size_t *idx;
	size_t *start;
};

static void
by_case_build(struct by_case *b, const struct report *r)
{
	size_t slots = r->n_cases + 1; /* -1 and each case */
	size_t *fill = cli_realloc(NULL, slots + 1, sizeof(size_t));

	b->start = cli_realloc(NULL, slots + 1, sizeof(size_t));
	b->idx = cli_realloc(NULL, r->n_findings + 1, sizeof(size_t));
	memset(b->start, 0, (slots + 1) * sizeof(size_t));
	for (size_t k = 0; k < r->n_findings; k++) {
		long t = r->findings[k].testcase;

		if (t >= -1 && t < (long)r->n_cases)
			b->start[t + 2]++;
	}
	for (size_t i = 1; i <= slots; i++)
		b->start[i] += b->start[i - 1];
	memcpy(fill, b->start, (slots + 1) * sizeof(size_t));
	for (size_t k = 0; k < r->n_findings; k++) {
		long t = r->findings[k].testcase;

		if (t >= -1 && t < (long)r->n_cases)
			b->idx[fill[t + 1]++] = k;
	}
	free(fill);
}

/*
 * Warnings and notes of a testcase (JUnit has no element for them) in its
 * <system-out>; testcase -1 takes the findings of no testcase.
 */
static void
put_system_out(FILE *f, const struct report *r, const struct by_case *b,
	       long testcase, const char *indent)
{
	bool out = false;

	for (size_t j = b->start[testcase + 1]; j < b->start[testcase + 2];
	     j++) {
		const struct report_finding *x = &r->findings[b->idx[j]];

		if (testcase >= 0 && x->level == REPORT_ERROR)
			continue;
		if (!out)
			fprintf(f, "%s<system-out>", indent);
		out = true;
		put_finding_text(f, r, x);
	}
	if (out)
		fputs("</system-out>\n", f);
}

static void
put_case(FILE *f, const struct report *r, const struct by_case *b, size_t i)
{
	const struct report_case *c = &r->cases[i];
	const struct report_finding *first = NULL;
	size_t from = b->start[i + 1], to = b->start[i + 2];

	fputs("    <testcase name=\"", f);
	put_attr(f, c->name);
	fprintf(f, "\" classname=\"confiture.%s\"", r->command);
	if (c->file) {
		fputs(" file=\"", f);
		put_attr(f, c->file);
		fputs("\"", f);
	}
	fprintf(f, " time=\"%.3f\">\n", c->time_ms / 1000.0);
	for (size_t j = from; j < to && !first; j++)
		if (r->findings[b->idx[j]].level == REPORT_ERROR)
			first = &r->findings[b->idx[j]];
	if (c->state == REPORT_CASE_SKIPPED) {
		fputs("      <skipped message=\"", f);
		put_attr(f, c->skipped ? c->skipped : c->status);
		fputs("\"/>\n", f);
	} else if (c->state == REPORT_CASE_FAILED) {
		fputs("      <failure message=\"", f);
		put_attr(f, first ? first->message : c->status);
		fputs("\" type=\"", f);
		put_attr(f, first ? (first->root >= 0 ? "consequence" :
				     first->sqlstate  ? first->sqlstate :
							first->rule) :
				    c->status);
		fputs("\">", f);
		for (size_t j = from; j < to; j++)
			if (r->findings[b->idx[j]].level == REPORT_ERROR)
				put_finding_text(f, r, &r->findings[b->idx[j]]);
		if (!first)
			put_xml(f, c->status);
		fputs("</failure>\n", f);
	}
	put_system_out(f, r, b, (long)i, "      ");
	fputs("    </testcase>\n", f);
}

void
report_junit(FILE *f, const struct report *r)
{
	struct by_case b;
	size_t failures, skipped;
	double ms;

	count(r, &failures, &skipped, &ms);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
	fprintf(f,
		"<testsuites name=\"confiture\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
		r->n_cases, failures, skipped, ms / 1000.0);
	fprintf(f,
		"  <testsuite name=\"confiture migrate %s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
		r->command, r->n_cases, failures, skipped, ms / 1000.0);
	fputs("    <properties>\n      <property name=\"summary\" value=\"", f);
	put_attr(f, r->headline);
	fputs("\"/>\n    </properties>\n", f);
	by_case_build(&b, r);
	for (size_t i = 0; i < r->n_cases; i++)
		put_case(f, r, &b, i);
	/* findings that belong to no testcase (cleanup notes) */
	put_system_out(f, r, &b, -1, "    ");
	fputs("  </testsuite>\n</testsuites>\n", f);
	free(b.idx);
	free(b.start);
}
