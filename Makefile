# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# asyncscope: one Makefile, quiet by default (V=1 for the commands).

OUTPUT		?= .output
CLANG		?= clang
BPFTOOL		?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PROTOC_C	?= protoc-c
CC		?= cc
ARCH		:= x86
VMLINUX		:= vmlinux/$(ARCH)/vmlinux.h

CFLAGS		?= -g -O2
CFLAGS		+= -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE
INCLUDES	:= -I$(OUTPUT) -I$(OUTPUT)/proto -Ibpf -Iuser
LDLIBS		:= -lbpf -lelf -lz -lcapstone -liberty -lprotobuf-c

# sanitizer build (tests): UBSan must stop at its first report, or a test
# that hits undefined behaviour would still pass
ifeq ($(SAN),1)
CFLAGS		+= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS		+= -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS	:= $(wildcard bpf/*.bpf.c)
BPF_OBJS	:= $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS		:= $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
PROTOS		:= $(wildcard proto/*.proto)
PROTO_C		:= $(patsubst proto/%.proto,$(OUTPUT)/proto/%.pb-c.c,$(PROTOS))
PROTO_OBJS	:= $(PROTO_C:.c=.o)
USER_SRCS	:= $(wildcard user/*.c)
USER_OBJS	:= $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
LIB_OBJS	:= $(filter-out $(OUTPUT)/user/main.o,$(USER_OBJS)) $(PROTO_OBJS)
UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
UNIT_BINS	:= $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

.DELETE_ON_ERROR:
# keep the BPF intermediates: without them every make regenerates the skeletons
.SECONDARY: $(BPF_OBJS) $(patsubst %.bpf.o,%.tmp.bpf.o,$(BPF_OBJS)) $(PROTO_C)
.PHONY: all deps vmlinux test test-unit test-bpf test-e2e targets demo bench format clean install

# BIN: where the CLI is linked (helpers building side by side use their own)
BIN		?= asyncscope

all: $(BIN)

$(BIN): $(USER_OBJS) $(PROTO_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/proto $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# BPF: clang -> bpftool gen object -> skeleton
$(OUTPUT)/%.tmp.bpf.o: bpf/%.bpf.c bpf/asyncscope.h $(wildcard bpf/*.bpf.h) $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf \
		-I/usr/include/x86_64-linux-gnu -c $< -o $@

$(OUTPUT)/%.bpf.o: $(OUTPUT)/%.tmp.bpf.o
	$(Q)$(BPFTOOL) gen object $@ $<

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$*)_bpf > $@

# protobuf-c
$(OUTPUT)/proto/%.pb-c.c $(OUTPUT)/proto/%.pb-c.h: proto/%.proto | $(OUTPUT)/proto
	$(call msg,PROTOC,$<)
	$(Q)$(PROTOC_C) --proto_path=proto --c_out=$(OUTPUT)/proto $<

$(OUTPUT)/proto/%.pb-c.o: $(OUTPUT)/proto/%.pb-c.c
	$(call msg,CC,$@)
	$(Q)$(CC) $(filter-out -Werror,$(CFLAGS)) $(INCLUDES) -c $< -o $@

# user space: every object may include a skeleton or protobuf header
$(OUTPUT)/user/%.o: user/%.c $(SKELS) $(PROTO_C) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

# unit tests (cmocka, no root): each links against the library objects
$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit -DFIXTURE_DIR='"$(FIXTURE_DIR)"' -MMD -MP $(LDFLAGS) \
		-o $@ $< $(LIB_OBJS) $(LDLIBS) -lcmocka

-include $(wildcard $(OUTPUT)/user/*.d $(OUTPUT)/tests/*.d)

vmlinux:
	$(call msg,GEN,$(VMLINUX))
	$(Q)mkdir -p vmlinux/$(ARCH)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

deps:
	bash tests/deps.sh

test-unit: $(UNIT_BINS)
	@bash tests/run_unit.sh $(UNIT_BINS)

BPF_TEST_BINS	:= $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(wildcard tests/bpf/test_*.c))

# BPF tests (root): the real programs, attached to fake tasks in the test itself
$(OUTPUT)/tests/test_%_bpf: tests/bpf/test_%_bpf.c $(SKELS) | $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(CFLAGS) -O1 -fno-inline -fcf-protection=none $(INCLUDES) -MMD -MP $(LDFLAGS) -o $@ $< -lbpf -lelf -lz -lcmocka

test-bpf: $(BPF_TEST_BINS)
	@bash tests/bpf/run.sh $(BPF_TEST_BINS)

test-e2e: $(BIN) targets
	@ASYNCSCOPE=$(abspath $(BIN)) E2E_OUTPUT=$(abspath $(OUTPUT)) bash tests/e2e/run.sh

test: test-unit test-bpf fuzz-regress test-e2e

# soak (root): a server under load traced for SOAK_SECONDS (default 600): memory flat, counts exact
.PHONY: soak
soak: $(BIN) targets
	@ASYNCSCOPE=$(abspath $(BIN)) E2E_OUTPUT=$(abspath $(OUTPUT)) bash tests/soak.sh $(or $(SOAK_SECONDS),600)

targets:
	@bash tests/targets/build.sh

demo: $(BIN) targets
	@bash tests/demo.sh

# benchmarks (bench/bench.mk): ratios measured side by side in one run (root)
include bench/bench.mk
include tests/fuzz/fuzz.mk

format:
	clang-format -i bpf/*.c bpf/*.h user/*.c user/*.h tests/unit/*.c

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)/usr/local/sbin/asyncscope

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT) $(BIN)

# --- fixtures (tokio_bin tests) ---
# Fake tokio binaries (tests/fixtures/*.c) the unit tests analyse.  Linked
# with lld when it is installed, for rust-lld's layout (text vaddr - offset
# = 0x1000); the tests compute every expected offset from the file itself.
FIXTURE_DIR	:= $(OUTPUT)/fixtures
FIXTURE_LD	:= $(if $(shell command -v ld.lld 2>/dev/null),-fuse-ld=lld)
FIXTURE_CFLAGS	:= -O1 -Wall -Werror $(FIXTURE_LD) -Wl,--build-id=sha1
FIXTURES	:= $(addprefix $(FIXTURE_DIR)/,tokio_legacy tokio_legacy.stripped \
		   tokio_nopie tokio_v0 bad_layout notokio notokio.stripped)

$(FIXTURE_DIR):
	$(Q)mkdir -p $@

$(FIXTURE_DIR)/%: tests/fixtures/%.c tests/fixtures/fixture.h | $(FIXTURE_DIR)
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fPIE -pie -o $@ $<

$(FIXTURE_DIR)/tokio_nopie: tests/fixtures/tokio_legacy.c tests/fixtures/fixture.h | $(FIXTURE_DIR)
	$(call msg,FIXTURE,$@)
	$(Q)$(CC) $(FIXTURE_CFLAGS) -fno-pie -no-pie -o $@ $<

$(FIXTURE_DIR)/%.stripped: $(FIXTURE_DIR)/%
	$(call msg,STRIP,$@)
	$(Q)strip -o $@ $<

.PHONY: fixtures
fixtures: $(FIXTURES)
$(UNIT_BINS): $(FIXTURES)
# --- end fixtures ---
