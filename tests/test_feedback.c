/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of the feedback rules against values worked by hand: the initial B
 * of every mode, sign and frsf following W2, the gain of fa and of
 * feedback_norm = match_w2, one Kolen-Pollack step, and shallow leaving W1
 * alone. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fasweep/feedback.h"
#include "fasweep/net.h"

#define SEED 11

static struct trial_params params(enum fw_mode mode, int32_t n_hidden)
{
	struct trial_params p = {
	        .mode = mode,
	        .n_hidden = n_hidden,
	        .seed = SEED,
	        .learning_rate = 0.5,
	        .feedback_k = 1,
	        .kp_decay = 0.0,
	        .fa_scale = FA_SCALE_LOG_EPOCH,
	        .onehot_sign = ONEHOT_POSITIVE,
	        .feedback_norm = NORM_AS_DRAWN,
	};
	return p;
}

/* Builds the network and rule of p; the caller frees both. */
static void build(struct net *net, struct feedback *f,
                  const struct trial_params *p)
{
	CHECK(net_init(net, p->mode, p->n_hidden, p->seed, NULL) == 0);
	CHECK(feedback_init(f, net, p, NULL) == 0);
}

static float *draw_r(int32_t n_hidden)
{
	float *r = malloc(sizeof(float) * (size_t)n_hidden * NET_OUTPUTS);

	net_draw_random_feedback(r, n_hidden, SEED);
	return r;
}

/* onehot with random signs: only B[j, j mod 10] is set, to the sign of R
 * there, and with 12 units both signs occur. */
static void test_onehot_random(void)
{
	struct trial_params p = params(MODE_ONEHOT, 12);
	float *r = draw_r(12);
	struct net net;
	struct feedback f;
	int n_negative = 0;

	p.onehot_sign = ONEHOT_RANDOM;
	build(&net, &f, &p);
	for (int j = 0; j < 12; j++)
		for (int k = 0; k < NET_OUTPUTS; k++) {
			float b = net.feedback[j * NET_OUTPUTS + k];
			float want =
			        r[j * NET_OUTPUTS + k] < 0.0f ? -1.0f : 1.0f;

			CHECK(b == (k == j % NET_OUTPUTS ? want : 0.0f));
			n_negative += b < 0.0f;
		}
	CHECK(n_negative > 0);
	CHECK(n_negative < 12);
	feedback_free(&f);
	net_free(&net);
	free(r);
}

/* sparse with k = 3 at H = 7: unit j keeps R at columns 3j, 3j + 1 and
 * 3j + 2 mod 10, so unit 3 keeps columns 9, 0 and 1; 21 entries over 10
 * outputs gives each output 2 or 3 units. */
static void test_sparse_balanced(void)
{
	struct trial_params p = params(MODE_SPARSE, 7);
	float *r = draw_r(7);
	int per_output[NET_OUTPUTS] = {0};
	struct net net;
	struct feedback f;

	p.feedback_k = 3;
	build(&net, &f, &p);
	for (int j = 0; j < 7; j++)
		for (int k = 0; k < NET_OUTPUTS; k++) {
			int in_columns = (k - 3 * j % 10 + 10) % 10 < 3;
			float b = net.feedback[j * NET_OUTPUTS + k];

			CHECK(b ==
			      (in_columns ? r[j * NET_OUTPUTS + k] : 0.0f));
			per_output[k] += b != 0.0f;
		}
	CHECK(net.feedback[3 * NET_OUTPUTS + 9] != 0.0f);
	CHECK(net.feedback[3 * NET_OUTPUTS + 0] != 0.0f);
	CHECK(net.feedback[3 * NET_OUTPUTS + 1] != 0.0f);
	for (int k = 0; k < NET_OUTPUTS; k++)
		CHECK(per_output[k] == 2 || per_output[k] == 3);
	feedback_free(&f);
	net_free(&net);
	free(r);
}

/* sparse with k = 10 keeps all of R, the fa matrix; with k = 1 it has the
 * onehot pattern with R's values. */
