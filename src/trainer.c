/* SPDX-License-Identifier: GPL-3.0-or-later */
/* trainer.c - runs one trial: the epoch loop and the record of every curve
 * after each epoch and at the checkpoints inside the first. Network
 * arithmetic lives in net.c, the feedback rules in feedback.c and the
 * probe diagnostics in probe.c. */
#include "fasweep/trainer.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasweep/feedback.h"
#include "fasweep/log.h"
#include "fasweep/net.h"
#include "fasweep/probe.h"
#include "fasweep/rng.h"

/* Rows per forward pass when measuring loss, accuracy and the probe. */
#define EVAL_ROWS 1000

/* Destination of one point of every curve in record(): curve c goes to
 * base[c * stride + point]. */
struct curve_slot {
	float *base;
	size_t stride;
	size_t point;
};

/* Everything one running trial owns. */
struct trial {
	const struct dataset *ds;
	const struct trial_params *p;
	struct split split;
	struct net net;
	struct feedback feedback;
	struct probe probe;
	struct net_batch batch; /* max(batch_size, EVAL_ROWS) rows */
	uint32_t *order;        /* n_train: this epoch's training order */
	float *early;           /* N_CURVES x early_checkpoints, or NULL */
};

static const char *const curve_names[N_CURVES] = {
        "train_loss",           "test_loss",
        "test_accuracy",        "feedback_correlation",
        "alignment_angle",      "feedback_cosine",
        "feedback_norm_ratio",  "delta_norm_ratio",
        "alignment_angle_mean", "update_angle",
        "feedback_concordance", "saturation_fraction",
        "sigmoid_slope"};

static const char *const status_names[] = {"pending", "done", "diverged",
                                           "failed"};

const char *trainer_curve_name(enum curve_id id)
{
	return curve_names[id];
}

const char *trainer_status_name(enum trial_status status)
{
	return status_names[status];
}

/* OpenBLAS exports this; other BLAS libraries do not, so it is weak. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

void trainer_pin_blas(void)
{
	if (openblas_set_num_threads != NULL)
		openblas_set_num_threads(1);
}

static void trial_free(struct trial *t)
{
	free(t->order);
	net_batch_free(&t->batch);
	probe_free(&t->probe);
	feedback_free(&t->feedback);
	net_free(&t->net);
	split_free(&t->split);
}

static int trial_init(struct trial *t, const struct dataset *ds,
                      const struct trial_params *p, struct fw_error *err)
{
	size_t rows =
	        p->batch_size > EVAL_ROWS ? (size_t)p->batch_size : EVAL_ROWS;

	memset(t, 0, sizeof(*t));
	t->ds = ds;
	t->p = p;
	if (dataset_split(ds, p->split, (size_t)p->n_train, (size_t)p->n_test,
	                  (uint64_t)p->seed, (uint32_t)p->n_hidden, &t->split,
	                  err) != 0)
		return -1;
	if (net_init(&t->net, p->mode, p->n_hidden, p->seed, err) != 0 ||
	    feedback_init(&t->feedback, &t->net, p, err) != 0 ||
	    probe_init(&t->probe, p->n_hidden, EVAL_ROWS, err) != 0 ||
	    net_batch_init(&t->batch, p->n_hidden, rows, err) != 0)
		goto fail;

	t->order = malloc(sizeof(uint32_t) * (size_t)p->n_train);
	if (t->order == NULL) {
		fw_error_set(err,
		             "out of memory for a trial with %d training "
		             "images",
		             (int)p->n_train);
		goto fail;
	}
	return 0;

fail:
	trial_free(t);
	return -1;
}

/* Mean loss and accuracy over n images given by idx, in chunks. */
static void evaluate(struct trial *t, const uint32_t *idx, size_t n,
                     double *mean_loss, double *accuracy)
{
	double loss = 0.0;
	size_t correct = 0;

	for (size_t start = 0; start < n; start += EVAL_ROWS) {
		size_t rows = n - start < EVAL_ROWS ? n - start : EVAL_ROWS;
		size_t right;

		net_batch_load(&t->batch, t->ds, idx + start, rows);
		net_forward(&t->net, &t->batch, rows);
		loss += net_output_delta(&t->batch, rows, &right);
		correct += right;
	}
	*mean_loss = loss / (double)n;
	if (accuracy != NULL)
		*accuracy = (double)correct / (double)n;
}

/* Records the state of the network as point slot->point of every curve,
 * with the feedback gain given; train_loss is given. */
static void record(struct trial *t, const struct curve_slot *slot,
                   double train_loss, float gain)
{
	double v[N_CURVES];

	evaluate(t, t->split.test, t->split.n_test, &v[CURVE_TEST_LOSS],
	         &v[CURVE_TEST_ACCURACY]);
	v[CURVE_TRAIN_LOSS] = train_loss;
	probe_measure(&t->probe, &t->net, net_feedback(&t->net), gain,
	              &t->batch, t->ds, t->split.train, (size_t)t->p->n_probe,
	              v);
	for (int c = 0; c < N_CURVES; c++)
		slot->base[(size_t)c * slot->stride + slot->point] =
		        (float)v[c];
}

