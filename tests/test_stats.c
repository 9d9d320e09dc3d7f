/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Unit tests of stats_compare and stats_holm on small data sets whose results
 * follow from closed forms or by hand. The comparison with scipy.stats on
 * many generated data sets is left to test_stats_scipy.py. */

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_sf_gamma.h>

#include "fasweep/stats.h"

/* Relative tolerance (absolute below magnitude 1) against closed forms. */
#define TOL 1e-12

#define MAX_PAIRS 4
#define MAX_ROWS  5

static int n_failed;
static int n_passed;

/* Whether got equals want: NaN only matches NaN, inf matches inf of the same
 * sign, finite values within tol (relative above magnitude 1). */
static int same_value(double got, double want, double tol)
{
	if (isnan(got) || isnan(want))
		return isnan(got) && isnan(want);
	if (isinf(got) || isinf(want))
		return got == want;
	return fabs(got - want) <= tol * fmax(1.0, fmax(fabs(got), fabs(want)));
}

#define CHECK_NUM(case_name, field, got, want, tol)                            \
	check_num(__LINE__, case_name, field, got, want, tol)

static void check_num(int line, const char *case_name, const char *field,
                      double got, double want, double tol)
{
	if (same_value(got, want, tol)) {
		n_passed++;
		return;
	}
	n_failed++;
	printf("FAIL line %d: %s: %s = %.17g, expected %.17g\n", line,
	       case_name, field, got, want);
}

/* The double fields of struct stats_row that stats_compare fills. */
static const struct {
	const char *name;
	size_t offset;
} compare_fields[] = {
        {"mean", offsetof(struct stats_row, mean)},
        {"sd", offsetof(struct stats_row, sd)},
        {"mean_baseline", offsetof(struct stats_row, mean_baseline)},
        {"sd_baseline", offsetof(struct stats_row, sd_baseline)},
        {"mean_diff", offsetof(struct stats_row, mean_diff)},
        {"ci95_low", offsetof(struct stats_row, ci95_low)},
        {"ci95_high", offsetof(struct stats_row, ci95_high)},
        {"t_paired", offsetof(struct stats_row, t_paired)},
        {"p_paired", offsetof(struct stats_row, p_paired)},
        {"t_welch", offsetof(struct stats_row, t_welch)},
        {"df_welch", offsetof(struct stats_row, df_welch)},
        {"p_welch", offsetof(struct stats_row, p_welch)},
        {"cohen_d", offsetof(struct stats_row, cohen_d)},
};

static double field_value(const struct stats_row *row, size_t i)
{
	double v;

	memcpy(&v, (const char *)row + compare_fields[i].offset, sizeof(v));
	return v;
}

/* Two-sided p of Student's t with df degrees of freedom through the
 * regularized incomplete beta function: I_{df / (df + t^2)}(df / 2, 1 / 2).
 * GSL's t CDF does not go through gsl_sf_beta_inc. */
static double p_two_sided_beta(double t, double df)
{
	return gsl_sf_beta_inc(df / 2.0, 0.5, df / (df + t * t));
}

struct compare_case {
	const char *name;
	size_t n;
	double x[MAX_PAIRS];
	double y[MAX_PAIRS];
	struct stats_row want; /* p_holm, hidden and the names unused */
};

static void run_compare_case(const struct compare_case *c)
{
	struct stats_row row;
	size_t i;

	/* fields stats_compare must leave alone */
	memset(&row, 0, sizeof(row));
	row.hidden = 7;
	row.p_holm = 0.125;

	stats_compare(c->x, c->y, c->n, &row);

	CHECK_NUM(c->name, "n_pairs", row.n_pairs, c->want.n_pairs, 0.0);
	for (i = 0; i < sizeof(compare_fields) / sizeof(compare_fields[0]); i++)
		CHECK_NUM(c->name, compare_fields[i].name, field_value(&row, i),
		          field_value(&c->want, i), TOL);
	CHECK_NUM(c->name, "hidden (untouched)", row.hidden, 7, 0.0);
	CHECK_NUM(c->name, "p_holm (untouched)", row.p_holm, 0.125, 0.0);
}

