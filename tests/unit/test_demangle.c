// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "demangle.h"

/* Names copied from tokio 1.24 release builds (nm), legacy and v0. */
#define LEGACY_POLL "_ZN5tokio7runtime4task3raw4poll17h0bb917c669f07b65E.llvm.4354932114706709340"
#define LEGACY_COMPLETE \
	"_ZN5tokio7runtime4task7harness20Harness$LT$T$C$S$GT$8complete17h1f3557b3d07163e0E"
#define LEGACY_GLUE                                                                       \
	"_ZN4core3ptr206drop_in_place$LT$tokio..runtime..task..core..Cell$LT$probe..main.." \
	"$u7b$$u7b$closure$u7d$$u7d$..$u7b$$u7b$closure$u7d$$u7d$$C$alloc..sync..Arc$LT$"   \
	"tokio..runtime..scheduler..current_thread..Handle$GT$$GT$$GT$17h3b00a72545998a31E"
#define V0_POLL                                                                         \
	"_RINvNtNtNtCsdGtwSxdb4yH_5tokio7runtime4task3raw4pollINtCskT6wgsdpksy_7targets7" \
	"CountedNCNvNtBR_8workload11echo_client0EINtNtCslNYArtu3iFV_5alloc4sync3ArcNtNtNtB6_" \
	"9scheduler14current_thread6HandleEECsezCFOtSfwEv_2mt.llvm.123"
#define V0_COMPLETE                                                                        \
	"_RNvMs0_NtNtNtCsdGtwSxdb4yH_5tokio7runtime4task7harnessINtB5_7HarnessINtNtNtB9_8" \
	"blocking4task12BlockingTaskNCNCNvCs34CQsbiDQaY_5probe4main0s_0ENtNtB19_8schedule16" \
	"BlockingScheduleE8completeB1M_.llvm.13892757934681616058"

static void expect_demangle(const char *mangled, const char *want)
{
	char *got = demangle__rust(mangled);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void expect_path(const char *name, const char *want)
{
	char *got = demangle__path(name);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_legacy_strips_hash_and_llvm_suffix(void **state)
{
	(void)state;
	expect_demangle(LEGACY_POLL, "tokio::runtime::task::raw::poll");
	expect_demangle(LEGACY_COMPLETE, "tokio::runtime::task::harness::Harness<T,S>::complete");
	expect_demangle(LEGACY_GLUE,
			"core::ptr::drop_in_place<tokio::runtime::task::core::Cell<probe::main::"
			"{{closure}}::{{closure}},alloc::sync::Arc<tokio::runtime::scheduler::"
			"current_thread::Handle>>>");
}

static void test_v0_keeps_generic_arguments(void **state)
{
	(void)state;
	expect_demangle(V0_POLL,
			"tokio::runtime::task::raw::poll::<targets::Counted<targets::workload::"
			"echo_client::{closure#0}>, alloc::sync::Arc<tokio::runtime::scheduler::"
			"current_thread::Handle>>");
	expect_demangle(V0_COMPLETE,
			"<tokio::runtime::task::harness::Harness<tokio::runtime::blocking::task::"
			"BlockingTask<probe::main::{closure#0}::{closure#1}>, tokio::runtime::"
			"blocking::schedule::BlockingSchedule>>::complete");
}

static void test_not_rust(void **state)
{
	(void)state;
	errno = 0;
	assert_null(demangle__rust("main"));
	assert_int_equal(errno, EINVAL);
	/* a C++ name is not guessed at */
	errno = 0;
	assert_null(demangle__rust("_ZN3foo3barEv"));
	assert_int_equal(errno, EINVAL);
	assert_null(demangle__rust(NULL));
}

static void test_path_removes_generics(void **state)
{
	(void)state;
	expect_path("tokio::runtime::task::list::OwnedTasks<S>::bind",
		    "tokio::runtime::task::list::OwnedTasks::bind");
	expect_path("tokio::runtime::task::harness::Harness<T,S>::complete",
		    "tokio::runtime::task::harness::Harness::complete");
	expect_path("tokio::runtime::task::raw::poll::<a::B<C, D>, alloc::sync::Arc<E>>",
		    "tokio::runtime::task::raw::poll");
	expect_path("<tokio::runtime::task::harness::Harness<a::F<fn() -> u8>, S>>::complete",
		    "tokio::runtime::task::harness::Harness::complete");
	expect_path("<a::X as core::ops::Drop>::drop", "<a::X as core::ops::Drop>::drop");
	expect_path("tokio::runtime::task::waker::wake_by_val",
		    "tokio::runtime::task::waker::wake_by_val");
	errno = 0;
	assert_null(demangle__path("a::B<C::d"));
	assert_int_equal(errno, EINVAL);
}

static void test_generic_args(void **state)
{
	char *args[2] = { NULL, NULL };
	const char *s = "<a::B<C, D>, alloc::sync::Arc<E>>::rest";

	(void)state;
	assert_int_equal(demangle__generic_args(s, args, 2), 2);
	assert_string_equal(args[0], "a::B<C, D>");
	assert_string_equal(args[1], "alloc::sync::Arc<E>");
	free(args[0]);
	free(args[1]);

	/* legacy separators have no space; an fn arrow is not a bracket */
	assert_int_equal(demangle__generic_args("<fn() -> u8,x::Y>", args, 2), 2);
	assert_string_equal(args[0], "fn() -> u8");
	assert_string_equal(args[1], "x::Y");
	free(args[0]);
	free(args[1]);

	/* more arguments than room: counted, first ones stored */
	assert_int_equal(demangle__generic_args("<A, B, C>", args, 1), 3);
	assert_string_equal(args[0], "A");
	free(args[0]);

	assert_int_equal(demangle__generic_args("<A, B", args, 2), -EINVAL);
	assert_int_equal(demangle__generic_args("A", args, 2), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_strips_hash_and_llvm_suffix),
		cmocka_unit_test(test_v0_keeps_generic_arguments),
		cmocka_unit_test(test_not_rust),
		cmocka_unit_test(test_path_removes_generics),
		cmocka_unit_test(test_generic_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
