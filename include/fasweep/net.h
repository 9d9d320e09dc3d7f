/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The two-layer sigmoid network: initial weights, feedback matrices, and the
 * minibatch forward pass, deltas and weight update in float32 through CBLAS.
 * Epochs, data order and metrics are left to the trainer.
 *
 * Shapes (row-major): x is n x 785 (784 pixels / 255, then a constant 1),
 * h is n x (H + 1) (H sigmoid units, then a constant 1), y is n x 10. */
#ifndef FASWEEP_NET_H
#define FASWEEP_NET_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"
#include "fasweep/grid.h"

#define NET_INPUTS  (DATASET_PIXELS + 1) /* 785: pixels and the bias input */
#define NET_OUTPUTS DATASET_CLASSES      /* 10 */

struct net {
	int32_t n_hidden; /* H */
	enum fw_mode mode;
	float *w1;       /* 785 x H */
	float *w2;       /* (H + 1) x 10 */
	float *feedback; /* H x 10: the one-hot matrix for onehot, R for every
	                    other mode but bp, NULL for bp (B is then the
	                    first H rows of w2). feedback.c reshapes it for
	                    the rules built from R. */
};

/* Buffers for a minibatch of up to max_rows images. */
struct net_batch {
	size_t max_rows;
	float *x;        /* max_rows x 785 */
	float *h;        /* max_rows x (H + 1) */
	float *y;        /* max_rows x 10 */
	float *d_out;    /* max_rows x 10 */
	float *d_hid;    /* max_rows x H */
	uint8_t *labels; /* max_rows */
};

/* Draws W1 ~ N(0, 1) / sqrt(785) from the stream (seed, H, RNG_W1) and
 * W2 ~ N(0, 1) / sqrt(H + 1) from (seed, H, RNG_W2), so every mode of one
 * (H, seed) starts from the same weights. Then fills the feedback matrix:
 * the positive one-hot matrix for onehot, nothing for bp, and R for every
 * other mode. Returns 0, or -1 with err set when memory runs out. Free
 * with net_free. */
int net_init(struct net *net, enum fw_mode mode, int32_t n_hidden, int64_t seed,
             struct fw_error *err);

/* Draws the H x 10 matrix R ~ N(0, 1) / sqrt(H + 1) from the stream (seed,
 * H, RNG_FEEDBACK), the same R for every mode of one (H, seed). */
void net_draw_random_feedback(float *r, int32_t n_hidden, int64_t seed);

void net_free(struct net *net);

/* Returns the H x 10 feedback matrix B of the mode before scaling: W2[0:H, :]
 * for bp (rows are contiguous), otherwise net->feedback. */
const float *net_feedback(const struct net *net);

/* Allocates buffers for up to max_rows images; 0, or -1 with err set. */
int net_batch_init(struct net_batch *b, int32_t n_hidden, size_t max_rows,
                   struct fw_error *err);

void net_batch_free(struct net_batch *b);

/* Fills x and labels with n images of ds chosen by idx (uint8 pixels / 255
 * and a trailing 1 per row). */
void net_batch_load(struct net_batch *b, const struct dataset *ds,
                    const uint32_t *idx, size_t n);

/* Computes h and y for the n rows of x. */
void net_forward(const struct net *net, struct net_batch *b, size_t n);

/* Computes d_out = (y - t) * y * (1 - y) from y and labels, and returns the
 * summed loss sum_rows 1/2 sum_k (y_k - t_k)^2. If n_correct is not NULL it
 * receives the number of rows whose largest output is the label. */
double net_output_delta(struct net_batch *b, size_t n, size_t *n_correct);

/* Computes d_hid = scale * (d_out B^T) * h * (1 - h) with B the H x 10
 * matrix feedback. */
void net_hidden_delta(const float *feedback, float scale, int32_t n_hidden,
                      struct net_batch *b, size_t n);

/* Applies the summed gradients: W2 -= lr [h;1]^T d_out, W1 -= lr [x;1]^T
 * d_hid. Call after net_hidden_delta, so bp's B is the W2 of the forward
 * pass. */
void net_update(struct net *net, const struct net_batch *b, size_t n,
                float learning_rate);

/* Applies the output gradient to the first n_rows rows of w, an
 * n_rows x 10 matrix: w -= lr [h;1][:, 0:n_rows]^T d_out. With w = W2 and
 * n_rows = H + 1 it is the first half of net_update; with n_rows = H it
 * gives a matrix shaped like B the update of W2[0:H, :]. */
void net_update_output(float *w, int32_t n_rows, int32_t n_hidden,
                       const struct net_batch *b, size_t n,
                       float learning_rate);

/* Applies the hidden gradient, W1 -= lr [x;1]^T d_hid, the second half of
 * net_update. */
void net_update_hidden(struct net *net, const struct net_batch *b, size_t n,
                       float learning_rate);

#endif
