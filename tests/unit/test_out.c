// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The table and the JSON document for a small known trace. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/types.h>

#include "asyncscope.h"
#include "correlator.h"
#include "out_json.h"
#include "out_table.h"
#include "report.h"

#define PID	4242
#define TID	7

static struct as_event_hdr hdr(unsigned int type, size_t size, uint64_t ts)
{
	return (struct as_event_hdr){ .type = type, .size = size, .pid = PID, .tid = TID, .ts_ns = ts };
}

static void poll(struct correlator *c, uint64_t id, uint32_t type_idx, uint64_t s, uint64_t e,
		 uint32_t flags)
{
	struct as_ev_poll r = {
		.h = hdr(AS_EV_POLL, sizeof(r), e),
		.task_id = id, .start_ns = s, .type_idx = type_idx, .flags = flags,
	};

	assert_int_equal(correlator__feed(c, &r, sizeof(r)), 0);
}

static void waker(struct correlator *c, uint64_t id, uint64_t cur, uint32_t op, uint64_t ts)
{
	struct as_ev_waker r = {
		.h = hdr(AS_EV_WAKER, sizeof(r), ts), .task_id = id, .cur_task_id = cur, .op = op,
		.type_idx = AS_TYPE_UNKNOWN,
	};

	assert_int_equal(correlator__feed(c, &r, sizeof(r)), 0);
}

static void spawn(struct correlator *c, uint64_t id, uint64_t parent, uint32_t kind,
		  uint64_t ts, const char *file)
{
	struct as_ev_spawn r = {
		.h = hdr(AS_EV_SPAWN, sizeof(r), ts),
		.task_id = id, .parent_task_id = parent, .kind = kind,
		.type_idx = AS_TYPE_UNKNOWN, .line = 10, .col = 5,
	};

	if (file) {
		r.file_len = strlen(file);
		memcpy(r.file, file, r.file_len);
	}
	assert_int_equal(correlator__feed(c, &r, sizeof(r)), 0);
}

static void task_ev(struct correlator *c, unsigned int type, uint64_t id, uint64_t ts,
		    uint32_t flags)
{
	struct as_ev_task r = {
		.h = hdr(type, sizeof(r), ts), .task_id = id, .flags = flags, .type_idx = AS_TYPE_UNKNOWN,
	};

	assert_int_equal(correlator__feed(c, &r, sizeof(r)), 0);
}

/*
 * Task 1: spawned, polled twice, completed in its second poll.
 * Task 2: spawned before tracing (late), polled once with a self-wake,
 *         woken again, still waiting at the end.
 * Task 3: spawn_blocking from task 1, never polled.
 * Plus one malformed record.
 */
static struct correlator *known_trace(void)
{
	struct correlator *c = correlator__new(NULL);
	unsigned char junk[8] = { 0 };

	assert_non_null(c);
	assert_int_equal(correlator__set_process(c, PID, "/srv/app"), 0);
	assert_int_equal(correlator__set_type_name(c, PID, 3, "app::worker::{{closure}}"), 0);

	spawn(c, 1, 0, AS_TASK_ASYNC, 1000000, "src/main.rs");
	waker(c, 1, 0, AS_WAKER_CLONE, 1001000);
	poll(c, 1, 3, 1005000, 1006500, 0);
	waker(c, 1, 0, AS_WAKE_BY_VAL, 1010000);
	waker(c, 1, 0, AS_WAKER_DROP, 1011000);
	task_ev(c, AS_EV_SCHEDULE, 1, 1011500, 0);
	spawn(c, 3, 1, AS_TASK_BLOCKING, 1015000, NULL);
	task_ev(c, AS_EV_COMPLETE, 1, 1019000, AS_TASK_IN_POLL);
	poll(c, 1, 3, 1012000, 1020000, AS_POLL_READY);

	waker(c, 2, 2, AS_WAKE_BY_REF, 1550000);
	poll(c, 2, 4, 1500000, 1600000, 0);
	waker(c, 2, 0, AS_WAKE_BY_REF, 2000000);

	assert_int_equal(correlator__feed(c, junk, sizeof(junk)), -EINVAL);
	return c;
}

#define NR_RECORDS	13

static const struct report_meta known_meta = {
	.pid = PID,
	.exe = NULL,			/* falls back to the correlator's process name */
	.tokio_version = "1.38.0",
	.start_ns = 1000000,
	.end_ns = 3000000,
	.counters = NULL,
	.received = NR_RECORDS,
	.target_exited = 1,
};

static char *capture_table(const struct correlator *c, const struct report_meta *m)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	assert_non_null(f);
	out_table__print(f, c, m);
	assert_int_equal(fclose(f), 0);
	return data;
}

