/* SPDX-License-Identifier: GPL-3.0-or-later */
/* net.c - the network's weights and its minibatch arithmetic. The large
 * products go through CBLAS; the elementwise steps are plain loops. */
#include "fasweep/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "fasweep/rng.h"

static void fill_normal(float *w, size_t n, double scale, int64_t seed,
                        int32_t n_hidden, enum rng_purpose purpose)
{
	struct rng r;

	rng_init(&r, (uint64_t)seed, (uint32_t)n_hidden, purpose, 0);
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(rng_normal(&r) * scale);
}

static void fill_onehot(float *b, int32_t n_hidden)
{
	memset(b, 0, sizeof(float) * (size_t)n_hidden * NET_OUTPUTS);
	for (int32_t j = 0; j < n_hidden; j++)
		b[(size_t)j * NET_OUTPUTS + (size_t)(j % NET_OUTPUTS)] = 1.0f;
}

int net_init(struct net *net, enum fw_mode mode, int32_t n_hidden, int64_t seed,
             struct fw_error *err)
{
	size_t n_w1 = (size_t)NET_INPUTS * (size_t)n_hidden;
	size_t n_w2 = (size_t)(n_hidden + 1) * NET_OUTPUTS;
	size_t n_b = (size_t)n_hidden * NET_OUTPUTS;

	memset(net, 0, sizeof(*net));
	net->n_hidden = n_hidden;
	net->mode = mode;
	net->w1 = malloc(sizeof(float) * n_w1);
	net->w2 = malloc(sizeof(float) * n_w2);
	if (mode != MODE_BP)
		net->feedback = malloc(sizeof(float) * n_b);
	if (!net->w1 || !net->w2 || (mode != MODE_BP && !net->feedback)) {
		net_free(net);
		return fw_error_set(err,
		                    "out of memory for a network with "
		                    "%d hidden units",
		                    (int)n_hidden);
	}

	fill_normal(net->w1, n_w1, 1.0 / sqrt((double)NET_INPUTS), seed,
	            n_hidden, RNG_W1);
	fill_normal(net->w2, n_w2, 1.0 / sqrt((double)n_hidden + 1.0), seed,
	            n_hidden, RNG_W2);
	if (mode == MODE_ONEHOT)
		fill_onehot(net->feedback, n_hidden);
	else if (mode != MODE_BP)
		net_draw_random_feedback(net->feedback, n_hidden, seed);
	return 0;
}

void net_draw_random_feedback(float *r, int32_t n_hidden, int64_t seed)
{
	fill_normal(r, (size_t)n_hidden * NET_OUTPUTS,
	            1.0 / sqrt((double)n_hidden + 1.0), seed, n_hidden,
	            RNG_FEEDBACK);
}

void net_free(struct net *net)
{
	free(net->feedback);
	free(net->w2);
	free(net->w1);
	net->feedback = net->w2 = net->w1 = NULL;
}

const float *net_feedback(const struct net *net)
{
	return net->mode == MODE_BP ? net->w2 : net->feedback;
}

int net_batch_init(struct net_batch *b, int32_t n_hidden, size_t max_rows,
                   struct fw_error *err)
{
	size_t n_h = (size_t)n_hidden;

	memset(b, 0, sizeof(*b));
	b->max_rows = max_rows;
	b->x = malloc(sizeof(float) * max_rows * NET_INPUTS);
	b->h = malloc(sizeof(float) * max_rows * (n_h + 1));
	b->y = malloc(sizeof(float) * max_rows * NET_OUTPUTS);
	b->d_out = malloc(sizeof(float) * max_rows * NET_OUTPUTS);
	b->d_hid = malloc(sizeof(float) * max_rows * n_h);
	b->labels = malloc(max_rows);
	if (!b->x || !b->h || !b->y || !b->d_out || !b->d_hid || !b->labels) {
		net_batch_free(b);
		return fw_error_set(err,
		                    "out of memory for minibatch buffers "
		                    "of %zu rows",
		                    max_rows);
	}
	return 0;
}

void net_batch_free(struct net_batch *b)
{
	free(b->labels);
	free(b->d_hid);
	free(b->d_out);
	free(b->y);
	free(b->h);
	free(b->x);
	memset(b, 0, sizeof(*b));
}

/* Asks the CPU to fetch the 784 bytes of image i into the cache. Images
 * come in shuffled order, so without this the conversion waits on memory
 * for every image. */
static void prefetch_image(const struct dataset *ds, uint32_t i)
{
	const uint8_t *src = ds->images + (size_t)i * DATASET_PIXELS;

	for (size_t off = 0; off < DATASET_PIXELS; off += 64)
		__builtin_prefetch(src + off);
}

