/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Paired and Welch t-tests of one mode against the baseline, the 95% CI of
 * the mean paired difference, Cohen's d and Holm's correction. The sums and
 * the order of operations mirror NumPy 1.24 and scipy.stats 1.10, so a row
 * in the results file can be checked against scipy bit for bit where
 * possible. Choosing which trials pair up is left to the caller. */

#include <assert.h>
#include <math.h>
#include <stdint.h>

#include <gsl/gsl_cdf.h>

#include "fasweep/stats.h"

/* NumPy's float64 add.reduce (pairwise_sum in loops_utils.h.src) unrolls by 8
 * and stops recursing at blocks of 128 elements. */
#define NP_UNROLL 8
#define NP_BLOCK  128

/* A float64 sequence whose terms are formed on the fly, so that sums of
 * x - y or of squared deviations need no scratch array. */
struct np_terms {
	const double *x; /* n */
	const double *y; /* n, or NULL for terms x[i] alone */
	int squared;     /* term is (v - center) * (v - center) */
	double center;   /* the mean subtracted when squared */
};

static double np_term(const struct np_terms *t, size_t i)
{
	double v = t->x[i];

	if (t->y)
		v = v - t->y[i];
	if (t->squared) {
		v = v - t->center;
		v = v * v;
	}
	return v;
}

/* Sums n terms from start the way NumPy 1.24 does for a contiguous float64
 * array: a plain loop below 8 terms, eight accumulators up to 128, recursive
 * halves split at a multiple of 8 above. Adding in NumPy's order makes the
 * means, variances and t statistics agree with numpy.mean, numpy.std and
 * scipy.stats bit for bit, not only to a few ulps. That matters when all
 * differences are (almost) equal, because the variance is then rounding
 * noise and t follows it.
 * NOTE: exact agreement also needs a * b + c left uncontracted (no FMA).
 * GCC contracts only in GNU modes, and the build uses -std=c11. */
static double np_pairwise_sum(const struct np_terms *t, size_t start, size_t n)
{
	double r[NP_UNROLL];
	double res;
	size_t i, j;

	if (n < NP_UNROLL) {
		res = 0.0;
		for (i = 0; i < n; i++)
			res += np_term(t, start + i);
		return res;
	}

	if (n > NP_BLOCK) {
		size_t n_half = n / 2;

		n_half -= n_half % NP_UNROLL;
		return np_pairwise_sum(t, start, n_half) +
		       np_pairwise_sum(t, start + n_half, n - n_half);
	}

	for (j = 0; j < NP_UNROLL; j++)
		r[j] = np_term(t, start + j);
	for (i = NP_UNROLL; i < n - n % NP_UNROLL; i += NP_UNROLL)
		for (j = 0; j < NP_UNROLL; j++)
			r[j] += np_term(t, start + i + j);
	res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));

	/* the remainder that is not a multiple of 8 */
	for (; i < n; i++)
		res += np_term(t, start + i);
	return res;
}

/* numpy.mean: the sum divided by n, NaN for n = 0. */
static double np_mean(const double *x, const double *y, size_t n)
{
	struct np_terms t = {.x = x, .y = y};

	return np_pairwise_sum(&t, 0, n) / (double)n;
}

/* Sum of squared deviations from mean, as numpy.var and scipy's _moment
 * form it: (v - mean) * (v - mean) summed pairwise. */
static double np_sum_sq_dev(const double *x, const double *y, size_t n,
                            double mean)
{
	struct np_terms t = {.x = x, .y = y, .squared = 1, .center = mean};

	return np_pairwise_sum(&t, 0, n);
}

/* numpy.std(ddof=1): sqrt(sum of squared deviations / (n - 1)). */
static double np_std1(const double *x, const double *y, size_t n)
{
	double mean = np_mean(x, y, n);

	return sqrt(np_sum_sq_dev(x, y, n, mean) / (double)(n - 1));
}

/* scipy.stats._stats_py._var(ddof=1), which ttest_rel and ttest_ind use:
 * the second central moment mean((v - mean)**2) times n / (n - 1). It
 * differs from numpy.var(ddof=1) in the last bits. */
static double scipy_var1(const double *x, const double *y, size_t n)
{
	double mean = np_mean(x, y, n);
	double moment2 = np_sum_sq_dev(x, y, n, mean) / (double)n;

	return moment2 * ((double)n / (double)(n - 1));
}

/* Two-sided p of a t statistic, as scipy's _ttest_finish computes
 * stdtr(df, -|t|) * 2. An infinite t gives 0, a NaN t or df gives NaN. */
static double t_two_sided_p(double t, double df)
{
	if (isnan(t) || isnan(df))
		return NAN;
	return 2.0 * gsl_cdf_tdist_Q(fabs(t), df);
}

/* scipy.stats.ttest_rel: t = mean(d) / sqrt(var(d) / n), df = n - 1. */
static void stats_paired(const double *x, const double *y, size_t n,
                         struct stats_row *row)
{
	double v = scipy_var1(x, y, n);
	double dm = np_mean(x, y, n);
	double denom = sqrt(v / (double)n);

