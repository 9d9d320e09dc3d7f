/* SPDX-License-Identifier: GPL-3.0-or-later */
/* report.c - the text of `fasweep plan` and `fasweep report`. */
#include "fasweep/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fasweep/net.h"

/* Sustained float32 rate per core assumed for the cost estimate. Whole
 * trials of configs/demo.ini ran at 38 GFLOP/s (H = 20) to 69 GFLOP/s
 * (H = 100) per core on a 2-core AMD EPYC (Zen 4) VM, so the estimate errs
 * on the long side there. */
#define ASSUMED_GFLOPS 40.0

/* Floating-point operations of one trial, 2 per multiply-add. Training
 * costs per image the forward pass and the three products of the backward
 * pass. Each recorded point costs the forward pass of every test image,
 * and per probe image the forward pass and the two W1 updates that the
 * update angle compares. */
double report_trial_flops(const struct trial_params *p)
{
	double h = p->n_hidden;
	double fwd = 2.0 * (NET_INPUTS * h + (h + 1.0) * NET_OUTPUTS);
	double bwd = 2.0 * (NET_INPUTS * h + (h + 1.0) * NET_OUTPUTS +
	                    h * NET_OUTPUTS);
	double probe = fwd + 2.0 * 2.0 * (NET_INPUTS * h + h * NET_OUTPUTS);
	double per_point = p->n_test * fwd + p->n_probe * probe;
	double points = p->n_epochs + 1.0 + p->early_checkpoints;

	return p->n_train * (fwd * (p->n_epochs + 1.0) + bwd * p->n_epochs) +
	       per_point * points;
}

static void plan_axes(FILE *out, const struct grid *g)
{
	fprintf(out, "modes:   ");
	for (size_t m = 0; m < g->n_modes; m++)
		fprintf(out, "%s%s", m ? ", " : "",
		        grid_mode_name(g->modes[m]));
	fprintf(out, " (baseline %s)\n", grid_mode_name(g->baseline));
	fprintf(out, "seeds:   %zu (", g->n_seeds);
	for (size_t i = 0; i < g->n_seeds && i < 8; i++)
		fprintf(out, "%s%lld", i ? ", " : "", (long long)g->seeds[i]);
	fprintf(out, "%s)\n", g->n_seeds > 8 ? ", ..." : "");
}

/* Prints a numeric feedback setting: its value, or the axis it follows. */
static void plan_setting(FILE *out, const struct grid *g,
                         enum grid_setting_id id)
{
	const struct grid_setting *s = &g->settings[id];

	if (s->axis == AXIS_NONE)
		fprintf(out, ", %s %g", s->name, s->values[0]);
	else
		fprintf(out, ", %s per %s", s->name, grid_axis_name(s->axis));
}

/* Prints the feedback settings that the grid's modes read. */
static void plan_feedback(FILE *out, const struct grid *g)
{
	fprintf(out, "feedback: feedback_norm %s",
	        grid_feedback_norm_name(g->feedback_norm));
	if (grid_has_mode(g, MODE_FA))
		fprintf(out, ", fa_scale %s",
		        g->fa_scale == FA_SCALE_CONSTANT ? "constant"
		                                         : "log_epoch");
	if (grid_has_mode(g, MODE_ONEHOT))
		fprintf(out, ", onehot_sign %s",
		        grid_onehot_sign_name(g->onehot_sign));
	if (grid_has_mode(g, MODE_SPARSE))
		plan_setting(out, g, SET_FEEDBACK_K);
	if (grid_has_mode(g, MODE_KP))
		plan_setting(out, g, SET_KP_DECAY);
	fprintf(out, "; early_checkpoints %d\n", (int)g->early_checkpoints);
}

/* Returns 1 if any setting is zipped to the mode or seed axis, so that
 * trials of one hidden size differ in more than their feedback. */
static int settings_vary_within_hidden(const struct grid *g)
{
	for (size_t k = 0; k < N_SETTINGS; k++)
		if (g->settings[k].axis == AXIS_MODE ||
		    g->settings[k].axis == AXIS_SEED)
			return 1;
	return 0;
}

/* One line per hidden size: the settings of its first mode and seed, and
 * the mean cost of its trials. Returns the summed cost of its trials. */
static double plan_hidden(FILE *out, const struct grid *g, size_t h)
{
	struct trial_params p;
	double total = 0.0;
	size_t n = g->n_modes * g->n_seeds;

	for (size_t m = 0; m < g->n_modes; m++)
		for (size_t sd = 0; sd < g->n_seeds; sd++) {
			grid_trial_params(g, grid_trial_index(g, m, h, sd), &p);
			total += report_trial_flops(&p);
		}

	grid_trial_params(g, grid_trial_index(g, 0, h, 0), &p);
	fprintf(out, "%8d %14g %6d %7d %8d %7d %13.3g\n", (int)p.n_hidden,
	        p.learning_rate, (int)p.batch_size, (int)p.n_epochs,
	        (int)p.n_train, (int)p.n_test, total / (double)n);
	return total;
}

