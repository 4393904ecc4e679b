/* SPDX-License-Identifier: MIT */
/*
 * The statistics behind every conclusion the study and the scaling report
 * print: median and range of a set of rounds, and when two ranges are apart.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "report.h"

static void test_spread_odd(void **state)
{
	const double v[] = { 3.0, 1.0, 2.5, 9.0, 2.0 };
	struct wl_spread s;

	(void)state;
	wl_spread_of(v, 5, &s);
	assert_int_equal(s.n, 5);
	assert_true(s.median == 2.5);
	assert_true(s.lo == 1.0);
	assert_true(s.hi == 9.0);
}

static void test_spread_even_and_nan(void **state)
{
	const double v[] = { 4.0, NAN, 1.0, 2.0, 3.0 };
	struct wl_spread s;

	(void)state;
	/* NAN (a failed or missing round) is left out; four values remain and
	 * the median is the mean of the middle two. */
	wl_spread_of(v, 5, &s);
	assert_int_equal(s.n, 4);
	assert_true(s.median == 2.5);
	assert_true(s.lo == 1.0);
	assert_true(s.hi == 4.0);
}

static void test_spread_empty(void **state)
{
	const double v[] = { NAN, NAN };
	struct wl_spread s, t;

	(void)state;
	wl_spread_of(v, 2, &s);
	assert_int_equal(s.n, 0);
	assert_true(isnan(s.median));
	wl_spread_of(v, 0, &t);
	assert_int_equal(t.n, 0);
	/* Nothing measured is never "apart" from anything. */
	assert_false(wl_spread_apart(&s, &t));
}

static void test_apart(void **state)
{
	struct wl_spread a = { 2.0, 1.8, 2.2, 5 }, b = { 1.0, 0.9, 1.1, 5 };
	struct wl_spread c = { 1.5, 1.1, 1.9, 5 }, d = { 3.0, 2.2, 3.5, 5 };

	(void)state;
	assert_true(wl_spread_apart(&a, &b));
	assert_true(wl_spread_apart(&b, &a));
	/* Overlapping ranges, or ranges that touch, support no conclusion. */
	assert_false(wl_spread_apart(&a, &c));
	assert_false(wl_spread_apart(&c, &b));
	assert_false(wl_spread_apart(&a, &d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread_odd),
		cmocka_unit_test(test_spread_even_and_nan),
		cmocka_unit_test(test_spread_empty),
		cmocka_unit_test(test_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