/* Records the state after `epoch` epochs with the gain the next epoch
 * starts with. */
static void record_epoch(struct trial *t, float *curves, size_t n_points,
                         int epoch, double train_loss)
{
	struct curve_slot slot = {curves, n_points, (size_t)epoch};

	feedback_refresh(&t->feedback, &t->net);
	record(t, &slot, train_loss,
	       feedback_gain(&t->feedback, &t->net, epoch));
}

/* Shuffles the training order for `epoch` (from 1) with its own stream, so
 * the order depends only on (seed, H, epoch). */
static void shuffle_order(struct trial *t, int epoch)
{
	struct rng r;
	size_t n = t->split.n_train;

	rng_init(&r, (uint64_t)t->p->seed, (uint32_t)t->p->n_hidden, RNG_ORDER,
	         (uint32_t)epoch);
	memcpy(t->order, t->split.train, sizeof(uint32_t) * n);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rng_below(&r, i + 1);
		uint32_t tmp = t->order[i];

		t->order[i] = t->order[j];
		t->order[j] = tmp;
	}
}

static int stop_requested(const struct trainer_stop *stop)
{
	return stop != NULL && stop->requested(stop->ctx);
}

/* Returns the number of minibatches of the first epoch after which
 * checkpoint k (from 1) is recorded: floor(k n_batches / (N + 1)) for N
 * checkpoints, so they split the epoch into nearly equal parts. */
static size_t checkpoint_batches(const struct trial *t, size_t k)
{
	size_t bs = (size_t)t->p->batch_size;
	size_t n_batches = (t->split.n_train + bs - 1) / bs;

	return k * n_batches / ((size_t)t->p->early_checkpoints + 1);
}

/* Records the next checkpoint inside the first epoch if it falls after
 * done minibatches whose losses add up to sum. */
static void maybe_checkpoint(struct trial *t, size_t done, double sum,
                             float gain, size_t *next)
{
	struct curve_slot slot = {t->early, (size_t)t->p->early_checkpoints,
	                          *next};

	if (*next >= (size_t)t->p->early_checkpoints ||
	    checkpoint_batches(t, *next + 1) != done)
		return;
	feedback_refresh(&t->feedback, &t->net);
	record(t, &slot, sum / (double)done, gain);
	(*next)++;
}

/* Trains on one minibatch of rows images starting at order[start].
 * Returns the mean loss of its images before the update. */
static double train_batch(struct trial *t, size_t start, size_t rows,
                          float gain)
{
	float lr = (float)t->p->learning_rate;
	double loss;

	net_batch_load(&t->batch, t->ds, t->order + start, rows);
	net_forward(&t->net, &t->batch, rows);
	loss = net_output_delta(&t->batch, rows, NULL) / (double)rows;
	if (!isfinite(loss))
		return loss;

	feedback_refresh(&t->feedback, &t->net);
	if (feedback_trains_hidden(&t->feedback))
		net_hidden_delta(net_feedback(&t->net), gain, t->p->n_hidden,
		                 &t->batch, rows);
	feedback_update(&t->feedback, &t->net, &t->batch, rows, lr);
	return loss;
}

/* Trains one epoch (from 1). Returns the mean minibatch loss, or NaN/inf
 * as soon as a minibatch loss is not finite; *bad_batch then names it.
 * Returns 0 with *stopped set when stop requests an end before a
 * minibatch. The first epoch also records the early checkpoints. */
static double train_epoch(struct trial *t, int epoch,
                          const struct trainer_stop *stop, size_t *bad_batch,
                          int *stopped)
{
	size_t n = t->split.n_train, bs = (size_t)t->p->batch_size;
	double sum = 0.0;
	size_t n_batches = 0, next_checkpoint = 0;
	float gain;

	feedback_refresh(&t->feedback, &t->net);
	gain = feedback_gain(&t->feedback, &t->net, epoch - 1);
	shuffle_order(t, epoch);
	for (size_t start = 0; start < n; start += bs) {
		size_t rows = n - start < bs ? n - start : bs;
		double loss;

		if (stop_requested(stop)) {
			*stopped = 1;
			return 0.0;
		}
		loss = train_batch(t, start, rows, gain);
		n_batches++;
		if (!isfinite(loss)) {
			*bad_batch = n_batches;
			return loss;
		}
		sum += loss;
		if (epoch == 1 && t->early != NULL)
			maybe_checkpoint(t, n_batches, sum, gain,
			                 &next_checkpoint);
	}
	return sum / (double)n_batches;
}

static void fill_nan(float *curves, size_t n)
{
	for (size_t i = 0; i < n; i++)
		curves[i] = NAN;
}

