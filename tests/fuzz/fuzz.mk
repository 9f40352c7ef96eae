# Included by the Makefile: libFuzzer harnesses (see tests/fuzz/README.md).
# `make fuzz` builds every harness into build/fuzz/ and runs each for FUZZ_SECONDS on a
# copy of its seed corpus; `make fuzz-smoke` is the same for 5 s each, for CI.
# The harnesses and the pure sources they test are compiled again with clang and the
# fuzzer sanitizers into build/fuzz/obj/: objects built by $(CC) for bin/ never mix in.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# Recursive (=) like CFLAGS: pkg-config runs after $(DEPS_OK) has installed the packages.
# config.h includes db.h, which includes mysql.h: the MariaDB headers, never its library.
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(WARN) -MMD -MP \
                -I. -Iinternal $(shell pkg-config --cflags libcjson libmariadb) $(FUZZ_SAN)
FUZZ_CJSON    = $(shell pkg-config --libs libcjson)
# ICU (time zones) is the system library, not instrumented, like cJSON.
FUZZ_ICU      = $(shell pkg-config --libs icu-i18n icu-uc)

FUZZ_NAMES   := api_body agent_answer config core labels selector inventory tokens \
                duration cron window front_wire
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

# Each harness links only the pure code it exercises (no civetweb, curl or MariaDB).
FUZZ_CORE    := $(FUZZ_DIR)/obj/internal/core/core.o
$(FUZZ_DIR)/fuzz_api_body: $(FUZZ_DIR)/obj/api/v1/validate.o \
                            $(FUZZ_DIR)/obj/api/v1/validate_release.o \
                            $(FUZZ_DIR)/obj/internal/plan/plan.o \
                            $(FUZZ_DIR)/obj/internal/selector/selector.o \
                            $(FUZZ_DIR)/obj/internal/core/strbuf.o \
                            $(FUZZ_DIR)/obj/internal/labels/labels.o $(FUZZ_CORE)
$(FUZZ_DIR)/fuzz_api_body: FUZZ_LIBS = $(FUZZ_CJSON)
$(FUZZ_DIR)/fuzz_agent_answer: $(FUZZ_DIR)/obj/internal/agentclient/protocol.o \
                               $(FUZZ_DIR)/obj/internal/agentclient/http1.o $(FUZZ_CORE)
$(FUZZ_DIR)/fuzz_agent_answer: FUZZ_LIBS = $(FUZZ_CJSON)
$(FUZZ_DIR)/fuzz_config: $(FUZZ_DIR)/obj/internal/config/config.o \
                         $(FUZZ_DIR)/obj/internal/db/hosts.o $(FUZZ_CORE)
# migrate.o also holds migrate_apply: log.o is pure, and fuzz_core.c stubs the db calls.
$(FUZZ_DIR)/fuzz_core: $(FUZZ_DIR)/obj/internal/db/migrate.o \
                       $(FUZZ_DIR)/obj/internal/core/log.o $(FUZZ_CORE)
$(FUZZ_DIR)/fuzz_core: FUZZ_LIBS = $(FUZZ_CJSON)
FUZZ_LABELS  := $(FUZZ_DIR)/obj/internal/labels/labels.o $(FUZZ_CORE)
$(FUZZ_DIR)/fuzz_labels: $(FUZZ_LABELS)
$(FUZZ_DIR)/fuzz_labels: FUZZ_LIBS = $(FUZZ_CJSON)
$(FUZZ_DIR)/fuzz_selector: $(FUZZ_DIR)/obj/internal/selector/selector.o \
                           $(FUZZ_DIR)/obj/internal/core/strbuf.o $(FUZZ_LABELS)
$(FUZZ_DIR)/fuzz_selector: FUZZ_LIBS = $(FUZZ_CJSON)
$(FUZZ_DIR)/fuzz_inventory: $(FUZZ_DIR)/obj/internal/inventory/inventory.o \
                            $(FUZZ_DIR)/obj/internal/inventory/ansible.o \
                            $(FUZZ_DIR)/obj/internal/core/strbuf.o $(FUZZ_LABELS)
$(FUZZ_DIR)/fuzz_inventory: FUZZ_LIBS = $(FUZZ_CJSON) -lm
$(FUZZ_DIR)/fuzz_tokens: $(FUZZ_DIR)/obj/internal/auth/roles.o \
                         $(FUZZ_DIR)/obj/internal/selector/selector.o \
                         $(FUZZ_DIR)/obj/internal/core/strbuf.o $(FUZZ_LABELS)
$(FUZZ_DIR)/fuzz_tokens: FUZZ_LIBS = $(FUZZ_CJSON)
$(FUZZ_DIR)/fuzz_duration: $(FUZZ_DIR)/obj/internal/duration/duration.o
FUZZ_CRON    := $(FUZZ_DIR)/obj/internal/cron/cron.o $(FUZZ_DIR)/obj/internal/cron/next.o \
                $(FUZZ_DIR)/obj/internal/tz/tz.o $(FUZZ_DIR)/obj/internal/tz/civil.o \
                $(FUZZ_DIR)/obj/internal/duration/duration.o $(FUZZ_CORE)
$(FUZZ_DIR)/fuzz_cron: $(FUZZ_CRON)
$(FUZZ_DIR)/fuzz_cron: FUZZ_LIBS = $(FUZZ_ICU)
$(FUZZ_DIR)/fuzz_window: $(FUZZ_DIR)/obj/internal/window/window.o \
                         $(FUZZ_DIR)/obj/internal/schedule/schedule.o $(FUZZ_CRON)
$(FUZZ_DIR)/fuzz_window: FUZZ_LIBS = $(FUZZ_ICU)
$(FUZZ_DIR)/fuzz_front_wire: $(FUZZ_DIR)/obj/api/v1/front/wire.o \
                             $(FUZZ_DIR)/obj/internal/core/strbuf.o \
                             $(FUZZ_DIR)/obj/internal/guard/guard.o

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

# Kept so that a rebuild recompiles only what changed.
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o)

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_DIR) 5 $(FUZZ_NAMES)
