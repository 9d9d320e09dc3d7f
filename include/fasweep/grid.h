/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The sweep grid: parses the INI file, validates every setting and expands
 * modes x hidden sizes x seeds into trials with their resolved settings.
 * Loading data and running trials are left to other modules. */
#ifndef FASWEEP_GRID_H
#define FASWEEP_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"

/* Feedback rule of a trial: which matrix B carries output errors back. */
enum fw_mode {
	MODE_BP,      /* B = W2[0:H, :], the forward weights */
	MODE_FA,      /* B = s(epoch) * R, R fixed random */
	MODE_ONEHOT,  /* B[j, j mod 10] = 1 or sign(R), else 0 */
	MODE_SHALLOW, /* no feedback: W1 is never updated */
	MODE_SPARSE,  /* k entries of R per row, balanced over outputs */
	MODE_SIGN,    /* B = sign(W2[0:H, :]) / sqrt(H + 1) */
	MODE_FRSF,    /* B = |R| * sign(W2[0:H, :]) */
	MODE_KP,      /* Kolen-Pollack: B gets W2's update and decay */
	N_MODES
};

/* The INI names of all modes, for messages. */
#define GRID_MODE_LIST "bp, fa, onehot, shallow, sparse, sign, frsf, kp"

/* [feedback] onehot_sign: the sign of onehot's single entry per row. */
enum onehot_sign {
	ONEHOT_POSITIVE, /* every entry 1 */
	ONEHOT_RANDOM    /* the sign of R's entry at the same place */
};

/* [feedback] feedback_norm: how B is scaled before it is applied. */
enum feedback_norm {
	NORM_AS_DRAWN, /* as the mode defines it */
	NORM_MATCH_W2  /* each epoch, |B|_F set to |W2[0:H, :]|_F */
};

/* Scale s(epoch) of the fa feedback matrix. */
enum fa_scale {
	FA_SCALE_LOG_EPOCH, /* s = ln(epoch + e), epoch counted from 0 */
	FA_SCALE_CONSTANT   /* s = 1 */
};

/* Stages of a trial at which [output] save_weights stores its weights, in
 * the order of the stage axis of the results file. */
enum weight_stage {
	STAGE_INITIAL, /* before the first update: the weights of epoch 0 */
	STAGE_FINAL,   /* after the last epoch of the trial */
	N_STAGES
};

/* Default of [sweep] max_trials, the largest number of trials a grid may
 * have. The replication has 360 trials, so a grid of millions more likely
 * comes from a typo in a range than from a sweep anyone means to run. */
#define GRID_DEFAULT_MAX_TRIALS 1000000

/* The axes of the grid, in the order of the curve arrays. */
enum grid_axis { AXIS_MODE, AXIS_HIDDEN, AXIS_SEED, N_AXES, AXIS_NONE = -1 };

/* Numeric settings. Each has one value, or one value per entry of an axis
 * when it is zipped to that axis. */
enum grid_setting_id {
	SET_LEARNING_RATE, /* [network] learning_rate */
	SET_BATCH_SIZE,    /* [network] batch_size */
	SET_EPOCHS,        /* [network] epochs */
	SET_N_TRAIN,       /* [data] n_train */
	SET_N_TEST,        /* [data] n_test */
	SET_N_PROBE,       /* [data] n_probe: probe images for the angle */
	SET_FEEDBACK_K,    /* [feedback] feedback_k: outputs per unit, sparse */
	SET_KP_DECAY,      /* [feedback] kp_decay: weight decay per step, kp */
	N_SETTINGS
};

struct grid_setting {
	const char *name;    /* the INI key, e.g. "learning_rate" */
	enum grid_axis axis; /* AXIS_NONE unless zipped */
	size_t n_values;     /* 1, or the length of the axis it is zipped to */
	double *values;      /* n_values; integers are stored exactly */
};

/* Everything one trial needs, with zipped settings resolved. */
struct trial_params {
	enum fw_mode mode;
	int32_t n_hidden;
	int64_t seed;
	double learning_rate;
	int32_t batch_size;
	int32_t n_epochs;
	int32_t n_train;
	int32_t n_test;
	int32_t n_probe;
	int32_t feedback_k;
	double kp_decay;
	int32_t early_checkpoints;
	enum fa_scale fa_scale;
	enum onehot_sign onehot_sign;
	enum feedback_norm feedback_norm;
	enum split_kind split;
};

