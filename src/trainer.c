/* SPDX-License-Identifier: GPL-3.0-or-later */
/* trainer.c - runs one trial: the epoch loop, the evaluation after each
 * epoch, and the feedback diagnostics. Network arithmetic lives in net.c. */
#include "fasweep/trainer.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasweep/log.h"
#include "fasweep/net.h"
#include "fasweep/rng.h"

/* Rows per forward pass when measuring loss, accuracy and the angle. */
#define EVAL_ROWS 1000

#define EULER_E 2.71828182845904523536

/* Everything one running trial owns. */
struct trial {
	const struct dataset *ds;
	const struct trial_params *p;
	struct split split;
	struct net net;
	struct net_batch batch; /* max(batch_size, EVAL_ROWS) rows */
	float *d_bp;            /* EVAL_ROWS x H: backprop's hidden delta */
	uint32_t *order;        /* n_train: this epoch's training order */
};

/* Sums over the probe batch for the angle between hidden deltas. */
struct angle_sums {
	double dot;       /* <d_used, d_bp> */
	double norm_used; /* |d_used|^2 */
	double norm_bp;   /* |d_bp|^2 */
};

static const char *const curve_names[N_CURVES] = {
        "train_loss", "test_loss", "test_accuracy", "feedback_correlation",
        "alignment_angle"};

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

/* Scale s of the fa feedback in training epoch `epoch`, counted from 0 so
 * that s = ln(e) = 1 in the first epoch. */
static float feedback_scale(const struct trial_params *p, int epoch)
{
	if (p->mode != MODE_FA || p->fa_scale == FA_SCALE_CONSTANT)
		return 1.0f;
	return (float)log((double)epoch + EULER_E);
}

