/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Counter-based random streams (Random123 Philox4x32-10). A stream is named
 * by (seed, hidden size, purpose, index), so a draw depends only on its name
 * and position and never on which rank or in which order trials run. */
#ifndef FASWEEP_RNG_H
#define FASWEEP_RNG_H

#include <stdint.h>

/* The use of a stream, which is part of the stream's name. The values are
 * part of the reproducibility contract, because changing one changes every
 * result. */
enum rng_purpose {
	RNG_SPLIT = 1,    /* which images are train and test */
	RNG_W1 = 2,       /* initial W1 */
	RNG_W2 = 3,       /* initial W2 */
	RNG_FEEDBACK = 4, /* fixed random feedback matrix R */
	RNG_ORDER = 5     /* minibatch order; index = epoch */
};

struct rng {
	uint32_t key[2];   /* the seed */
	uint32_t ctr[4];   /* block, index, hidden size, purpose */
	uint32_t block[4]; /* output of the last Philox call */
	int n_left;        /* unread words in block */
};

/* Starts the stream (seed, n_hidden, purpose, index) at its first draw. */
void rng_init(struct rng *r, uint64_t seed, uint32_t n_hidden,
              enum rng_purpose purpose, uint32_t index);

/* Returns the next 32 random bits. */
uint32_t rng_u32(struct rng *r);

/* Returns a double uniform on the open interval (0, 1), 53 random bits. */
double rng_uniform(struct rng *r);

/* Returns a standard normal draw (Box-Muller, two uniforms per draw). */
double rng_normal(struct rng *r);

/* Returns an integer uniform on [0, n) for n >= 1 (multiply-shift on 64
 * bits; the bias is below n / 2^64). */
uint64_t rng_below(struct rng *r, uint64_t n);

#endif
