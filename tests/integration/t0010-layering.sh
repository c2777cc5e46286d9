#!/usr/bin/env bash
# t0010-layering.sh — the house rules that the build can check: no import
# circle between the library's files or its subsystem folders (read from
# what the object files define and use), and a CLI that sees only the
# public header.
. "$(dirname "$0")/../lib/tap.sh"

lib=$(dirname "$CONFITURE")/libconfiture.a

test_expect_success 'no file or folder of the library depends on itself through others' '
	test -f "$lib"
	python3 "$CF_SRC/tests/lib/layering.py" "$lib" >layers.out || {
		cat layers.out >&2
		exit 1
	}
	grep -q "^replay -> " layers.out
'

test_expect_success 'the checker finds a circle when there is one' '
	mkdir -p circ && cd circ
	printf "int b(void);\nint a(void) { return b(); }\n" >src_lib_one_a.c
	printf "int a(void);\nint b(void) { return a(); }\n" >src_lib_two_b.c
	cc -c src_lib_one_a.c -o src_lib_one_a.c.o
	cc -c src_lib_two_b.c -o src_lib_two_b.c.o
	ar rc libx.a src_lib_one_a.c.o src_lib_two_b.c.o
	if python3 "$CF_SRC/tests/lib/layering.py" libx.a >out; then
		exit 1
	fi
	grep -q "file cycle: one/a <-> two/b" out
	grep -q "folder cycle: one <-> two" out
'

test_expect_success 'the CLI includes only the public header and its own' '
	grep -h "^#include \"" "$CF_SRC"/src/cli/*.[ch] |
		sed "s/^#include \"\(.*\)\".*/\1/" | sort -u >incs
	test -s incs
	while read -r h; do
		[ "$h" = confiture.h ] || test -f "$CF_SRC/src/cli/$h" || {
			echo "src/cli includes $h" >&2
			exit 1
		}
	done <incs
'

test_done