static void test_sparse_limits(void)
{
	struct trial_params p = params(MODE_SPARSE, 13);
	float *r = draw_r(13);
	struct net net;
	struct feedback f;

	p.feedback_k = 10;
	build(&net, &f, &p);
	CHECK(memcmp(net.feedback, r, sizeof(float) * 13 * NET_OUTPUTS) == 0);
	feedback_free(&f);
	net_free(&net);

	p.feedback_k = 1;
	build(&net, &f, &p);
	for (int j = 0; j < 13; j++)
		for (int k = 0; k < NET_OUTPUTS; k++)
			CHECK(net.feedback[j * NET_OUTPUTS + k] ==
			      (k == j % 10 ? r[j * NET_OUTPUTS + k] : 0.0f));
	feedback_free(&f);
	net_free(&net);
	free(r);
}

/* Sets the first n_hidden rows of W2 to -1, 0, 1, -1, 0, 1, ... */
static void set_w2_pattern(struct net *net)
{
	for (int i = 0; i < net->n_hidden * NET_OUTPUTS; i++)
		net->w2[i] = (float)(i % 3 - 1) * (0.25f + (float)i);
}

/* sign at H = 4: B = sign(W2[0:4, :]) / sqrt(5), with sign(0) = 0, and
 * frsf: B = |R| sign(W2[0:4, :]); both follow W2 on refresh. */
static void test_sign_and_frsf(void)
{
	struct trial_params ps = params(MODE_SIGN, 4);
	struct trial_params pf = params(MODE_FRSF, 4);
	float *r = draw_r(4);
	struct net ns, nf;
	struct feedback fs, ff;

	build(&ns, &fs, &ps);
	build(&nf, &ff, &pf);
	set_w2_pattern(&ns);
	set_w2_pattern(&nf);
	feedback_refresh(&fs, &ns);
	feedback_refresh(&ff, &nf);
	for (int i = 0; i < 4 * NET_OUTPUTS; i++) {
		float sign = (float)(i % 3 - 1);

		CHECK_NEAR(ns.feedback[i], sign * 0.4472135955, 1e-7);
		CHECK(nf.feedback[i] == sign * fabsf(r[i]));
	}
	feedback_free(&fs);
	feedback_free(&ff);
	net_free(&ns);
	net_free(&nf);
	free(r);
}

/* fa's gain is ln(epoch + e); match_w2 makes |gain B| = |W2[0:H, :]|. The
 * hand case: W2[0, :] = (3, 4, 0, ...) with norm 5 and B[0, :] = (0, 2, 0,
 * ...), so the gain is 2.5. bp and shallow keep gain 1. */
static void test_gain(void)
{
	struct trial_params p = params(MODE_FA, 1);
	struct net net;
	struct feedback f;

	build(&net, &f, &p);
	CHECK(feedback_gain(&f, &net, 0) == 1.0f);
	CHECK(feedback_gain(&f, &net, 2) ==
	      (float)log(2.0 + 2.71828182845904523536));

	p.feedback_norm = NORM_MATCH_W2;
	memset(net.w2, 0, sizeof(float) * 2 * NET_OUTPUTS);
	memset(net.feedback, 0, sizeof(float) * NET_OUTPUTS);
	net.w2[0] = 3.0f;
	net.w2[1] = 4.0f;
	net.w2[NET_OUTPUTS] = 100.0f; /* the bias row does not count */
	net.feedback[1] = 2.0f;
	CHECK(feedback_gain(&f, &net, 5) == 2.5f);
	memset(net.feedback, 0, sizeof(float) * NET_OUTPUTS);
	CHECK(feedback_gain(&f, &net, 5) == 1.0f);
	feedback_free(&f);
	net_free(&net);

	for (int m = 0; m < 2; m++) {
		p = params(m == 0 ? MODE_BP : MODE_SHALLOW, 3);
		p.feedback_norm = NORM_MATCH_W2;
		build(&net, &f, &p);
		CHECK(feedback_gain(&f, &net, 3) == 1.0f);
		feedback_free(&f);
		net_free(&net);
	}
}

/* A batch of one image at H = 1 with h = (0.5, 1) and d_out = (0.1, -0.2,
 * 0, ...); x and d_hid are zero, so W1 does not move. */
static void one_row_batch(struct net_batch *b)
{
	CHECK(net_batch_init(b, 1, 1, NULL) == 0);
	memset(b->x, 0, sizeof(float) * NET_INPUTS);
	memset(b->d_out, 0, sizeof(float) * NET_OUTPUTS);
	b->h[0] = 0.5f;
	b->h[1] = 1.0f;
	b->d_out[0] = 0.1f;
	b->d_out[1] = -0.2f;
	b->d_hid[0] = 0.0f;
}