static void test_table(void **state)
{
	struct correlator *c = known_trace();
	char *out = capture_table(c, &known_meta);

	(void)state;
	assert_string_equal(out,
"pid 4242  exe /srv/app  tokio 1.38.0  duration 2.00ms  tasks 3  polls 3  (target exited)\n"
"ID  STATE        TOTAL    BUSY   SCHED    IDLE  POLLS  WAKES  SELF  CLONES  DROPS  KIND      LOCATION          NAME\n"
" 1  done        20.0us  9.50us  7.00us  3.50us      2      1     0       1      1  async     src/main.rs:10:5  app::worker::{{closure}}\n"
" 2  scheduled  ~1.50ms   100us  1.40ms     0ns      1      2     1       0      0  ?         -                 -\n"
" 3  scheduled   1.99ms     0ns  1.99ms     0ns      0      0     0       0      0  blocking  -                 -\n"
"events: 13 received: poll 3, waker 5, spawn 2, complete 1, shutdown 0, schedule 1\n"
"anomalies: malformed 1, late_tasks 1\n"
"~ spawn not seen (spawned before tracing started): its times start at its first record\n");
	free(out);
	correlator__free(c);
}

static void test_table_drops(void **state)
{
	struct correlator *c = known_trace();
	uint64_t counters[AS_CNT_NR] = { 0 };
	struct report_meta m = known_meta;
	const char *warn;
	char *out;

	(void)state;
	counters[AS_CNT_POLL] = 1000;
	counters[AS_CNT_SPAWN] = 55;
	counters[AS_CNT_SPAWN_BLOCKING] = 5;
	counters[AS_CNT_COMPLETE] = 58;
	counters[AS_CNT_EMITTED] = 71;
	counters[AS_CNT_DROPPED] = 57;
	counters[AS_CNT_POLL_STALE] = 2;
	counters[AS_CNT_DROP_BASE + AS_EV_POLL] = 40;
	counters[AS_CNT_DROP_BASE + AS_EV_WAKER] = 17;
	m.counters = counters;
	m.exe = "/usr/bin/other";
	m.target_exited = 0;
	out = capture_table(c, &m);
	assert_non_null(strstr(out, "pid 4242  exe /usr/bin/other  tokio 1.38.0  duration 2.00ms  "
				    "tasks 3  polls 3\n"));
	assert_non_null(strstr(out, "\nevents: 13 received of 71 emitted: poll 3, waker 5, "
				    "spawn 2, complete 1, shutdown 0, schedule 1\n"));
	assert_non_null(strstr(out, "\nanomalies: malformed 1, late_tasks 1, poll_stale 2\n"));
	warn = strstr(out, "\nWARNING: ");
	assert_non_null(warn);
	assert_string_equal(warn + 1,
		"WARNING: 57 records lost (ring buffer full: poll 40, waker 17); per-task numbers are "
		"incomplete, the kernel totals are exact: polls 1000, spawns 60 (async 55, blocking 5), "
		"completions 58\n");
	free(out);
	correlator__free(c);
}

static void test_table_empty_multi_pid(void **state)
{
	struct correlator *c = correlator__new(NULL);
	struct report_meta m = { .pid = 1 };
	struct as_ev_poll r = {
		.h = { .type = AS_EV_POLL, .size = sizeof(r), .pid = 2, .tid = 1, .ts_ns = 2000 },
		.task_id = 12, .start_ns = 1500, .type_idx = AS_TYPE_UNKNOWN,
	};
	char *out;

	(void)state;
	out = capture_table(c, &m);
	assert_string_equal(out,
		"pid 1  duration 0ns  tasks 0  polls 0\n"
		"ID  STATE  TOTAL  BUSY  SCHED  IDLE  POLLS  WAKES  SELF  CLONES  DROPS  KIND  LOCATION  NAME\n"
		"events: 0 received: poll 0, waker 0, spawn 0, complete 0, shutdown 0, schedule 0\n");
	free(out);

	/* a task of another pid than the report's: the PID column appears */
	assert_int_equal(correlator__feed(c, &r, sizeof(r)), 0);
	m.received = 1;
	out = capture_table(c, &m);
	assert_non_null(strstr(out,
		"\nPID  ID  STATE   TOTAL   BUSY  SCHED  IDLE  POLLS  WAKES  SELF  CLONES  DROPS  "
		"KIND  LOCATION  NAME\n"
		"  2  12  idle   ~500ns  500ns    0ns   0ns      1      0     0       0      0  "
		"?     -         -\n"));
	free(out);
	correlator__free(c);
}

