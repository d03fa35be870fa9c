// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The protoc-c output builds, links and round-trips a recording header. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "trace.pb-c.h"

static void test_header_round_trip(void **state)
{
	Asyncscope__Hook hook = ASYNCSCOPE__HOOK__INIT, *hooks[1] = { &hook };
	Asyncscope__TaskType type = ASYNCSCOPE__TASK_TYPE__INIT, *types[1] = { &type };
	Asyncscope__TraceHeader h = ASYNCSCOPE__TRACE_HEADER__INIT, *back;
	uint8_t *buf;
	size_t len;

	(void)state;
	hook.kind = "poll";
	hook.symbol = "tokio::runtime::task::raw::poll";
	hook.file_offset = 0x2e7f0;
	hook.cost = "emulated";
	hook.enabled = 1;
	type.index = 3;
	type.future_type = "app::handler::{{closure}}";
	type.scheduler = "multi_thread";
	h.format_version = 1;
	h.tracer_version = "0.1.0";
	h.clock = "CLOCK_MONOTONIC";
	h.realtime_offset_ns = -42;
	h.pid = 4242;
	h.exe = "/srv/app";
	h.tokio_version = "1.24.2";
	h.n_hooks = 1;
	h.hooks = hooks;
	h.n_types = 1;
	h.types = types;

	len = asyncscope__trace_header__get_packed_size(&h);
	buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(asyncscope__trace_header__pack(&h, buf), len);
	back = asyncscope__trace_header__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->pid, 4242);
	assert_int_equal(back->realtime_offset_ns, -42);
	assert_string_equal(back->tokio_version, "1.24.2");
	assert_int_equal(back->n_hooks, 1);
	assert_string_equal(back->hooks[0]->kind, "poll");
	assert_int_equal(back->hooks[0]->file_offset, 0x2e7f0);
	assert_true(back->hooks[0]->enabled);
	assert_int_equal(back->n_types, 1);
	assert_string_equal(back->types[0]->future_type, "app::handler::{{closure}}");
	asyncscope__trace_header__free_unpacked(back, NULL);

	/* a truncated header is refused, not misread */
	assert_null(asyncscope__trace_header__unpack(NULL, len - 3, buf));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_round_trip),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