void net_batch_load(struct net_batch *b, const struct dataset *ds,
                    const uint32_t *idx, size_t n)
{
	const float inv255 = 1.0f / 255.0f;
	const size_t ahead = 8; /* images prefetched ahead of the conversion */

	for (size_t r = 0; r < n && r < ahead; r++)
		prefetch_image(ds, idx[r]);
	for (size_t r = 0; r < n; r++) {
		const uint8_t *src =
		        ds->images + (size_t)idx[r] * DATASET_PIXELS;
		float *dst = b->x + r * NET_INPUTS;

		if (r + ahead < n)
			prefetch_image(ds, idx[r + ahead]);

		for (size_t i = 0; i < DATASET_PIXELS; i++)
			dst[i] = (float)src[i] * inv255;
		dst[DATASET_PIXELS] = 1.0f;
		b->labels[r] = ds->labels[idx[r]];
	}
}

static float sigmoid(float z)
{
	return 1.0f / (1.0f + expf(-z));
}

void net_forward(const struct net *net, struct net_batch *b, size_t n)
{
	int nh = net->n_hidden;
	size_t ld = (size_t)nh + 1;

	/* Hidden layer: h[:, 0:H] = sigmoid(x W1), then the bias column. */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, nh,
	            NET_INPUTS, 1.0f, b->x, NET_INPUTS, net->w1, nh, 0.0f, b->h,
	            (int)ld);
	for (size_t r = 0; r < n; r++) {
		float *row = b->h + r * ld;

		for (int j = 0; j < nh; j++)
			row[j] = sigmoid(row[j]);
		row[nh] = 1.0f;
	}

	/* Output layer: y = sigmoid([h;1] W2). */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n,
	            NET_OUTPUTS, (int)ld, 1.0f, b->h, (int)ld, net->w2,
	            NET_OUTPUTS, 0.0f, b->y, NET_OUTPUTS);
	for (size_t i = 0; i < n * NET_OUTPUTS; i++)
		b->y[i] = sigmoid(b->y[i]);
}

double net_output_delta(struct net_batch *b, size_t n, size_t *n_correct)
{
	double loss = 0.0;
	size_t correct = 0;

	for (size_t r = 0; r < n; r++) {
		const float *y = b->y + r * NET_OUTPUTS;
		float *d = b->d_out + r * NET_OUTPUTS;
		int best = 0;

		for (int k = 0; k < NET_OUTPUTS; k++) {
			float t = (k == b->labels[r]) ? 1.0f : 0.0f;
			float e = y[k] - t;

			loss += 0.5 * (double)e * (double)e;
			d[k] = e * y[k] * (1.0f - y[k]);
			if (y[k] > y[best])
				best = k;
		}
		correct += (best == b->labels[r]);
	}
	if (n_correct != NULL)
		*n_correct = correct;
	return loss;
}

void net_hidden_delta(const float *feedback, float scale, int32_t n_hidden,
                      struct net_batch *b, size_t n)
{
	size_t ld = (size_t)n_hidden + 1;

	/* d_hid = scale * d_out B^T, then times the sigmoid derivative. */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, n_hidden,
	            NET_OUTPUTS, scale, b->d_out, NET_OUTPUTS, feedback,
	            NET_OUTPUTS, 0.0f, b->d_hid, n_hidden);
	for (size_t r = 0; r < n; r++) {
		const float *h = b->h + r * ld;
		float *d = b->d_hid + r * (size_t)n_hidden;

		for (int32_t j = 0; j < n_hidden; j++)
			d[j] *= h[j] * (1.0f - h[j]);
	}
}

void net_update_output(float *w, int32_t n_rows, int32_t n_hidden,
                       const struct net_batch *b, size_t n, float learning_rate)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_rows,
	            NET_OUTPUTS, (int)n, -learning_rate, b->h, n_hidden + 1,
	            b->d_out, NET_OUTPUTS, 1.0f, w, NET_OUTPUTS);
}

void net_update_hidden(struct net *net, const struct net_batch *b, size_t n,
                       float learning_rate)
{
	int nh = net->n_hidden;

	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS, nh,
	            (int)n, -learning_rate, b->x, NET_INPUTS, b->d_hid, nh,
	            1.0f, net->w1, nh);
}

void net_update(struct net *net, const struct net_batch *b, size_t n,
                float learning_rate)
{
	net_update_output(net->w2, net->n_hidden + 1, net->n_hidden, b, n,
	                  learning_rate);
	net_update_hidden(net, b, n, learning_rate);
}
