/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_lockstep.c - times the lockstep group: the modes bp, fa and onehot
 * of one (H, seed) trained at the same time on the same minibatches, and
 * checks with --verify whether their weights equal those of solo training.
 *
 * All three modes start from the same W1 and W2 and see the same images in
 * the same order. So the group loads each minibatch once and stores the
 * three W1 side by side as column blocks of one 785 x 3H row-major matrix.
 * The forward product x W1 and the update x^T d_hid are then one sgemm 3H
 * wide each, and the small H x 10 products stay per mode.
 *
 * From the library it uses net_init, net_batch_init, net_batch_load,
 * net_output_delta and net_feedback. The solo epoch makes the calls of
 * train_epoch in src/trainer.c (net_forward, net_hidden_delta,
 * net_update), and bench_trainer --verify checks that those calls give
 * trainer_run's curves. The library has no entry point that works on a
 * column block of a wider matrix. So this file repeats, operation for
 * operation, the sigmoid and output layer of net_forward, net_hidden_delta
 * with a leading dimension of 3H and the two halves of net_update. It also
 * copies shuffle_order of src/trainer.c, which is static there.
 * Evaluation is not timed. The side-by-side rounds against bench_trainer
 * and PyTorch are left to run.sh.
 *
 * NOTE: with OpenBLAS's FMA kernels (its Haswell and Zen kernels, measured
 * with OpenBLAS 0.3.21) a column block of the wide product differs in the
 * last bits from the narrow product, so --verify reports differences and
 * exits with status 1 there. docs/PERFORMANCE.md records by how much. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "bench_common.h"
#include "bench_peak.h"
#include "fasweep/dataset.h"
#include "fasweep/grid.h"
#include "fasweep/net.h"
#include "fasweep/rng.h"
#include "fasweep/trainer.h"

#define GROUP_MODES 3

#define PEAK_FMA_RUNS    5
#define PEAK_FMA_SECONDS 0.2
#define PEAK_SGEMM_SIZE  2048
#define PEAK_SGEMM_RUNS  3

#define EULER_E 2.71828182845904523536

static const enum fw_mode group_modes[GROUP_MODES] = {MODE_BP, MODE_FA,
                                                      MODE_ONEHOT};

struct lockstep_options {
	const char *data_dir; /* NULL: synthetic images */
	int32_t hidden[MAX_HIDDEN_SIZES];
	size_t n_hidden;
	int n_epochs;         /* timed (or, with --verify, compared) epochs */
	long max_batches;     /* --batches: minibatches per epoch, 0 = all */
	double learning_rate; /* <= 0: default_learning_rate */
	int64_t seed;
	int measure_peak;     /* 0 with --no-peak */
	int verify;           /* --verify */
	const char *tsv_path; /* --tsv, or NULL */
};

/* The three networks of one (H, seed) and their shared minibatch. */
struct lockstep_group {
	const struct dataset *ds;
	int32_t n_hidden; /* H */
	int64_t seed;
	float learning_rate;
	size_t n_batches;                    /* minibatches per epoch */
	struct split split;                  /* the same for every mode */
	struct net nets[GROUP_MODES];        /* W2 and B of each mode; their
	                                        w1 keeps the initial W1 */
	float *w1;                           /* 785 x 3H: W1 of mode m in
	                                        columns [mH, mH + H) */
	float *z;                            /* batch x 3H: x W1 */
	float *d_hid;                        /* batch x 3H: hidden deltas */
	struct net_batch batch[GROUP_MODES]; /* h, y and d_out of each mode;
	                                        x of batch[0] is shared */
	uint32_t *order;                     /* n_train: the epoch's order */
};

/* How one matrix of the group differs from the same matrix trained solo. */
struct matrix_diff {
	size_t n;          /* elements compared */
	size_t n_diff;     /* elements whose bits differ */
	double max_abs;    /* max |lockstep - solo| */
	double max_value;  /* max |solo|, the scale of max_abs */
	uint32_t max_ulps; /* max distance in units in the last place */
};

/* OpenBLAS exports this; other BLAS libraries do not, so it is weak. */
extern char *openblas_get_corename(void) __attribute__((weak));

static const char *blas_core(void)
{
	return openblas_get_corename != NULL ? openblas_get_corename()
	                                     : "unknown";
}

static size_t group_width(const struct lockstep_group *g)
{
	return (size_t)GROUP_MODES * (size_t)g->n_hidden;
}

/* Scale of the fa feedback in training epoch `epoch` (from 0), with
 * configs/replication.ini's fa_scale = log_epoch. */
static float feedback_scale(enum fw_mode mode, int epoch)
{
	if (mode != MODE_FA)
		return 1.0f;
	return (float)log((double)epoch + EULER_E);
}

