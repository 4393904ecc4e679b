/* SPDX-License-Identifier: MIT */
/*
 * IOTLB_TEST_SCALE, parsed once (see scale.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale.h"

static pthread_once_t scale_once = PTHREAD_ONCE_INIT;
static enum test_scale scale_value;

static void scale_parse(void)
{
	const char *s = getenv("IOTLB_TEST_SCALE");

	if (!s || !*s || !strcmp(s, "full"))
		scale_value = TEST_SCALE_FULL;
	else if (!strcmp(s, "asan"))
		scale_value = TEST_SCALE_ASAN;
	else if (!strcmp(s, "tsan"))
		scale_value = TEST_SCALE_TSAN;
	else
		fprintf(stderr, "IOTLB_TEST_SCALE=%s is not full, asan or tsan: full scale\n", s);
}

enum test_scale test_scale(void)
{
	pthread_once(&scale_once, scale_parse);
	return scale_value;
}
