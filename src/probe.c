/* SPDX-License-Identifier: GPL-3.0-or-later */
/* probe.c - the feedback diagnostics: comparisons of B with W2[0:H, :] and
 * of the mode's hidden delta and W1 update with backprop's on the probe
 * batch, and the saturation of the hidden units there. */
#include "fasweep/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#define DEGREES_PER_RADIAN (180.0 / 3.14159265358979323846)

/* A hidden activation below this or above 1 minus this is saturated. */
#define SATURATION_MARGIN 0.05f

/* Sums over the probe batch. */
struct probe_sums {
	double dot;         /* <d_used, d_bp> over the stacked batch */
	double norm_used;   /* |d_used|^2 */
	double norm_bp;     /* |d_bp|^2 */
	double angle_sum;   /* sum of per-example angles, degrees */
	size_t angle_count; /* examples with both deltas non-zero */
	size_t concordant;  /* examples with e^T W2^T B e > 0 */
	size_t saturated;   /* activations outside the margins */
	double slope_sum;   /* sum of h (1 - h) */
};

int probe_init(struct probe *pr, int32_t n_hidden, size_t max_rows,
               struct fw_error *err)
{
	size_t h = (size_t)n_hidden;

	memset(pr, 0, sizeof(*pr));
	pr->n_hidden = n_hidden;
	pr->max_rows = max_rows;
	pr->d_bp = malloc(sizeof(float) * max_rows * h);
	pr->grad_used = malloc(sizeof(float) * NET_INPUTS * h);
	pr->grad_bp = malloc(sizeof(float) * NET_INPUTS * h);
	if (pr->d_bp == NULL || pr->grad_used == NULL || pr->grad_bp == NULL) {
		probe_free(pr);
		return fw_error_set(err,
		                    "out of memory for the probe buffers at "
		                    "%d hidden units",
		                    (int)n_hidden);
	}
	return 0;
}

void probe_free(struct probe *pr)
{
	free(pr->grad_bp);
	free(pr->grad_used);
	free(pr->d_bp);
	memset(pr, 0, sizeof(*pr));
}

/* Returns the angle in degrees whose cosine is dot / sqrt(aa * bb), NaN
 * when either norm is zero. */
static double angle_degrees(double dot, double aa, double bb)
{
	double c = dot / sqrt(aa * bb);

	if (c > 1.0)
		c = 1.0;
	if (c < -1.0)
		c = -1.0;
	return acos(c) * DEGREES_PER_RADIAN;
}

/* Pearson r between W2[0:H, :] and b. */
static double correlation(const float *w, const float *b, size_t n)
{
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

/* Sets the cosine of W2[0:H, :] and b, and |gain b| / |W2[0:H, :]|. */
static void compare_matrices(const float *w, const float *b, size_t n,
                             float gain, double out[N_CURVES])
{
	double ww = 0.0, bb = 0.0, wb = 0.0;

	for (size_t i = 0; i < n; i++) {
		ww += (double)w[i] * w[i];
		bb += (double)b[i] * b[i];
		wb += (double)w[i] * b[i];
	}
	out[CURVE_FEEDBACK_COSINE] = wb / sqrt(ww * bb);
	out[CURVE_FEEDBACK_NORM_RATIO] = fabs((double)gain) * sqrt(bb / ww);
}

/* m = W2[0:H, :]^T b, 10 x 10, so that e^T W2^T B e = e^T m e. */
static void error_form(const float *w, const float *b, int32_t n_hidden,
                       double m[NET_OUTPUTS][NET_OUTPUTS])
{
	memset(m, 0, sizeof(double) * NET_OUTPUTS * NET_OUTPUTS);
	for (int32_t j = 0; j < n_hidden; j++) {
		const float *wj = w + (size_t)j * NET_OUTPUTS;
		const float *bj = b + (size_t)j * NET_OUTPUTS;

		for (int k = 0; k < NET_OUTPUTS; k++)
			for (int l = 0; l < NET_OUTPUTS; l++)
				m[k][l] += (double)wj[k] * bj[l];
	}
}

/* Counts the rows whose output error e has e^T m e > 0. */
static size_t count_concordant(const float *d_out, size_t rows,
                               double m[NET_OUTPUTS][NET_OUTPUTS])
{
	size_t count = 0;

	for (size_t r = 0; r < rows; r++) {
		const float *e = d_out + r * NET_OUTPUTS;
		double q = 0.0;

		for (int k = 0; k < NET_OUTPUTS; k++)
			for (int l = 0; l < NET_OUTPUTS; l++)
				q += e[k] * m[k][l] * e[l];
		count += q > 0.0;
	}
	return count;
}

/* Adds the chunk's saturated activations and h (1 - h) to s. */
static void add_saturation(const struct net_batch *batch, int32_t n_hidden,
                           size_t rows, struct probe_sums *s)
{
	size_t ld = (size_t)n_hidden + 1;

	for (size_t r = 0; r < rows; r++) {
		const float *h = batch->h + r * ld;

		for (int32_t j = 0; j < n_hidden; j++) {
			s->saturated += h[j] < SATURATION_MARGIN ||
			                h[j] > 1.0f - SATURATION_MARGIN;
			s->slope_sum += (double)h[j] * (1.0 - (double)h[j]);
		}
	}
}

/* Adds the stacked and per-example angle sums of d_used against d_bp. */
static void add_delta_angles(const float *d_used, const float *d_bp,
                             int32_t n_hidden, size_t rows,
                             struct probe_sums *s)
{
	size_t h = (size_t)n_hidden;

	for (size_t i = 0; i < rows * h; i++) {
		double a = d_used[i], b = d_bp[i];

		s->dot += a * b;
		s->norm_used += a * a;
		s->norm_bp += b * b;
	}

	for (size_t r = 0; r < rows; r++) {
		double dot = 0.0, aa = 0.0, bb = 0.0;

		for (size_t j = r * h; j < (r + 1) * h; j++) {
			dot += (double)d_used[j] * d_bp[j];
			aa += (double)d_used[j] * d_used[j];
			bb += (double)d_bp[j] * d_bp[j];
		}
		if (aa == 0.0 || bb == 0.0)
			continue;
		s->angle_sum += angle_degrees(dot, aa, bb);
		s->angle_count++;
	}
}

/* Adds [x;1]^T d to grad, or sets it on the first chunk. */
static void add_gradient(float *grad, const struct net_batch *batch,
                         const float *d, int32_t n_hidden, size_t rows,
                         int first)
{
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS,
	            n_hidden, (int)rows, 1.0f, batch->x, NET_INPUTS, d,
	            n_hidden, first ? 0.0f : 1.0f, grad, n_hidden);
}

