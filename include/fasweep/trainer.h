/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One trial: builds the network of a (mode, H, seed), trains it on its split
 * of MNIST and records the per-epoch curves. Single-threaded; scheduling and
 * storage are left to the coordinator. */
#ifndef FASWEEP_TRAINER_H
#define FASWEEP_TRAINER_H

#include <stddef.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"
#include "fasweep/grid.h"

/* The recorded curves, in the order they are stored. */
enum curve_id {
	CURVE_TRAIN_LOSS,           /* mean over the epoch's minibatches */
	CURVE_TEST_LOSS,            /* mean over the test images */
	CURVE_TEST_ACCURACY,        /* fraction of test images right, 0-1 */
	CURVE_FEEDBACK_CORRELATION, /* Pearson r of W2[0:H, :] and B */
	CURVE_ALIGNMENT_ANGLE,      /* degrees, hidden delta vs backprop's */
	N_CURVES
};

enum trial_status { TRIAL_PENDING, TRIAL_DONE, TRIAL_DIVERGED, TRIAL_FAILED };

/* Asks a running trial to stop: requested(ctx) is called before every
 * minibatch and returns non-zero to stop. */
struct trainer_stop {
	int (*requested)(void *ctx);
	void *ctx;
};

#define TRIAL_MESSAGE_MAX 128

/* The result of a finished trial besides its curves. */
struct trial_outcome {
	enum trial_status status;
	double wall_seconds;
	float final_test_accuracy;       /* NaN unless done */
	char message[TRIAL_MESSAGE_MAX]; /* why it diverged or failed, or "" */
};

/* Returns the dataset name of a curve ("train_loss", ...). */
const char *trainer_curve_name(enum curve_id id);

/* Returns the name of a status ("pending", "done", "diverged", "failed"). */
const char *trainer_status_name(enum trial_status status);

/* Pins the linked BLAS to one thread; call once before any trial. */
void trainer_pin_blas(void);

/* Runs one trial. curves has room for N_CURVES x n_points floats, n_points >=
 * p->n_epochs + 1; point 0 is the state before training, point e the state
 * after epoch e. Points that are not computed are set to NaN. A NaN or inf
 * in the loss stops training with status TRIAL_DIVERGED, which is a result,
 * not an error. When stop is not NULL and asks to stop, training ends with
 * status TRIAL_PENDING: the trial is unfinished and must run again. Returns
 * 0 with *out filled, or -1 with err set when the trial cannot run (no
 * memory, too few images); out->status is then TRIAL_FAILED. */
int trainer_run(const struct dataset *ds, const struct trial_params *p,
                const struct trainer_stop *stop, float *curves, size_t n_points,
                struct trial_outcome *out, struct fw_error *err);

#endif