	row->t_paired = dm / denom;
	row->p_paired = t_two_sided_p(row->t_paired, (double)(n - 1));
}

/* scipy.stats.ttest_ind(equal_var=False), with the arithmetic of
 * _unequal_var_ttest_denom and _ttest_ind_from_stats. When both variances
 * are zero the Welch-Satterthwaite df is 0 / 0, and scipy sets it to 1
 * because the t statistic is then +-inf or NaN whatever df is. Reads
 * row->mean and row->mean_baseline, which must be set. */
static void stats_welch(const double *x, const double *y, size_t n,
                        struct stats_row *row)
{
	double n1 = (double)n;
	double vn1 = scipy_var1(x, NULL, n) / n1;
	double vn2 = scipy_var1(y, NULL, n) / n1;
	double df;

	df = (vn1 + vn2) * (vn1 + vn2) /
	     (vn1 * vn1 / (n1 - 1) + vn2 * vn2 / (n1 - 1));
	if (isnan(df))
		df = 1.0;

	row->df_welch = df;
	row->t_welch = (row->mean - row->mean_baseline) / sqrt(vn1 + vn2);
	row->p_welch = t_two_sided_p(row->t_welch, df);
}

/* 95% CI of the mean paired difference: mean_diff +- q * sd(d) / sqrt(n)
 * with q the 0.975 quantile of t with n - 1 df. */
static void stats_ci95(const double *x, const double *y, size_t n,
                       struct stats_row *row)
{
	double q = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1));
	double half = q * np_std1(x, y, n) / sqrt((double)n);

	row->ci95_low = row->mean_diff - half;
	row->ci95_high = row->mean_diff + half;
}

void stats_compare(const double *x, const double *y, size_t n,
                   struct stats_row *row)
{
	double var_sum;

	assert(n <= INT32_MAX);
	row->n_pairs = (int32_t)n;

	/* descriptive statistics: NaN means for n = 0, NaN sd for n < 2 */
	row->mean = np_mean(x, NULL, n);
	row->mean_baseline = np_mean(y, NULL, n);
	row->sd = n >= 2 ? np_std1(x, NULL, n) : NAN;
	row->sd_baseline = n >= 2 ? np_std1(y, NULL, n) : NAN;
	row->mean_diff = row->mean - row->mean_baseline;

	/* Fewer than 2 pairs allow no test. df_welch is NaN here too, where
	 * scipy's formula would give 0 / 0 and then 1. */
	if (n < 2) {
		row->ci95_low = row->ci95_high = NAN;
		row->t_paired = row->p_paired = NAN;
		row->t_welch = row->df_welch = row->p_welch = NAN;
		row->cohen_d = NAN;
		return;
	}

	stats_ci95(x, y, n, row);
	stats_paired(x, y, n, row);
	stats_welch(x, y, n, row);

	/* with both groups constant, 0 / 0 gives NaN and d / 0 gives +-inf */
	var_sum = row->sd * row->sd + row->sd_baseline * row->sd_baseline;
	row->cohen_d = row->mean_diff / sqrt(var_sum / 2.0);
}

/* Whether row a comes before row b in Holm's order: ascending p_paired,
 * ties broken by row index. Both p values must be non-NaN. */
static int holm_before(const struct stats_row *rows, size_t a, size_t b)
{
	double pa = rows[a].p_paired;
	double pb = rows[b].p_paired;

	return pa < pb || (pa == pb && a < b);
}

/* Returns the first row after row prev in Holm's order, skipping NaN p
 * values. prev = SIZE_MAX selects the first row, and n_rows means none is
 * left. */
static size_t holm_next(const struct stats_row *rows, size_t n_rows,
                        size_t prev)
{
	size_t best = n_rows;
	size_t i;

	for (i = 0; i < n_rows; i++) {
		if (isnan(rows[i].p_paired))
			continue;
		if (prev != SIZE_MAX && !holm_before(rows, prev, i))
			continue;
		if (best == n_rows || holm_before(rows, i, best))
			best = i;
	}
	return best;
}

/* Walks the rows in ascending p order by repeated scans instead of sorting
 * an index array, so no allocation can fail. The O(n_rows^2) cost is
 * negligible for the number of comparisons in one sweep. */
void stats_holm(struct stats_row *rows, size_t n_rows)
{
	size_t m = 0;
	size_t rank, k;
	double running = 0.0;

	for (k = 0; k < n_rows; k++) {
		rows[k].p_holm = NAN;
		if (!isnan(rows[k].p_paired))
			m++;
	}

	/* the rank-th smallest p gets max over ranks <= rank of
	 * min(1, (m - rank) * p), with rank counted from 0 */
	k = SIZE_MAX;
	for (rank = 0; rank < m; rank++) {
		double term;

		k = holm_next(rows, n_rows, k);
		assert(k < n_rows);
		term = fmin(1.0, (double)(m - rank) * rows[k].p_paired);
		running = fmax(running, term);
		rows[k].p_holm = running;
	}
}