static void test_compare_table(void)
{
	/* 0.975 quantiles of t: with 1 df tan(0.475 pi); with 2 df the CDF is
	 * 1/2 + t / (2 sqrt(2 + t^2)), so q = sqrt(2 a^2 / (1 - a^2)), a = 0.95
	 */
	const double pi = acos(-1.0);
	const double q1 = tan(0.475 * pi);
	const double q2 = sqrt(2.0 * 0.95 * 0.95 / (1.0 - 0.95 * 0.95));
	const double t3 = 3.0 / sqrt(5.0 / 3.0);
	const double t4 = sqrt(6.0 / 5.0);
	const double t5 = -1.0 / sqrt(2.0 / 3.0);

	const struct compare_case cases[] = {
	        /* d = 2, 3, 4: mean 3, sd 1, t = 3 / (1 / sqrt 3); Welch
	         * vn = 4/3 and 1/3, df = (5/3)^2 / ((16/9 + 1/9) / 2) */
	        {"three pairs by hand",
	         3,
	         {3, 5, 7},
	         {1, 2, 3},
	         {.n_pairs = 3,
	          .mean = 5,
	          .sd = 2,
	          .mean_baseline = 2,
	          .sd_baseline = 1,
	          .mean_diff = 3,
	          .ci95_low = 3 - q2 / sqrt(3.0),
	          .ci95_high = 3 + q2 / sqrt(3.0),
	          .t_paired = 3 * sqrt(3.0),
	          .p_paired = 1 - sqrt(27.0 / 29.0),
	          .t_welch = t3,
	          .df_welch = 50.0 / 17.0,
	          .p_welch = p_two_sided_beta(t3, 50.0 / 17.0),
	          .cohen_d = 3 / sqrt(2.5)}},
	        /* x - y = 1 exactly: zero variance of d, t = +inf */
	        {"constant difference +1",
	         4,
	         {1, 2, 3, 4},
	         {0, 1, 2, 3},
	         {.n_pairs = 4,
	          .mean = 2.5,
	          .sd = sqrt(5.0 / 3.0),
	          .mean_baseline = 1.5,
	          .sd_baseline = sqrt(5.0 / 3.0),
	          .mean_diff = 1,
	          .ci95_low = 1,
	          .ci95_high = 1,
	          .t_paired = INFINITY,
	          .p_paired = 0,
	          .t_welch = t4,
	          .df_welch = 6,
	          .p_welch = p_two_sided_beta(t4, 6),
	          .cohen_d = 1 / sqrt(5.0 / 3.0)}},
	        {"constant difference -1",
	         3,
	         {0, 1, 2},
	         {1, 2, 3},
	         {.n_pairs = 3,
	          .mean = 1,
	          .sd = 1,
	          .mean_baseline = 2,
	          .sd_baseline = 1,
	          .mean_diff = -1,
	          .ci95_low = -1,
	          .ci95_high = -1,
	          .t_paired = -INFINITY,
	          .p_paired = 0,
	          .t_welch = t5,
	          .df_welch = 4,
	          .p_welch = p_two_sided_beta(t5, 4),
	          .cohen_d = -1}},
	        /* d = 0: t_paired = 0 / 0; Welch t = 0 with equal variances */
	        {"identical groups",
	         3,
	         {1, 2, 4},
	         {1, 2, 4},
	         {.n_pairs = 3,
	          .mean = 7.0 / 3.0,
	          .sd = sqrt(7.0 / 3.0),
	          .mean_baseline = 7.0 / 3.0,
	          .sd_baseline = sqrt(7.0 / 3.0),
	          .mean_diff = 0,
	          .ci95_low = 0,
	          .ci95_high = 0,
	          .t_paired = NAN,
	          .p_paired = NAN,
	          .t_welch = 0,
	          .df_welch = 4,
	          .p_welch = 1,
	          .cohen_d = 0}},
	        /* Welch df = 0 / 0 is set to 1, as scipy does */
	        {"both constant and equal",
	         3,
	         {2, 2, 2},
	         {2, 2, 2},
	         {.n_pairs = 3,
	          .mean = 2,
	          .sd = 0,
	          .mean_baseline = 2,
	          .sd_baseline = 0,
	          .mean_diff = 0,
	          .ci95_low = 0,
	          .ci95_high = 0,
	          .t_paired = NAN,
	          .p_paired = NAN,
	          .t_welch = NAN,
	          .df_welch = 1,
	          .p_welch = NAN,
	          .cohen_d = NAN}},
	        {"both constant, x above y",
	         2,
	         {3, 3},
	         {1, 1},
	         {.n_pairs = 2,
	          .mean = 3,
	          .sd = 0,
	          .mean_baseline = 1,
	          .sd_baseline = 0,
	          .mean_diff = 2,
	          .ci95_low = 2,
	          .ci95_high = 2,
	          .t_paired = INFINITY,
	          .p_paired = 0,
	          .t_welch = INFINITY,
	          .df_welch = 1,
	          .p_welch = 0,
	          .cohen_d = INFINITY}},
	        {"both constant, x below y",
	         2,
	         {1, 1},
	         {3, 3},
	         {.n_pairs = 2,
	          .mean = 1,
	          .sd = 0,
	          .mean_baseline = 3,
	          .sd_baseline = 0,
	          .mean_diff = -2,
	          .ci95_low = -2,
	          .ci95_high = -2,
	          .t_paired = -INFINITY,
	          .p_paired = 0,
	          .t_welch = -INFINITY,
	          .df_welch = 1,
	          .p_welch = 0,
	          .cohen_d = -INFINITY}},
	        /* d = 1, 3: t = 2 / (sqrt 2 / sqrt 2) with 1 df, the Cauchy
	         * distribution: p = 1 - 2 atan(t) / pi; Welch df = 1 / 1 */
	        {"two pairs",
	         2,
	         {1, 3},
	         {0, 0},
	         {.n_pairs = 2,
	          .mean = 2,
	          .sd = sqrt(2.0),
	          .mean_baseline = 0,
	          .sd_baseline = 0,
	          .mean_diff = 2,
	          .ci95_low = 2 - q1,
	          .ci95_high = 2 + q1,
	          .t_paired = 2,
	          .p_paired = 1 - 2 * atan(2.0) / pi,
	          .t_welch = 2,
	          .df_welch = 1,
	          .p_welch = 1 - 2 * atan(2.0) / pi,
	          .cohen_d = 2}},
	        {"one pair",
	         1,
	         {0.9},
	         {0.8},
	         {.n_pairs = 1,
	          .mean = 0.9,
	          .sd = NAN,
	          .mean_baseline = 0.8,
	          .sd_baseline = NAN,
	          .mean_diff = 0.9 - 0.8,
	          .ci95_low = NAN,
	          .ci95_high = NAN,
	          .t_paired = NAN,
	          .p_paired = NAN,
	          .t_welch = NAN,
	          .df_welch = NAN,
	          .p_welch = NAN,
	          .cohen_d = NAN}},
	        {"no pairs",
	         0,
	         {0},
	         {0},
	         {.n_pairs = 0,
	          .mean = NAN,
	          .sd = NAN,
	          .mean_baseline = NAN,
	          .sd_baseline = NAN,
	          .mean_diff = NAN,
	          .ci95_low = NAN,
	          .ci95_high = NAN,
	          .t_paired = NAN,
	          .p_paired = NAN,
	          .t_welch = NAN,
	          .df_welch = NAN,
	          .p_welch = NAN,
	          .cohen_d = NAN}},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_compare_case(&cases[i]);
}

/* NumPy sums 8 to 128 values with eight accumulators, so 1e16 + 1 + ... +
 * 1 - 1e16 keeps most of the ones (numpy.mean gives 6 / 9 and 8 / 11 for
 * these), where a left-to-right sum would lose all of them. */
static void test_mean_pairwise_sum(void)
{
	const double x9[9] = {1e16, 1, 1, 1, 1, 1, 1, 1, -1e16};
	const double x11[11] = {1e16, 1, 1, 1, 1, 1, 1, 1, -1e16, 1, 1};
	const double zeros[11] = {0};
	struct stats_row row;

	stats_compare(x9, zeros, 9, &row);
	CHECK_NUM("pairwise sum n=9", "mean", row.mean, 6.0 / 9.0, 0.0);
	CHECK_NUM("pairwise sum n=9", "mean_baseline", row.mean_baseline, 0.0,
	          0.0);

	stats_compare(x11, zeros, 11, &row);
	CHECK_NUM("pairwise sum n=11", "mean", row.mean, 8.0 / 11.0, 0.0);
}

struct holm_case {
	const char *name;
	size_t n_rows;
	double p[MAX_ROWS];
	double want[MAX_ROWS];
};

static void run_holm_case(const struct holm_case *c)
{
	struct stats_row rows[MAX_ROWS];
	char field[64];
	size_t i;

	memset(rows, 0, sizeof(rows));
	for (i = 0; i < c->n_rows; i++)
		rows[i].p_paired = c->p[i];

	stats_holm(rows, c->n_rows);

	for (i = 0; i < c->n_rows; i++) {
		snprintf(field, sizeof(field), "p_holm[%zu]", i);
		CHECK_NUM(c->name, field, rows[i].p_holm, c->want[i], 0.0);
		snprintf(field, sizeof(field), "p_paired[%zu] (untouched)", i);
		CHECK_NUM(c->name, field, rows[i].p_paired, c->p[i], 0.0);
	}
}

static void test_holm_table(void)
{
	/* sorted p with m = 4 non-NaN rows: 0.005 (x4), 0.01 (x3), 0.03 (x2),
	 * 0.04 (x1); the running max keeps 2 * 0.03 for 0.04 */
	const struct holm_case cases[] = {
	        {"holm with a NaN row",
	         5,
	         {0.01, NAN, 0.04, 0.03, 0.005},
	         {3 * 0.01, NAN, 2 * 0.03, 2 * 0.03, 4 * 0.005}},
	        {"holm capped at 1", 2, {0.6, 0.7}, {1, 1}},
	        {"holm with tied p",
	         3,
	         {0.02, 0.5, 0.02},
	         {3 * 0.02, 0.5, 3 * 0.02}},
	        {"holm with p = 0", 2, {0, 0.01}, {0, 0.01}},
	        {"holm single row", 1, {0.3}, {0.3}},
	        {"holm all NaN", 2, {NAN, NAN}, {NAN, NAN}},
	        {"holm no rows", 0, {0}, {0}},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_holm_case(&cases[i]);
}

/* The scratch directory argument is not needed: nothing is written. */
int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;

	test_compare_table();
	test_mean_pairwise_sum();
	test_holm_table();

	printf("%d passed, %d failed\n", n_passed, n_failed);
	return n_failed ? 1 : 0;
}
