/* SPDX-License-Identifier: GPL-3.0-or-later */
/* final.c - pairs trials by seed and runs the comparisons of the final
 * pass. */
#include "fasweep/final.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_done(const struct trial_row *row)
{
	return strcmp(row->status, "done") == 0;
}

/* Compares mode m with baseline b at hidden index h over complete pairs. */
static void compare_one(const struct grid *g, const struct trial_row *trials,
                        size_t m, size_t b, size_t h, double *x, double *y,
                        struct stats_row *row)
{
	size_t n = 0;

	for (size_t s = 0; s < g->n_seeds; s++) {
		const struct trial_row *tm =
		        &trials[grid_trial_index(g, m, h, s)];
		const struct trial_row *tb =
		        &trials[grid_trial_index(g, b, h, s)];

		if (!is_done(tm) || !is_done(tb))
			continue;
		x[n] = tm->final_test_accuracy;
		y[n] = tb->final_test_accuracy;
		n++;
	}

	memset(row, 0, sizeof(*row));
	stats_compare(x, y, n, row);
	snprintf(row->mode, sizeof(row->mode), "%s",
	         grid_mode_name(g->modes[m]));
	snprintf(row->baseline, sizeof(row->baseline), "%s",
	         grid_mode_name(g->modes[b]));
	row->hidden = g->hidden[h];
}

static size_t baseline_index(const struct grid *g)
{
	for (size_t m = 0; m < g->n_modes; m++)
		if (g->modes[m] == g->baseline)
			return m;
	return 0;
}

int final_pass(const struct grid *g, const struct trial_row *trials,
               struct stats_row **rows, size_t *n_rows, struct fw_error *err)
{
	size_t b = baseline_index(g), n = 0;
	size_t cap = g->n_hidden * (g->n_modes - 1);
	double *x = malloc(sizeof(double) * (g->n_seeds + 1));
	double *y = malloc(sizeof(double) * (g->n_seeds + 1));
	struct stats_row *out = malloc(sizeof(*out) * (cap + 1));

	if (x == NULL || y == NULL || out == NULL) {
		free(out);
		free(y);
		free(x);
		return fw_error_set(err, "out of memory for the stats table");
	}

	for (size_t h = 0; h < g->n_hidden; h++)
		for (size_t m = 0; m < g->n_modes; m++)
			if (m != b)
				compare_one(g, trials, m, b, h, x, y,
				            &out[n++]);
	stats_holm(out, n);

	free(y);
	free(x);
	*rows = out;
	*n_rows = n;
	return 0;
}
