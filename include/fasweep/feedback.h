/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The feedback rules: how each mode builds the H x 10 matrix B that carries
 * output errors to the hidden layer, how B changes during training, the
 * gain applied to it, and the weight update each rule makes. The network's
 * arithmetic is left to net.c and the epoch loop to trainer.c.
 *
 * Every rule that needs random values takes them from the matrix R of
 * net_draw_random_feedback, so the modes of one (H, seed) share R:
 *   bp       B = W2[0:H, :] of the forward pass
 *   fa       B = R, gain s(epoch) = ln(epoch + e) with fa_scale = log_epoch
 *   onehot   B[j, j mod 10] = 1, or sign(R) there with onehot_sign = random
 *   sparse   B[j, c] = R[j, c] for the k columns c = (j k + i) mod 10,
 *            i < k, so each output feeds H k / 10 units, plus or minus one
 *   shallow  no hidden update; B = 0
 *   sign     B = sign(W2[0:H, :]) / sqrt(H + 1), before every minibatch
 *   frsf     B = |R| sign(W2[0:H, :]), before every minibatch
 *   kp       B starts as R and takes W2[0:H, :]'s update and decay */
#ifndef FASWEEP_FEEDBACK_H
#define FASWEEP_FEEDBACK_H

#include <stddef.h>

#include "fasweep/error.h"
#include "fasweep/grid.h"
#include "fasweep/net.h"

struct feedback {
	const struct trial_params *p;
	float *magnitude; /* H x 10: |R| for frsf, else NULL */
	float sign_scale; /* 1 / sqrt(H + 1) for sign */
};

/* Reshapes net->feedback, as net_init filled it, into the mode's initial B
 * and keeps what later steps need. Returns 0, or -1 with err set when
 * memory runs out. Free with feedback_free. */
int feedback_init(struct feedback *f, struct net *net,
                  const struct trial_params *p, struct fw_error *err);

void feedback_free(struct feedback *f);

/* Recomputes B from W2 for sign and frsf; does nothing for other modes.
 * Call before every use of B, so that B follows the current W2. */
void feedback_refresh(const struct feedback *f, struct net *net);

/* Returns the gain applied to B in training epoch `epoch` (counted from 0)
 * of a network in its current state: with feedback_norm = as_drawn, s(epoch)
 * for fa and 1 otherwise; with match_w2, |W2[0:H, :]|_F / |B|_F (1 for bp,
 * shallow and a zero B). Call after feedback_refresh. */
float feedback_gain(const struct feedback *f, const struct net *net, int epoch);

/* Returns 1 if the mode updates W1, 0 for shallow. */
int feedback_trains_hidden(const struct feedback *f);

/* Applies one minibatch's weight update of the mode, after the deltas.
 * W2 and W1 change as in net_update, and shallow leaves W1 alone. For kp,
 * W2[0:H, :] and B are first multiplied by (1 - kp_decay), and then B
 * takes the same gradient step as W2[0:H, :]. */
void feedback_update(const struct feedback *f, struct net *net,
                     const struct net_batch *b, size_t n, float lr);

#endif