/* shuffle_order of src/trainer.c: the order depends only on
 * (seed, H, epoch), so all modes of a group see the same one. */
static void shuffle_order(uint32_t *order, const struct split *split,
                          int64_t seed, int32_t n_hidden, int epoch)
{
	struct rng r;
	size_t n = split->n_train;

	rng_init(&r, (uint64_t)seed, (uint32_t)n_hidden, RNG_ORDER,
	         (uint32_t)epoch);
	memcpy(order, split->train, sizeof(uint32_t) * n);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rng_below(&r, i + 1);
		uint32_t tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
}

static void group_free(struct lockstep_group *g)
{
	for (int m = 0; m < GROUP_MODES; m++) {
		net_batch_free(&g->batch[m]);
		net_free(&g->nets[m]);
	}
	free(g->order);
	free(g->d_hid);
	free(g->z);
	free(g->w1);
	split_free(&g->split);
}

/* Copies W1 of every mode into its column block of g->w1. */
static void group_stack_w1(struct lockstep_group *g)
{
	size_t h = (size_t)g->n_hidden, wide = group_width(g);

	for (int m = 0; m < GROUP_MODES; m++)
		for (size_t i = 0; i < NET_INPUTS; i++)
			memcpy(g->w1 + i * wide + (size_t)m * h,
			       g->nets[m].w1 + i * h, sizeof(float) * h);
}

static int group_alloc(struct lockstep_group *g, struct fw_error *err)
{
	size_t wide = group_width(g), bs = BENCH_BATCH_SIZE;

	for (int m = 0; m < GROUP_MODES; m++)
		if (net_init(&g->nets[m], group_modes[m], g->n_hidden, g->seed,
		             err) != 0 ||
		    net_batch_init(&g->batch[m], g->n_hidden, bs, err) != 0)
			return -1;

	g->w1 = malloc(sizeof(float) * NET_INPUTS * wide);
	g->z = malloc(sizeof(float) * bs * wide);
	g->d_hid = malloc(sizeof(float) * bs * wide);
	g->order = malloc(sizeof(uint32_t) * BENCH_N_TRAIN);
	if (!g->w1 || !g->z || !g->d_hid || !g->order)
		return fw_error_set(err,
		                    "out of memory for a lockstep group with "
		                    "H = %d",
		                    (int)g->n_hidden);
	return 0;
}

static int group_init(struct lockstep_group *g, const struct dataset *ds,
                      const struct lockstep_options *o, int32_t n_hidden,
                      struct fw_error *err)
{
	size_t bs = BENCH_BATCH_SIZE;
	size_t all_batches = (BENCH_N_TRAIN + bs - 1) / bs;

	memset(g, 0, sizeof(*g));
	g->ds = ds;
	g->n_hidden = n_hidden;
	g->seed = o->seed;
	g->learning_rate =
	        (float)(o->learning_rate > 0 ? o->learning_rate
	                                     : default_learning_rate(n_hidden));
	g->n_batches =
	        o->max_batches > 0 && (size_t)o->max_batches < all_batches
	                ? (size_t)o->max_batches
	                : all_batches;
	if (dataset_split(ds, SPLIT_POOLED, BENCH_N_TRAIN, BENCH_N_TEST,
	                  (uint64_t)o->seed, (uint32_t)n_hidden, &g->split,
	                  err) != 0)
		return -1;
	if (group_alloc(g, err) != 0) {
		group_free(g);
		return -1;
	}
	group_stack_w1(g);
	return 0;
}

/* Returns the number of images an epoch trains on: all of the split, or
 * the first n_batches minibatches with --batches. */
static size_t epoch_images(const struct lockstep_group *g)
{
	size_t n = g->n_batches * BENCH_BATCH_SIZE;

	return n < g->split.n_train ? n : g->split.n_train;
}

static float sigmoid(float z)
{
	return 1.0f / (1.0f + expf(-z));
}

/* Loads the images once into batch[0].x and gives every mode the labels. */
static void group_load(struct lockstep_group *g, const uint32_t *idx,
                       size_t rows)
{
	net_batch_load(&g->batch[0], g->ds, idx, rows);
	for (int m = 1; m < GROUP_MODES; m++)
		memcpy(g->batch[m].labels, g->batch[0].labels, rows);
}

/* The rest of net_forward for mode m once z holds x W1: h = sigmoid of the
 * mode's block of z with the bias column, then y = sigmoid([h;1] W2). */