static void test_fmt_duration(void **state)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} cases[] = {
		{ 0, "0ns" }, { 999, "999ns" }, { 1000, "1.00us" }, { 1005, "1.01us" },
		{ 1234, "1.23us" }, { 9995, "10.0us" }, { 12345, "12.3us" }, { 123456, "123us" },
		{ 999499, "999us" }, { 999500, "1.00ms" }, { 1500000, "1.50ms" },
		{ 20000000, "20.0ms" }, { 1500000000, "1.50s" }, { 123456789012ull, "123s" },
		{ 999499999999ull, "999s" }, { 999500000000ull, "1000s" },
		{ 3600000000000ull, "3600s" }, { UINT64_MAX, "18446744074s" },
	};
	char buf[REPORT_DUR_BUF];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(report__fmt_duration(buf, sizeof(buf), cases[i].ns), cases[i].want);
}

/*
 * The document is checked by Python: it must parse, and its fields must be
 * exactly these.  The script holds no single quote so sh can quote it.
 */
static const char json_check[] =
"import json,sys\n"
"d=json.load(sys.stdin)\n"
"live=sys.argv[1]==\"live\"\n"
"assert d[\"version\"]==1\n"
"assert d[\"process\"]=={\"pid\":4242,\"exe\":\"/srv/app\",\"tokio_version\":\"1.38.0\"}, d[\"process\"]\n"
"assert d[\"duration_ns\"]==2000000\n"
"assert d[\"target_exited\"] is True\n"
"s=d[\"summary\"]\n"
"assert list(s)==[\"tasks\",\"by_kind\",\"spawned\",\"completed\",\"polls\",\"events\",\"kernel\",\"anomalies\"], list(s)\n"
"assert s[\"tasks\"]==3\n"
"assert s[\"by_kind\"]=={\"async\":1,\"blocking\":1,\"unknown\":1}\n"
"assert s[\"spawned\"]=={\"async\":1,\"blocking\":1}\n"
"assert s[\"completed\"]=={\"async\":1,\"blocking\":0,\"unknown\":0}\n"
"assert s[\"polls\"]==3\n"
"e=s[\"events\"]\n"
"assert e[\"received\"]==13\n"
"assert e[\"by_type\"]=={\"poll\":3,\"waker\":5,\"spawn\":2,\"complete\":1,\"shutdown\":0,\"schedule\":1,\"sock\":0,\"runtime\":0,\"sock_op\":0}\n"
"if live:\n"
"  assert e[\"emitted\"]==71 and e[\"dropped\"]==57, e\n"
"  assert e[\"dropped_by_type\"]=={\"poll\":40,\"waker\":17,\"spawn\":0,\"complete\":0,\"shutdown\":0,\"schedule\":0,\"sock\":0,\"runtime\":0,\"sock_op\":0}\n"
"  assert s[\"kernel\"]=={\"polls\":1000,\"wake_by_val\":1,\"wake_by_ref\":2,\"waker_clone\":3,\"waker_drop\":4,\"waker_folded\":0,\"spawn\":55,\"spawn_blocking\":5,\"complete\":58,\"shutdown\":6,\"schedule\":7}, s[\"kernel\"]\n"
"else:\n"
"  assert e[\"emitted\"] is None and e[\"dropped\"] is None and e[\"dropped_by_type\"] is None\n"
"  assert s[\"kernel\"] is None\n"
"k=None if not live else 2\n"
"assert s[\"anomalies\"]=={\"malformed\":1,\"duplicates\":0,\"after_close\":0,\"late_tasks\":1,"
"\"unknown_vtable\":k and 8,\"read_fault\":k and 9,\"poll_orphan_ret\":k and 10,\"poll_stale\":k,\"poll_too_deep\":k and 11}, s[\"anomalies\"]\n"
"t=d[\"tasks\"]\n"
"assert t[0]=={\"pid\":4242,\"id\":1,\"kind\":\"async\",\"state\":\"done\",\"name\":\"app::worker::{{closure}}\","
"\"location\":\"src/main.rs:10:5\",\"parent_id\":None,\"created_ns\":1000000,\"closed_ns\":1020000,"
"\"total_ns\":20000,\"busy_ns\":9500,\"sched_ns\":7000,\"idle_ns\":3500,\"polls\":2,\"wakes\":1,"
"\"self_wakes\":0,\"waker_clones\":1,\"waker_drops\":1,\"schedules\":1,"
"\"flags\":[\"spawn_seen\",\"completed\"]}, t[0]\n"
"assert t[1]=={\"pid\":4242,\"id\":2,\"kind\":None,\"state\":\"scheduled\",\"name\":None,"
"\"location\":None,\"parent_id\":None,\"created_ns\":1500000,\"closed_ns\":None,"
"\"total_ns\":1500000,\"busy_ns\":100000,\"sched_ns\":1400000,\"idle_ns\":0,\"polls\":1,\"wakes\":2,"
"\"self_wakes\":1,\"waker_clones\":0,\"waker_drops\":0,\"schedules\":0,\"flags\":[\"late\"]}, t[1]\n"
"assert t[2][\"kind\"]==\"blocking\" and t[2][\"parent_id\"]==1 and t[2][\"state\"]==\"scheduled\", t[2]\n"
"assert t[2][\"total_ns\"]==1985000 and t[2][\"sched_ns\"]==1985000 and t[2][\"flags\"]==[\"spawn_seen\"], t[2]\n"
"assert len(t)==3\n";

