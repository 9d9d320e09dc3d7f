/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rng.c - Philox4x32-10 streams and the few distributions fasweep draws. */
#include "fasweep/rng.h"

#include <math.h>

#include <Random123/philox.h>

void rng_init(struct rng *r, uint64_t seed, uint32_t n_hidden,
              enum rng_purpose purpose, uint32_t index)
{
	r->key[0] = (uint32_t)seed;
	r->key[1] = (uint32_t)(seed >> 32);
	r->ctr[0] = 0;
	r->ctr[1] = index;
	r->ctr[2] = n_hidden;
	r->ctr[3] = (uint32_t)purpose;
	r->n_left = 0;
}

uint32_t rng_u32(struct rng *r)
{
	if (r->n_left == 0) {
		philox4x32_ctr_t c = {
		        {r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
		philox4x32_key_t k = {{r->key[0], r->key[1]}};
		philox4x32_ctr_t out = philox4x32(c, k);

		for (int i = 0; i < 4; i++)
			r->block[i] = out.v[i];
		r->ctr[0]++;
		r->n_left = 4;
	}
	return r->block[4 - r->n_left--];
}

static uint64_t rng_u64(struct rng *r)
{
	uint64_t hi = rng_u32(r);

	return (hi << 32) | rng_u32(r);
}

double rng_uniform(struct rng *r)
{
	/* 53 bits, shifted by half a step so 0 and 1 never occur. */
	return ((double)(rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

double rng_normal(struct rng *r)
{
	double u1 = rng_uniform(r);
	double u2 = rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_u64(r) * n) >> 64);
}