static void mode_forward(struct lockstep_group *g, int m, size_t rows)
{
	struct net_batch *b = &g->batch[m];
	int nh = g->n_hidden;
	size_t ld = (size_t)nh + 1, wide = group_width(g);

	for (size_t r = 0; r < rows; r++) {
		const float *z = g->z + r * wide + (size_t)m * (size_t)nh;
		float *row = b->h + r * ld;

		for (int j = 0; j < nh; j++)
			row[j] = sigmoid(z[j]);
		row[nh] = 1.0f;
	}

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows,
	            NET_OUTPUTS, (int)ld, 1.0f, b->h, (int)ld, g->nets[m].w2,
	            NET_OUTPUTS, 0.0f, b->y, NET_OUTPUTS);
	for (size_t i = 0; i < rows * NET_OUTPUTS; i++)
		b->y[i] = sigmoid(b->y[i]);
}

/* Forward pass and output delta of all modes: one x W1 product 3H wide.
 * Stores each mode's mean minibatch loss in loss[m]. */
static void group_forward(struct lockstep_group *g, size_t rows,
                          double loss[GROUP_MODES])
{
	int wide = (int)group_width(g);

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, wide,
	            NET_INPUTS, 1.0f, g->batch[0].x, NET_INPUTS, g->w1, wide,
	            0.0f, g->z, wide);
	for (int m = 0; m < GROUP_MODES; m++) {
		mode_forward(g, m, rows);
		loss[m] = net_output_delta(&g->batch[m], rows, NULL) /
		          (double)rows;
	}
}

/* net_hidden_delta for mode m, written into its column block of d_hid. */
static void mode_hidden_delta(struct lockstep_group *g, int m, size_t rows,
                              float scale)
{
	const struct net_batch *b = &g->batch[m];
	int nh = g->n_hidden;
	size_t ld = (size_t)nh + 1, wide = group_width(g);
	float *block = g->d_hid + (size_t)m * (size_t)nh;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, nh,
	            NET_OUTPUTS, scale, b->d_out, NET_OUTPUTS,
	            net_feedback(&g->nets[m]), NET_OUTPUTS, 0.0f, block,
	            (int)wide);
	for (size_t r = 0; r < rows; r++) {
		const float *h = b->h + r * ld;
		float *d = block + r * wide;

		for (int32_t j = 0; j < nh; j++)
			d[j] *= h[j] * (1.0f - h[j]);
	}
}

/* Backward pass of all modes: per mode the hidden delta (with bp's B the
 * W2 of the forward pass) and W2 -= lr [h;1]^T d_out, then one W1 update
 * 3H wide. */
static void group_backward(struct lockstep_group *g, size_t rows,
                           const float scale[GROUP_MODES])
{
	int nh = g->n_hidden, wide = (int)group_width(g);
	float lr = g->learning_rate;

	for (int m = 0; m < GROUP_MODES; m++) {
		const struct net_batch *b = &g->batch[m];

		mode_hidden_delta(g, m, rows, scale[m]);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nh + 1,
		            NET_OUTPUTS, (int)rows, -lr, b->h, nh + 1, b->d_out,
		            NET_OUTPUTS, 1.0f, g->nets[m].w2, NET_OUTPUTS);
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS, wide,
	            (int)rows, -lr, g->batch[0].x, NET_INPUTS, g->d_hid, wide,
	            1.0f, g->w1, wide);
}

/* Trains the group for epoch `epoch` (from 1) and stores each mode's mean
 * minibatch loss. Returns 0, or -1 with err set when a loss is not finite:
 * a group cannot go on without that mode, so the timing would be wrong. */
static int group_epoch(struct lockstep_group *g, int epoch,
                       double mean_loss[GROUP_MODES], struct fw_error *err)
{
	size_t n = epoch_images(g), bs = BENCH_BATCH_SIZE, n_batches = 0;
	float scale[GROUP_MODES];

	for (int m = 0; m < GROUP_MODES; m++) {
		scale[m] = feedback_scale(group_modes[m], epoch - 1);
		mean_loss[m] = 0.0;
	}
	shuffle_order(g->order, &g->split, g->seed, g->n_hidden, epoch);
	for (size_t start = 0; start < n; start += bs, n_batches++) {
		size_t rows = n - start < bs ? n - start : bs;
		double loss[GROUP_MODES];

		group_load(g, g->order + start, rows);
		group_forward(g, rows, loss);
		for (int m = 0; m < GROUP_MODES; m++) {
			if (!isfinite(loss[m]))
				return fw_error_set(
				        err,
				        "H = %d, mode %s: the loss became %g "
				        "in epoch %d; lower --learning-rate",
				        (int)g->n_hidden,
				        grid_mode_name(group_modes[m]), loss[m],
				        epoch);
			mean_loss[m] += loss[m];
		}
		group_backward(g, rows, scale);
	}
	for (int m = 0; m < GROUP_MODES; m++)
		mean_loss[m] /= (double)n_batches;
	return 0;
}

/* train_epoch of src/trainer.c for one network trained alone, on the
 * group's split. Returns the mean minibatch loss. */
