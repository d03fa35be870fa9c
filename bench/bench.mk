# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Included by the Makefile: benchmarks print ratios measured side by side in one run (root).
#   make bench                 every benchmark (~10 min), writes BENCHMARKS.md
#   make bench BENCH_QUICK=1   fewer repetitions and shorter runs, for development
#   make bench-tools           only build what the benchmarks run
# OUTPUT and BIN are honoured: the harness runs $(BIN) and $(OUTPUT)/bench/*.
BENCH_BINS	:= $(OUTPUT)/bench/probe_cost $(OUTPUT)/bench/bare_probes \
		   $(OUTPUT)/bench/pipeline $(OUTPUT)/bench/task_mem
BENCH_QUICK	?= 0
BENCH_OUT	?= BENCHMARKS.md

# the skeletons are intermediates of the user objects too: keep them, or every
# make regenerates them and rebuilds everything that includes one
.SECONDARY: $(SKELS)

$(OUTPUT)/bench:
	$(Q)mkdir -p $@

$(OUTPUT)/bench/probe_cost: bench/probe_cost.c bench/probe_cost_fns.S $(OUTPUT)/probe_cost.skel.h | $(OUTPUT)/bench
	$(call msg,BENCH-CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -o $@ bench/probe_cost.c bench/probe_cost_fns.S -lbpf -lelf -lz

# The bench tools resolve probe sites and correlate with the product's own
# code, linked like the unit tests.
$(OUTPUT)/bench/bare_probes: bench/bare_probes.c $(OUTPUT)/bench_bare.skel.h $(LIB_OBJS) | $(OUTPUT)/bench
	$(call msg,BENCH-CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

$(OUTPUT)/bench/pipeline: bench/pipeline.c $(OUTPUT)/bench_pipe.skel.h $(LIB_OBJS) | $(OUTPUT)/bench
	$(call msg,BENCH-CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) -lpthread

$(OUTPUT)/bench/task_mem: bench/task_mem.c $(LIB_OBJS) | $(OUTPUT)/bench
	$(call msg,BENCH-CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -MMD -MP $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

-include $(wildcard $(OUTPUT)/bench/*.d)

.PHONY: bench bench-tools bench-targets
bench-tools: $(BENCH_BINS) $(BIN)

# the Rust programs under load (bench/targets), built offline like tests/targets
bench-targets:
	@bash bench/targets/build.sh

bench: bench-tools bench-targets
	@ASYNCSCOPE=$(abspath $(BIN)) BENCH_OUTPUT=$(abspath $(OUTPUT)) BENCH_QUICK=$(BENCH_QUICK) \
		BENCH_MD=$(abspath $(BENCH_OUT)) bash bench/run.sh
