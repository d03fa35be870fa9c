# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Included by the Makefile: libFuzzer harnesses (tests/fuzz/fuzz_*.c) over the
# product's own sources, built with clang, ASan and UBSan into $(OUTPUT)/fuzz.
#   make fuzz                  every fuzzer for FUZZ_SECONDS (default 20) each,
#                              on a scratch copy of its corpus; fails on any
#                              crash, leak, timeout or out-of-memory
#   make fuzz-regress          every fuzzer once over its corpus and its kept
#                              crash inputs (tests/fuzz/regress/NAME), no mutation
#   make fuzz-merge            fold what a run found (the scratch corpora) into
#                              tests/fuzz/corpus, keeping only new coverage
#   make fuzz FUZZERS="elf"    only some of them
# No root is needed.  See tests/fuzz/README.md.
FUZZ_CC		?= clang
FUZZ_SECONDS	?= 20
FUZZERS		?= recording events elf demangle x86 procmaps args control
FUZZ_DIR	:= $(OUTPUT)/fuzz
FUZZ_BINS	:= $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZERS))

# UBSan must stop at the first error: a report that lets the run go on is no failure
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS	:= -g -O1 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE $(FUZZ_SAN)

# The library: every module but main and the subcommands (cmd_shim.c brings
# those in, one object per command), compiled with coverage instrumentation.
FUZZ_LIB_SRCS	:= $(filter-out user/main.c user/cmd_%.c,$(USER_SRCS))
FUZZ_LIB_OBJS	:= $(patsubst user/%.c,$(FUZZ_DIR)/user/%.o,$(FUZZ_LIB_SRCS)) \
		   $(patsubst proto/%.proto,$(FUZZ_DIR)/proto/%.pb-c.o,$(PROTOS))
FUZZ_SHIMS	:= record report convert dump inspect
FUZZ_SHIM_OBJS	:= $(patsubst %,$(FUZZ_DIR)/shim/%.o,$(FUZZ_SHIMS))

# objects reached only through the pattern rules: keep them
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_SHIM_OBJS)

$(FUZZ_DIR)/user $(FUZZ_DIR)/proto $(FUZZ_DIR)/shim:
	$(Q)mkdir -p $@

# The product's -Werror is the main build's job (cc); clang warns where gcc
# does not, and a fuzz build that breaks on a style warning fuzzes nothing.
# The harnesses themselves (fuzz_*.c) keep -Werror.
$(FUZZ_DIR)/user/%.o: user/%.c $(SKELS) $(PROTO_C) | $(FUZZ_DIR)/user
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(filter-out -Werror,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link $(INCLUDES) \
		-MMD -MP -c $< -o $@

$(FUZZ_DIR)/proto/%.pb-c.o: $(OUTPUT)/proto/%.pb-c.c | $(FUZZ_DIR)/proto
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(filter-out -Werror,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link $(INCLUDES) -c $< -o $@

$(FUZZ_DIR)/shim/%.o: tests/fuzz/cmd_shim.c user/cmd_%.c $(SKELS) $(PROTO_C) | $(FUZZ_DIR)/shim
	$(call msg,FUZZ-CC,$@)
	$(Q)$(FUZZ_CC) $(filter-out -Werror,$(FUZZ_CFLAGS)) -fsanitize=fuzzer-no-link $(INCLUDES) \
		-Itests/fuzz -DSHIM_$(shell echo $* | tr a-z A-Z) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_args: $(FUZZ_SHIM_OBJS)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZ-LD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(INCLUDES) -Itests/fuzz -MMD -MP \
		-o $@ $< $(filter %.o,$^) $(LDLIBS)

-include $(wildcard $(FUZZ_DIR)/user/*.d $(FUZZ_DIR)/shim/*.d $(FUZZ_DIR)/*.d)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-merge
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@bash tests/fuzz/run.sh run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZERS)

fuzz-regress: $(FUZZ_BINS)
	@bash tests/fuzz/run.sh regress $(FUZZ_DIR) 0 $(FUZZERS)

fuzz-merge: $(FUZZ_BINS)
	@bash tests/fuzz/run.sh merge $(FUZZ_DIR) 0 $(FUZZERS)