/* One kp step with lr 0.5 and decay 0.1: W2[0, k] = 0.9 W2[0, k] - 0.25
 * d_out[k], B[0, k] = 0.9 B[0, k] - 0.25 d_out[k], and the bias row
 * W2[1, k] -= 0.5 d_out[k] without decay. */
static void test_kp_step(void)
{
	struct trial_params p = params(MODE_KP, 1);
	struct net net;
	struct feedback f;
	struct net_batch b;
	float w2[2 * NET_OUTPUTS], r[NET_OUTPUTS];

	p.kp_decay = 0.1;
	build(&net, &f, &p);
	one_row_batch(&b);
	memcpy(w2, net.w2, sizeof(w2));
	memcpy(r, net.feedback, sizeof(r));
	feedback_update(&f, &net, &b, 1, 0.5f);

	CHECK_NEAR(net.w2[0], 0.9 * w2[0] - 0.025, 1e-6);
	CHECK_NEAR(net.w2[1], 0.9 * w2[1] + 0.05, 1e-6);
	CHECK_NEAR(net.w2[2], 0.9 * w2[2], 1e-6);
	CHECK_NEAR(net.feedback[0], 0.9 * r[0] - 0.025, 1e-6);
	CHECK_NEAR(net.feedback[1], 0.9 * r[1] + 0.05, 1e-6);
	CHECK_NEAR(net.feedback[2], 0.9 * r[2], 1e-6);
	CHECK_NEAR(net.w2[NET_OUTPUTS], w2[NET_OUTPUTS] - 0.05, 1e-6);
	CHECK_NEAR(net.w2[NET_OUTPUTS + 1], w2[NET_OUTPUTS + 1] + 0.1, 1e-6);
	net_batch_free(&b);
	feedback_free(&f);
	net_free(&net);
}

/* kp keeps B - W2[0:H, :] shrinking by (1 - decay) per step, whatever the
 * gradients: after 50 steps with decay 0.1 it is 0.9^50 of the start. */
static void test_kp_difference(void)
{
	struct trial_params p = params(MODE_KP, 1);
	struct net net;
	struct feedback f;
	struct net_batch b;
	double start[NET_OUTPUTS];

	p.kp_decay = 0.1;
	build(&net, &f, &p);
	one_row_batch(&b);
	for (int k = 0; k < NET_OUTPUTS; k++)
		start[k] = (double)net.feedback[k] - net.w2[k];
	for (int step = 0; step < 50; step++)
		feedback_update(&f, &net, &b, 1, 0.5f);
	for (int k = 0; k < NET_OUTPUTS; k++)
		CHECK_NEAR((double)net.feedback[k] - net.w2[k],
		           start[k] * pow(0.9, 50), 1e-6);
	net_batch_free(&b);
	feedback_free(&f);
	net_free(&net);
}

/* shallow: B is zero, W1 never moves, W2 takes its usual step. */
static void test_shallow(void)
{
	struct trial_params p = params(MODE_SHALLOW, 1);
	struct net net;
	struct feedback f;
	struct net_batch b;
	float w1[NET_INPUTS], bias_row;

	build(&net, &f, &p);
	for (int k = 0; k < NET_OUTPUTS; k++)
		CHECK(net.feedback[k] == 0.0f);
	CHECK(feedback_trains_hidden(&f) == 0);
	one_row_batch(&b);
	b.x[0] = 1.0f;
	b.d_hid[0] = 1.0f; /* would move W1[0, 0] if it were applied */
	memcpy(w1, net.w1, sizeof(w1));
	bias_row = net.w2[NET_OUTPUTS];
	feedback_update(&f, &net, &b, 1, 0.5f);
	CHECK(memcmp(w1, net.w1, sizeof(w1)) == 0);
	CHECK_NEAR(net.w2[NET_OUTPUTS], bias_row - 0.05, 1e-6);
	net_batch_free(&b);
	feedback_free(&f);
	net_free(&net);
}

int main(void)
{
	test_onehot_random();
	test_sparse_balanced();
	test_sparse_limits();
	test_sign_and_frsf();
	test_gain();
	test_kp_step();
	test_kp_difference();
	test_shallow();
	return check_exit("test_feedback");
}
