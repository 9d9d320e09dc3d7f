/* SPDX-License-Identifier: GPL-3.0-or-later */
/* feedback.c - the feedback rules of the modes: the initial B, its
 * refresh from W2, its gain, and the weight update of each rule. */
#include "fasweep/feedback.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EULER_E 2.71828182845904523536

/* Keeps, in row j of b, only the k entries of the columns (j k + i) mod 10
 * for i < k; consecutive units take consecutive columns, so each output
 * feeds H k / 10 units, plus or minus one. */
static void keep_balanced_columns(float *b, int32_t n_hidden, int32_t k)
{
	for (int32_t j = 0; j < n_hidden; j++) {
		float row[NET_OUTPUTS] = {0.0f};
		float *dst = b + (size_t)j * NET_OUTPUTS;

		for (int32_t i = 0; i < k; i++) {
			int32_t col =
			        (int32_t)(((int64_t)j * k + i) % NET_OUTPUTS);

			row[col] = dst[col];
		}
		memcpy(dst, row, sizeof(row));
	}
}

/* Sets every non-zero entry of the onehot matrix b to the sign of R at
 * its place. */
static int sign_onehot(float *b, int32_t n_hidden, int64_t seed,
                       struct fw_error *err)
{
	size_t n = (size_t)n_hidden * NET_OUTPUTS;
	float *r = malloc(sizeof(float) * n);

	if (r == NULL)
		return fw_error_set(err,
		                    "out of memory for onehot's signs at %d "
		                    "hidden units",
		                    (int)n_hidden);
	net_draw_random_feedback(r, n_hidden, seed);
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0.0f)
			b[i] = r[i] < 0.0f ? -1.0f : 1.0f;
	free(r);
	return 0;
}

static float sign_of(float x)
{
	return (float)((x > 0.0f) - (x < 0.0f));
}

int feedback_init(struct feedback *f, struct net *net,
                  const struct trial_params *p, struct fw_error *err)
{
	size_t n = (size_t)p->n_hidden * NET_OUTPUTS;

	memset(f, 0, sizeof(*f));
	f->p = p;
	f->sign_scale = (float)(1.0 / sqrt((double)p->n_hidden + 1.0));

	switch (p->mode) {
	case MODE_ONEHOT:
		if (p->onehot_sign == ONEHOT_RANDOM &&
		    sign_onehot(net->feedback, p->n_hidden, p->seed, err) != 0)
			return -1;
		break;
	case MODE_SPARSE:
		keep_balanced_columns(net->feedback, p->n_hidden,
		                      p->feedback_k);
		break;
	case MODE_SHALLOW:
		memset(net->feedback, 0, sizeof(float) * n);
		break;
	case MODE_FRSF:
		f->magnitude = malloc(sizeof(float) * n);
		if (f->magnitude == NULL)
			return fw_error_set(err,
			                    "out of memory for frsf's |R| "
			                    "at %d hidden units",
			                    (int)p->n_hidden);
		for (size_t i = 0; i < n; i++)
			f->magnitude[i] = fabsf(net->feedback[i]);
		break;
	default:
		break;
	}
	feedback_refresh(f, net);
	return 0;
}

void feedback_free(struct feedback *f)
{
	free(f->magnitude);
	f->magnitude = NULL;
}

void feedback_refresh(const struct feedback *f, struct net *net)
{
	size_t n = (size_t)net->n_hidden * NET_OUTPUTS;

	if (f->p->mode == MODE_SIGN)
		for (size_t i = 0; i < n; i++)
			net->feedback[i] = f->sign_scale * sign_of(net->w2[i]);
	else if (f->p->mode == MODE_FRSF)
		for (size_t i = 0; i < n; i++)
			net->feedback[i] =
			        f->magnitude[i] * sign_of(net->w2[i]);
}

/* Returns the Frobenius norm of the H x 10 matrix m. */
static double frobenius(const float *m, int32_t n_hidden)
{
	size_t n = (size_t)n_hidden * NET_OUTPUTS;
	double sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double)m[i] * (double)m[i];
	return sqrt(sum);
}

float feedback_gain(const struct feedback *f, const struct net *net, int epoch)
{
	const struct trial_params *p = f->p;
	double norm_b;

	if (p->mode == MODE_BP || p->mode == MODE_SHALLOW)
		return 1.0f;
	if (p->feedback_norm == NORM_AS_DRAWN) {
		if (p->mode != MODE_FA || p->fa_scale == FA_SCALE_CONSTANT)
			return 1.0f;
		return (float)log((double)epoch + EULER_E);
	}

	norm_b = frobenius(net->feedback, net->n_hidden);
	if (norm_b == 0.0)
		return 1.0f;
	return (float)(frobenius(net->w2, net->n_hidden) / norm_b);
}

int feedback_trains_hidden(const struct feedback *f)
{
	return f->p->mode != MODE_SHALLOW;
}

/* Multiplies the first n entries of m by factor. */
static void scale_entries(float *m, size_t n, float factor)
{
	for (size_t i = 0; i < n; i++)
		m[i] *= factor;
}

void feedback_update(const struct feedback *f, struct net *net,
                     const struct net_batch *b, size_t n, float lr)
{
	int32_t nh = net->n_hidden;

	if (f->p->mode == MODE_KP && f->p->kp_decay != 0.0) {
		float keep = (float)(1.0 - f->p->kp_decay);
		size_t n_b = (size_t)nh * NET_OUTPUTS;

		scale_entries(net->w2, n_b, keep);
		scale_entries(net->feedback, n_b, keep);
	}

	net_update_output(net->w2, nh + 1, nh, b, n, lr);
	if (f->p->mode == MODE_KP)
		net_update_output(net->feedback, nh, nh, b, n, lr);
	if (feedback_trains_hidden(f))
		net_update_hidden(net, b, n, lr);
}