/* Sets every matrix of weights to NaN and every index to UINT32_MAX. */
static void weights_clear(const struct trial_weights *w, int32_t n_hidden)
{
	size_t h = (size_t)n_hidden;

	for (int st = 0; st < N_STAGES; st++) {
		if (w->w1[st] == NULL)
			continue;
		fill_nan(w->w1[st], NET_INPUTS * h);
		fill_nan(w->w2[st], (h + 1) * NET_OUTPUTS);
		fill_nan(w->feedback[st], h * NET_OUTPUTS);
	}
	for (size_t i = 0; w->train_index != NULL && i < w->n_train; i++)
		w->train_index[i] = UINT32_MAX;
	for (size_t i = 0; w->test_index != NULL && i < w->n_test; i++)
		w->test_index[i] = UINT32_MAX;
}

/* Copies the split's image indices into w. */
static void weights_split(const struct trial *t, const struct trial_weights *w)
{
	assert(w->n_train == t->split.n_train);
	assert(w->n_test == t->split.n_test);
	if (w->train_index != NULL)
		memcpy(w->train_index, t->split.train,
		       sizeof(uint32_t) * t->split.n_train);
	if (w->test_index != NULL)
		memcpy(w->test_index, t->split.test,
		       sizeof(uint32_t) * t->split.n_test);
}

/* Copies W1, W2 and B after `epoch` epochs into stage st of w. B gets the
 * gain that record_epoch() applies at this epoch, so fa's R is multiplied
 * by s(epoch) in float, the gain of this curve point's alignment angle. */
static void weights_stage(const struct trial *t, const struct trial_weights *w,
                          enum weight_stage st, int epoch)
{
	size_t h = (size_t)t->p->n_hidden;
	size_t n_b = h * NET_OUTPUTS;
	const float *b = net_feedback(&t->net);
	float scale = feedback_gain(&t->feedback, &t->net, epoch);

	if (w->w1[st] == NULL)
		return;
	memcpy(w->w1[st], t->net.w1, sizeof(float) * NET_INPUTS * h);
	memcpy(w->w2[st], t->net.w2, sizeof(float) * (h + 1) * NET_OUTPUTS);
	for (size_t i = 0; i < n_b; i++)
		w->feedback[st][i] = scale * b[i];
}

int trainer_run(const struct dataset *ds, const struct trial_params *p,
                const struct trainer_stop *stop, float *curves, size_t n_points,
                struct trial_outcome *out, struct fw_error *err)
{
	return trainer_run_with_weights(ds, p, stop, curves, n_points, NULL,
	                                out, err);
}

int trainer_run_with_weights(const struct dataset *ds,
                             const struct trial_params *p,
                             const struct trainer_stop *stop, float *curves,
                             size_t n_points,
                             const struct trial_weights *weights,
                             struct trial_outcome *out, struct fw_error *err)
{
	struct trial t;
	double t0 = log_now(), loss;

	memset(out, 0, sizeof(*out));
	out->status = TRIAL_FAILED;
	out->final_test_accuracy = NAN;
	fill_nan(curves, N_CURVES * (n_points + (size_t)p->early_checkpoints));
	if (weights != NULL)
		weights_clear(weights, p->n_hidden);
	if (trial_init(&t, ds, p, err) != 0) {
		snprintf(out->message, sizeof(out->message), "%.*s",
		         (int)sizeof(out->message) - 1, err->msg);
		out->wall_seconds = log_now() - t0;
		return -1;
	}
	if (p->early_checkpoints > 0)
		t.early = curves + N_CURVES * n_points;

	/* Epoch 0: the initial state, train loss over the whole split. */
	evaluate(&t, t.split.train, t.split.n_train, &loss, NULL);
	record_epoch(&t, curves, n_points, 0, loss);
	if (weights != NULL) {
		weights_split(&t, weights);
		weights_stage(&t, weights, STAGE_INITIAL, 0);
	}

	out->status = TRIAL_DONE;
	for (int epoch = 1; epoch <= p->n_epochs; epoch++) {
		size_t bad_batch = 0;
		int stopped = 0;

		loss = train_epoch(&t, epoch, stop, &bad_batch, &stopped);
		if (stopped) {
			out->status = TRIAL_PENDING;
			snprintf(out->message, sizeof(out->message),
			         "stopped in epoch %d", epoch);
			break;
		}
		if (!isfinite(loss)) {
			out->status = TRIAL_DIVERGED;
			snprintf(out->message, sizeof(out->message),
			         "loss became %s in epoch %d, minibatch %zu",
			         isnan(loss) ? "nan" : "inf", epoch, bad_batch);
			break;
		}
		record_epoch(&t, curves, n_points, epoch, loss);
	}

	if (out->status == TRIAL_DONE)
		out->final_test_accuracy =
		        curves[CURVE_TEST_ACCURACY * n_points + p->n_epochs];
	if (out->status == TRIAL_DONE && weights != NULL)
		weights_stage(&t, weights, STAGE_FINAL, p->n_epochs);
	out->wall_seconds = log_now() - t0;
	trial_free(&t);
	return 0;
}