/* Returns the bytes that /weights takes in the results file: per hidden
 * size, W1, W2 and B of every (mode, seed, stage), and the training and
 * test indices of every seed at the largest n_train and n_test of that
 * size. */
static double weights_bytes(const struct grid *g)
{
	double n_stages = (double)grid_n_stages(g), total = 0.0;

	if (n_stages == 0)
		return 0.0;
	for (size_t h = 0; h < g->n_hidden; h++) {
		double n = g->hidden[h];
		double per_stage = NET_INPUTS * n + (n + 1.0) * NET_OUTPUTS +
		                   n * NET_OUTPUTS;
		int32_t max_train = 0, max_test = 0;

		for (size_t sd = 0; sd < g->n_seeds; sd++) {
			struct trial_params p;

			grid_trial_params(g, grid_trial_index(g, 0, h, sd), &p);
			if (p.n_train > max_train)
				max_train = p.n_train;
			if (p.n_test > max_test)
				max_test = p.n_test;
		}
		total += 4.0 * ((double)g->n_modes * g->n_seeds * n_stages *
		                        per_stage +
		                (double)g->n_seeds * (max_train + max_test));
	}
	return total;
}

/* Prints the size of the results file's data: the curves, and the weights
 * when [output] save_weights stores any. */
static void plan_file(FILE *out, const struct grid *g)
{
	double curves = (double)grid_n_trials(g) * N_CURVES *
	                (g->max_epochs + 1 + g->early_checkpoints) * 4.0;
	double weights = weights_bytes(g);
	char stages[64];

	if (weights == 0.0) {
		fprintf(out, "file:    about %.3g MB of curves\n",
		        curves / 1e6);
		return;
	}
	grid_stage_list(g, ", ", stages, sizeof(stages));
	fprintf(out,
	        "file:    about %.3g MB: %.3g MB of curves and %.3g MB of "
	        "weights (save_weights = %s)\n",
	        (curves + weights) / 1e6, curves / 1e6, weights / 1e6, stages);
}

void report_plan(FILE *out, const struct grid *g)
{
	size_t n_trials = grid_n_trials(g);
	double total = 0.0, hours;

	fprintf(out, "config:  %s\ndata:    %s (split = %s)\n", g->path,
	        g->data_dir, g->split == SPLIT_POOLED ? "pooled" : "standard");
	plan_axes(out, g);
	plan_feedback(out, g);
	fprintf(out, "\n  hidden  learning_rate  batch  epochs  n_train  "
	             "n_test  FLOP per trial\n");
	for (size_t h = 0; h < g->n_hidden; h++)
		total += plan_hidden(out, g, h);
	if (settings_vary_within_hidden(g))
		fprintf(out,
		        "(settings zipped to mode or seed vary within a row: "
		        "the row shows the first mode and seed, and the mean "
		        "FLOP per trial)\n");

	hours = total / (ASSUMED_GFLOPS * 1e9) / 3600.0;
	fprintf(out,
	        "\ntrials:  %zu\nwork:    %.3g FLOP, about %.2g "
	        "core-hours at an assumed %.0f GFLOP/s per core\n",
	        n_trials, total, hours, ASSUMED_GFLOPS);
	plan_file(out, g);
}

static size_t count_status(const struct h5out_summary *s, const char *status)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_trials; i++)
		n += strcmp(s->trials[i].status, status) == 0;
	return n;
}

/* Counts the rows with each status. */
static void summary_counts(FILE *out, const struct h5out_summary *s)
{
	static const char *const names[] = {"done", "diverged", "failed",
	                                    "pending"};

	fprintf(out, "trials: %zu (", s->n_trials);
	for (size_t k = 0; k < 4; k++)
		fprintf(out, "%s%zu %s", k ? ", " : "",
		        count_status(s, names[k]), names[k]);
	fprintf(out, ")\n");
}

static int is_done_config(const struct trial_row *r, const char *mode,
                          int32_t hidden)
{
	return r->hidden == hidden && strcmp(r->mode, mode) == 0 &&
	       strcmp(r->status, "done") == 0;
}

/* Mean and sample standard deviation of the done trials of (mode,
 * hidden); returns their count. */
