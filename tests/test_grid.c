/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the grid module: INI files written to the scratch directory given
 * as argv[1] are loaded with grid_load. Bad files must fail with a message
 * naming the file, line, key and value. Good files must expand to the
 * expected lists, trial parameters, indices and schedule. Also checks that
 * resume_check rejects a changed [output] save_weights. */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fasweep/grid.h"
#include "fasweep/resume.h"

static int n_failed;
static const char *current; /* name of the running case */

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: [%s] check failed: %s\n",      \
			        __FILE__, __LINE__, current, #cond);           \
			n_failed++;                                            \
		}                                                              \
	} while (0)

#define CHECK_INT(got, want)                                                   \
	do {                                                                   \
		long long got_ = (long long)(got), want_ = (long long)(want);  \
		if (got_ != want_) {                                           \
			fprintf(stderr,                                        \
			        "%s:%d: [%s] %s = %lld, expected %lld\n",      \
			        __FILE__, __LINE__, current, #got, got_,       \
			        want_);                                        \
			n_failed++;                                            \
		}                                                              \
	} while (0)

#define CHECK_DBL(got, want)                                                   \
	do {                                                                   \
		double got_ = (got), want_ = (want);                           \
		if (got_ != want_) {                                           \
			fprintf(stderr,                                        \
			        "%s:%d: [%s] %s = %.17g, expected %.17g\n",    \
			        __FILE__, __LINE__, current, #got, got_,       \
			        want_);                                        \
			n_failed++;                                            \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                   \
	do {                                                                   \
		const char *got_ = (got), *want_ = (want);                     \
		if (strcmp(got_, want_) != 0) {                                \
			fprintf(stderr,                                        \
			        "%s:%d: [%s] %s = \"%s\", expected \"%s\"\n",  \
			        __FILE__, __LINE__, current, #got, got_,       \
			        want_);                                        \
			n_failed++;                                            \
		}                                                              \
	} while (0)

#define CHECK_HAS(msg, part)                                                   \
	do {                                                                   \
		const char *msg_ = (msg), *part_ = (part);                     \
		if (strstr(msg_, part_) == NULL) {                             \
			fprintf(stderr,                                        \
			        "%s:%d: [%s] message lacks \"%s\": %s\n",      \
			        __FILE__, __LINE__, current, part_, msg_);     \
			n_failed++;                                            \
		}                                                              \
	} while (0)

static char scratch[4096];

/* Writes text to scratch/name.ini and stores the path in path. */
static void write_ini(const char *name, const char *text, char *path,
                      size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s.ini", scratch, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* Loads text as scratch/name.ini and returns grid_load's status. */
static int load_text(const char *name, const char *text, struct grid *g,
                     struct fw_error *err)
{
	char path[4200];

	write_ini(name, text, path, sizeof(path));
	fw_error_clear(err);
	return grid_load(g, path, err);
}

/* A valid [sweep] section of four lines. */
#define SWEEP "[sweep]\nmodes = bp, fa\nhidden = 20, 100\nseeds = 1-3\n"

struct bad_case {
	const char *name; /* file name stem and case label */
	const char *text;
	int line;            /* line the message must name; 0 for none */
	const char *want[3]; /* further parts of the message */
};

static const struct bad_case bad_cases[] = {
        {"unknown_section",
         SWEEP "[netwrk]\nepochs = 5\n",
         5,
         {"unknown section [netwrk]", "valid sections: [data], [network]"}},
        {"unknown_key",
         "[network]\nlearnig_rate = 0.1\n" SWEEP,
         2,
         {"unknown key 'learnig_rate' in [network]; valid keys: "
          "learning_rate, batch_size, epochs"}},
        {"key_outside_section",
         "epochs = 5\n" SWEEP,
         1,
         {"key 'epochs' is outside any section"}},
        {"duplicate_key",
         "[network]\nepochs = 5\nepochs = 6\n" SWEEP,
         3,
         {"[network] epochs = 6", "already set on line 2"}},
        {"duplicate_section_key",
         "[network]\nepochs = 5\n[data]\nn_test = 10\n[network]\nepochs = "
         "6\n" SWEEP,
         6,
         {"epochs = 6", "already set on line 2"}},
        {"continuation_line",
         "[sweep]\nmodes = bp\nhidden = 20\n  100\nseeds = 1\n",
         4,
         {"[sweep] hidden = 100", "indented line continues the key of line 3"}},
        {"indented_duplicate",
         "[network]\nepochs = 5\n[data]\n  n_test = 10\n[network]\n  epochs = "
         "6\n" SWEEP,
         6,
         {"epochs = 6", "duplicate key, already set on line 2"}},
        {"continuation_after_comment",
         "[sweep]\nmodes = bp\nhidden = 20\n; comment\n\n  [data]\nseeds = 1\n",
         6,
         {"[sweep] hidden = [data]", "continues the key of line 3"}},
        {"duplicate_zip",
         "[network]\nepochs = 5, 6\n" SWEEP
         "zip = hidden, epochs\nzip = seed, epochs\n",
         8,
         {"[sweep] zip = seed, epochs", "already set on line 7"}},
        {"bad_number",
         "[network]\nlearning_rate = 0.0.7\n" SWEEP,
         2,
         {"[network] learning_rate = 0.0.7", "not a number", "such as 0.07"}},
        {"nan_rate",
         "[network]\nlearning_rate = nan\n" SWEEP,
         2,
         {"learning_rate = nan", "not a number"}},
        {"inf_rate",
         "[network]\nlearning_rate = 1e999\n" SWEEP,
         2,
         {"learning_rate = 1e999", "must be a number from 1.17549435e-38 "
                                   "to 3.40282347e+38"}},
        {"zero_rate",
         "[network]\nlearning_rate = 0\n" SWEEP,
         2,
         {"learning_rate = 0: must be a number from 1.17549435e-38 to "
          "3.40282347e+38"}},
        {"negative_rate",
         "[network]\nlearning_rate = -0.1\n" SWEEP,
         2,
         {"[network] learning_rate = -0.1: must be a number from"}},
        {"rate_zero_in_float",
         "[network]\nlearning_rate = 1e-50\n" SWEEP,
         2,
         {"[network] learning_rate = 1e-50: must be a number from "
          "1.17549435e-38 to 3.40282347e+38"}},
        {"rate_subnormal_in_float",
         "[network]\nlearning_rate = 1.17549e-38\n" SWEEP,
         2,
         {"[network] learning_rate = 1.17549e-38: must be a number from"}},
        {"rate_inf_in_float",
         "[network]\nlearning_rate = 3.40283e38\n" SWEEP,
         2,
         {"[network] learning_rate = 3.40283e38: must be a number from"}},
        {"rate_list_inf_in_float",
         "[network]\nlearning_rate = 0.1, 1e39\n" SWEEP
         "zip = hidden, learning_rate\n",
         2,
         {"[network] learning_rate = 0.1, 1e39", "item '1e39' must be a "
                                                 "number from"}},
        {"rate_list_item",
         "[network]\nlearning_rate = 0.1, x\n" SWEEP,
         2,
         {"learning_rate = 0.1, x", "item 'x' is not a number"}},
        {"fraction_batch",
         "[network]\nbatch_size = 2.5\n" SWEEP,
         2,
         {"[network] batch_size = 2.5: must be an integer >= 1"}},
        {"zero_batch",
         "[network]\nbatch_size = 0\n" SWEEP,
         2,
         {"[network] batch_size = 0: must be an integer >= 1"}},
        {"huge_batch",
         "[network]\nbatch_size = 99999999999\n" SWEEP,
         2,
         {"batch_size = 99999999999", "from 1 to 2147483647"}},
        {"hex_epochs",
         "[network]\nepochs = 0x10\n" SWEEP,
         2,
         {"epochs = 0x10", "not an integer"}},
        {"negative_epochs",
         "[network]\nepochs = -3\n" SWEEP,
         2,
         {"[network] epochs = -3: must be an integer from 1 to 100000"}},
        {"too_many_epochs",
         "[network]\nepochs = 100001\n" SWEEP,
         2,
         {"epochs = 100001", "from 1 to 100000"}},
        {"zero_n_train",
         "[data]\nn_train = 0\n" SWEEP,
         2,
         {"[data] n_train = 0: must be an integer >= 1"}},
        {"zero_n_test",
         "[data]\nn_test = 0\n" SWEEP,
         2,
         {"[data] n_test = 0", ">= 1"}},
        {"zero_hidden",
         "[sweep]\nmodes = bp\nhidden = 0, 20\nseeds = 1\n",
         3,
         {"[sweep] hidden = 0, 20", "item '0' must be an integer from 1 to "
                                    "100000"}},
        {"hidden_range_end",
         "[sweep]\nmodes = bp\nhidden = 1-100001\nseeds = 1\n",
         3,
         {"hidden = 1-100001", "item '100001'", "from 1 to 100000"}},
        {"negative_seed",
         "[sweep]\nmodes = bp\nhidden = 20\nseeds = -1\n",
         4,
         {"[sweep] seeds = -1: must be an integer >= 0"}},
        {"empty_list",
         "[sweep]\nmodes = bp\nhidden =\nseeds = 1\n",
         3,
         {"[sweep] hidden = :", "empty list"}},
        {"empty_setting",
         "[network]\nepochs = ; nothing\n" SWEEP,
         2,
         {"[network] epochs = :", "empty list"}},
        {"empty_item",
         "[sweep]\nmodes = bp\nhidden = 20\nseeds = 1, , 3\n",
         4,
         {"[sweep] seeds = 1, , 3", "empty item"}},
        {"trailing_comma",
         "[sweep]\nmodes = bp, fa,\nhidden = 20\nseeds = 1\n",
         2,
         {"[sweep] modes = bp, fa,", "empty item"}},
        {"empty_dir", "[data]\ndir =\n" SWEEP, 2, {"[data] dir = :", "empty"}},
        {"reversed_range",
         "[sweep]\nmodes = bp\nhidden = 20\nseeds = 30-1\n",
         4,
         {"[sweep] seeds = 30-1", "range 30-1 is reversed; write it as 1-30"}},
        {"huge_range",
         "[sweep]\nmodes = bp\nhidden = 20\nseeds = 0-1000000000\n",
         4,
         {"seeds = 0-1000000000", "more than 100000 values"}},
        {"duplicate_hidden",
         "[sweep]\nmodes = bp\nhidden = 20, 100, 20\nseeds = 1\n",
         3,
         {"[sweep] hidden = 20, 100, 20", "20 appears twice"}},
        {"duplicate_seed_range",
         "[sweep]\nmodes = bp\nhidden = 20\nseeds = 1-5, 3\n",
         4,
         {"seeds = 1-5, 3", "3 appears twice"}},
        {"duplicate_mode",
         "[sweep]\nmodes = bp, fa, bp\nhidden = 20\nseeds = 1\n",
         2,
         {"[sweep] modes = bp, fa, bp", "mode 'bp' appears twice"}},
        {"unknown_mode",
         "[sweep]\nmodes = bp, xx\nhidden = 20\nseeds = 1\n",
         2,
         {"[sweep] modes = bp, xx", "unknown mode 'xx'",
          "valid modes: bp, fa, onehot, shallow, sparse, sign, frsf, kp"}},
        {"unknown_onehot_sign",
         "[feedback]\nonehot_sign = negative\n" SWEEP,
         2,
         {"[feedback] onehot_sign = negative", "unknown onehot_sign",
          "positive or random"}},
        {"unknown_feedback_norm",
         "[feedback]\nfeedback_norm = unit\n" SWEEP,
         2,
         {"[feedback] feedback_norm = unit", "unknown feedback_norm",
          "as_drawn or match_w2"}},
        {"feedback_k_above_10",
         "[feedback]\nfeedback_k = 11\n" SWEEP,
         2,
         {"[feedback] feedback_k = 11", "10"}},
        {"negative_kp_decay",
         "[feedback]\nkp_decay = -0.1\n" SWEEP,
         2,
         {"[feedback] kp_decay = -0.1"}},
        {"early_checkpoints_too_many",
         "[data]\nn_train = 1000\n[network]\nbatch_size = 200\n"
         "[output]\nearly_checkpoints = 5\n" SWEEP,
         6,
         {"[output] early_checkpoints = 5",
          "5 checkpoints need at least 6 minibatches per epoch, but there "
          "are 5; use at most 4"}},
        {"zip_other_axis",
         "[network]\nlearning_rate = 0.05, 0.02\n"
         "[feedback]\nfeedback_k = 1, 2, 3\n[sweep]\nmodes = bp, fa, sparse\n"
         "hidden = 20, 50\nseeds = 1\nzip = hidden, learning_rate\n",
         4,
         {"[feedback] feedback_k = 1, 2, 3", "3 values, one per mode",
          "the zip on line 9 ties settings to hidden"}},
        {"early_checkpoints_negative",
         "[output]\nearly_checkpoints = -1\n" SWEEP,
         2,
         {"[output] early_checkpoints = -1"}},
        {"unknown_fa_scale",
         "[feedback]\nfa_scale = linear\n" SWEEP,
         2,
         {"[feedback] fa_scale = linear", "unknown fa_scale",
          "log_epoch or constant"}},
        {"unknown_split",
         "[data]\nsplit = random\n" SWEEP,
         2,
         {"[data] split = random", "unknown split", "pooled or standard"}},
        {"unknown_baseline",
         "[stats]\nbaseline = sgd\n" SWEEP,
         2,
         {"[stats] baseline = sgd", "unknown mode"}},
        {"missing_hidden",
         "[sweep]\nmodes = bp\nseeds = 1\n",
         0,
         {"missing key 'hidden' in [sweep]", "hidden = "}},
        {"missing_modes",
         "[sweep]\nhidden = 20\nseeds = 1\n",
         0,
         {"missing key 'modes' in [sweep]"}},
        {"missing_seeds",
         "[sweep]\nmodes = bp\nhidden = 20\n",
         0,
         {"missing key 'seeds' in [sweep]"}},
        {"list_without_zip",
         "[network]\nlearning_rate = 0.1, 0.05\n" SWEEP,
         2,
         {"[network] learning_rate = 0.1, 0.05", "no zip",
          "zip = hidden, learning_rate"}},
        {"list_not_in_zip",
         "[network]\nlearning_rate = 0.1, 0.05\nepochs = 5, 6\n" SWEEP
         "zip = hidden, learning_rate\n",
         3,
         {"[network] epochs = 5, 6", "zip on line 8 does not name epochs"}},
        {"zip_length",
         "[network]\nlearning_rate = 0.1, 0.05, 0.01\n" SWEEP
         "zip = hidden, learning_rate\n",
         2,
         {"learning_rate = 0.1, 0.05, 0.01", "3 values",
          "zip on line 7 ties it to hidden, which has 2"}},
        {"zip_unset_setting",
         SWEEP "zip = hidden, epochs\n",
         5,
         {"[sweep] zip = hidden, epochs", "epochs is not set"}},
        {"zip_unknown_axis",
         SWEEP "zip = width, learning_rate\n",
         5,
         {"[sweep] zip = width, learning_rate", "'width' is not an axis"}},
        {"zip_unknown_setting",
         SWEEP "zip = hidden, momentum\n",
         5,
         {"zip = hidden, momentum", "'momentum' is not a numeric setting"}},
        {"zip_string_setting",
         SWEEP "zip = hidden, split\n",
         5,
         {"zip = hidden, split", "'split' is not a numeric setting"}},
        {"zip_axis_only",
         SWEEP "zip = hidden\n",
         5,
         {"[sweep] zip = hidden", "no setting after the axis"}},
        {"zip_mode_n_train",
         "[data]\nn_train = 2000, 3000\n" SWEEP "zip = mode, n_train\n",
         7,
         {"[sweep] zip = mode, n_train",
          "'n_train' cannot be zipped to mode, because the modes of one "
          "(hidden, seed) are compared as pairs and must see the same images",
          "zip it to hidden or seed"}},
        {"zip_mode_n_test",
         "[data]\nn_test = 100, 200\n" SWEEP "zip = mode, n_test\n",
         7,
         {"[sweep] zip = mode, n_test", "'n_test' cannot be zipped to mode"}},
        {"zip_mode_n_probe_after_epochs",
         "[network]\nepochs = 5, 6\n[data]\nn_probe = 100, 200\n" SWEEP
         "zip = mode, epochs, n_probe\n",
         9,
         {"[sweep] zip = mode, epochs, n_probe",
          "'n_probe' cannot be zipped to mode"}},
        {"zip_twice_same",
         "[network]\nepochs = 5, 6\n" SWEEP "zip = hidden, epochs, epochs\n",
         7,
         {"'epochs' appears twice"}},
        {"baseline_not_mode",
         "[stats]\nbaseline = onehot\n" SWEEP,
         2,
         {"[stats] baseline = onehot", "not among [sweep] modes (line 4)"}},
        {"default_baseline_missing",
         "[sweep]\nmodes = fa, onehot\nhidden = 20\nseeds = 1\n",
         2,
         {"[sweep] modes = fa, onehot", "baseline mode bp"}},
        {"probe_over_train",
         "[data]\nn_train = 500\nn_probe = 600\n" SWEEP,
         3,
         {"[data] n_probe = 600", "exceeds n_train = 500"}},
        {"train_under_default_probe",
         "[data]\nn_train = 500\n" SWEEP,
         2,
         {"[data] n_train = 500", "smaller than n_probe = 1000"}},
        {"zipped_probe_over_train",
         "[data]\nn_train = 2000\nn_probe = 500, 3000\n" SWEEP
         "zip = hidden, n_probe\n",
         3,
         {"n_probe = 500, 3000", "3000 exceeds n_train = 2000 for hidden "
                                 "100"}},
        {"batch_over_train",
         "[data]\nn_train = 2000\n[network]\nbatch_size = 1000000000\n" SWEEP,
         4,
         {"[network] batch_size = 1000000000",
          "1000000000 exceeds n_train = 2000;",
          "lower batch_size to at most n_train or raise n_train"}},
        {"batch_over_train_by_one",
         "[data]\nn_train = 2000\n[network]\nbatch_size = 2001\n" SWEEP,
         4,
         {"[network] batch_size = 2001: 2001 exceeds n_train = 2000;"}},
        {"train_under_default_batch",
         "[data]\nn_train = 150\nn_probe = 100\n" SWEEP,
         2,
         {"[data] n_train = 150",
          "smaller than batch_size = 200 (the default);",
          "raise n_train or set [network] batch_size to at most n_train"}},
        {"zipped_batch_over_train",
         "[data]\nn_train = 2000\n[network]\nbatch_size = 100, 2500\n" SWEEP
         "zip = hidden, batch_size\n",
         4,
         {"[network] batch_size = 100, 2500",
          "2500 exceeds n_train = 2000 for hidden 100;"}},
        {"zipped_train_under_batch",
         "[data]\nn_train = 3000, 1500, 4000\n[network]\nbatch_size = "
         "2000\n" SWEEP "zip = seed, n_train\n",
         4,
         {"[network] batch_size = 2000",
          "2000 exceeds n_train = 1500 for seed 2;"}},
        {"mode_zipped_batch_over_train",
         "[data]\nn_train = 2000\n[network]\nbatch_size = 100, 3000\n" SWEEP
         "zip = mode, batch_size\n",
         4,
         {"[network] batch_size = 100, 3000",
          "3000 exceeds n_train = 2000 for mode fa;"}},
        {"missing_equals",
         "[sweep]\nmodes bp\nhidden = 20\nseeds = 1\n",
         2,
         {"syntax error: expected [section] or key = value"}},
        {"missing_bracket", "[sweep\nmodes = bp\n", 1, {"syntax error"}},
        {"syntax_before_key_error",
         "[network]\nbroken line\nepochs = 0\n" SWEEP,
         2,
         {"syntax error"}},
        {"too_many_trials",
         "[sweep]\nmodes = bp, fa, onehot\nhidden = 1-100\nseeds = 1-4000\n",
         4,
         {"[sweep] seeds = 1-4000: the grid has 3 modes x 100 hidden sizes "
          "x 4000 seeds = 1200000 trials, more than the 1000000 that "
          "max_trials allows by default",
          "add 'max_trials = 1200000' to [sweep] if the sweep is meant"}},
        {"too_many_trials_by_one",
         "[sweep]\nmodes = bp\nhidden = 1-101\nseeds = 1-9901\n",
         4,
         {"[sweep] seeds = 1-9901:", "= 1000001 trials, more than the "
                                     "1000000"}},
        {"too_many_trials_hidden",
         "[sweep]\nmodes = bp\nhidden = 1-2000\nseeds = 1-501\n",
         3,
         {"[sweep] hidden = 1-2000: the grid has 1 mode x 2000 hidden sizes "
          "x 501 seeds = 1002000 trials"}},
        {"max_trials_below_grid",
         SWEEP "max_trials = 11\n",
         5,
         {"[sweep] max_trials = 11: the grid has 2 modes x 2 hidden sizes x "
          "3 seeds = 12 trials; shorten [sweep] hidden or seeds, or raise "
          "max_trials to 12 if the sweep is meant"}},
        {"max_trials_zero",
         SWEEP "max_trials = 0\n",
         5,
         {"[sweep] max_trials = 0: must be an integer >= 1"}},
        {"max_trials_negative",
         SWEEP "max_trials = -5\n",
         5,
         {"[sweep] max_trials = -5: must be an integer >= 1"}},
        {"max_trials_real",
         SWEEP "max_trials = 2e6\n",
         5,
         {"[sweep] max_trials = 2e6: must be an integer >= 1"}},
        {"max_trials_list",
         SWEEP "max_trials = 5, 6\n",
         5,
         {"[sweep] max_trials = 5, 6: not an integer; write an integer such "
          "as 1000000"}},
        {"max_trials_empty",
         SWEEP "max_trials =\n",
         5,
         {"[sweep] max_trials = : empty; give the largest number of trials "
          "to accept, such as 1000000"}},
        {"max_trials_wrong_section",
         "[network]\nmax_trials = 5\n" SWEEP,
         2,
         {"unknown key 'max_trials' in [network]"}},
        {"max_trials_duplicate",
         SWEEP "max_trials = 50\nmax_trials = 60\n",
         6,
         {"[sweep] max_trials = 60: duplicate key, already set on line 5"}},
        {"max_trials_zipped",
         SWEEP "zip = hidden, max_trials\n",
         5,
         {"'max_trials' is not a numeric setting"}},
        {"key_error_before_syntax",
         "[network]\nepochs = 0\nbroken line\n" SWEEP,
         2,
         {"epochs = 0", "must be an integer from 1 to 100000"}},
        {"save_weights_unknown_stage",
         SWEEP "[output]\nsave_weights = last\n",
         6,
         {"[output] save_weights = last: unknown stage 'last'",
          "write none, or initial and/or final as a list such as "
          "initial, final"}},
        {"save_weights_empty",
         SWEEP "[output]\nsave_weights =\n",
         6,
         {"[output] save_weights = : empty; write none"}},
        {"save_weights_empty_item",
         SWEEP "[output]\nsave_weights = initial,, final\n",
         6,
         {"save_weights = initial,, final: empty item"}},
        {"save_weights_stage_twice",
         SWEEP "[output]\nsave_weights = final, final\n",
         6,
         {"stage 'final' appears twice; list each stage once"}},
        {"save_weights_none_and_stage",
         SWEEP "[output]\nsave_weights = none, final\n",
         6,
         {"save_weights = none, final: none cannot be combined"}},
        {"save_weights_duplicate",
         SWEEP "[output]\nsave_weights = final\nsave_weights = none\n",
         7,
         {"[output] save_weights = none: duplicate key, already set on "
          "line 6"}},
        {"output_unknown_key",
         SWEEP "[output]\nsave_weight = final\n",
         6,
         {"unknown key 'save_weight' in [output]; valid keys: "
          "save_weights"}},
        {"output_section_misspelt",
         SWEEP "[outputs]\nsave_weights = final\n",
         5,
         {"unknown section [outputs]", "[stats], [output]"}},
};

static void check_bad_case(const struct bad_case *bc)
{
	struct grid g;
	struct fw_error err;
	char where[64];
	size_t i;

	current = bc->name;
	CHECK_INT(load_text(bc->name, bc->text, &g, &err), -1);
	snprintf(where, sizeof(where), "%s.ini:", bc->name);
	CHECK_HAS(err.msg, where);
	if (bc->line > 0) {
		snprintf(where, sizeof(where), ".ini:%d: ", bc->line);
		CHECK_HAS(err.msg, where);
	}
	for (i = 0; i < 3 && bc->want[i] != NULL; i++)
		CHECK_HAS(err.msg, bc->want[i]);
	CHECK(strchr(err.msg, '\n') == NULL);
	if (getenv("TEST_GRID_VERBOSE") != NULL)
		printf("%s\n", err.msg);

	/* A failed parse leaves g zeroed, and freeing it again is safe. */
	CHECK(g.path == NULL);
	CHECK(g.hidden == NULL);
	CHECK_INT(g.n_modes, 0);
	grid_free(&g);
}

/* A line of 199 characters is accepted and one of 200 is rejected. */
static void check_line_limit(void)
{
	char text[1024];
	char comment[256];
	struct grid g;
	struct fw_error err;

	current = "line_limit";
	memset(comment, 'x', sizeof(comment));
	comment[0] = ';';
	comment[199] = '\0';
	snprintf(text, sizeof(text), "%s\n%s", comment, SWEEP);
	CHECK_INT(load_text("line_199", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	grid_free(&g);

	comment[199] = 'x';
	comment[200] = '\0';
	snprintf(text, sizeof(text), SWEEP "%s\n[network]\nepochs = 0\n",
	         comment);
	CHECK_INT(load_text("line_200", text, &g, &err), -1);
	CHECK_HAS(err.msg, "line_200.ini:5: the line has 200 characters, but "
	                   "lines may have at most 199; split the comment "
	                   "over several lines");

	/* A key error before the long line is reported first. */
	snprintf(text, sizeof(text), "[network]\nepochs = 0\n%s\n" SWEEP,
	         comment);
	CHECK_INT(load_text("line_200_after_error", text, &g, &err), -1);
	CHECK_HAS(err.msg, "line_200_after_error.ini:2: [network] epochs = 0");
}

/* An over-long line: the text before it, its start, the item repeated to
 * make it long, its end, and what the message must contain. */
struct long_case {
	const char *name;
	const char *before;
	const char *head;
	const char *item;
	const char *tail;
	int line;
	const char *want[2];
};

static const struct long_case long_cases[] = {
        {"long_seeds",
         "[sweep]\nmodes = bp\nhidden = 20\n",
         "seeds = 1",
         ", 1000",
         "",
         4,
         {"[sweep] seeds = 1, 1000, 1000, 1000, 1000, 1000, 1000, 1...: "
          "the line has ",
          " characters, but lines may have at most 199; write runs of "
          "consecutive seeds as ranges such as 1-100"}},
        {"long_hidden",
         "[sweep]\nmodes = bp\n",
         "hidden = 20",
         ", 30",
         "\nseeds = 1",
         3,
         {"[sweep] hidden = 20, 30, 30",
          "write runs of consecutive hidden sizes as ranges such as 20-30"}},
        {"long_inline_comment",
         "[sweep]\nmodes = bp\nhidden = 20\n",
         "seeds = 1-30 ; comment",
         " and more",
         "",
         4,
         {"[sweep] seeds = 1-30: the line has ",
          "move the comment to a line of its own"}},
        {"long_dir",
         SWEEP "[data]\n",
         "dir = /data",
         "/mnist",
         "",
         6,
         {"[data] dir = /data/mnist/mnist",
          "use a shorter path, such as a relative path or a symbolic link"}},
        {"long_line_before_section",
         "[data]\n",
         "dir = /data",
         "/mnist",
         "\n[sweep]\nmodes = bp\nhidden = 20\nseeds = 1",
         2,
         {"[data] dir = /data/mnist/mnist",
          "use a shorter path, such as a relative path or a symbolic link"}},
        {"long_rate_list",
         SWEEP "[network]\n",
         "learning_rate = 0.1",
         ", 0.0001",
         "\nzip = hidden, learning_rate",
         6,
         {"[network] learning_rate = 0.1, 0.0001",
          "but lines may have at most 199; shorten the value"}},
        {"long_header",
         SWEEP,
         "[network",
         "network",
         "]",
         5,
         {".ini:5: the line has ", "at most 199; shorten it"}},
};

/* Writes the case's text to buf, with items added to its head until the
 * line is longer than 210 characters. Returns the length of the line. */
static size_t build_long_case(const struct long_case *lc, char *buf,
                              size_t size)
{
	char line[512];
	size_t n = 0;

	snprintf(line, sizeof(line), "%s", lc->head);
	while (strlen(line) <= 210) {
		n = strlen(line);
		snprintf(line + n, sizeof(line) - n, "%s", lc->item);
	}
	snprintf(buf, size, "%s%s%s\n", lc->before, line, lc->tail);
	n = strlen(line);
	if (lc->tail[0] != '\n')
		n += strlen(lc->tail);
	return n;
}

static void check_long_case(const struct long_case *lc)
{
	char text[1024];
	char where[64];
	struct grid g;
	struct fw_error err;
	size_t i, length;

	current = lc->name;
	length = build_long_case(lc, text, sizeof(text));
	CHECK_INT(load_text(lc->name, text, &g, &err), -1);
	snprintf(where, sizeof(where), "%s.ini:%d: ", lc->name, lc->line);
	CHECK_HAS(err.msg, where);
	snprintf(where, sizeof(where), "the line has %zu characters", length);
	CHECK_HAS(err.msg, where);
	for (i = 0; i < 2 && lc->want[i] != NULL; i++)
		CHECK_HAS(err.msg, lc->want[i]);
	if (getenv("TEST_GRID_VERBOSE") != NULL)
		printf("%s\n", err.msg);
}

/* [sweep] max_trials: its default, a grid exactly at the limit, and a grid
 * above the default that the key lets through. */
static void check_max_trials(void)
{
	struct grid g;
	struct fw_error err;

	current = "max_trials_default";
	CHECK_INT(load_text("max_trials_default", SWEEP, &g, &err), 0);
	CHECK_INT(g.max_trials, GRID_DEFAULT_MAX_TRIALS);
	CHECK_INT(GRID_DEFAULT_MAX_TRIALS, 1000000);
	grid_free(&g);

	current = "max_trials_at_default";
	CHECK_INT(load_text("max_trials_at_default",
	                    "[sweep]\nmodes = bp\nhidden = 1-1000\n"
	                    "seeds = 1-1000\n",
	                    &g, &err),
	          0);
	CHECK_STR(err.msg, "");
	CHECK_INT(grid_n_trials(&g), 1000000);
	grid_free(&g);

	current = "max_trials_raised";
	CHECK_INT(load_text("max_trials_raised",
	                    "[sweep]\nmodes = bp, fa, onehot\n"
	                    "hidden = 1-100\nseeds = 1-4000\n"
	                    "max_trials = 1200000\n",
	                    &g, &err),
	          0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.max_trials, 1200000);
	CHECK_INT(grid_n_trials(&g), 1200000);
	grid_free(&g);

	current = "max_trials_equal_to_grid";
	CHECK_INT(load_text("max_trials_equal_to_grid",
	                    SWEEP "max_trials = 12\n", &g, &err),
	          0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.max_trials, 12);
	grid_free(&g);

	/* The largest grid the lists allow: 3 x 100000 x 100000 trials. */
	current = "max_trials_largest_grid";
	CHECK_INT(load_text("max_trials_largest_grid",
	                    "[sweep]\nmodes = bp, fa, onehot\n"
	                    "hidden = 1-100000\nseeds = 1-100000\n",
	                    &g, &err),
	          -1);
	CHECK_HAS(err.msg, "= 30000000000 trials");
	CHECK_HAS(err.msg, "add 'max_trials = 30000000000' to [sweep]");
	grid_free(&g);
}

static void check_missing_file(void)
{
	struct grid g;
	struct fw_error err;
	char path[4200];

	current = "missing_file";
	snprintf(path, sizeof(path), "%s/no_such.ini", scratch);
	fw_error_clear(&err);
	CHECK_INT(grid_load(&g, path, &err), -1);
	CHECK_HAS(err.msg, path);
	CHECK_HAS(err.msg, ": cannot read: ");
	CHECK_HAS(err.msg, strerror(ENOENT));
	CHECK_HAS(err.msg, "check the path");
	grid_free(&g);
}

static void check_defaults(void)
{
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	static const double want[N_SETTINGS] = {
	        [SET_LEARNING_RATE] = 0.07, [SET_BATCH_SIZE] = 200,
	        [SET_EPOCHS] = 200,         [SET_N_TRAIN] = 50000,
	        [SET_N_TEST] = 20000,       [SET_N_PROBE] = 1000,
	        [SET_FEEDBACK_K] = 1,       [SET_KP_DECAY] = 0.001,
	};
	int id;

	current = "defaults";
	CHECK_INT(load_text("defaults", SWEEP, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_STR(g.data_dir, "data/mnist");
	CHECK_HAS(g.path, "defaults.ini");
	CHECK_STR(g.text, SWEEP);
	CHECK_INT(g.split, SPLIT_POOLED);
	CHECK_INT(g.fa_scale, FA_SCALE_LOG_EPOCH);
	CHECK_INT(g.baseline, MODE_BP);
	CHECK_INT(g.max_epochs, 200);
	CHECK_STR(g.settings[SET_LEARNING_RATE].name, "learning_rate");
	CHECK_STR(g.settings[SET_N_PROBE].name, "n_probe");
	for (id = 0; id < N_SETTINGS; id++) {
		CHECK_INT(g.settings[id].axis, AXIS_NONE);
		CHECK_INT(g.settings[id].n_values, 1);
		CHECK_DBL(g.settings[id].values[0], want[id]);
	}

	CHECK_INT(grid_n_trials(&g), 2 * 2 * 3);
	grid_trial_params(&g, grid_n_trials(&g) - 1, &p);
	CHECK_INT(p.mode, MODE_FA);
	CHECK_INT(p.n_hidden, 100);
	CHECK_INT(p.seed, 3);
	CHECK_DBL(p.learning_rate, 0.07);
	CHECK_INT(p.batch_size, 200);
	CHECK_INT(p.n_epochs, 200);
	CHECK_INT(p.n_train, 50000);
	CHECK_INT(p.n_test, 20000);
	CHECK_INT(p.n_probe, 1000);
	CHECK_INT(p.fa_scale, FA_SCALE_LOG_EPOCH);
	CHECK_INT(p.split, SPLIT_POOLED);
	grid_free(&g);
}

static const char lists_ini[] =
        "; every key set, lists in an order that is not sorted\n"
        "[data]\n"
        "dir = /tmp/mnist dir\n"
        "split = standard\n"
        "n_train = 3000\n"
        "n_test = 500\n"
        "n_probe = 100\n"
        "[network]\n"
        "learning_rate = 1e-2\n"
        "batch_size = 32\n"
        "epochs = 7\n"
        "[feedback]\n"
        "fa_scale = constant\n"
        "[sweep]\n"
        "modes = onehot,fa , bp\n"
        "hidden = 1000, 20,100\n"
        "seeds = 3, 10-12, 0, 5 - 6\n"
        "[stats]\n"
        "baseline = fa\n";

static void check_lists(void)
{
	static const enum fw_mode modes[] = {MODE_ONEHOT, MODE_FA, MODE_BP};
	static const int32_t hidden[] = {1000, 20, 100};
	static const int64_t seeds[] = {3, 10, 11, 12, 0, 5, 6};
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t i;

	current = "lists";
	CHECK_INT(load_text("lists", lists_ini, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_STR(g.data_dir, "/tmp/mnist dir");
	CHECK_INT(g.split, SPLIT_STANDARD);
	CHECK_INT(g.fa_scale, FA_SCALE_CONSTANT);
	CHECK_INT(g.baseline, MODE_FA);
	CHECK_INT(g.n_modes, 3);
	for (i = 0; i < 3 && i < g.n_modes; i++)
		CHECK_INT(g.modes[i], modes[i]);
	CHECK_INT(g.n_hidden, 3);
	for (i = 0; i < 3 && i < g.n_hidden; i++)
		CHECK_INT(g.hidden[i], hidden[i]);
	CHECK_INT(g.n_seeds, 7);
	for (i = 0; i < 7 && i < g.n_seeds; i++)
		CHECK_INT(g.seeds[i], seeds[i]);
	CHECK_INT(g.max_epochs, 7);

	grid_trial_params(&g, 0, &p);
	CHECK_INT(p.mode, MODE_ONEHOT);
	CHECK_INT(p.n_hidden, 1000);
	CHECK_INT(p.seed, 3);
	CHECK_DBL(p.learning_rate, 0.01);
	CHECK_INT(p.batch_size, 32);
	CHECK_INT(p.n_epochs, 7);
	CHECK_INT(p.n_train, 3000);
	CHECK_INT(p.n_test, 500);
	CHECK_INT(p.n_probe, 100);
	CHECK_INT(p.fa_scale, FA_SCALE_CONSTANT);
	CHECK_INT(p.split, SPLIT_STANDARD);
	grid_free(&g);
}

/* The keys of the feedback rules and the early checkpoints, with
 * feedback_k zipped to the hidden sizes. */
static void check_feedback_keys(void)
{
	static const char text[] =
	        "[feedback]\n"
	        "onehot_sign = random\n"
	        "feedback_norm = match_w2\n"
	        "feedback_k = 1, 3\n"
	        "kp_decay = 0.01\n"
	        "[output]\n"
	        "early_checkpoints = 4\n"
	        "[sweep]\n"
	        "modes = bp, shallow, sparse, sign, frsf, kp\n"
	        "hidden = 20, 50\n"
	        "seeds = 1\n"
	        "zip = hidden, feedback_k\n";
	struct grid g;
	struct fw_error err;
	struct trial_params p;

	current = "feedback_keys";
	CHECK_INT(load_text("feedback_keys", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.n_modes, 6);
	CHECK_INT(g.modes[5], MODE_KP);
	CHECK_INT(g.onehot_sign, ONEHOT_RANDOM);
	CHECK_INT(g.feedback_norm, NORM_MATCH_W2);
	CHECK_INT(g.early_checkpoints, 4);

	grid_trial_params(&g, grid_trial_index(&g, 2, 1, 0), &p);
	CHECK_INT(p.mode, MODE_SPARSE);
	CHECK_INT(p.n_hidden, 50);
	CHECK_INT(p.feedback_k, 3);
	CHECK_DBL(p.kp_decay, 0.01);
	CHECK_INT(p.early_checkpoints, 4);
	CHECK_INT(p.onehot_sign, ONEHOT_RANDOM);
	CHECK_INT(p.feedback_norm, NORM_MATCH_W2);
	grid_trial_params(&g, grid_trial_index(&g, 2, 0, 0), &p);
	CHECK_INT(p.feedback_k, 1);
	grid_free(&g);
}

static void check_zip_hidden(void)
{
	static const char text[] = "[network]\n"
	                           "learning_rate = 0.1, 0.05, 0.01\n"
	                           "[sweep]\n"
	                           "modes = bp, fa\n"
	                           "hidden = 20, 100, 1000\n"
	                           "seeds = 1-4\n"
	                           "zip = hidden, learning_rate\n";
	static const double rate[] = {0.1, 0.05, 0.01};
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t t, m, h, s;

	current = "zip_hidden";
	CHECK_INT(load_text("zip_hidden", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.settings[SET_LEARNING_RATE].axis, AXIS_HIDDEN);
	CHECK_INT(g.settings[SET_LEARNING_RATE].n_values, 3);
	CHECK_INT(g.settings[SET_EPOCHS].axis, AXIS_NONE);
	for (t = 0; t < grid_n_trials(&g); t++) {
		grid_trial_coords(&g, t, &m, &h, &s);
		grid_trial_params(&g, t, &p);
		CHECK_INT(p.n_hidden, g.hidden[h]);
		CHECK_DBL(p.learning_rate, rate[h]);
		CHECK_INT(p.n_epochs, 200);
	}
	grid_free(&g);
}

/* Epochs zipped to the seeds: max_epochs is the largest, not the first. */
static void check_zip_epochs(void)
{
	static const char text[] = "[network]\n"
	                           "epochs = 5, 50, 10\n"
	                           "batch_size = 100\n"
	                           "[data]\n"
	                           "n_train = 100, 200, 300\n"
	                           "n_probe = 100, 150, 300\n"
	                           "[sweep]\n"
	                           "modes = bp\n"
	                           "hidden = 20\n"
	                           "seeds = 7, 8, 9\n"
	                           "zip = seed, epochs, n_train, n_probe\n";
	static const int32_t epochs[] = {5, 50, 10}; /* by seed 7, 8, 9 */
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t t;

	current = "zip_epochs";
	CHECK_INT(load_text("zip_epochs", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.max_epochs, 50);
	CHECK_INT(g.settings[SET_EPOCHS].axis, AXIS_SEED);
	CHECK_INT(g.settings[SET_N_TRAIN].axis, AXIS_SEED);
	CHECK_INT(g.settings[SET_N_PROBE].axis, AXIS_SEED);
	for (t = 0; t < grid_n_trials(&g); t++) {
		grid_trial_params(&g, t, &p);
		CHECK_INT(p.n_epochs, epochs[p.seed - 7]);
		CHECK_INT(p.n_train, 100 * (p.seed - 6));
	}
	grid_free(&g);
}

/* learning_rate, batch_size and epochs may differ per mode. */
static void check_zip_mode(void)
{
	static const char text[] = "[network]\n"
	                           "learning_rate = 0.5, 0.25\n"
	                           "batch_size = 10, 20\n"
	                           "epochs = 3, 4\n"
	                           "[sweep]\n"
	                           "modes = onehot, bp\n"
	                           "hidden = 20, 30\n"
	                           "seeds = 1\n"
	                           "zip = mode, learning_rate, batch_size, "
	                           "epochs\n";
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t t;
	int onehot;

	current = "zip_mode";
	CHECK_INT(load_text("zip_mode", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.settings[SET_LEARNING_RATE].axis, AXIS_MODE);
	CHECK_INT(g.settings[SET_BATCH_SIZE].axis, AXIS_MODE);
	CHECK_INT(g.settings[SET_EPOCHS].axis, AXIS_MODE);
	CHECK_INT(g.max_epochs, 4);
	for (t = 0; t < grid_n_trials(&g); t++) {
		grid_trial_params(&g, t, &p);
		onehot = p.mode == MODE_ONEHOT;
		CHECK_DBL(p.learning_rate, onehot ? 0.5 : 0.25);
		CHECK_INT(p.batch_size, onehot ? 10 : 20);
		CHECK_INT(p.n_epochs, onehot ? 3 : 4);
	}
	grid_free(&g);
}

/* The bounds of learning_rate named in its message are accepted and are
 * FLT_MIN and FLT_MAX in float. */
static void check_rate_bounds(void)
{
	static const char text[] =
	        "[network]\n"
	        "learning_rate = 1.17549435e-38, "
	        "3.40282347e+38\n" SWEEP "zip = hidden, learning_rate\n";
	struct grid g;
	struct fw_error err;
	const double *rate;

	current = "rate_bounds";
	CHECK_INT(load_text("rate_bounds", text, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.settings[SET_LEARNING_RATE].n_values, 2);
	if (g.settings[SET_LEARNING_RATE].n_values == 2) {
		rate = g.settings[SET_LEARNING_RATE].values;
		CHECK_DBL((float)rate[0], FLT_MIN);
		CHECK_DBL((float)rate[1], FLT_MAX);
	}
	grid_free(&g);
}

/* batch_size equal to n_train is one minibatch per epoch, also when both
 * are zipped; n_train, n_test and n_probe may be zipped to hidden. */
static void check_batch_equals_train(void)
{
	static const char single[] = "[data]\n"
	                             "n_train = 500\n"
	                             "n_probe = 100\n"
	                             "[network]\n"
	                             "batch_size = 500\n" SWEEP;
	static const char zipped[] = "[data]\n"
	                             "n_train = 300, 400\n"
	                             "n_test = 50, 60\n"
	                             "n_probe = 300, 10\n"
	                             "[network]\n"
	                             "batch_size = 300, 400\n" SWEEP
	                             "zip = hidden, batch_size, n_train, "
	                             "n_test, n_probe\n";
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t t, m, h, s;

	current = "batch_equals_train";
	CHECK_INT(load_text("batch_equals_train", single, &g, &err), 0);
	CHECK_STR(err.msg, "");
	grid_trial_params(&g, 0, &p);
	CHECK_INT(p.batch_size, 500);
	CHECK_INT(p.n_train, 500);
	grid_free(&g);

	current = "batch_equals_train_zipped";
	CHECK_INT(load_text("batch_equals_train_zipped", zipped, &g, &err), 0);
	CHECK_STR(err.msg, "");
	CHECK_INT(g.settings[SET_N_TEST].axis, AXIS_HIDDEN);
	for (t = 0; t < grid_n_trials(&g); t++) {
		grid_trial_coords(&g, t, &m, &h, &s);
		grid_trial_params(&g, t, &p);
		CHECK_INT(p.batch_size, h == 0 ? 300 : 400);
		CHECK_INT(p.n_train, p.batch_size);
		CHECK_INT(p.n_test, h == 0 ? 50 : 60);
		CHECK_INT(p.n_probe, h == 0 ? 300 : 10);
	}
	grid_free(&g);
}

static const char big_ini[] = "[sweep]\n"
                              "modes = fa, onehot, bp\n"
                              "hidden = 100, 20, 1000, 50\n"
                              "seeds = 9, 2-4\n";

/* Every flat index maps to coordinates and back, and to the parameters of
 * those coordinates. */
static void check_index_round_trip(void)
{
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t t, m, h, s;

	current = "index_round_trip";
	CHECK_INT(load_text("round_trip", big_ini, &g, &err), 0);
	CHECK_INT(grid_n_trials(&g), 3 * 4 * 4);
	for (t = 0; t < grid_n_trials(&g); t++) {
		grid_trial_coords(&g, t, &m, &h, &s);
		CHECK(m < g.n_modes);
		CHECK(h < g.n_hidden);
		CHECK(s < g.n_seeds);
		CHECK_INT(grid_trial_index(&g, m, h, s), t);
		CHECK_INT(t, (m * g.n_hidden + h) * g.n_seeds + s);
		grid_trial_params(&g, t, &p);
		CHECK_INT(p.mode, g.modes[m]);
		CHECK_INT(p.n_hidden, g.hidden[h]);
		CHECK_INT(p.seed, g.seeds[s]);
	}
	grid_free(&g);
}

/* Returns the position of value in the list, or n. */
static size_t find_seed(const struct grid *g, int64_t seed)
{
	size_t i;

	for (i = 0; i < g->n_seeds && g->seeds[i] != seed; i++)
		;
	return i;
}

static void check_schedule(void)
{
	static const int32_t sizes[] = {1000, 100, 50, 20};
	struct grid g;
	struct fw_error err;
	struct trial_params p;
	size_t order[48];
	int seen[48] = {0};
	size_t i, m, h, s, n;

	current = "schedule";
	CHECK_INT(load_text("schedule", big_ini, &g, &err), 0);
	n = grid_n_trials(&g);
	CHECK_INT(n, 48);
	grid_schedule(&g, order);

	/* Position i contains size i / 12, seed i / 3 % 4 and mode i % 3. */
	for (i = 0; i < n; i++) {
		CHECK(order[i] < n);
		if (order[i] >= n)
			continue;
		seen[order[i]]++;
		grid_trial_coords(&g, order[i], &m, &h, &s);
		grid_trial_params(&g, order[i], &p);
		CHECK_INT(p.n_hidden, sizes[i / 12]);
		CHECK_INT(find_seed(&g, p.seed), i / 3 % 4);
		CHECK_INT(m, i % 3);
	}
	for (i = 0; i < n; i++)
		CHECK_INT(seen[i], 1);
	grid_free(&g);
}

/* A single hidden size and a single trial still schedule. */
static void check_schedule_single(void)
{
	struct grid g;
	struct fw_error err;
	size_t order[1] = {99};

	current = "schedule_single";
	CHECK_INT(load_text("single",
	                    "[sweep]\nmodes = fa\nhidden = 5\nseeds = 0\n"
	                    "[stats]\nbaseline = fa\n",
	                    &g, &err),
	          0);
	CHECK_INT(grid_n_trials(&g), 1);
	grid_schedule(&g, order);
	CHECK_INT(order[0], 0);
	grid_free(&g);
}

/* Comment lines, inline comments, blank lines, CRLF endings, a BOM and an
 * indented key right after a header. */
static void check_comments(void)
{
	static const char text[] =
	        "\xEF\xBB\xBF; a comment-only line\r\n"
	        "# another comment\r\n"
	        "\r\n"
	        "[network] ; inline comment after a section\r\n"
	        "learning_rate = 0.5 ; inline comment\r\n"
	        "epochs = 3;4\r\n"
	        "[sweep]\r\n"
	        "modes = bp ; fa\r\n"
	        "hidden = 20\r\n"
	        "seeds = 1\r\n";
	struct grid g;
	struct fw_error err;

	current = "comments";
	CHECK_INT(load_text("comments", text, &g, &err), -1);
	/* ';' without a blank before it is part of the value. */
	CHECK_HAS(err.msg, "comments.ini:6: [network] epochs = 3;4");
	grid_free(&g);

	fw_error_clear(&err);
	CHECK_INT(grid_parse(&g, "inline.ini",
	                     "\xEF\xBB\xBF; a comment-only line\r\n"
	                     "# another comment\r\n"
	                     "\r\n"
	                     "[network] ; inline comment after a section\r\n"
	                     "learning_rate = 0.5 ; inline comment\r\n"
	                     "[sweep]\r\n"
	                     "  modes = bp ; fa\r\n"
	                     "hidden = 20\r\n"
	                     "seeds = 1\r\n",
	                     &err),
	          0);
	CHECK_STR(err.msg, "");
	CHECK_DBL(g.settings[SET_LEARNING_RATE].values[0], 0.5);
	CHECK_INT(g.n_modes, 1);
	CHECK_INT(g.modes[0], MODE_BP);
	grid_free(&g);
}

/* An unknown section in a file that starts with a BOM names its header. */
static void check_bom_section_line(void)
{
	struct grid g;
	struct fw_error err;

	current = "bom_section_line";
	fw_error_clear(&err);
	CHECK_INT(
	        grid_parse(&g, "bom.ini", "\xEF\xBB\xBF[nope]\nx = 1\n", &err),
	        -1);
	CHECK_HAS(err.msg, "bom.ini:1: unknown section [nope]");
	grid_free(&g);
}

static void check_names(void)
{
	enum fw_mode m;
	int i;

	current = "names";
	for (i = 0; i < N_MODES; i++) {
		CHECK_INT(grid_mode_parse(grid_mode_name((enum fw_mode)i), &m),
		          0);
		CHECK_INT(m, i);
	}
	CHECK_STR(grid_mode_name(MODE_ONEHOT), "onehot");
	CHECK_INT(grid_mode_parse("BP", &m), -1);
	CHECK_INT(grid_mode_parse("", &m), -1);
	CHECK_STR(grid_axis_name(AXIS_MODE), "mode");
	CHECK_STR(grid_axis_name(AXIS_HIDDEN), "hidden");
	CHECK_STR(grid_axis_name(AXIS_SEED), "seed");
}

/* [output] save_weights: every accepted spelling, and the default none. */
static void check_save_weights(void)
{
	static const struct {
		const char *line; /* the key line, or "" for no [output] */
		int initial, final;
		const char *list;
	} cases[] = {
	        {"", 0, 0, "none"},
	        {"save_weights = none\n", 0, 0, "none"},
	        {"save_weights = final\n", 0, 1, "final"},
	        {"save_weights = initial\n", 1, 0, "initial"},
	        {"save_weights = initial, final\n", 1, 1, "initial, final"},
	        {"save_weights = final,initial ; any order\n", 1, 1,
	         "initial, final"},
	};
	char text[256], list[64];
	struct grid g;
	struct fw_error err;

	current = "save_weights";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s%s", SWEEP,
		         cases[i].line[0] ? "[output]\n" : "", cases[i].line);
		CHECK_INT(load_text("save_weights", text, &g, &err), 0);
		CHECK_STR(err.msg, "");
		CHECK_INT(g.save_weights[STAGE_INITIAL], cases[i].initial);
		CHECK_INT(g.save_weights[STAGE_FINAL], cases[i].final);
		CHECK_INT(grid_n_stages(&g), cases[i].initial + cases[i].final);
		grid_stage_list(&g, ", ", list, sizeof(list));
		CHECK_STR(list, cases[i].list);
		grid_free(&g);
	}
	CHECK_STR(grid_stage_name(STAGE_INITIAL), "initial");
	CHECK_STR(grid_stage_name(STAGE_FINAL), "final");
}

/* resume_check rejects a config whose save_weights differs from the
 * file's, naming both values, and accepts the same stages. */
static void check_resume_save_weights(void)
{
	static const struct {
		const char *stored, *now;
		const char *want; /* part of the message, or NULL for a match */
	} cases[] = {
	        {"final", "none",
	         "cannot resume results.h5: [output] save_weights is final in "
	         "the file but none in "},
	        {"none", "initial, final",
	         "save_weights is none in the file but initial, final in "},
	        {"initial, final", "final",
	         "save_weights is initial, final in the file but final in "},
	        {"initial, final", "final, initial", NULL},
	        {"none", "none", NULL},
	};
	char text[256];
	struct grid stored, now;
	struct fw_error err;

	current = "resume_save_weights";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s[output]\nsave_weights = %s\n",
		         SWEEP, cases[i].stored);
		CHECK_INT(load_text("stored", text, &stored, &err), 0);
		snprintf(text, sizeof(text), "%s[output]\nsave_weights = %s\n",
		         SWEEP, cases[i].now);
		CHECK_INT(load_text("now", text, &now, &err), 0);

		fw_error_clear(&err);
		CHECK_INT(resume_check(&stored, &now, "results.h5", &err),
		          cases[i].want != NULL ? -1 : 0);
		if (cases[i].want != NULL) {
			CHECK_HAS(err.msg, cases[i].want);
			CHECK_HAS(err.msg, "now.ini; resume with the config");
		} else {
			CHECK_STR(err.msg, "");
		}
		grid_free(&now);
		grid_free(&stored);
	}
}

static void check_free_zeroed(void)
{
	struct grid g;

	current = "free_zeroed";
	memset(&g, 0, sizeof(g));
	grid_free(&g);
	grid_free(&g);
	CHECK_INT(grid_n_trials(&g), 0);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	snprintf(scratch, sizeof(scratch), "%s", argv[1]);
	if (mkdir(scratch, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", scratch,
		        strerror(errno));
		return 2;
	}

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad_case(&bad_cases[i]);
	check_line_limit();
	for (i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++)
		check_long_case(&long_cases[i]);
	check_missing_file();
	check_max_trials();
	check_defaults();
	check_lists();
	check_feedback_keys();
	check_zip_hidden();
	check_zip_epochs();
	check_zip_mode();
	check_rate_bounds();
	check_batch_equals_train();
	check_index_round_trip();
	check_schedule();
	check_schedule_single();
	check_comments();
	check_bom_section_line();
	check_names();
	check_save_weights();
	check_resume_save_weights();
	check_free_zeroed();

	if (n_failed > 0) {
		fprintf(stderr, "test_grid: %d checks failed\n", n_failed);
		return 1;
	}
	printf("test_grid: all checks passed\n");
	return 0;
}
