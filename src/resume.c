/* SPDX-License-Identifier: GPL-3.0-or-later */
/* resume.c - compares the grid stored in a results file with the grid of
 * the config given to a resumed run, and names the first difference. */
#include "fasweep/resume.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 96 /* characters of an axis list quoted in a message */

#define HINT                                                                   \
	"resume with the config the file was written with, or start a new "    \
	"file with -o"

/* Writes up to the first values of an axis, comma-separated, to buf. */
static void list_modes(const struct grid *g, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->n_modes && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		                        i ? ", " : "",
		                        grid_mode_name(g->modes[i]));
}

static void list_hidden(const struct grid *g, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->n_hidden && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%" PRId32,
		                        i ? ", " : "", g->hidden[i]);
}

static void list_seeds(const struct grid *g, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < g->n_seeds && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%" PRId64,
		                        i ? ", " : "", g->seeds[i]);
}

/* The axes must match value by value and in order, because a trial's
 * position in the file follows from them. */
static int axes_check(const struct grid *a, const struct grid *b,
                      const char *file, struct fw_error *err)
{
	char was[LIST_MAX], is[LIST_MAX];
	const char *key = NULL;

	if (a->n_modes != b->n_modes ||
	    memcmp(a->modes, b->modes, a->n_modes * sizeof(*a->modes)) != 0) {
		list_modes(a, was, sizeof(was));
		list_modes(b, is, sizeof(is));
		key = "modes";
	} else if (a->n_hidden != b->n_hidden ||
	           memcmp(a->hidden, b->hidden,
	                  a->n_hidden * sizeof(*a->hidden)) != 0) {
		list_hidden(a, was, sizeof(was));
		list_hidden(b, is, sizeof(is));
		key = "hidden";
	} else if (a->n_seeds != b->n_seeds ||
	           memcmp(a->seeds, b->seeds, a->n_seeds * sizeof(*a->seeds)) !=
	                   0) {
		list_seeds(a, was, sizeof(was));
		list_seeds(b, is, sizeof(is));
		key = "seeds";
	}
	if (key == NULL)
		return 0;
	return fw_error_set(err,
	                    "cannot resume %s: [sweep] %s is %s in the file "
	                    "but %s in %s; " HINT,
	                    file, key, was, is, b->path);
}

/* Writes x with the fewest digits that read back as x, as the INI file
 * would give it (0.03, not 0.029999999999999999). */
static void format_exact(double x, char *buf, size_t size)
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, x);
		if (strtod(buf, NULL) == x)
			return;
	}
}

/* Names the first setting in which two trials differ, with its INI
 * section, and writes both values to was and is. Returns NULL if none. */
static const char *param_diff(const struct trial_params *a,
                              const struct trial_params *b, char *was, char *is,
                              size_t size)
{
	if (a->learning_rate != b->learning_rate) {
		format_exact(a->learning_rate, was, size);
		format_exact(b->learning_rate, is, size);
		return "[network] learning_rate";
	}
	if (a->onehot_sign != b->onehot_sign) {
		snprintf(was, size, "%s",
		         grid_onehot_sign_name(a->onehot_sign));
		snprintf(is, size, "%s", grid_onehot_sign_name(b->onehot_sign));
		return "[feedback] onehot_sign";
	}
	if (a->feedback_norm != b->feedback_norm) {
		snprintf(was, size, "%s",
		         grid_feedback_norm_name(a->feedback_norm));
		snprintf(is, size, "%s",
		         grid_feedback_norm_name(b->feedback_norm));
		return "[feedback] feedback_norm";
	}
	if (a->kp_decay != b->kp_decay) {
		format_exact(a->kp_decay, was, size);
		format_exact(b->kp_decay, is, size);
		return "[feedback] kp_decay";
	}

	/* The integer settings, as (section and key, stored, now). */
	const struct {
		const char *key;
		long long a, b;
	} ints[] = {
	        {"[network] batch_size", a->batch_size, b->batch_size},
	        {"[network] epochs", a->n_epochs, b->n_epochs},
	        {"[data] n_train", a->n_train, b->n_train},
	        {"[data] n_test", a->n_test, b->n_test},
	        {"[data] n_probe", a->n_probe, b->n_probe},
	        {"[data] split", a->split, b->split},
	        {"[feedback] fa_scale", a->fa_scale, b->fa_scale},
	        {"[feedback] feedback_k", a->feedback_k, b->feedback_k},
	        {"[output] early_checkpoints", a->early_checkpoints,
	         b->early_checkpoints},
	};

	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (ints[i].a == ints[i].b)
			continue;
		snprintf(was, size, "%lld", ints[i].a);
		snprintf(is, size, "%lld", ints[i].b);
		return ints[i].key;
	}
	return NULL;
}

/* Every trial must run with the settings its stored results came from. */
static int trials_check(const struct grid *a, const struct grid *b,
                        const char *file, struct fw_error *err)
{
	size_t n = grid_n_trials(a);

	for (size_t t = 0; t < n; t++) {
		struct trial_params pa, pb;
		char was[32], is[32];
		const char *key;

		grid_trial_params(a, t, &pa);
		grid_trial_params(b, t, &pb);
		key = param_diff(&pa, &pb, was, is, sizeof(was));
		if (key == NULL)
			continue;
		if (!strcmp(key, "[feedback] onehot_sign") ||
		    !strcmp(key, "[feedback] feedback_norm"))
			return fw_error_set(err,
			                    "cannot resume %s: %s is %s in the "
			                    "file but %s in %s; " HINT,
			                    file, key, was, is, b->path);
		if (!strcmp(key, "[data] split") ||
		    !strcmp(key, "[feedback] fa_scale"))
			return fw_error_set(
			        err,
			        "cannot resume %s: %s differs between "
			        "the file and %s; " HINT,
			        file, key, b->path);
		return fw_error_set(
		        err,
		        "cannot resume %s: %s is %s in the file but "
		        "%s in %s (mode %s, hidden %" PRId32 ", seed %" PRId64
		        "); " HINT,
		        file, key, was, is, b->path, grid_mode_name(pa.mode),
		        pa.n_hidden, pa.seed);
	}
	return 0;
}

/* The stored stages decide whether /weights exists and its shape. */
static int save_weights_check(const struct grid *a, const struct grid *b,
                              const char *file, struct fw_error *err)
{
	size_t size = sizeof(a->save_weights);
	char was[LIST_MAX], is[LIST_MAX];

	if (memcmp(a->save_weights, b->save_weights, size) == 0)
		return 0;
	grid_stage_list(a, ", ", was, sizeof(was));
	grid_stage_list(b, ", ", is, sizeof(is));
	return fw_error_set(err,
	                    "cannot resume %s: [output] save_weights is %s "
	                    "in the file but %s in %s; " HINT,
	                    file, was, is, b->path);
}

int resume_check(const struct grid *stored, const struct grid *now,
                 const char *file, struct fw_error *err)
{
	if (axes_check(stored, now, file, err) != 0 ||
	    trials_check(stored, now, file, err) != 0 ||
	    save_weights_check(stored, now, file, err) != 0)
		return -1;
	if (stored->baseline != now->baseline)
		return fw_error_set(
		        err,
		        "cannot resume %s: [stats] baseline is %s in "
		        "the file but %s in %s; " HINT,
		        file, grid_mode_name(stored->baseline),
		        grid_mode_name(now->baseline), now->path);
	return 0;
}
