/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One trial: builds the network of a (mode, H, seed), trains it on its split
 * of MNIST and records the per-epoch curves. Single-threaded; scheduling and
 * storage are left to the coordinator. */
#ifndef FASWEEP_TRAINER_H
#define FASWEEP_TRAINER_H

#include <stddef.h>
#include <stdint.h>

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
	CURVE_FEEDBACK_COSINE,      /* cosine of W2[0:H, :] and B */
	CURVE_FEEDBACK_NORM_RATIO,  /* |B| / |W2[0:H, :]|, Frobenius */
	CURVE_DELTA_NORM_RATIO,     /* |d_hid used| / |d_hid of bp| */
	CURVE_ALIGNMENT_ANGLE_MEAN, /* degrees, mean of per-example angles */
	CURVE_UPDATE_ANGLE,         /* degrees, W1 update vs backprop's */
	CURVE_FEEDBACK_CONCORDANCE, /* fraction with e^T W2^T B e > 0 */
	CURVE_SATURATION_FRACTION,  /* fraction of h below 0.05 or above 0.95 */
	CURVE_SIGMOID_SLOPE,        /* mean h (1 - h) */
	N_CURVES
};

/* The curves measured on the probe batch or from the weights, the ones
 * after the test accuracy. */
#define FIRST_PROBE_CURVE CURVE_FEEDBACK_CORRELATION

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

/* Buffers for the weights and images of a trial that
 * trainer_run_with_weights fills. A NULL pointer skips what it would
 * receive, and the three pointers of one stage are either all NULL or all
 * set. The trainer first fills every matrix with NaN and both index arrays
 * with UINT32_MAX, so a stage the trial does not reach (the final stage of
 * a diverged, stopped or failed trial) stays NaN. */
struct trial_weights {
	float *w1[N_STAGES];       /* 785 x H at each stage, row-major */
	float *w2[N_STAGES];       /* (H + 1) x 10 */
	float *feedback[N_STAGES]; /* H x 10: B as the trainer applies it */
	uint32_t *train_index;     /* n_train: the split's training images */
	uint32_t *test_index;      /* n_test: its test images */
	size_t n_train;            /* length of train_index, p->n_train */
	size_t n_test;             /* length of test_index, p->n_test */
};

/* Returns the dataset name of a curve ("train_loss", ...). */
const char *trainer_curve_name(enum curve_id id);

/* Returns the name of a status ("pending", "done", "diverged", "failed"). */
const char *trainer_status_name(enum trial_status status);

/* Pins the linked BLAS to one thread; call once before any trial. */
void trainer_pin_blas(void);

/* Runs one trial. curves has room for N_CURVES x n_points floats, n_points >=
 * p->n_epochs + 1, followed by N_CURVES x p->early_checkpoints floats.
 * Curve c of point e is curves[c n_points + e]: point 0 is the state before
 * training, point e the state after epoch e. Curve c of checkpoint k (from
 * 0) inside the first epoch is curves[N_CURVES n_points + c N + k] with N
 * = p->early_checkpoints. Points that are not computed are set to NaN. A NaN or
 * inf in the loss stops training with status TRIAL_DIVERGED, which is a result,
 * not an error. When stop is not NULL and requests a stop, training ends with
 * status TRIAL_PENDING: the trial is unfinished and must run again. Returns
 * 0 with *out filled, or -1 with err set when the trial cannot run (no
 * memory, too few images); out->status is then TRIAL_FAILED. */
int trainer_run(const struct dataset *ds, const struct trial_params *p,
                const struct trainer_stop *stop, float *curves, size_t n_points,
                struct trial_outcome *out, struct fw_error *err);

/* Runs one trial like trainer_run and also stores, when weights is not
 * NULL, its split as indices into ds in drawn order, and W1, W2 and the
 * feedback matrix B at each stage that has pointers. STAGE_INITIAL is the
 * state before any update. STAGE_FINAL is the state after the last epoch,
 * stored only when the trial is done. B is the matrix of the curve point of
 * that stage times the gain applied there (feedback_gain). That is
 * W2[0:H, :] for bp and s(epoch) R for fa, with the scale s of [feedback]
 * fa_scale and the product rounded to float. It is the fixed matrix for
 * onehot, zero for shallow, and the current B of the other modes. The
 * curves are the same as without weights, bit for bit. */
int trainer_run_with_weights(const struct dataset *ds,
                             const struct trial_params *p,
                             const struct trainer_stop *stop, float *curves,
                             size_t n_points,
                             const struct trial_weights *weights,
                             struct trial_outcome *out, struct fw_error *err);

#endif
