/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the random streams: the counter layout that the reproducibility
 * of every result depends on, and the distributions drawn from it. */
#include <stdint.h>
#include <string.h>

#include <Random123/philox.h>

#include "check.h"
#include "fasweep/rng.h"

/* Known-answer vector of Philox4x32-10 from the Random123 distribution:
 * counter and key all zero. */
static void test_known_answer(void)
{
	struct rng r;
	const uint32_t expect[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c,
	                            0x9b00dbd8};

	rng_init(&r, 0, 0, 0, 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(rng_u32(&r), expect[i]);
}

/* The stream (seed, H, purpose, index) is Philox with key = seed and
 * counter = (block, index, H, purpose). */
static void test_counter_layout(void)
{
	uint64_t seed = 0x123456789abcdefULL;
	struct rng r;

	rng_init(&r, seed, 20, RNG_ORDER, 7);
	for (uint32_t block = 0; block < 3; block++) {
		philox4x32_ctr_t c = {{block, 7, 20, RNG_ORDER}};
		philox4x32_key_t k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
		philox4x32_ctr_t out = philox4x32(c, k);

		for (int i = 0; i < 4; i++)
			CHECK_EQ_INT(rng_u32(&r), out.v[i]);
	}
}

/* Changing any part of a stream's name changes its first draws. */
static void test_names_differ(void)
{
	struct rng base, other;
	uint32_t first;

	rng_init(&base, 5, 20, RNG_W1, 0);
	first = rng_u32(&base);
	const struct {
		uint64_t seed;
		uint32_t hidden;
		enum rng_purpose purpose;
		uint32_t index;
	} cases[] = {{6, 20, RNG_W1, 0},
	             {5, 21, RNG_W1, 0},
	             {5, 20, RNG_W2, 0},
	             {5, 20, RNG_W1, 1}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rng_init(&other, cases[i].seed, cases[i].hidden,
		         cases[i].purpose, cases[i].index);
		CHECK(rng_u32(&other) != first);
	}
}

static void test_distributions(void)
{
	const int n = 1000000;
	struct rng r;
	double sum = 0.0, sq = 0.0, umin = 1.0, umax = 0.0;
	long counts[7] = {0};

	rng_init(&r, 42, 100, RNG_W1, 0);
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&r);

		umin = u < umin ? u : umin;
		umax = u > umax ? u : umax;
	}
	CHECK(umin > 0.0);
	CHECK(umax < 1.0);

	for (int i = 0; i < n; i++) {
		double z = rng_normal(&r);

		sum += z;
		sq += z * z;
	}
	/* Standard errors are 0.001 (mean) and 0.0014 (variance). */
	CHECK_NEAR(sum / n, 0.0, 0.005);
	CHECK_NEAR(sq / n, 1.0, 0.007);

	for (int i = 0; i < 70000; i++) {
		uint64_t k = rng_below(&r, 7);

		CHECK(k < 7);
		counts[k < 7 ? k : 0]++;
	}
	for (int k = 0; k < 7; k++)
		CHECK_NEAR(counts[k], 10000.0, 500.0);
}

int main(void)
{
	test_known_answer();
	test_counter_layout();
	test_names_differ();
	test_distributions();
	return check_exit("test_rng");
}
