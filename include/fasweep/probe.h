/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The feedback diagnostics of a trial at one point of training. They
 * compare B with W2[0:H, :], and the mode's hidden delta and W1 update
 * with backprop's on a fixed probe batch of training images. They also
 * measure the saturation of the hidden units there. Training and the test
 * curves are left to trainer.c. */
#ifndef FASWEEP_PROBE_H
#define FASWEEP_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"
#include "fasweep/net.h"
#include "fasweep/trainer.h"

/* Work buffers for the measurements of one trial. */
struct probe {
	int32_t n_hidden;
	size_t max_rows;  /* rows per chunk, the rows of the batch buffers */
	float *d_bp;      /* max_rows x H: backprop's hidden delta */
	float *grad_used; /* 785 x H: [x;1]^T d_hid of the mode */
	float *grad_bp;   /* 785 x H: [x;1]^T d_hid of backprop */
};

/* Allocates the buffers for chunks of max_rows rows; 0, or -1 with err. */
int probe_init(struct probe *pr, int32_t n_hidden, size_t max_rows,
               struct fw_error *err);

void probe_free(struct probe *pr);

/* Measures every curve from FIRST_PROBE_CURVE on, into out[curve], for the
 * network as it is, its feedback matrix b (before the gain) and the gain.
 * The probe batch is the n images of ds given by idx, passed through
 * batch in chunks of at most pr->max_rows rows (batch must hold that
 * many). Undefined values are NaN: the correlation, cosine and angles when
 * B or the mode's hidden delta is all zero. */
void probe_measure(struct probe *pr, const struct net *net, const float *b,
                   float gain, struct net_batch *batch,
                   const struct dataset *ds, const uint32_t *idx, size_t n,
                   double out[N_CURVES]);

#endif