static void check_json(const struct correlator *c, const struct report_meta *m, bool pretty,
		       const char *mode)
{
	char cmd[sizeof(json_check) + 64];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' %s", json_check, mode);
	f = popen(cmd, "w");
	assert_non_null(f);
	assert_int_equal(out_json__write(f, c, m, pretty), 0);
	assert_int_equal(pclose(f), 0);
}

static void test_json_replay(void **state)
{
	struct correlator *c = known_trace();

	(void)state;
	if (access("/usr/bin/python3", X_OK))
		skip();
	check_json(c, &known_meta, false, "replay");
	check_json(c, &known_meta, true, "replay");
	correlator__free(c);
}

static void test_json_live(void **state)
{
	struct correlator *c = known_trace();
	uint64_t counters[AS_CNT_NR] = { 0 };
	struct report_meta m = known_meta;

	(void)state;
	if (access("/usr/bin/python3", X_OK))
		skip();
	counters[AS_CNT_POLL] = 1000;
	counters[AS_CNT_WAKE_BY_VAL] = 1;
	counters[AS_CNT_WAKE_BY_REF] = 2;
	counters[AS_CNT_WAKER_CLONE] = 3;
	counters[AS_CNT_WAKER_DROP] = 4;
	counters[AS_CNT_SPAWN] = 55;
	counters[AS_CNT_SPAWN_BLOCKING] = 5;
	counters[AS_CNT_COMPLETE] = 58;
	counters[AS_CNT_SHUTDOWN] = 6;
	counters[AS_CNT_SCHEDULE] = 7;
	counters[AS_CNT_EMITTED] = 71;
	counters[AS_CNT_DROPPED] = 57;
	counters[AS_CNT_UNKNOWN_VTABLE] = 8;
	counters[AS_CNT_READ_FAULT] = 9;
	counters[AS_CNT_POLL_ORPHAN_RET] = 10;
	counters[AS_CNT_POLL_STALE] = 2;
	counters[AS_CNT_POLL_TOO_DEEP] = 11;
	counters[AS_CNT_DROP_BASE + AS_EV_POLL] = 40;
	counters[AS_CNT_DROP_BASE + AS_EV_WAKER] = 17;
	m.counters = counters;
	check_json(c, &m, false, "live");
	correlator__free(c);
}

/* The compact form, byte for byte, for an empty trace. */
static void test_json_empty(void **state)
{
	struct correlator *c = correlator__new(NULL);
	struct report_meta m = { .pid = 9, .exe = "/bin/x\"y" };
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	(void)state;
	assert_non_null(f);
	out_json__print(f, c, &m);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(data,
		"{\"version\":1,\"process\":{\"pid\":9,\"exe\":\"/bin/x\\\"y\",\"tokio_version\":null},"
		"\"duration_ns\":0,\"target_exited\":false,"
		"\"summary\":{\"tasks\":0,\"by_kind\":{\"async\":0,\"blocking\":0,\"unknown\":0},"
		"\"spawned\":{\"async\":0,\"blocking\":0},"
		"\"completed\":{\"async\":0,\"blocking\":0,\"unknown\":0},\"polls\":0,"
		"\"events\":{\"received\":0,\"by_type\":{\"poll\":0,\"waker\":0,\"spawn\":0,"
		"\"complete\":0,\"shutdown\":0,\"schedule\":0,\"sock\":0,\"runtime\":0,\"sock_op\":0},\"reordered\":0,"
		"\"emitted\":null,\"dropped\":null,"
		"\"dropped_by_type\":null},\"kernel\":null,"
		"\"anomalies\":{\"malformed\":0,\"duplicates\":0,\"after_close\":0,"
		"\"late_tasks\":0,\"unknown_vtable\":null,\"read_fault\":null,\"poll_orphan_ret\":null,"
		"\"poll_stale\":null,\"poll_too_deep\":null}},\"tasks\":[]}\n");
	free(data);
	correlator__free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_drops),
		cmocka_unit_test(test_table_empty_multi_pid),
		cmocka_unit_test(test_fmt_duration),
		cmocka_unit_test(test_json_replay),
		cmocka_unit_test(test_json_live),
		cmocka_unit_test(test_json_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
