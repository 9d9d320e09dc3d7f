/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Assertions for the C tests. Each failed check prints the expression, both
 * values and file:line, and is counted. check_exit() ends the test with
 * status 1 if any check failed. */
#ifndef FASWEEP_TEST_CHECK_H
#define FASWEEP_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
	do {                                                                   \
		check_count++;                                                 \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__,       \
			        __LINE__, #cond);                              \
		}                                                              \
	} while (0)

/* Checks |a - b| <= tol, printing both values on failure. */
#define CHECK_NEAR(a, b, tol)                                                  \
	do {                                                                   \
		double check_a_ = (a), check_b_ = (b);                         \
		check_count++;                                                 \
		if (!(fabs(check_a_ - check_b_) <= (tol))) {                   \
			check_failures++;                                      \
			fprintf(stderr,                                        \
			        "%s:%d: FAILED: %s = %.17g, %s = "             \
			        "%.17g, tolerance %g\n",                       \
			        __FILE__, __LINE__, #a, check_a_, #b,          \
			        check_b_, (double)(tol));                      \
		}                                                              \
	} while (0)

/* Checks two integers for equality, printing both on failure. */
#define CHECK_EQ_INT(a, b)                                                     \
	do {                                                                   \
		long long check_a_ = (long long)(a);                           \
		long long check_b_ = (long long)(b);                           \
		check_count++;                                                 \
		if (check_a_ != check_b_) {                                    \
			check_failures++;                                      \
			fprintf(stderr,                                        \
			        "%s:%d: FAILED: %s = %lld, %s = "              \
			        "%lld\n",                                      \
			        __FILE__, __LINE__, #a, check_a_, #b,          \
			        check_b_);                                     \
		}                                                              \
	} while (0)

static inline int check_exit(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