static size_t config_mean(const struct h5out_summary *s, const char *mode,
                          int32_t hidden, double *mean, double *sd)
{
	double sum = 0.0, sq = 0.0;
	size_t n = 0;

	for (size_t i = 0; i < s->n_trials; i++)
		if (is_done_config(&s->trials[i], mode, hidden)) {
			sum += s->trials[i].final_test_accuracy;
			n++;
		}
	*mean = n ? sum / (double)n : NAN;

	for (size_t i = 0; i < s->n_trials; i++)
		if (is_done_config(&s->trials[i], mode, hidden)) {
			double d = s->trials[i].final_test_accuracy - *mean;

			sq += d * d;
		}
	*sd = n > 1 ? sqrt(sq / (double)(n - 1)) : NAN;
	return n;
}

/* Collects the distinct hidden sizes and modes of the trials table in
 * order of first appearance, which is the grid's order. Both arrays need
 * room for one entry per trial. */
static void distinct_configs(const struct h5out_summary *s, int32_t *hidden,
                             size_t *n_hidden, const char **modes,
                             size_t *n_modes)
{
	*n_hidden = *n_modes = 0;
	for (size_t i = 0; i < s->n_trials; i++) {
		const struct trial_row *r = &s->trials[i];
		size_t h = 0, m = 0;

		while (h < *n_hidden && hidden[h] != r->hidden)
			h++;
		if (h == *n_hidden)
			hidden[(*n_hidden)++] = r->hidden;
		while (m < *n_modes && strcmp(modes[m], r->mode) != 0)
			m++;
		if (m == *n_modes)
			modes[(*n_modes)++] = r->mode;
	}
}

static void summary_means(FILE *out, const struct h5out_summary *s)
{
	int32_t *hidden = malloc(sizeof(*hidden) * (s->n_trials + 1));
	const char **modes = malloc(sizeof(*modes) * (s->n_trials + 1));
	size_t n_hidden, n_modes;

	fprintf(out, "\nfinal test accuracy (mean and sd over done seeds)\n");
	if (hidden == NULL || modes == NULL) {
		fprintf(out, "(not shown: out of memory)\n");
		goto out;
	}
	distinct_configs(s, hidden, &n_hidden, modes, &n_modes);
	fprintf(out, "%8s  %-8s %4s %8s %8s\n", "hidden", "mode", "n", "mean",
	        "sd");
	for (size_t h = 0; h < n_hidden; h++)
		for (size_t m = 0; m < n_modes; m++) {
			double mean, sd;
			size_t n =
			        config_mean(s, modes[m], hidden[h], &mean, &sd);

			fprintf(out, "%8d  %-8s %4zu %8.4f %8.4f\n",
			        (int)hidden[h], modes[m], n, mean, sd);
		}
out:
	free(modes);
	free(hidden);
}

/* Returns x, with any NaN as the positive quiet NaN, so that printf shows
 * "nan" and never "-nan". */
static double unsigned_nan(double x)
{
	return isnan(x) ? NAN : x;
}

/* The curves of the diagnostics table, with their column titles. */
static const struct {
	enum curve_id curve;
	const char *title;
} diagnostic_columns[] = {
        {CURVE_ALIGNMENT_ANGLE, "angle"},
        {CURVE_ALIGNMENT_ANGLE_MEAN, "angle_ex"},
        {CURVE_UPDATE_ANGLE, "angle_dW1"},
        {CURVE_FEEDBACK_COSINE, "cos_B_W2"},
        {CURVE_FEEDBACK_NORM_RATIO, "|B|/|W2|"},
        {CURVE_FEEDBACK_CONCORDANCE, "concord"},
        {CURVE_SATURATION_FRACTION, "saturated"},
};

/* Mean of a curve's final value over the done trials of (mode, hidden)
 * whose value is not NaN; NaN if there is none. */
static double final_mean(const struct h5out_summary *s, const char *mode,
                         int32_t hidden, enum curve_id curve)
{
	double sum = 0.0;
	size_t n = 0;

	for (size_t i = 0; i < s->n_trials; i++) {
		double v = s->final[i * N_CURVES + (size_t)curve];

		if (is_done_config(&s->trials[i], mode, hidden) && !isnan(v)) {
			sum += v;
			n++;
		}
	}
	return n ? sum / (double)n : NAN;
}