/* Measures one chunk of the probe batch, already loaded into batch. */
static void measure_chunk(struct probe *pr, const struct net *net,
                          const float *b, float gain, struct net_batch *batch,
                          size_t rows, int first,
                          double m[NET_OUTPUTS][NET_OUTPUTS],
                          struct probe_sums *s)
{
	int32_t nh = net->n_hidden;

	net_forward(net, batch, rows);
	net_output_delta(batch, rows, NULL);
	add_saturation(batch, nh, rows, s);
	s->concordant += count_concordant(batch->d_out, rows, m);

	net_hidden_delta(net->w2, 1.0f, nh, batch, rows);
	memcpy(pr->d_bp, batch->d_hid, sizeof(float) * rows * (size_t)nh);
	net_hidden_delta(b, gain, nh, batch, rows);
	add_delta_angles(batch->d_hid, pr->d_bp, nh, rows, s);

	add_gradient(pr->grad_used, batch, batch->d_hid, nh, rows, first);
	add_gradient(pr->grad_bp, batch, pr->d_bp, nh, rows, first);
}

/* Returns the angle in degrees between the two accumulated W1 updates. */
static double update_angle(const struct probe *pr)
{
	size_t n = (size_t)NET_INPUTS * (size_t)pr->n_hidden;
	double dot = 0.0, aa = 0.0, bb = 0.0;

	for (size_t i = 0; i < n; i++) {
		dot += (double)pr->grad_used[i] * pr->grad_bp[i];
		aa += (double)pr->grad_used[i] * pr->grad_used[i];
		bb += (double)pr->grad_bp[i] * pr->grad_bp[i];
	}
	return angle_degrees(dot, aa, bb);
}

void probe_measure(struct probe *pr, const struct net *net, const float *b,
                   float gain, struct net_batch *batch,
                   const struct dataset *ds, const uint32_t *idx, size_t n,
                   double out[N_CURVES])
{
	size_t n_b = (size_t)net->n_hidden * NET_OUTPUTS;
	double n_act = (double)n * (double)net->n_hidden;
	double m[NET_OUTPUTS][NET_OUTPUTS];
	struct probe_sums s;

	memset(&s, 0, sizeof(s));
	out[CURVE_FEEDBACK_CORRELATION] = correlation(net->w2, b, n_b);
	compare_matrices(net->w2, b, n_b, gain, out);
	error_form(net->w2, b, net->n_hidden, m);

	for (size_t start = 0; start < n; start += pr->max_rows) {
		size_t rows =
		        n - start < pr->max_rows ? n - start : pr->max_rows;

		net_batch_load(batch, ds, idx + start, rows);
		measure_chunk(pr, net, b, gain, batch, rows, start == 0, m, &s);
	}

	out[CURVE_ALIGNMENT_ANGLE] =
	        angle_degrees(s.dot, s.norm_used, s.norm_bp);
	out[CURVE_DELTA_NORM_RATIO] = sqrt(s.norm_used / s.norm_bp);
	out[CURVE_ALIGNMENT_ANGLE_MEAN] =
	        s.angle_count ? s.angle_sum / (double)s.angle_count : NAN;
	out[CURVE_UPDATE_ANGLE] = update_angle(pr);
	out[CURVE_FEEDBACK_CONCORDANCE] = (double)s.concordant / (double)n;
	out[CURVE_SATURATION_FRACTION] = (double)s.saturated / n_act;
	out[CURVE_SIGMOID_SLOPE] = s.slope_sum / n_act;
}
