# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Included by the Makefile: benchmarks print ratios measured side by side in one run (root).
BENCH_BINS	:= $(OUTPUT)/bench/probe_cost

$(OUTPUT)/bench/probe_cost: bench/probe_cost.c bench/probe_cost_fns.S $(OUTPUT)/probe_cost.skel.h
	$(call msg,BENCH-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -o $@ bench/probe_cost.c bench/probe_cost_fns.S -lbpf -lelf -lz

bench: $(BENCH_BINS)
	@bash bench/run.sh