/* Prints the mean final feedback diagnostics of every (hidden, mode). */
static void summary_diagnostics(FILE *out, const struct h5out_summary *s)
{
	size_t n_cols =
	        sizeof(diagnostic_columns) / sizeof(diagnostic_columns[0]);
	int32_t *hidden = malloc(sizeof(*hidden) * (s->n_trials + 1));
	const char **modes = malloc(sizeof(*modes) * (s->n_trials + 1));
	size_t n_hidden, n_modes;

	fprintf(out, "\nfinal feedback diagnostics (mean over done seeds; "
	             "angles in degrees; nan: undefined, as for shallow)\n");
	if (hidden == NULL || modes == NULL || s->final == NULL) {
		fprintf(out, "(not shown: out of memory)\n");
		goto out;
	}
	distinct_configs(s, hidden, &n_hidden, modes, &n_modes);
	fprintf(out, "%8s  %-8s", "hidden", "mode");
	for (size_t k = 0; k < n_cols; k++)
		fprintf(out, " %9s", diagnostic_columns[k].title);
	fprintf(out, "\n");
	for (size_t h = 0; h < n_hidden; h++)
		for (size_t m = 0; m < n_modes; m++) {
			fprintf(out, "%8d  %-8s", (int)hidden[h], modes[m]);
			for (size_t k = 0; k < n_cols; k++)
				fprintf(out, " %9.4g",
				        unsigned_nan(final_mean(
				                s, modes[m], hidden[h],
				                diagnostic_columns[k].curve)));
			fprintf(out, "\n");
		}
out:
	free(modes);
	free(hidden);
}

static void print_stats_row(FILE *out, const struct stats_row *r)
{
	fprintf(out,
	        "%8d  %-8s %4d %8.4f %8.4f %+8.4f [%+8.4f,%+8.4f] %8.3f "
	        "%9.3g %8.3f %9.3g %7.2f %9.3g\n",
	        (int)r->hidden, r->mode, (int)r->n_pairs, unsigned_nan(r->mean),
	        unsigned_nan(r->mean_baseline), unsigned_nan(r->mean_diff),
	        unsigned_nan(r->ci95_low), unsigned_nan(r->ci95_high),
	        unsigned_nan(r->t_paired), unsigned_nan(r->p_paired),
	        unsigned_nan(r->t_welch), unsigned_nan(r->p_welch),
	        unsigned_nan(r->cohen_d), unsigned_nan(r->p_holm));
}

/* Prints why the file has no t-tests, and for a sweep with pending trials
 * (running, stopped or killed) how to continue it. */
static void summary_no_stats(FILE *out, const char *path,
                             const struct h5out_summary *s)
{
	size_t n_pending = count_status(s, "pending");
	int one_mode = 1;

	for (size_t i = 1; i < s->n_trials; i++)
		one_mode &= strcmp(s->trials[i].mode, s->trials[0].mode) == 0;
	if (n_pending == 0 && one_mode) {
		fprintf(out, "\nno t-tests: the file has no mode besides the "
		             "baseline\n");
		return;
	}
	if (n_pending == 0) {
		fprintf(out,
		        "\nno t-tests: every trial is stored, but the sweep "
		        "ended before its final pass.\nWrite it with the INI "
		        "file it started from as CONFIG:\n"
		        "  fasweep run CONFIG -o %s --resume\n",
		        path);
		return;
	}
	fprintf(out,
	        "\nno t-tests: the sweep has not finished (%zu trials "
	        "pending). Unless it is\nstill running, continue it with the "
	        "INI file it started from as CONFIG:\n"
	        "  fasweep run CONFIG -o %s --resume\n",
	        n_pending, path);
}

static void summary_stats(FILE *out, const char *path,
                          const struct h5out_summary *s)
{
	int any_nan = 0;

	if (s->n_stats == 0) {
		summary_no_stats(out, path, s);
		return;
	}
	fprintf(out,
	        "\nt-tests of final test accuracy against %s (pairs: "
	        "seeds where both finished; p_holm over %zu "
	        "comparisons)\n",
	        s->stats[0].baseline, s->n_stats);
	fprintf(out,
	        "%8s  %-8s %4s %8s %8s %8s %19s %8s %9s %8s %9s %7s "
	        "%9s\n",
	        "hidden", "mode", "n", "mean", "base", "diff", "ci95",
	        "t_paired", "p_paired", "t_welch", "p_welch", "cohen_d",
	        "p_holm");
	for (size_t i = 0; i < s->n_stats; i++) {
		print_stats_row(out, &s->stats[i]);
		any_nan |= isnan(s->stats[i].p_paired);
	}
	if (any_nan)
		fprintf(out, "nan: fewer than 2 complete pairs, or no variance "
		             "in the paired differences\n");
}

void report_summary(FILE *out, const char *path, const struct h5out_summary *s)
{
	fprintf(out, "results: %s\n", path);
	summary_counts(out, s);
	summary_means(out, s);
	summary_diagnostics(out, s);
	summary_stats(out, path, s);
}
