# CouncilEx build: the NIF library, the C unit tests, and the user-facing
# entry points (demo, test, bench). Mix calls the `nif` target through the
# compiler task in mix.exs with MIX_APP_PATH and ERTS_INCLUDE_DIR set; the
# fallbacks below let `make test-c` run without Mix.

ERTS_INCLUDE_DIR ?= $(shell erl -noshell -eval 'io:format("~s/erts-~s/include", [code:root_dir(), erlang:system_info(version)]), halt().' 2>/dev/null)
MIX_APP_PATH ?= $(CURDIR)/_build/dev/lib/council_ex

PRIV_DIR = $(MIX_APP_PATH)/priv
OBJ_DIR  = $(MIX_APP_PATH)/obj
NIF_SO   = $(PRIV_DIR)/council_ex_nif.so

SHELL  = /bin/bash
CC     ?= cc
CFLAGS ?= -O2 -g
# One set of language and warning flags for every C build here.
C_STD    = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
# c_src/ has one folder per stage of a run (see ARCHITECTURE.md); headers
# are included by name, so every folder is on the include path.
C_DIRS   = $(patsubst %/,%,$(sort $(dir $(wildcard c_src/*/*.c))))
C_INC    = -I/usr/include/cjson -Ic_src $(addprefix -I,$(C_DIRS))
CFLAGS  += $(C_STD) -fPIC -fvisibility=hidden $(C_INC) -MMD -MP
LDLIBS   = -lcjson -lcurl -lpthread -lm

# Pure C core: no erl_nif.h, tested by Criterion under ASan/UBSan.
CORE_SRC = $(filter-out c_src/nif/%,$(wildcard c_src/*/*.c))
# NIF glue: c_src/nif/, the only files that include erl_nif.h.
NIF_SRC  = $(wildcard c_src/nif/*.c)
C_HDR    = $(wildcard c_src/*.def c_src/*/*.h)

CORE_OBJ = $(CORE_SRC:c_src/%.c=$(OBJ_DIR)/%.o)
NIF_OBJ  = $(NIF_SRC:c_src/%.c=$(OBJ_DIR)/%.o)

.PHONY: all nif test test-c test-elixir lint lint-c lint-elixir dialyzer demo bench bench-rounds deps clean \
        fuzz fuzz-short fuzz-build fuzz-linear

all: nif

nif: $(NIF_SO)

$(NIF_SO): $(CORE_OBJ) $(NIF_OBJ) | $(PRIV_DIR)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ_DIR)/nif/%.o: c_src/nif/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(ERTS_INCLUDE_DIR) -c -o $@ $<

$(OBJ_DIR)/%.o: c_src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(PRIV_DIR):
	mkdir -p $@

-include $(CORE_OBJ:.o=.d) $(NIF_OBJ:.o=.d)

# --- C unit tests (Criterion) under AddressSanitizer and UBSan -------------
CTEST_DIR   = _build/ctest
CTEST_BIN   = $(CTEST_DIR)/council_ex_ctest
CTEST_SRC   = $(wildcard test/c/*.c)
SAN_FLAGS   = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all

$(CTEST_BIN): $(CORE_SRC) $(CTEST_SRC) $(C_HDR) $(wildcard test/c/*.h)
	mkdir -p $(CTEST_DIR)
	$(CC) $(C_STD) $(SAN_FLAGS) $(C_INC) -o $@ $(CORE_SRC) $(CTEST_SRC) \
	  -lcriterion $(LDLIBS)

# Criterion runs each test in a child process and does not fail a test
# whose child only reports a leak at exit, so the log is checked as well.
test-c: $(CTEST_BIN)
	set -o pipefail; \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CTEST_BIN) --jobs 2 2>&1 | tee $(CTEST_DIR)/ctest.log
	@! grep -qE "LeakSanitizer|AddressSanitizer|runtime error" $(CTEST_DIR)/ctest.log \
	  || { echo "test-c: sanitizer reports in $(CTEST_DIR)/ctest.log"; exit 1; }

# --- Fuzzing: libFuzzer harnesses over the core's parsers ------------------
# test/fuzz/fuzz_<what>.c, one per entry point, built with clang's libFuzzer
# under ASan and UBSan against the core compiled the same way (objects built
# once, -fsanitize=fuzzer-no-link). `make fuzz` runs each for FUZZ_SECONDS,
# FUZZ_JOBS at a time, from a scratch copy of test/fuzz/corpus/<harness>/;
# any crash, leak, UBSan report or timeout fails it and names the input.
FUZZ_CC       = clang-14
FUZZ_DIR      = _build/fuzz
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all \
                -g -O1 -fno-omit-frame-pointer
FUZZ_SRC      = $(wildcard test/fuzz/fuzz_*.c)
FUZZ_BINS     = $(FUZZ_SRC:test/fuzz/%.c=$(FUZZ_DIR)/bin/%)
FUZZ_CORE_OBJ = $(CORE_SRC:c_src/%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_CORE_LIB = $(FUZZ_DIR)/libcore.a
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 2

$(FUZZ_DIR)/obj/%.o: c_src/%.c $(C_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(C_STD) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(C_INC) -c -o $@ $<

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/bin/%: test/fuzz/%.c $(FUZZ_CORE_LIB) $(wildcard test/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(C_STD) $(FUZZ_SAN) -fsanitize=fuzzer $(C_INC) -Itest/fuzz \
	  -o $@ $< $(FUZZ_CORE_LIB) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# The build goes FUZZ_JOBS at a time as well (the core is 30 objects).
fuzz:
	$(MAKE) -j$(FUZZ_JOBS) fuzz-build
	scripts/fuzz_run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_BINS)

# The pass `make test` runs: 10 s per harness, two at a time.
fuzz-short:
	$(MAKE) fuzz FUZZ_SECONDS=10

# Each parser timed on 64 KB, 256 KB and 1 MB of realistic repeated input
# (bench/c/parser_linear.c): the fuzzers keep inputs small, so this is what
# shows a parser gone quadratic. Fails when a 1 MB / 256 KB ratio passes 8.
PARSER_LINEAR = _build/bench/parser_linear

$(PARSER_LINEAR): bench/c/parser_linear.c $(CORE_SRC) $(C_HDR)
	@mkdir -p $(dir $@)
	$(CC) -O2 $(C_STD) $(C_INC) -o $@ bench/c/parser_linear.c $(CORE_SRC) \
	  $(LDLIBS)

fuzz-linear: $(PARSER_LINEAR)
	$(PARSER_LINEAR)

# --- Lint: the habits that hold the code together -------------------------
# One C style (.clang-format), erl_nif.h only in c_src/nif/ (the core stays
# testable by Criterion and libFuzzer), mix format, no compiler warnings and
# no Dialyzer warnings. The PLT of OTP and Elixir is built once and kept.
C_FORMAT = $(wildcard c_src/*/*.[ch] test/c/*.[ch] test/fuzz/*.[ch] bench/c/*.c)
PLT      = _build/plt/council_ex.plt
PLT_LIBS = $(shell elixir -e 'IO.puts Enum.map_join([:elixir, :logger, :ex_unit], " ", &:code.lib_dir/1)' 2>/dev/null)
EBIN     = _build/$(or $(MIX_ENV),dev)/lib/council_ex/ebin

lint: deps lint-c lint-elixir dialyzer

lint-c:
	clang-format --dry-run -Werror $(C_FORMAT)
	@! grep -rlE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]erl_nif\.h[">]' c_src \
	  | grep -v '^c_src/nif/' \
	  || { echo "lint-c: only c_src/nif/ may include erl_nif.h"; exit 1; }

lint-elixir:
	mix format --check-formatted
	mix compile --force --warnings-as-errors

# Dialyzer reads Elixir's debug info with Elixir's own compiler: -pa.
DIALYZER = dialyzer $(addprefix -pa ,$(addsuffix /ebin,$(PLT_LIBS)))

dialyzer: $(PLT)
	mix compile
	$(DIALYZER) --plt $(PLT) --no_check_plt $(EBIN)

$(PLT):
	mkdir -p $(dir $@)
	$(DIALYZER) --build_plt --output_plt $@ --apps erts kernel stdlib crypto inets \
	  -r $(addsuffix /ebin,$(PLT_LIBS))

# --- Entry points -----------------------------------------------------------
deps:
	@scripts/install_deps.sh

test: deps
	$(MAKE) test-c
	$(MAKE) fuzz-short
	mix test

test-elixir:
	mix test

demo: deps
	mix run scripts/demo.exs

# The engine's HTTP layer alone (http_engine.c, no BEAM, no round loop):
# the bench's row (d), what libcurl costs before anything else.
BENCH_FLOOR = _build/bench/engine_floor

FLOOR_SRC   = bench/c/engine_floor.c c_src/engine/http_engine.c c_src/util/buf.c

$(BENCH_FLOOR): $(FLOOR_SRC) $(C_HDR)
	mkdir -p $(dir $@)
	$(CC) -O2 $(C_STD) $(C_INC) -o $@ $(FLOOR_SRC) -lcurl -lpthread

bench: deps $(BENCH_FLOOR)
	BENCH_FLOOR=$(BENCH_FLOOR) MIX_ENV=bench mix run bench/council_bench.exs

bench-rounds: deps
	MIX_ENV=bench mix run bench/rounds_bench.exs

clean:
	rm -rf $(OBJ_DIR) $(NIF_SO) $(CTEST_DIR) $(BENCH_FLOOR) $(FUZZ_DIR) \
	  $(PARSER_LINEAR)
