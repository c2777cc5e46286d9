# Thin wrapper around meson + ninja.
#   make                 build build/confiture and libconfiture
#   make check           unit + integration tests on a throwaway PostgreSQL 15
#   make install PREFIX=/usr/local
#   make bench           benchmarks (see docs/performance.md)
#   WERROR=1 make        treat warnings as errors (CI does)

BUILD   ?= build
PREFIX  ?= /usr/local
WERROR  ?= 0
MESON_FLAGS ?=

ifeq ($(WERROR),1)
MESON_FLAGS += -Dwerror=true
endif

.PHONY: all check unit integration install bench clean format

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) $(MESON_FLAGS)

check: all
	tests/run-tests $(BUILD)

unit: all
	meson test -C $(BUILD) --print-errorlogs

integration: all
	tests/run-tests --integration-only $(BUILD)

install: all
	meson configure $(BUILD) -Dprefix=$(PREFIX)
	meson install -C $(BUILD)

bench: all
	bench/run $(BUILD)

format:
	clang-format -i $$(git ls-files "src/*.[ch]" "include/*.[ch]" "tests/*.[ch]")

clean:
	rm -rf $(BUILD)
