/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The final pass: paired and Welch t-tests of one mode against the baseline
 * over seeds, effect size, and Holm's correction across all comparisons.
 * Which trials pair up is decided by the caller. */
#ifndef FASWEEP_STATS_H
#define FASWEEP_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_NAME_MAX 16

/* One comparison: a mode against the baseline at one hidden size. Undefined
 * values (for example a t statistic with zero variance in both groups and
 * equal means) are NaN, as scipy.stats returns them. */
struct stats_row {
	char mode[STATS_NAME_MAX];     /* the compared mode, NUL-terminated */
	int32_t hidden;                /* hidden size */
	char baseline[STATS_NAME_MAX]; /* the baseline mode, NUL-terminated */
	int32_t n_pairs;               /* seeds where both trials finished */
	double mean;          /* mean final test accuracy of the mode */
	double sd;            /* its sample standard deviation (n - 1) */
	double mean_baseline; /* the same for the baseline */
	double sd_baseline;
	double mean_diff; /* mean - mean_baseline */
	double ci95_low;  /* 95% CI of the mean paired difference, */
	double ci95_high; /* t distribution with n_pairs - 1 df */
	double t_paired;  /* paired t-test (scipy.stats.ttest_rel) */
	double p_paired;  /* two-sided */
	double t_welch;   /* Welch's t-test (ttest_ind, equal_var=False) */
	double df_welch;  /* Welch-Satterthwaite degrees of freedom */
	double p_welch;   /* two-sided */
	double cohen_d;   /* mean_diff / sqrt((sd^2 + sd_baseline^2) / 2) */
	double p_holm;    /* Holm-adjusted p_paired across the file */
};

/* Compares x (the mode) with y (the baseline), paired by position, n >= 0
 * pairs. Fills every numeric field of row except hidden, the names and
 * p_holm; with n < 2 the tests are NaN. Sums follow NumPy's pairwise
 * summation so results match scipy.stats bit for bit where possible. */
void stats_compare(const double *x, const double *y, size_t n,
                   struct stats_row *row);

/* Sets p_holm of every row from p_paired with Holm's step-down method over
 * the rows whose p_paired is not NaN (NaN rows get NaN). */
void stats_holm(struct stats_row *rows, size_t n_rows);

#endif
