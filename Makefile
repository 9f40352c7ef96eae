# cmdb-release build. `make` builds bin/cmdb and bin/agentsim; `make run` starts the
# whole stack on this machine; `make test` runs every test from scratch.
# Missing Debian packages are installed by scripts/install-deps.sh (as root).

CC      ?= cc
SAN     ?= 0
OPT     ?= -O2

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
# Recursive (=) on purpose: pkg-config runs when a recipe needs the flags, after
# $(DEPS_OK) has installed the packages on a fresh machine, not when make starts.
PKGS    := libmariadb libcurl libcjson zlib icu-i18n icu-uc
CFLAGS   = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -MMD -MP -I. -Iinternal \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS   = $(shell pkg-config --libs $(PKGS)) -lcivetweb -lssl -lcrypto -lpthread -lm
# civetweb dlopen()s "libssl.so"; DT_RPATH (not RUNPATH) makes it find our compat
# library first. See internal/tlscompat/ssl_compat.c.
# Installed (make install), the library sits in $(PREFIX)/lib/cmdb, the second entry.
RPATH   := -Wl,--disable-new-dtags,-rpath,'$$ORIGIN/../build/tlscompat:$$ORIGIN/../lib/cmdb'
LDFLAGS  =

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

BUILD   := build
DEPS_OK := $(BUILD)/.deps-ok

# Objects of a sanitizer build and a plain one must never mix: when the flavour
# changes, throw away what the other one built.
FLAVOR  := san=$(SAN) opt=$(OPT) cc=$(CC)
ifneq ($(FLAVOR),$(shell cat $(BUILD)/.flavor 2>/dev/null))
$(shell rm -rf $(BUILD)/cmd $(BUILD)/internal $(BUILD)/api $(BUILD)/web $(BUILD)/tests $(BUILD)/bench bin; \
	mkdir -p $(BUILD); echo '$(FLAVOR)' > $(BUILD)/.flavor)
endif

LIB_SRCS  := $(wildcard internal/*/*.c api/v1/*.c api/v1/*/*.c)
LIB_SRCS  := $(filter-out internal/tlscompat/%,$(LIB_SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# The web console's files, compiled in (scripts/embed-web.sh, api/v1/console.h), with
# states.js, generated from the state table (below).
WEB_FILES := $(sort $(wildcard web/*.html web/*.js web/*.css web/*.svg))
WEB_OBJ   := $(BUILD)/web/assets.o
LIB_OBJS  += $(WEB_OBJ)
CMDB_OBJS := $(BUILD)/cmd/cmdb/main.o $(LIB_OBJS)
SIM_SRCS  := $(wildcard cmd/agentsim/*.c)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/internal/core/log.o
COMPAT    := $(BUILD)/tlscompat/libssl.so

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit valgrind bench chaos clean format install
all: $(DEPS_OK) bin/cmdb bin/agentsim $(COMPAT)

deps $(DEPS_OK): scripts/install-deps.sh tests/openapi/package-lock.json
	@bash scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_OK)

bin/cmdb: $(CMDB_OBJS) | $(COMPAT)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(RPATH) -o $@ $^ $(LDLIBS)

bin/agentsim: $(SIM_OBJS) | $(COMPAT)
	@mkdir -p bin
	$(CC) $(LDFLAGS) $(RPATH) -o $@ $^ $(LDLIBS)

$(COMPAT): internal/tlscompat/ssl_compat.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 $(WARN) -shared -fPIC -Wl,-soname,libssl.so -o $@ $< -lssl

# The build info gauge of GET /metrics names the commit this binary was built from.
CMDB_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/internal/metrics/metrics.o: CFLAGS += -DCMDB_VERSION='"$(CMDB_VERSION)"'

$(BUILD)/%.o: %.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# states.js: the state table's statuses for the console, written by cmd/webstates.
WEBSTATES := $(BUILD)/cmd/webstates/webstates
$(WEBSTATES): $(BUILD)/cmd/webstates/main.o $(BUILD)/internal/state/state.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/web/states.js: $(WEBSTATES)
	@mkdir -p $(dir $@)
	$(WEBSTATES) >$@.tmp && mv $@.tmp $@

$(BUILD)/web/assets.c: $(WEB_FILES) $(BUILD)/web/states.js scripts/embed-web.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-web.sh $@ $(WEB_FILES) $(BUILD)/web/states.js

$(WEB_OBJ): $(BUILD)/web/assets.c $(DEPS_OK)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJS) $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS) -lcmocka

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# valgrind: the unit tests under memcheck (a plain build: valgrind and ASan exclude
# each other, so CI's SAN=1 run cannot do this part).
valgrind: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect $$t; done

run: all
	@bash scripts/run.sh

# Test tools: a webhook receiver for tests/integration/test_operations.sh; the slow and
# the well-behaved clients of tests/integration/test_slow_clients.sh and the benchmark.
$(BUILD)/tests/hookd: tests/tools/hookd.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/tests/slowclient: tests/tools/slowclient.c $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

test: all $(UNIT_BINS) $(BUILD)/tests/hookd $(BUILD)/tests/slowclient
	@bash scripts/test.sh

# chaos: the full fault-injection run (60 s); CHAOS_ARGS="--seconds 300 --seed 7".
# GALERA=1: on a private three-node Galera cluster, with a node killed and one isolated.
chaos: all
	@bash scripts/chaos.sh $(if $(filter 1,$(GALERA)),--galera) $(CHAOS_ARGS)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

# install: the binary, its TLS compatibility library and the migrations under PREFIX
# (docs/operations.md, "Install as a service"); DESTDIR for packaging.
PREFIX  ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/cmdb \
		$(DESTDIR)$(PREFIX)/share/cmdb/migrations $(DESTDIR)$(PREFIX)/share/doc/cmdb
	install -m 755 bin/cmdb $(DESTDIR)$(PREFIX)/bin/cmdb
	install -m 644 $(COMPAT) $(DESTDIR)$(PREFIX)/lib/cmdb/libssl.so
	install -m 644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/cmdb/migrations/
	install -m 644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/cmdb/

clean:
	rm -rf $(BUILD) bin

include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# bench: `make bench` measures a release against the floor (bench/floor.c: the same agent
# requests without a database) and the API under wrk; see bench/README.md. Sizes are
# flags of scripts/bench.sh, e.g. BENCH_ARGS="--nodes 10000 --batch 500".
FLOOR_OBJS := $(BUILD)/bench/floor.o $(filter $(BUILD)/internal/agentclient/%.o \
              $(BUILD)/internal/core/%.o,$(LIB_OBJS)) $(BUILD)/internal/release/poll.o

$(BUILD)/bench/floor: $(FLOOR_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: all $(BUILD)/bench/floor $(BUILD)/tests/slowclient
	@bash scripts/bench.sh $(BENCH_ARGS)