static double solo_epoch(const struct lockstep_group *g, struct net *net,
                         struct net_batch *b, uint32_t *order, int epoch)
{
	size_t n = epoch_images(g), bs = BENCH_BATCH_SIZE, n_batches = 0;
	float scale = feedback_scale(net->mode, epoch - 1);
	double sum = 0.0;

	shuffle_order(order, &g->split, g->seed, g->n_hidden, epoch);
	for (size_t start = 0; start < n; start += bs, n_batches++) {
		size_t rows = n - start < bs ? n - start : bs;

		net_batch_load(b, g->ds, order + start, rows);
		net_forward(net, b, rows);
		sum += net_output_delta(b, rows, NULL) / (double)rows;
		net_hidden_delta(net_feedback(net), scale, g->n_hidden, b,
		                 rows);
		net_update(net, b, rows, g->learning_rate);
	}
	return sum / (double)n_batches;
}

/* Trains mode m of the group alone for n_epochs epochs into *net (free it
 * with net_free) and stores the last epoch's mean loss. Returns 0, or -1
 * with err set. */
static int solo_train(const struct lockstep_group *g, int m, int n_epochs,
                      struct net *net, double *loss, struct fw_error *err)
{
	struct net_batch b;
	uint32_t *order = malloc(sizeof(uint32_t) * g->split.n_train);

	if (order == NULL)
		return fw_error_set(err, "out of memory for a training order");
	if (net_init(net, group_modes[m], g->n_hidden, g->seed, err) != 0) {
		free(order);
		return -1;
	}
	if (net_batch_init(&b, g->n_hidden, BENCH_BATCH_SIZE, err) != 0) {
		net_free(net);
		free(order);
		return -1;
	}
	for (int e = 1; e <= n_epochs; e++)
		*loss = solo_epoch(g, net, &b, order, e);
	net_batch_free(&b);
	free(order);
	return 0;
}

/* Maps the bits of a float to an integer that grows with its value, so
 * the difference of two is their distance in units in the last place.
 * NOTE: -0 and +0 come out 1 apart. */
static uint32_t ordered_bits(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* Compares a rows x cols matrix stored with leading dimension lda (the
 * group's) with one stored with ldb (the solo network's). */
static struct matrix_diff compare_matrix(const float *a, size_t lda,
                                         const float *b, size_t ldb,
                                         size_t rows, size_t cols)
{
	struct matrix_diff d = {rows * cols, 0, 0.0, 0.0, 0};

	for (size_t i = 0; i < rows; i++) {
		for (size_t j = 0; j < cols; j++) {
			float x = a[i * lda + j], y = b[i * ldb + j];
			uint32_t ox = ordered_bits(x), oy = ordered_bits(y);
			uint32_t ulps = ox > oy ? ox - oy : oy - ox;

			if (fabs((double)y) > d.max_value)
				d.max_value = fabs((double)y);
			if (ulps == 0)
				continue;
			d.n_diff++;
			if (fabs((double)x - (double)y) > d.max_abs)
				d.max_abs = fabs((double)x - (double)y);
			if (ulps > d.max_ulps)
				d.max_ulps = ulps;
		}
	}
	return d;
}

static void print_diff(const char *name, const struct matrix_diff *d)
{
	printf("  %s: %zu of %zu elements differ", name, d->n_diff, d->n);
	if (d->n_diff > 0)
		printf(": max |lockstep - solo| %.3g (max |solo| %.3g), "
		       "max %u ulp",
		       d->max_abs, d->max_value, d->max_ulps);
	printf("\n");
}

/* Compares mode m of the trained group with the same mode trained alone
 * and prints the result. Returns the number of differing elements, or -1
 * with err set. */
static long verify_mode(const struct lockstep_group *g, int m, int n_epochs,
                        double group_loss, struct fw_error *err)
{
	size_t h = (size_t)g->n_hidden;
	struct matrix_diff w1, w2;
	struct net solo;
	double solo_loss = NAN;

	if (solo_train(g, m, n_epochs, &solo, &solo_loss, err) != 0)
		return -1;
	w1 = compare_matrix(g->w1 + (size_t)m * h, group_width(g), solo.w1, h,
	                    NET_INPUTS, h);
	w2 = compare_matrix(g->nets[m].w2, NET_OUTPUTS, solo.w2, NET_OUTPUTS,
	                    h + 1, NET_OUTPUTS);
	net_free(&solo);

	printf("H = %d, %s: mean loss of epoch %d lockstep %.9g, solo "
	       "%.9g%s\n",
	       (int)h, grid_mode_name(group_modes[m]), n_epochs, group_loss,
	       solo_loss, group_loss == solo_loss ? "" : " (differ)");
	print_diff("W1", &w1);
	print_diff("W2", &w2);
	return (long)(w1.n_diff + w2.n_diff) + (group_loss != solo_loss);
}

/* Compares the block of mode m of the forward product x W1, 3H wide, with
 * the same product H wide (the call of net_forward). */
static struct matrix_diff check_forward(const struct lockstep_group *g, int m,
                                        size_t rows, float *narrow)
{
	int nh = g->n_hidden;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, nh,
	            NET_INPUTS, 1.0f, g->batch[0].x, NET_INPUTS, g->nets[m].w1,
	            nh, 0.0f, narrow, nh);
	return compare_matrix(g->z + (size_t)m * (size_t)nh, group_width(g),
	                      narrow, (size_t)nh, rows, (size_t)nh);
}