struct grid {
	char *path;             /* the INI file as named by the user */
	char *text;             /* the INI file's text, verbatim */
	char *data_dir;         /* [data] dir as written; a relative path is
	                           taken from the current directory */
	enum split_kind split;  /* [data] split */
	enum fa_scale fa_scale; /* [feedback] fa_scale */
	enum onehot_sign onehot_sign;     /* [feedback] onehot_sign */
	enum feedback_norm feedback_norm; /* [feedback] feedback_norm */
	int32_t early_checkpoints;        /* [output] early_checkpoints */
	enum fw_mode baseline; /* [stats] baseline, must be one of modes */
	size_t n_modes;
	enum fw_mode modes[N_MODES]; /* [sweep] modes, in file order */
	size_t n_hidden;
	int32_t *hidden; /* [sweep] hidden, in file order */
	size_t n_seeds;
	int64_t *seeds; /* [sweep] seeds, in file order */
	struct grid_setting settings[N_SETTINGS];
	int32_t max_epochs; /* largest value of epochs over all trials */
	int64_t max_trials; /* [sweep] max_trials: grid_parse rejects a grid
	                       of more trials */
	int save_weights[N_STAGES]; /* [output] save_weights: 1 for each
	                               stage whose weights are stored */
};

/* Returns the INI name of a mode ("bp", "fa", "onehot", ...). */
const char *grid_mode_name(enum fw_mode mode);

/* Sets *mode from its INI name; returns 0, or -1 if the name is unknown. */
int grid_mode_parse(const char *name, enum fw_mode *mode);

/* Returns the name of an axis ("mode", "hidden", "seed"). */
const char *grid_axis_name(enum grid_axis axis);

/* Returns the INI name of a onehot_sign or feedback_norm value. */
const char *grid_onehot_sign_name(enum onehot_sign sign);
const char *grid_feedback_norm_name(enum feedback_norm norm);

/* Returns the INI name of a stage ("initial", "final"). */
const char *grid_stage_name(enum weight_stage stage);

/* Returns how many stages [output] save_weights stores, 0 for none. */
size_t grid_n_stages(const struct grid *g);

/* Writes the stored stages' names to buf, joined by sep, or "none". */
void grid_stage_list(const struct grid *g, const char *sep, char *buf,
                     size_t size);

/* Parses INI text read from path and validates the whole grid. Errors name
 * the file, the line where known, the key and the value, and state what to do.
 * Returns 0, or -1 with err set and g left safe to grid_free. */
int grid_parse(struct grid *g, const char *path, const char *text,
               struct fw_error *err);

/* Reads the file at path and calls grid_parse. */
int grid_load(struct grid *g, const char *path, struct fw_error *err);

/* Releases what grid_parse allocated; safe on a zeroed struct. */
void grid_free(struct grid *g);

/* Returns 1 if mode is among the grid's modes, else 0. */
int grid_has_mode(const struct grid *g, enum fw_mode mode);

/* Returns the number of trials, n_modes * n_hidden * n_seeds. */
size_t grid_n_trials(const struct grid *g);

/* Returns the flat trial index of (mode_i, hidden_i, seed_i), the position
 * in the [mode][hidden][seed] curve arrays. */
size_t grid_trial_index(const struct grid *g, size_t mode_i, size_t hidden_i,
                        size_t seed_i);

/* Splits a flat trial index into its three axis indices. */
void grid_trial_coords(const struct grid *g, size_t trial, size_t *mode_i,
                       size_t *hidden_i, size_t *seed_i);

/* Fills p with the settings of a flat trial index. */
void grid_trial_params(const struct grid *g, size_t trial,
                       struct trial_params *p);

/* Writes all flat trial indices to order[] in the order trials are handed
 * out: largest hidden size first, then seed, then mode, so the modes of one
 * (H, seed) run close together. order must hold grid_n_trials entries. */
void grid_schedule(const struct grid *g, size_t *order);

#endif