static void trial_free(struct trial *t)
{
	free(t->order);
	free(t->d_bp);
	net_batch_free(&t->batch);
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
	    net_batch_init(&t->batch, p->n_hidden, rows, err) != 0)
		goto fail;

	t->d_bp = malloc(sizeof(float) * EVAL_ROWS * (size_t)p->n_hidden);
	t->order = malloc(sizeof(uint32_t) * (size_t)p->n_train);
	if (t->d_bp == NULL || t->order == NULL) {
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

/* Pearson r between W2[0:H, :] and the feedback matrix B. */
static double feedback_correlation(const struct net *net)
{
	const float *w = net->w2;
	const float *b = net_feedback(net);
	size_t n = (size_t)net->n_hidden * NET_OUTPUTS;
	double mw = 0.0, mb = 0.0, sww = 0.0, sbb = 0.0, swb = 0.0;

	for (size_t i = 0; i < n; i++) {
		mw += w[i];
		mb += b[i];
	}
	mw /= (double)n;
	mb /= (double)n;
	for (size_t i = 0; i < n; i++) {
		double dw = w[i] - mw, db = b[i] - mb;

		sww += dw * dw;
		sbb += db * db;
		swb += dw * db;
	}
	return swb / sqrt(sww * sbb);
}

/* Adds one probe chunk's hidden deltas to the angle sums: the mode's
 * feedback against backprop's W2[0:H, :], both from the same d_out. */
static void add_angle_chunk(struct trial *t, size_t rows, float scale,
                            struct angle_sums *s)
{
	size_t n = rows * (size_t)t->p->n_hidden;

	net_hidden_delta(t->net.w2, 1.0f, t->p->n_hidden, &t->batch, rows);
	memcpy(t->d_bp, t->batch.d_hid, sizeof(float) * n);
	net_hidden_delta(net_feedback(&t->net), scale, t->p->n_hidden,
	                 &t->batch, rows);
	for (size_t i = 0; i < n; i++) {
		double a = t->batch.d_hid[i], b = t->d_bp[i];

		s->dot += a * b;
		s->norm_used += a * a;
		s->norm_bp += b * b;
	}
}

/* Angle in degrees between the stacked probe-batch hidden delta of the mode
 * and that of backprop. The probe batch is the first n_probe training
 * images of the split. */
static double alignment_angle(struct trial *t, float scale)
{
	struct angle_sums s = {0.0, 0.0, 0.0};
	size_t n = (size_t)t->p->n_probe;
	double c;

	for (size_t start = 0; start < n; start += EVAL_ROWS) {
		size_t rows = n - start < EVAL_ROWS ? n - start : EVAL_ROWS;

		net_batch_load(&t->batch, t->ds, t->split.train + start, rows);
		net_forward(&t->net, &t->batch, rows);
		net_output_delta(&t->batch, rows, NULL);
		add_angle_chunk(t, rows, scale, &s);
	}
	c = s.dot / sqrt(s.norm_used * s.norm_bp);
	if (c > 1.0)
		c = 1.0;
	if (c < -1.0)
		c = -1.0;
	return acos(c) * (180.0 / 3.14159265358979323846);
}

/* Records the state after `epoch` epochs; train_loss is given. */
static void record(struct trial *t, float *curves, size_t n_points, int epoch,
                   double train_loss)
{
	double test_loss, accuracy;
	float scale = feedback_scale(t->p, epoch);

	evaluate(t, t->split.test, t->split.n_test, &test_loss, &accuracy);
	curves[CURVE_TRAIN_LOSS * n_points + epoch] = (float)train_loss;
	curves[CURVE_TEST_LOSS * n_points + epoch] = (float)test_loss;
	curves[CURVE_TEST_ACCURACY * n_points + epoch] = (float)accuracy;
	curves[CURVE_FEEDBACK_CORRELATION * n_points + epoch] =
	        (float)feedback_correlation(&t->net);
	curves[CURVE_ALIGNMENT_ANGLE * n_points + epoch] =
	        (float)alignment_angle(t, scale);
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

/* Trains one epoch (from 1). Returns the mean minibatch loss, or NaN/inf
 * as soon as a minibatch loss is not finite; *bad_batch then names it.
 * Returns 0 with *stopped set when stop requests an end before a
 * minibatch. */
static double train_epoch(struct trial *t, int epoch,
                          const struct trainer_stop *stop, size_t *bad_batch,
                          int *stopped)
{
	size_t n = t->split.n_train, bs = (size_t)t->p->batch_size;
	float scale = feedback_scale(t->p, epoch - 1);
	float lr = (float)t->p->learning_rate;
	double sum = 0.0;
	size_t n_batches = 0;

	shuffle_order(t, epoch);
	for (size_t start = 0; start < n; start += bs, n_batches++) {
		size_t rows = n - start < bs ? n - start : bs;
		double loss;

		if (stop_requested(stop)) {
			*stopped = 1;
			return 0.0;
		}
		net_batch_load(&t->batch, t->ds, t->order + start, rows);
		net_forward(&t->net, &t->batch, rows);
		loss = net_output_delta(&t->batch, rows, NULL) / (double)rows;
		if (!isfinite(loss)) {
			*bad_batch = n_batches + 1;
			return loss;
		}
		net_hidden_delta(net_feedback(&t->net), scale, t->p->n_hidden,
		                 &t->batch, rows);
		net_update(&t->net, &t->batch, rows, lr);
		sum += loss;
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
 * scale that record() applies at this epoch, so fa's R is multiplied by
 * s(epoch) in float, the scale of this curve point's alignment angle. */
static void weights_stage(const struct trial *t, const struct trial_weights *w,
                          enum weight_stage st, int epoch)
{
	size_t h = (size_t)t->p->n_hidden;
	size_t n_b = h * NET_OUTPUTS;
	const float *b = net_feedback(&t->net);
	float scale = feedback_scale(t->p, epoch);

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
	fill_nan(curves, N_CURVES * n_points);
	if (weights != NULL)
		weights_clear(weights, p->n_hidden);
	if (trial_init(&t, ds, p, err) != 0) {
		snprintf(out->message, sizeof(out->message), "%.*s",
		         (int)sizeof(out->message) - 1, err->msg);
		out->wall_seconds = log_now() - t0;
		return -1;
	}

	/* Epoch 0: the initial state, train loss over the whole split. */
	evaluate(&t, t.split.train, t.split.n_train, &loss, NULL);
	record(&t, curves, n_points, 0, loss);
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
		record(&t, curves, n_points, epoch, loss);
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
