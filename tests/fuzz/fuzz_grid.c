/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the grid parser: parses each input as the text of an
 * INI file, and for a grid that parses, checks every trial's settings and
 * the hand-out order against the limits grid.h promises. The program's use
 * of the grid (plan, run) is left to the Python tests. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasweep/grid.h"

/* Grids with more trials are parsed but not expanded, so that one input
 * takes milliseconds. grid_parse accepts up to [sweep] max_trials trials,
 * by default 1000000. */
#define FUZZ_MAX_TRIALS (1u << 16)

/* The largest hidden size grid.c accepts. */
#define FUZZ_HIDDEN_MAX 100000

/* Aborts with the failed condition, which libFuzzer reports as a crash and
 * saves the input for. */
#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: requirement failed: %s\n",     \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int has_mode(const struct grid *g, enum fw_mode mode)
{
	size_t i;

	for (i = 0; i < g->n_modes; i++)
		if (g->modes[i] == mode)
			return 1;
	return 0;
}

/* Checks one trial's resolved settings against the validation rules. */
static void check_params(const struct grid *g, const struct trial_params *p)
{
	REQUIRE(has_mode(g, p->mode));
	REQUIRE(strcmp(grid_mode_name(p->mode), "unknown") != 0);
	REQUIRE(p->n_hidden >= 1);
	REQUIRE(p->n_hidden <= FUZZ_HIDDEN_MAX);
	REQUIRE(p->seed >= 0);
	REQUIRE(isfinite(p->learning_rate));
	REQUIRE(p->learning_rate > 0);
	REQUIRE(p->n_epochs >= 1);
	REQUIRE(p->n_epochs <= g->max_epochs);
	REQUIRE(p->n_train >= 1);
	REQUIRE(p->n_test >= 1);
	REQUIRE(p->n_probe >= 1);
	REQUIRE(p->n_probe <= p->n_train);
	REQUIRE(p->batch_size >= 1);
	REQUIRE(p->batch_size <= p->n_train);
	REQUIRE(p->fa_scale == g->fa_scale);
	REQUIRE(p->split == g->split);
}

/* Checks that grid_schedule hands out every trial once, largest hidden
 * size first, and that each trial's index and coordinates agree. */
static void check_trials(const struct grid *g, size_t n_trials)
{
	size_t *order = malloc(n_trials * sizeof(*order));
	uint8_t *seen = calloc(n_trials, 1);
	size_t i, m, h, s;
	int32_t previous = INT32_MAX; /* hidden size of the last trial */
	struct trial_params p;

	REQUIRE(order != NULL);
	REQUIRE(seen != NULL);
	grid_schedule(g, order);

	for (i = 0; i < n_trials; i++) {
		REQUIRE(order[i] < n_trials);
		REQUIRE(!seen[order[i]]);
		seen[order[i]] = 1;

		grid_trial_coords(g, order[i], &m, &h, &s);
		REQUIRE(grid_trial_index(g, m, h, s) == order[i]);

		grid_trial_params(g, order[i], &p);
		check_params(g, &p);
		REQUIRE(p.mode == g->modes[m]);
		REQUIRE(p.n_hidden == g->hidden[h]);
		REQUIRE(p.seed == g->seeds[s]);
		REQUIRE(p.n_hidden <= previous);
		previous = p.n_hidden;
	}
	free(seen);
	free(order);
}

/* Checks a grid that grid_parse accepted. */
static void check_grid(const struct grid *g, const char *text)
{
	size_t n_trials = grid_n_trials(g);

	REQUIRE(strcmp(g->text, text) == 0);
	REQUIRE(g->n_modes >= 1);
	REQUIRE(g->n_hidden >= 1);
	REQUIRE(g->n_seeds >= 1);
	REQUIRE(n_trials == g->n_modes * g->n_hidden * g->n_seeds);
	REQUIRE(g->max_trials >= 1);
	REQUIRE(n_trials <= (uint64_t)g->max_trials);
	REQUIRE(has_mode(g, g->baseline));
	REQUIRE(g->max_epochs >= 1);

	if (n_trials <= FUZZ_MAX_TRIALS)
		check_trials(g, n_trials);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_error err = {{0}};
	struct grid g;
	char *text;

	/* grid_load rejects a file with a NUL byte before parsing, so such
	 * an input can never reach grid_parse. */
	if (memchr(data, '\0', size) != NULL)
		return -1;
	text = malloc(size + 1);
	REQUIRE(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';

	if (grid_parse(&g, "fuzz.ini", text, &err) == 0) {
		check_grid(&g, text);
	} else {
		/* Errors are one non-empty line (error.h). */
		REQUIRE(err.msg[0] != '\0');
		REQUIRE(strchr(err.msg, '\n') == NULL);
	}

	/* grid_free must also be safe after a failed parse. */
	grid_free(&g);
	free(text);
	return 0;
}
