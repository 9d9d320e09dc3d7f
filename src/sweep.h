/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sweep.h - private to coord.c and sweep_results.c: the state of a sweep on
 * one rank and the result message that workers send to rank 0. It also
 * declares the calls between the MPI side (coord.c) and rank 0's handling
 * of the results (sweep_results.c). The public interface is
 * include/fasweep/coord.h. */
#ifndef FASWEEP_SWEEP_H
#define FASWEEP_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "fasweep/coord.h"
#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/log.h"
#include "fasweep/node_data.h"
#include "fasweep/trainer.h"

/* Header of a result message; N_CURVES x (n_points + early_checkpoints)
 * floats follow, laid out as trainer_run writes them. With
 * [output] save_weights, a done or diverged trial's weights follow them:
 * W1, W2 and B of each stored stage, then the training and test indices
 * (sweep_weights_bind). Ranks are assumed to share one binary layout (one
 * cluster, one build). */
struct result_msg {
	int64_t trial;  /* flat trial index, -1 for "ready" */
	int32_t status; /* enum trial_status */
	int32_t rank;
	double wall_seconds;
	float final_test_accuracy;
	char host[H5OUT_HOST_MAX];
	char message[TRIAL_MESSAGE_MAX];
};

/* One rank's state of the sweep, set up by coord.c. */
struct sweep {
	const struct run_options *opt;
	MPI_Comm comm;
	int rank;
	int n_ranks;
	struct log_ctx log;
	struct grid grid;
	struct node_data nd; /* MNIST, shared by the ranks of a node */
	size_t n_trials;
	size_t n_points; /* max_epochs + 1 */
	char host[H5OUT_HOST_MAX];
	unsigned char *msg; /* one result message */
	size_t msg_size;    /* the buffer: the largest message of the grid */
	size_t base_size;   /* header and curves, the size without weights */
	int n_received;     /* bytes of the last message rank 0 received, -1
	                       while it runs trials itself */
	/* Rank 0 only. */
	struct h5out *out;
	struct trial_row *rows; /* n_trials, flat order */
	size_t *order;          /* n_order trials to run, hand-out order */
	size_t n_order;
	size_t n_before;     /* trials finished before this run resumed */
	size_t n_stored;     /* results stored by this run */
	double flops_todo;   /* cost of the trials in order */
	double flops_stored; /* cost of those stored so far */
	size_t *unflushed;   /* trials whose curves await the next commit */
	size_t n_unflushed;
	double t_commit;      /* when rows were last committed */
	int64_t *running;     /* per rank: the trial it runs, or -1 */
	MPI_Request *stop_rq; /* per rank: the TAG_STOP send, if any */
	int stop_value;       /* payload of every TAG_STOP message */
	int stopping;         /* no new trials: a stop was requested */
	double stop_deadline; /* when stopping turns into MPI_Abort */
	double t_start;
	double t_loop; /* when the first trial was handed out */
	int synthetic; /* FASWEEP_SYNTHETIC_TRIALS: no training, for benchmarks
	                */
};

/* Maximum time stored results wait for their rows to be committed while
 * results keep arriving. An idle rank 0 commits at once. */
#define COMMIT_SECONDS 1.0

/* coord.c: the layout of the result message in s->msg. */

/* Returns the curves of the message: N_CURVES x n_points floats, then
 * N_CURVES x early_checkpoints. */
float *sweep_msg_curves(const struct sweep *s);

/* Points w into the message buffer after the curves: W1, W2 and B of each
 * stored stage in stage order, then the training and test indices. */
void sweep_weights_bind(const struct sweep *s, const struct trial_params *p,
                        struct trial_weights *w);

/* Returns 1 if the result carries weights: save_weights is on and the
 * trial is done or diverged, the results that are stored. */
int sweep_msg_has_weights(const struct sweep *s, const struct result_msg *m);

/* Returns the bytes of the result message in the buffer. */
size_t sweep_msg_length(const struct sweep *s, const struct result_msg *m);

/* sweep_results.c: rank 0's handling of the results. Every failure is
 * logged before the function returns. */

/* Rank 0: returns -1 if the results file exists and neither --force nor
 * --resume accepts it, else 0. */
int sweep_check_target(const struct sweep *s);

/* Rank 0: the trial rows, the results file (new, or resumed when asked
 * and present) and the hand-out order. Returns 0 or -1. */
int sweep_open_results(struct sweep *s);

/* Rank 0 with a result in the message buffer: stores it, or notes that it
 * was stopped, which starts stopping the sweep. Returns 0 or -1. */
int sweep_take_result(struct sweep *s);

/* Rank 0: makes the stored results durable: a flush puts their curves on
 * disk, then their rows are written and flushed, so that a row never
 * claims curves a crash lost. Batching many results per flush is what lets
 * rank 0 keep up with thousands of short trials per second. Returns 0 or
 * -1. */
int sweep_commit(struct sweep *s);

/* Rank 0: how many trials are still to run after the loop. */
size_t sweep_count_unfinished(const struct sweep *s);

/* Rank 0 after a stop: closes the file without a final pass. Returns
 * COORD_EXIT_STOPPED, or 1 when the file could not be written. */
int sweep_finish_stopped(struct sweep *s);

/* Rank 0: the final pass into /tables/stats, then closes the file. rc is
 * the status of the loop: unless it is 0 the pass is skipped and rc
 * returned, but the file is closed either way. Returns 0 or -1. */
int sweep_finish(struct sweep *s, int rc);

/* Logs this rank's CPU time, peak resident memory, private memory and
 * proportional share (PSS), which divides the node's shared MNIST among the
 * ranks that map it. */
void sweep_log_memory(const struct sweep *s);

#endif