/* Compares mode m's block of the hidden delta written with leading
 * dimension 3H with net_hidden_delta's, from the same d_out and h. */
static struct matrix_diff check_delta(struct lockstep_group *g, int m,
                                      size_t rows, float scale)
{
	size_t nh = (size_t)g->n_hidden;

	mode_hidden_delta(g, m, rows, scale);
	net_hidden_delta(net_feedback(&g->nets[m]), scale, g->n_hidden,
	                 &g->batch[m], rows);
	return compare_matrix(g->d_hid + (size_t)m * nh, group_width(g),
	                      g->batch[m].d_hid, nh, rows, nh);
}

/* Compares mode m's block of W1 - lr x^T d_hid done 3H wide (into
 * wide_w1, a copy of the group's W1) with the update H wide
 * (net_update's), both from the group's block of d_hid. */
static struct matrix_diff check_update(struct lockstep_group *g, int m,
                                       size_t rows, const float *wide_w1,
                                       float *narrow_w1)
{
	size_t nh = (size_t)g->n_hidden, wide = group_width(g);
	float *d = g->batch[m].d_hid;

	for (size_t r = 0; r < rows; r++)
		memcpy(d + r * nh, g->d_hid + r * wide + (size_t)m * nh,
		       sizeof(float) * nh);
	memcpy(narrow_w1, g->nets[m].w1, sizeof(float) * NET_INPUTS * nh);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS,
	            (int)nh, (int)rows, -g->learning_rate, g->batch[0].x,
	            NET_INPUTS, d, (int)nh, 1.0f, narrow_w1, (int)nh);
	return compare_matrix(wide_w1 + (size_t)m * nh, wide, narrow_w1, nh,
	                      NET_INPUTS, nh);
}

/* On the first minibatch of epoch 1, before any update, compares each
 * product the group does 3H wide with the same product H wide, so a
 * difference after an epoch can be traced to the product that starts it.
 * Returns the number of differing elements, or -1 with err set. */
static long verify_products(struct lockstep_group *g, struct fw_error *err)
{
	size_t nh = (size_t)g->n_hidden, wide = group_width(g);
	size_t rows = BENCH_BATCH_SIZE, n_w1 = NET_INPUTS * wide;
	float *wide_w1 = malloc(sizeof(float) * (n_w1 + NET_INPUTS * nh));
	float *narrow = malloc(sizeof(float) * rows * nh);
	double loss[GROUP_MODES];
	long n_diff = 0;

	if (wide_w1 == NULL || narrow == NULL) {
		free(narrow);
		free(wide_w1);
		return fw_error_set(err, "out of memory for the product check");
	}
	shuffle_order(g->order, &g->split, g->seed, g->n_hidden, 1);
	group_load(g, g->order, rows);
	group_forward(g, rows, loss);
	for (int m = 0; m < GROUP_MODES; m++) {
		struct matrix_diff d[3];

		d[0] = check_forward(g, m, rows, narrow);
		d[1] = check_delta(g, m, rows,
		                   feedback_scale(group_modes[m], 0));
		n_diff += (long)(d[0].n_diff + d[1].n_diff);
		printf("H = %d, %s, minibatch 1, 3H wide against H wide:\n",
		       (int)nh, grid_mode_name(group_modes[m]));
		print_diff("x W1", &d[0]);
		print_diff("d_out B^T * h(1-h)", &d[1]);
	}
	memcpy(wide_w1, g->w1, sizeof(float) * n_w1);
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS,
	            (int)wide, (int)rows, -g->learning_rate, g->batch[0].x,
	            NET_INPUTS, g->d_hid, (int)wide, 1.0f, wide_w1, (int)wide);
	for (int m = 0; m < GROUP_MODES; m++) {
		struct matrix_diff d =
		        check_update(g, m, rows, wide_w1, wide_w1 + n_w1);

		n_diff += (long)d.n_diff;
		printf("H = %d, %s, minibatch 1: ", (int)nh,
		       grid_mode_name(group_modes[m]));
		print_diff("W1 - lr x^T d_hid", &d);
	}
	free(narrow);
	free(wide_w1);
	return n_diff;
}

