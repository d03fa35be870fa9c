# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bench/probe_cost: uprobe cost by the instruction at the probe address.
#
# Standalone:            make -f bench/probe_cost.mk            (builds)
#                        make -f bench/probe_cost.mk probe-cost-run   (builds, runs; root)
# From the main Makefile: include bench/probe_cost.mk
#
# The BPF object and its skeleton are built into $(OUTPUT)/bench/ with the
# same two commands as the main Makefile's rule, so this file works alone and
# never competes with the main Makefile for $(OUTPUT)/probe_cost.skel.h.
# Every variable here is prefixed PC_ so that including it changes nothing
# of the main Makefile's; the default goal is left as it was.

pc_saved_goal	:= $(.DEFAULT_GOAL)

OUTPUT		?= .output
CLANG		?= clang
BPFTOOL		?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH		?= x86

PC_OUT		:= $(OUTPUT)/bench
PC_BIN		:= $(PC_OUT)/probe_cost
PC_SKEL		:= $(PC_OUT)/probe_cost.skel.h
PC_BPF_OBJ	:= $(PC_OUT)/probe_cost.bpf.o
PC_BPF_TMP	:= $(PC_OUT)/probe_cost.tmp.bpf.o
PC_OBJS		:= $(PC_OUT)/probe_cost.o $(PC_OUT)/probe_cost_fns.o
PC_CFLAGS	?= -g -O2 -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE
PC_LDLIBS	?= -lbpf -lelf -lz -lpthread

ifeq ($(origin Q),undefined)
ifeq ($(V),1)
Q =
else
Q = @
endif
endif
ifeq ($(origin msg),undefined)
ifeq ($(V),1)
msg =
else
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif
endif

.DELETE_ON_ERROR:
.PHONY: probe-cost probe-cost-run

probe-cost: $(PC_BIN)

probe-cost-run: $(PC_BIN)
	$(PC_BIN)

$(PC_OUT):
	$(Q)mkdir -p $@

$(PC_BPF_TMP): bpf/probe_cost.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(PC_OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf \
		-I/usr/include/x86_64-linux-gnu -c $< -o $@

$(PC_BPF_OBJ): $(PC_BPF_TMP)
	$(Q)$(BPFTOOL) gen object $@ $<

$(PC_SKEL): $(PC_BPF_OBJ)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name probe_cost_bpf > $@

$(PC_OUT)/probe_cost.o: bench/probe_cost.c $(PC_SKEL) | $(PC_OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(PC_CFLAGS) -I$(PC_OUT) -MMD -MP -c $< -o $@

$(PC_OUT)/probe_cost_fns.o: bench/probe_cost_fns.S | $(PC_OUT)
	$(call msg,AS,$@)
	$(Q)$(CC) -c $< -o $@

$(PC_BIN): $(PC_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) -o $@ $^ $(PC_LDLIBS)

-include $(PC_OUT)/probe_cost.d

# standalone, the first target above is the default; included, the includer's stays
ifneq ($(pc_saved_goal),)
.DEFAULT_GOAL := $(pc_saved_goal)
endif
