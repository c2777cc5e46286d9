/*
 * fuzz_script.c — libFuzzer harness for cf_script_parse(): arbitrary bytes
 * as the text of a migration file.  Besides the sanitizers it checks the
 * statement table against the text (offsets in range, positions 1-based)
 * and exercises cf_script_position() on every statement.
 *
 * Not part of the meson build; fuzz/README.md has the build command.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "confiture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: parse, check the invariants, free everything. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cf_error_list problems = CF_ERROR_LIST_INIT;
	cf_script *script = NULL;

	(void)cf_script_parse("fuzz.sql", (const char *)data, size, &script,
			      &problems);
	if (script) {
		assert(script->text != NULL);
		assert(script->text_len == strlen(script->text));
		for (size_t i = 0; i < script->n_stmts; i++) {
			const cf_statement *st = &script->stmts[i];
			int line = 0;
			int col = 0;

			assert(st->offset <= script->text_len);
			assert(st->length <= script->text_len - st->offset);
			assert(st->line >= 1 && st->column >= 1);
			cf_script_position(script, st, 1, &line, &col);
			assert(line >= 1 && col >= 1);
			cf_script_position(script, st, (int)st->length + 5,
					   &line, &col);
			cf_script_position(script, st, 0, &line, &col);
			cf_script_position(script, st, -3, &line, &col);
		}
	}
	for (size_t i = 0; i < problems.n; i++)
		assert(problems.items[i]->message != NULL);
	cf_script_free(script);
	cf_error_list_release(&problems);
	return 0;
}
