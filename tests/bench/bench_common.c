/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_common.c - the helpers that bench_trainer and bench_lockstep share:
 * synthetic images, clocks, the median, the hidden-size list. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fasweep/log.h"
#include "fasweep/rng.h"

/* Synthetic images: as many as MNIST's two files hold. */
#define SYNTHETIC_N_TRAIN_FILE 60000
#define SYNTHETIC_N_TEST_FILE  10000

/* Fills ds with uniformly random pixels and labels. Speed does not depend
 * on the pixel values: every product is a dense sgemm. */
static int make_synthetic(struct dataset *ds, struct fw_error *err)
{
	size_t n = SYNTHETIC_N_TRAIN_FILE + SYNTHETIC_N_TEST_FILE;
	struct rng r;

	memset(ds, 0, sizeof(*ds));
	ds->images = malloc(n * DATASET_PIXELS); /* n x 784 */
	ds->labels = malloc(n);                  /* n */
	if (ds->images == NULL || ds->labels == NULL) {
		dataset_free(ds);
		return fw_error_set(err,
		                    "out of memory for %zu synthetic "
		                    "images",
		                    n);
	}
	ds->n_images = n;
	ds->n_train_file = SYNTHETIC_N_TRAIN_FILE;
	ds->n_test_file = SYNTHETIC_N_TEST_FILE;

	rng_init(&r, 0, 0, RNG_SPLIT, 0xbe4c);
	for (size_t i = 0; i < n * DATASET_PIXELS; i += 4) {
		uint32_t bits = rng_u32(&r);

		memcpy(ds->images + i, &bits, 4); /* 784 is a multiple of 4 */
	}
	for (size_t i = 0; i < n; i++)
		ds->labels[i] = (uint8_t)rng_below(&r, DATASET_CLASSES);
	return 0;
}

int load_data(struct dataset *ds, const char *data_dir, struct fw_error *err)
{
	if (data_dir != NULL)
		return dataset_load(ds, data_dir, err);
	return make_synthetic(ds, err);
}

struct elapsed clock_now(void)
{
	struct elapsed t = {log_now(), 0.0};
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
		t.cpu = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
	return t;
}

struct elapsed clock_since(struct elapsed t0)
{
	struct elapsed t = clock_now();

	t.wall -= t0.wall;
	t.cpu -= t0.cpu;
	return t;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(double *x, int n)
{
	qsort(x, (size_t)n, sizeof(*x), compare_doubles);
	return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double default_learning_rate(int32_t n_hidden)
{
	return n_hidden <= 20 ? 0.07 : 1.0 / (double)n_hidden;
}

int parse_hidden_list(const char *prog, const char *list, int32_t *sizes,
                      size_t *n)
{
	const char *s = list;

	*n = 0;
	for (;;) {
		char *end;
		long h = strtol(s, &end, 10);

		if (end == s || h < 1 || h > 100000 ||
		    (*end != ',' && *end != '\0') || *n == MAX_HIDDEN_SIZES) {
			fprintf(stderr,
			        "%s: invalid --hidden '%s'; give up to %d "
			        "sizes "
			        "from 1 to 100000, comma-separated, such as "
			        "20,100\n",
			        prog, list, MAX_HIDDEN_SIZES);
			return -1;
		}
		sizes[(*n)++] = (int32_t)h;
		if (*end == '\0')
			return 0;
		s = end + 1;
	}
}
