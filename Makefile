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
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
          -I/usr/include/cjson -MMD -MP
LDLIBS  = -lcjson -lcurl -lpthread -lm

# Pure C core: no erl_nif.h, tested by Criterion under ASan/UBSan.
CORE_SRC = $(filter-out $(wildcard c_src/*_nif.c),$(wildcard c_src/*.c))
# NIF glue: the only files that include erl_nif.h.
NIF_SRC  = $(wildcard c_src/*_nif.c)

CORE_OBJ = $(CORE_SRC:c_src/%.c=$(OBJ_DIR)/%.o)
NIF_OBJ  = $(NIF_SRC:c_src/%.c=$(OBJ_DIR)/%.o)

.PHONY: all nif test test-c test-elixir demo bench bench-rounds deps clean

all: nif

nif: $(NIF_SO)

$(NIF_SO): $(CORE_OBJ) $(NIF_OBJ) | $(PRIV_DIR)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ_DIR)/%_nif.o: c_src/%_nif.c | $(OBJ_DIR)
	$(CC) $(CFLAGS) -I$(ERTS_INCLUDE_DIR) -c -o $@ $<

$(OBJ_DIR)/%.o: c_src/%.c | $(OBJ_DIR)
	$(CC) $(CFLAGS) -c -o $@ $<

$(PRIV_DIR) $(OBJ_DIR):
	mkdir -p $@

-include $(CORE_OBJ:.o=.d) $(NIF_OBJ:.o=.d)

# --- C unit tests (Criterion) under AddressSanitizer and UBSan -------------
CTEST_DIR   = _build/ctest
CTEST_BIN   = $(CTEST_DIR)/council_ex_ctest
CTEST_SRC   = $(wildcard test/c/*.c)
SAN_FLAGS   = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all

$(CTEST_BIN): $(CORE_SRC) $(CTEST_SRC) $(wildcard c_src/*.h) $(wildcard test/c/*.h)
	mkdir -p $(CTEST_DIR)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(SAN_FLAGS) \
	  -I/usr/include/cjson -Ic_src -o $@ $(CORE_SRC) $(CTEST_SRC) \
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

# --- Entry points -----------------------------------------------------------
deps:
	@scripts/install_deps.sh

test: deps
	$(MAKE) test-c
	mix test

test-elixir:
	mix test

demo: deps
	mix run scripts/demo.exs

# The engine's HTTP layer alone (http_engine.c, no BEAM, no round loop):
# the bench's row (d), what libcurl costs before anything else.
BENCH_FLOOR = _build/bench/engine_floor

$(BENCH_FLOOR): bench/c/engine_floor.c c_src/http_engine.c c_src/http_engine.h c_src/buf.c c_src/buf.h
	mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ic_src -o $@ \
	  bench/c/engine_floor.c c_src/http_engine.c c_src/buf.c -lcurl -lpthread

bench: deps $(BENCH_FLOOR)
	BENCH_FLOOR=$(BENCH_FLOOR) MIX_ENV=bench mix run bench/council_bench.exs

bench-rounds: deps
	MIX_ENV=bench mix run bench/rounds_bench.exs

clean:
	rm -rf $(OBJ_DIR) $(NIF_SO) $(CTEST_DIR) $(BENCH_FLOOR)
