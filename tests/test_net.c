/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the network arithmetic: the backprop gradient against a
 * finite-difference gradient of a double-precision loss written here
 * independently, hidden deltas of fa and onehot against values worked by
 * hand, and identical initial weights across modes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fasweep/net.h"
#include "fasweep/rng.h"

#define H    5
#define ROWS 4

/* A dataset of n random images with labels 0, 1, 2, ... */
static void make_dataset(struct dataset *ds, size_t n)
{
	struct rng r;

	memset(ds, 0, sizeof(*ds));
	ds->images = malloc(n * DATASET_PIXELS);
	ds->labels = malloc(n);
	ds->n_images = ds->n_train_file = n;
	rng_init(&r, 99, 0, RNG_SPLIT, 0);
	for (size_t i = 0; i < n * DATASET_PIXELS; i++)
		ds->images[i] = (uint8_t)(rng_u32(&r) & 0xff);
	for (size_t i = 0; i < n; i++)
		ds->labels[i] = (uint8_t)(i % DATASET_CLASSES);
}

static double sigmoid_d(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

/* Summed squared-error loss of the batch in double precision. */
static double loss_double(const double *w1, const double *w2,
                          const struct dataset *ds)
{
	double loss = 0.0;

	for (size_t r = 0; r < ROWS; r++) {
		double x[NET_INPUTS], h[H + 1];

		for (int i = 0; i < DATASET_PIXELS; i++)
			x[i] = ds->images[r * DATASET_PIXELS + i] / 255.0;
		x[DATASET_PIXELS] = 1.0;
		for (int j = 0; j < H; j++) {
			double z = 0.0;

			for (int i = 0; i < NET_INPUTS; i++)
				z += x[i] * w1[i * H + j];
			h[j] = sigmoid_d(z);
		}
		h[H] = 1.0;
		for (int k = 0; k < NET_OUTPUTS; k++) {
			double z = 0.0, t = (k == ds->labels[r]);

			for (int j = 0; j <= H; j++)
				z += h[j] * w2[j * NET_OUTPUTS + k];
			loss += 0.5 * (sigmoid_d(z) - t) * (sigmoid_d(z) - t);
		}
	}
	return loss;
}

/* Central difference of the loss in one weight. */
static double numeric_grad(double *w, size_t i, double *w1, double *w2,
                           const struct dataset *ds)
{
	const double eps = 1e-6;
	double keep = w[i], up, down;

	w[i] = keep + eps;
	up = loss_double(w1, w2, ds);
	w[i] = keep - eps;
	down = loss_double(w1, w2, ds);
	w[i] = keep;
	return (up - down) / (2.0 * eps);
}

/* Compares the gradient applied by one net_update with lr = 1 against the
 * finite-difference gradient, weight by weight. */
static void compare_grad(const float *before, const float *after, double *w,
                         size_t n, double *w1, double *w2,
                         const struct dataset *ds)
{
	for (size_t i = 0; i < n; i++) {
		double g = (double)before[i] - (double)after[i];
		double fd = numeric_grad(w, i, w1, w2, ds);

		CHECK_NEAR(g, fd, 1e-3 * fabs(fd) + 2e-6);
	}
}

static void test_bp_gradient(void)
{
	struct dataset ds;
	struct net net;
	struct net_batch b;
	size_t n1 = (size_t)NET_INPUTS * H, n2 = (size_t)(H + 1) * NET_OUTPUTS;
	float *w1_before = malloc(sizeof(float) * n1);
	float *w2_before = malloc(sizeof(float) * n2);
	double *w1 = malloc(sizeof(double) * n1);
	double *w2 = malloc(sizeof(double) * n2);
	uint32_t idx[ROWS] = {0, 1, 2, 3};

	make_dataset(&ds, ROWS);
	CHECK(net_init(&net, MODE_BP, H, 7, NULL) == 0);
	CHECK(net_batch_init(&b, H, ROWS, NULL) == 0);
	memcpy(w1_before, net.w1, sizeof(float) * n1);
	memcpy(w2_before, net.w2, sizeof(float) * n2);
	for (size_t i = 0; i < n1; i++)
		w1[i] = net.w1[i];
	for (size_t i = 0; i < n2; i++)
		w2[i] = net.w2[i];

	net_batch_load(&b, &ds, idx, ROWS);
	net_forward(&net, &b, ROWS);
	CHECK_NEAR(net_output_delta(&b, ROWS, NULL), loss_double(w1, w2, &ds),
	           1e-5);
	net_hidden_delta(net_feedback(&net), 1.0f, H, &b, ROWS);
	net_update(&net, &b, ROWS, 1.0f);

	compare_grad(w2_before, net.w2, w2, n2, w1, w2, &ds);
	compare_grad(w1_before, net.w1, w1, n1, w1, w2, &ds);

	net_batch_free(&b);
	net_free(&net);
	free(w2);
	free(w1);
	free(w2_before);
	free(w1_before);
	free(ds.labels);
	free(ds.images);
}

/* Puts one row of h (n_hidden values) and d_out into a batch. */
static void set_row(struct net_batch *b, int n_hidden, const float *h,
                    const float *d_out)
{
	for (int j = 0; j < n_hidden; j++)
		b->h[j] = h[j];
	b->h[n_hidden] = 1.0f;
	memcpy(b->d_out, d_out, sizeof(float) * NET_OUTPUTS);
}

/* onehot with H = 12: unit j gets output j mod 10, so units 10 and 11
 * repeat outputs 0 and 1. Expected values worked by hand:
 * d_hid[j] = d_out[j mod 10] * h[j] * (1 - h[j]). */
static void test_onehot_delta(void)
{
	struct net net;
	struct net_batch b;
	const float h[12] = {0.5f, 0.25f, 0.8f, 0.5f, 0.5f, 0.5f,
	                     0.5f, 0.5f,  0.5f, 0.5f, 0.9f, 0.1f};
	const float d_out[10] = {0.1f, -0.2f, 0.3f, 0, 0, 0, 0, 0, 0, 0.4f};
	const double expect[12] = {0.025, -0.0375, 0.048, 0,   0,     0,
	                           0,     0,       0,     0.1, 0.009, -0.018};

	CHECK(net_init(&net, MODE_ONEHOT, 12, 1, NULL) == 0);
	CHECK(net_batch_init(&b, 12, 1, NULL) == 0);
	set_row(&b, 12, h, d_out);
	net_hidden_delta(net_feedback(&net), 1.0f, 12, &b, 1);
	for (int j = 0; j < 12; j++)
		CHECK_NEAR(b.d_hid[j], expect[j], 1e-7);
	net_batch_free(&b);
	net_free(&net);
}

/* fa with a hand-made R (3 x 10) and the scale of the second epoch,
 * s = ln(1 + e) = 1.31326168751822...: (R d_out) = (0.25, 0.6, 0.2),
 * h (1 - h) = (0.25, 0.1875, 0.16). */
static void test_fa_delta(void)
{
	struct net_batch b;
	float r[3 * NET_OUTPUTS] = {0};
	const float h[3] = {0.5f, 0.25f, 0.8f};
	const float d_out[10] = {0.1f, -0.2f, 0.3f, 0, 0, 0, 0, 0, 0, 0};
	const double s = 1.3132616875182228;
	const double expect[3] = {0.0625 * s, 0.1125 * s, 0.032 * s};

	r[0] = 0.5f; /* row 0: 0.5 d0 - 1 d1 = 0.25 */
	r[1] = -1.0f;
	r[NET_OUTPUTS + 2] = 2.0f; /* row 1: 2 d2 = 0.6 */
	for (int k = 0; k < NET_OUTPUTS; k++)
		r[2 * NET_OUTPUTS + k] = 1.0f; /* row 2: sum = 0.2 */

	CHECK(net_batch_init(&b, 3, 1, NULL) == 0);
	set_row(&b, 3, h, d_out);
	net_hidden_delta(r, (float)s, 3, &b, 1);
	for (int j = 0; j < 3; j++)
		CHECK_NEAR(b.d_hid[j], expect[j], 1e-7);
	net_batch_free(&b);
}

/* Every mode of one (H, seed) starts from bit-identical W1 and W2; fa's R
 * has the drawn scale 1 / sqrt(H + 1). */
static void test_same_start(void)
{
	const int n_hidden = 999;
	size_t n1 = (size_t)NET_INPUTS * n_hidden;
	size_t n2 = (size_t)(n_hidden + 1) * NET_OUTPUTS;
	struct net nets[N_MODES];
	double sum = 0.0, sq = 0.0;
	size_t n_r = (size_t)n_hidden * NET_OUTPUTS;

	for (int m = 0; m < N_MODES; m++)
		CHECK(net_init(&nets[m], (enum fw_mode)m, n_hidden, 3, NULL) ==
		      0);
	for (int m = 1; m < N_MODES; m++) {
		CHECK(memcmp(nets[0].w1, nets[m].w1, sizeof(float) * n1) == 0);
		CHECK(memcmp(nets[0].w2, nets[m].w2, sizeof(float) * n2) == 0);
	}
	CHECK(net_feedback(&nets[MODE_BP]) == nets[MODE_BP].w2);

	for (size_t i = 0; i < n_r; i++) {
		sum += nets[MODE_FA].feedback[i];
		sq += nets[MODE_FA].feedback[i] * nets[MODE_FA].feedback[i];
	}
	/* 9990 draws: the variance estimate is within 3% at 2 sigma. */
	CHECK_NEAR(sq / n_r, 1.0 / (n_hidden + 1), 0.04 / (n_hidden + 1));
	CHECK_NEAR(sum / n_r, 0.0, 0.0011);
	for (int m = 0; m < N_MODES; m++)
		net_free(&nets[m]);
}

int main(void)
{
	test_bp_gradient();
	test_onehot_delta();
	test_fa_delta();
	test_same_start();
	return check_exit("test_net");
}
