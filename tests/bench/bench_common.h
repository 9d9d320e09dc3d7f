/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by bench_trainer and bench_lockstep: the trial sizes they
 * time, the synthetic images, the two clocks, the median and the option
 * parsing of a hidden-size list. */
#ifndef FASWEEP_BENCH_COMMON_H
#define FASWEEP_BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"

#define MAX_HIDDEN_SIZES 16

/* The sizes of configs/replication.ini, which the timed trials use. */
#define BENCH_N_TRAIN    50000
#define BENCH_N_TEST     20000
#define BENCH_N_PROBE    1000
#define BENCH_BATCH_SIZE 200

/* Wall-clock and process CPU time, seconds. */
struct elapsed {
	double wall;
	double cpu;
};

/* Returns wall-clock and process CPU time now. */
struct elapsed clock_now(void);

/* Returns the time since t0. */
struct elapsed clock_since(struct elapsed t0);

/* Returns the median of x[0..n), reordering x. */
double median(double *x, int n);

/* Learning rate of configs/replication.ini for H = 20, 100, 500 and 1000,
 * and 1/H for other sizes above 20. */
double default_learning_rate(int32_t n_hidden);

/* Parses "20,100,500" into sizes[0..*n), at most MAX_HIDDEN_SIZES. Returns
 * 0, or -1 after a message that starts with prog. */
int parse_hidden_list(const char *prog, const char *list, int32_t *sizes,
                      size_t *n);

/* Loads MNIST from data_dir, or makes synthetic images when data_dir is
 * NULL. Returns 0, or -1 with err set. */
int load_data(struct dataset *ds, const char *data_dir, struct fw_error *err);

#endif