/* Trains a full-size group for n_epochs epochs, then each mode alone, and
 * compares. Returns the number of differing elements, or -1 with err
 * set. */
static long verify_hidden(const struct dataset *ds,
                          const struct lockstep_options *o, int32_t n_hidden,
                          struct fw_error *err)
{
	double loss[GROUP_MODES];
	struct lockstep_group g;
	long n_diff = 0;

	if (group_init(&g, ds, o, n_hidden, err) != 0)
		return -1;
	n_diff = verify_products(&g, err);
	if (n_diff < 0)
		goto fail;
	for (int e = 1; e <= o->n_epochs; e++)
		if (group_epoch(&g, e, loss, err) != 0)
			goto fail;
	for (int m = 0; m < GROUP_MODES; m++) {
		long d = verify_mode(&g, m, o->n_epochs, loss[m], err);

		if (d < 0)
			goto fail;
		n_diff += d;
	}
	group_free(&g);
	return n_diff;

fail:
	group_free(&g);
	return -1;
}

static int run_verify(const struct dataset *ds,
                      const struct lockstep_options *o)
{
	long n_diff = 0;

	printf("lockstep against solo training: %d epoch(s) of %d images, "
	       "seed %lld, %s, OpenBLAS core %s\n",
	       o->n_epochs, BENCH_N_TRAIN, (long long)o->seed,
	       o->data_dir ? o->data_dir : "synthetic images", blas_core());
	for (size_t i = 0; i < o->n_hidden; i++) {
		struct fw_error err = {{0}};
		long d = verify_hidden(ds, o, o->hidden[i], &err);

		if (d < 0) {
			fprintf(stderr, "bench_lockstep: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		n_diff += d;
		fflush(stdout);
	}
	printf("verify: %ld values differ between lockstep and solo "
	       "training\n",
	       n_diff);
	return n_diff ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* FLOP of one trial's training epoch, as bench_trainer counts them: per
 * image x W1, h W2, d_out B^T, h^T d_out and x^T d_hid. */
static double train_flop(int32_t n_hidden)
{
	double h = n_hidden;
	double per_image = 2.0 * (NET_INPUTS * h + (h + 1) * NET_OUTPUTS +
	                          NET_OUTPUTS * h + (h + 1) * NET_OUTPUTS +
	                          NET_INPUTS * h);

	return per_image * BENCH_N_TRAIN;
}

/* One row of the result table: medians over the timed epochs. */
struct lockstep_row {
	int32_t n_hidden;
	double learning_rate;
	struct elapsed group; /* one epoch of all three modes */
	double train_flop;    /* one trial's epoch */
};

/* Times n_epochs group epochs after an untimed forward pass that warms up
 * OpenBLAS's buffers, and fills row with the medians. Returns 0, or -1
 * with err set. */
static int time_hidden(const struct dataset *ds,
                       const struct lockstep_options *o, int32_t n_hidden,
                       struct lockstep_row *row, struct fw_error *err)
{
	int n = o->n_epochs;
	double *wall = calloc(2 * (size_t)n, sizeof(double)), *cpu = wall + n;
	double loss[GROUP_MODES];
	struct lockstep_group g;
	int status = -1;

	if (wall == NULL)
		return fw_error_set(err, "out of memory for %d epoch times", n);
	if (group_init(&g, ds, o, n_hidden, err) != 0)
		goto out_times;
	group_load(&g, g.split.train, BENCH_BATCH_SIZE);
	group_forward(&g, BENCH_BATCH_SIZE, loss);

	for (int e = 1; e <= n; e++) {
		struct elapsed t0 = clock_now(), dt;

		if (group_epoch(&g, e, loss, err) != 0)
			goto out_group;
		dt = clock_since(t0);
		wall[e - 1] = dt.wall;
		cpu[e - 1] = dt.cpu;
	}
	row->n_hidden = n_hidden;
	row->learning_rate = g.learning_rate;
	row->group.wall = median(wall, n);
	row->group.cpu = median(cpu, n);
	row->train_flop = train_flop(n_hidden);
	status = 0;

out_group:
	group_free(&g);
out_times:
	free(wall);
	return status;
}

static void print_header(const struct lockstep_options *o, double fma_peak,
                         double sgemm_peak)
{
	printf("fasweep lockstep benchmark: bp, fa and onehot of one (H, "
	       "seed) together, %s, seed %lld, OpenBLAS core %s\n",
	       o->data_dir ? o->data_dir : "synthetic images",
	       (long long)o->seed, blas_core());
	printf("epoch: %d training images per mode in minibatches of %d; "
	       "seconds are medians of %d timed epochs;\nper trial = group "
	       "/ %d; GFLOP/s counts 2 per multiply-add per CPU second\n",
	       BENCH_N_TRAIN, BENCH_BATCH_SIZE, o->n_epochs, GROUP_MODES);
	if (fma_peak > 0)
		printf("single-core float32 peak: %.1f GFLOP/s (%s FMA loop), "
		       "%.1f GFLOP/s (OpenBLAS sgemm %d^3)\n",
		       fma_peak, peak_fma_isa(), sgemm_peak, PEAK_SGEMM_SIZE);
	printf("\n%6s %7s %9s %9s %9s %9s %8s %7s %8s\n", "", "", "group",
	       "group", "per trial", "per trial", "", "", "");
	printf("%6s %7s %9s %9s %9s %9s %8s %7s %8s\n", "H", "lr", "wall s",
	       "CPU s", "wall s", "CPU s", "GFLOP/s", "% peak", "% sgemm");
}

static void print_row(const struct lockstep_row *r, double fma_peak,
                      double sgemm_peak)
{
	double cpu = r->group.cpu / GROUP_MODES;
	double rate = r->train_flop / cpu / 1e9;

	printf("%6d %7.3g %9.4f %9.4f %9.4f %9.4f %8.1f %7.1f %8.1f\n",
	       (int)r->n_hidden, r->learning_rate, r->group.wall, r->group.cpu,
	       r->group.wall / GROUP_MODES, cpu, rate, 100.0 * rate / fma_peak,
	       100.0 * rate / sgemm_peak);
}

/* Appends rows in bench_trainer's columns, with impl "lockstep", mode
 * "bp+fa+onehot", the times of one trial (group / 3) and no evaluation. */
static int write_tsv(const char *path, const struct lockstep_options *o,
                     const struct lockstep_row *rows, size_t n_rows,
                     double fma_peak, double sgemm_peak, struct fw_error *err)
{
	FILE *f = fopen(path, "a");
	int failed;

	if (f == NULL)
		return fw_error_set(err, "cannot open %s for appending: %s",
		                    path, strerror(errno));
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
		fputs("impl\tmode\tH\tdata\tn_train\tbatch_size\ttrain_s\t"
		      "train_cpu_s\teval_s\teval_cpu_s\ttrain_flop\teval_flop\t"
		      "train_cpu_gflops\tfma_peak_gflops\tsgemm_peak_gflops\t"
		      "train_pct_fma_peak\ttest_accuracy\n",
		      f);
	for (size_t i = 0; i < n_rows; i++) {
		const struct lockstep_row *r = &rows[i];
		double cpu = r->group.cpu / GROUP_MODES;
		double rate = r->train_flop / cpu / 1e9;

		fprintf(f,
		        "lockstep\tbp+fa+onehot\t%d\t%s\t%d\t%d\t%.6f\t%.6f\t"
		        "nan\tnan\t%.6g\tnan\t%.3f\t%.3f\t%.3f\t%.2f\tnan\n",
		        (int)r->n_hidden, o->data_dir ? "mnist" : "synthetic",
		        BENCH_N_TRAIN, BENCH_BATCH_SIZE,
		        r->group.wall / GROUP_MODES, cpu, r->train_flop, rate,
		        fma_peak, sgemm_peak, 100.0 * rate / fma_peak);
	}
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return fw_error_set(err, "writing %s failed: %s", path,
		                    strerror(errno));
	return 0;
}

static int run_bench(const struct dataset *ds, const struct lockstep_options *o)
{
	struct lockstep_row rows[MAX_HIDDEN_SIZES];
	struct fw_error err = {{0}};
	double fma_peak = NAN, sgemm_peak = NAN;

	if (o->measure_peak) {
		fma_peak = peak_fma_gflops(PEAK_FMA_RUNS, PEAK_FMA_SECONDS);
		sgemm_peak =
		        peak_sgemm_gflops(PEAK_SGEMM_SIZE, PEAK_SGEMM_RUNS);
	}
	print_header(o, fma_peak, sgemm_peak);
	for (size_t i = 0; i < o->n_hidden; i++) {
		if (time_hidden(ds, o, o->hidden[i], &rows[i], &err) != 0) {
			fprintf(stderr, "bench_lockstep: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		print_row(&rows[i], fma_peak, sgemm_peak);
		fflush(stdout);
	}
	if (o->tsv_path != NULL && write_tsv(o->tsv_path, o, rows, o->n_hidden,
	                                     fma_peak, sgemm_peak, &err) != 0) {
		fprintf(stderr, "bench_lockstep: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: bench_lockstep [--data DIR] [--hidden LIST] "
	        "[--epochs N] [--learning-rate LR]\n"
	        "                      [--seed S] [--tsv FILE] [--no-peak] "
	        "[--verify] [--batches N]\n"
	        "Times the lockstep group (bp, fa and onehot of one (H, "
	        "seed) trained together\non the same minibatches) for "
	        "epochs of %d images, minibatches of %d, on one core.\n"
	        "  --data DIR       MNIST's four IDX files in DIR "
	        "(default: synthetic images)\n"
	        "  --hidden LIST    hidden sizes, comma-separated "
	        "(default 20,100,500,1000)\n"
	        "  --epochs N       timed epochs per size, the median is "
	        "reported; with --verify,\n"
	        "                   the epochs trained before comparing "
	        "(default 3, with --verify 1)\n"
	        "  --learning-rate  default 0.07 for H <= 20, else 1/H, "
	        "as configs/replication.ini\n"
	        "  --seed S         seed of weights, split and order "
	        "(default 1)\n"
	        "  --tsv FILE       append one row per size to FILE in "
	        "bench_trainer's columns\n"
	        "  --no-peak        skip measuring the float32 peak (about "
	        "2 s)\n"
	        "  --verify         train each size in lockstep and each "
	        "mode alone, and report\n"
	        "                   which weights differ; exit status 1 if "
	        "any does\n"
	        "  --batches N      with --verify, train only the first N "
	        "minibatches of each\n"
	        "                   epoch\n",
	        BENCH_N_TRAIN, BENCH_BATCH_SIZE);
}

/* Handles the options that take a value; returns 0, or -1 after a
 * message. */
static int parse_valued(struct lockstep_options *o, const char *name,
                        const char *value, int *epochs_given)
{
	char *end;
	double x;
	int min;

	if (!strcmp(name, "--data")) {
		o->data_dir = value;
		return 0;
	}
	if (!strcmp(name, "--hidden"))
		return parse_hidden_list("bench_lockstep", value, o->hidden,
		                         &o->n_hidden);
	if (!strcmp(name, "--tsv")) {
		o->tsv_path = value;
		return 0;
	}

	x = strtod(value, &end);
	min = strcmp(name, "--epochs") && strcmp(name, "--batches") ? 0 : 1;
	if (end == value || *end != '\0' || !(x >= min)) {
		fprintf(stderr,
		        "bench_lockstep: invalid %s '%s'; give a number of at "
		        "least %d\n",
		        name, value, min);
		return -1;
	}
	if (!strcmp(name, "--epochs")) {
		o->n_epochs = (int)x;
		*epochs_given = 1;
	} else if (!strcmp(name, "--batches")) {
		o->max_batches = (long)x;
	} else if (!strcmp(name, "--learning-rate")) {
		o->learning_rate = x;
	} else {
		assert(!strcmp(name, "--seed"));
		o->seed = (int64_t)x;
	}
	return 0;
}

static int is_valued(const char *name)
{
	static const char *const valued[] = {
	        "--data",          "--hidden", "--epochs", "--seed",
	        "--learning-rate", "--tsv",    "--batches"};

	for (size_t k = 0; k < sizeof(valued) / sizeof(*valued); k++)
		if (!strcmp(name, valued[k]))
			return 1;
	return 0;
}

/* Fills o from argv. Returns 0, 1 after --help, or -1 after a message. */
static int parse_args(struct lockstep_options *o, int argc, char **argv)
{
	static const int32_t sizes[] = {20, 100, 500, 1000};
	int epochs_given = 0;

	memset(o, 0, sizeof(*o));
	memcpy(o->hidden, sizes, sizeof(sizes));
	o->n_hidden = sizeof(sizes) / sizeof(sizes[0]);
	o->n_epochs = 3;
	o->seed = 1;
	o->measure_peak = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (is_valued(a)) {
			if (i + 1 == argc) {
				fprintf(stderr,
				        "bench_lockstep: %s needs a value\n",
				        a);
				return -1;
			}
			if (parse_valued(o, a, argv[++i], &epochs_given) != 0)
				return -1;
		} else if (!strcmp(a, "--no-peak")) {
			o->measure_peak = 0;
		} else if (!strcmp(a, "--verify")) {
			o->verify = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		} else {
			fprintf(stderr,
			        "bench_lockstep: unknown option '%s'; see "
			        "--help\n",
			        a);
			return -1;
		}
	}
	if (o->max_batches > 0 && !o->verify) {
		fprintf(stderr,
		        "bench_lockstep: --batches works only with "
		        "--verify, because the timed epochs are whole\n");
		return -1;
	}
	if (o->verify && !epochs_given)
		o->n_epochs = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct lockstep_options o;
	struct dataset ds;
	struct fw_error err = {{0}};
	int status, parsed = parse_args(&o, argc, argv);

	if (parsed != 0)
		return parsed > 0 ? EXIT_SUCCESS : 2;
	trainer_pin_blas();
	if (load_data(&ds, o.data_dir, &err) != 0) {
		fprintf(stderr, "bench_lockstep: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	status = o.verify ? run_verify(&ds, &o) : run_bench(&ds, &o);
	dataset_free(&ds);
	return status;
}
