/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coord.c - the MPI side of the sweep. Every rank sets up the grid, the
 * data and the result message. Rank 0 then runs the coordinator loop with
 * its stop handling, and the other ranks run trials in the worker loop.
 * With one rank, rank 0 runs them itself. Rank 0's handling of the results
 * and the file is in sweep_results.c, training in trainer.c. */
#include "fasweep/coord.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/net.h"
#include "fasweep/node_data.h"
#include "fasweep/stop.h"
#include "fasweep/trainer.h"
#include "sweep.h"

enum { TAG_WORK = 1, TAG_RESULT = 2, TAG_STOP = 3 };

/* Replies to a worker besides a trial index. */
enum {
	WORK_NONE = -1, /* no trial left: exit */
	WORK_STOP = -2  /* stopping: receive the TAG_STOP message, then exit */
};

float *sweep_msg_curves(const struct sweep *s)
{
	return (float *)(s->msg + sizeof(struct result_msg));
}

/* Returns the bytes of a trial's weights and indices in a result message,
 * 0 without save_weights. */
static size_t weights_size(const struct grid *g, const struct trial_params *p)
{
	size_t h = (size_t)p->n_hidden;
	size_t per_stage = NET_INPUTS * h + (h + 1) * NET_OUTPUTS +
	                   h * NET_OUTPUTS; /* floats of W1, W2 and B */
	size_t n_stages = grid_n_stages(g);

	if (n_stages == 0)
		return 0;
	return sizeof(float) * n_stages * per_stage +
	       sizeof(uint32_t) * ((size_t)p->n_train + (size_t)p->n_test);
}

void sweep_weights_bind(const struct sweep *s, const struct trial_params *p,
                        struct trial_weights *w)
{
	size_t h = (size_t)p->n_hidden;
	float *f = (float *)(s->msg + s->base_size);

	memset(w, 0, sizeof(*w));
	for (int st = 0; st < N_STAGES; st++) {
		if (!s->grid.save_weights[st])
			continue;
		w->w1[st] = f;
		f += NET_INPUTS * h;
		w->w2[st] = f;
		f += (h + 1) * NET_OUTPUTS;
		w->feedback[st] = f;
		f += h * NET_OUTPUTS;
	}
	w->n_train = (size_t)p->n_train;
	w->n_test = (size_t)p->n_test;
	w->train_index = (uint32_t *)f;
	w->test_index = w->train_index + w->n_train;
}

int sweep_msg_has_weights(const struct sweep *s, const struct result_msg *m)
{
	return s->msg_size > s->base_size && m->trial >= 0 &&
	       (m->status == TRIAL_DONE || m->status == TRIAL_DIVERGED);
}

size_t sweep_msg_length(const struct sweep *s, const struct result_msg *m)
{
	struct trial_params p;

	if (!sweep_msg_has_weights(s, m))
		return s->base_size;
	grid_trial_params(&s->grid, (size_t)m->trial, &p);
	return s->base_size + weights_size(&s->grid, &p);
}

/* Rank 0 reads and validates the INI file and broadcasts its text. The
 * other ranks parse the same text. Should that fail anyway (a different
 * build), the rank aborts the job. Returns 0 on every rank, or -1 on every
 * rank. */
static int share_grid(struct sweep *s)
{
	struct fw_error err = {{0}};
	long len = -1;
	char *text = NULL;
	int rc = 0;

	if (s->rank == 0) {
		rc = grid_load(&s->grid, s->opt->config_path, &err);
		if (rc != 0)
			log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		else
			len = (long)strlen(s->grid.text);
	}
	MPI_Bcast(&len, 1, MPI_LONG, 0, s->comm);
	if (len < 0)
		return -1;

	text = s->rank == 0 ? s->grid.text : calloc((size_t)len + 1, 1);
	if (text == NULL) {
		log_msg(&s->log, LOG_ERROR, "out of memory for the INI text");
		MPI_Abort(s->comm, 1);
	}
	MPI_Bcast(text, (int)len, MPI_CHAR, 0, s->comm);
	if (s->rank != 0) {
		rc = grid_parse(&s->grid, s->opt->config_path, text, &err);
		free(text);
		if (rc != 0) {
			log_msg(&s->log, LOG_ERROR, "%s", err.msg);
			MPI_Abort(s->comm, 1);
		}
	}
	return 0;
}

/* Applies --data to the grid on every rank. */
static int override_data_dir(struct sweep *s)
{
	char *dir;

	if (s->opt->data_dir == NULL)
		return 0;
	dir = malloc(strlen(s->opt->data_dir) + 1);
	if (dir == NULL)
		return -1;
	strcpy(dir, s->opt->data_dir);
	free(s->grid.data_dir);
	s->grid.data_dir = dir;
	return 0;
}

/* Loads MNIST once per node and agrees on success. The first rank of each
 * node reads the files and logs its own error. Another node logs its error
 * only when rank 0's node loaded the data, so a file missing on one node is
 * named with that node, and a path wrong everywhere is reported once. */
static int load_data(struct sweep *s)
{
	struct fw_error err = {{0}};
	int ok = 1, all_ok = 0, root_ok;

	if (node_data_load(&s->nd, s->grid.data_dir, s->comm, &err) != 0)
		ok = 0;
	root_ok = ok;
	MPI_Bcast(&root_ok, 1, MPI_INT, 0, s->comm);
	MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, s->comm);
	if (err.msg[0] != '\0' && (s->rank == 0 || root_ok))
		log_msg(&s->log, LOG_ERROR, "on %s: %s", s->host, err.msg);
	if (!all_ok && s->rank == 0 && ok)
		log_msg(&s->log, LOG_ERROR,
		        "MNIST could not be loaded on "
		        "every node; see the errors above");
	return all_ok ? 0 : -1;
}

/* The stop hook of a trial on rank 0 alone: a signal to this process. */
static int stop_alone(void *ctx)
{
	(void)ctx;
	return stop_count() > 0;
}

/* The stop hook of a trial on a worker: a signal to this process, or a
 * stop message from rank 0, which is left for the worker to receive. */
static int stop_worker(void *ctx)
{
	const struct sweep *s = ctx;
	int flag = 0;

	if (stop_count() > 0)
		return 1;
	MPI_Iprobe(0, TAG_STOP, s->comm, &flag, MPI_STATUS_IGNORE);
	return flag;
}

/* Fills curves without training: values that identify the trial, for
 * measuring rank 0's cost per result. */
static void synthetic_trial(const struct sweep *s, size_t t,
                            const struct trial_params *p, float *curves,
                            struct trial_outcome *out)
{
	size_t n_early = (size_t)p->early_checkpoints;

	for (size_t c = 0; c < N_CURVES; c++)
		for (size_t e = 0; e < s->n_points; e++)
			curves[c * s->n_points + e] =
			        (int32_t)e <= p->n_epochs
			                ? (float)(t % 1000) + 1e-3f * (float)e
			                : NAN;
	for (size_t i = 0; i < N_CURVES * n_early; i++)
		curves[N_CURVES * s->n_points + i] = (float)(t % 1000);
	memset(out, 0, sizeof(*out));
	out->status = TRIAL_DONE;
	out->final_test_accuracy = (float)(t % 1000) / 1000.0f;
}

/* Runs trial t on this rank and fills the message buffer with its result. */
static void run_trial(struct sweep *s, size_t t)
{
	struct result_msg *m = (struct result_msg *)s->msg;
	struct trainer_stop stop = {s->rank == 0 ? stop_alone : stop_worker, s};
	struct trial_outcome outcome;
	struct trial_params p;
	struct trial_weights weights;
	struct trial_weights *saved = NULL; /* NULL without save_weights */
	struct fw_error err = {{0}};

	grid_trial_params(&s->grid, t, &p);
	if (s->msg_size > s->base_size) {
		sweep_weights_bind(s, &p, &weights);
		saved = &weights;
	}
	log_msg(&s->log, LOG_DEBUG, "trial started mode=%s hidden=%d seed=%lld",
	        grid_mode_name(p.mode), (int)p.n_hidden, (long long)p.seed);
	if (s->synthetic) {
		synthetic_trial(s, t, &p, sweep_msg_curves(s), &outcome);

		/* All bits set: NaN weights and UINT32_MAX indices. */
		memset(s->msg + s->base_size, 0xff, weights_size(&s->grid, &p));
	} else {
		trainer_run_with_weights(&s->nd.ds, &p, &stop,
		                         sweep_msg_curves(s), s->n_points,
		                         saved, &outcome, &err);
	}

	memset(m, 0, sizeof(*m));
	m->trial = (int64_t)t;
	m->status = (int32_t)outcome.status;
	m->rank = s->rank;
	m->wall_seconds = outcome.wall_seconds;
	m->final_test_accuracy = outcome.final_test_accuracy;
	memcpy(m->host, s->host, sizeof(m->host));
	memcpy(m->message, outcome.message, sizeof(m->message));
}

/* One rank: rank 0 runs every trial itself, until a stop signal. */
static int run_alone(struct sweep *s)
{
	s->t_loop = log_now();
	for (size_t i = 0; i < s->n_order && !s->stopping; i++) {
		const struct result_msg *m = (const struct result_msg *)s->msg;

		run_trial(s, s->order[i]);
		if (sweep_take_result(s) != 0 || sweep_commit(s) != 0)
			return -1;
		s->stopping = m->status == TRIAL_PENDING || stop_count() > 0;
	}
	return 0;
}

/* Rank 0: ends the whole job once a result cannot be stored, so that no
 * worker trains for a file that no longer takes results. */
static void abort_sweep(struct sweep *s)
{
	struct fw_error err = {{0}};

	log_msg(&s->log, LOG_ERROR,
	        "stopping the sweep: %zu of %zu trials "
	        "were stored in %s before the error above",
	        s->n_before + s->n_stored, s->n_trials, s->opt->output_path);
	if (h5out_close(s->out, &err) != 0)
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	s->out = NULL;
	MPI_Abort(s->comm, 1);
}

/* Rank 0: hands out no new trials from now on and sends every running
 * trial a stop request. */
static void begin_stop(struct sweep *s, const char *reason)
{
	int n_running = 0;

	s->stopping = 1;
	s->stop_deadline = log_now() + COORD_GRACE_SECONDS;
	for (int r = 1; r < s->n_ranks; r++) {
		if (s->running[r] < 0)
			continue;
		MPI_Isend(&s->stop_value, 1, MPI_INT, r, TAG_STOP, s->comm,
		          &s->stop_rq[r]);
		n_running++;
	}
	log_msg(&s->log, LOG_WARN,
	        "stopping: %s; no new trials, %d running trials stop and "
	        "stay pending (up to %.0f s, or at a second signal)",
	        reason, n_running, COORD_GRACE_SECONDS);
}

/* Rank 0: a second signal, or running trials that outlast the grace
 * period, end the job now. The file is closed first, so it contains every
 * stored trial whole. */
static void force_stop(struct sweep *s)
{
	struct fw_error err = {{0}};

	if (sweep_commit(s) != 0)
		MPI_Abort(s->comm, 1);
	log_msg(&s->log, LOG_WARN,
	        "%s: ending the job; %zu trials stored in %s, which "
	        "run --resume continues",
	        stop_count() >= 2 ? "second stop signal"
	                          : "running trials did not stop in time",
	        s->n_before + s->n_stored, s->opt->output_path);
	if (h5out_close(s->out, &err) != 0)
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	s->out = NULL;
	MPI_Abort(s->comm, COORD_EXIT_STOPPED);
}

/* Rank 0: starts stopping on a signal, and forces the stop when it is
 * due. Called while waiting for results. */
static void poll_stop(struct sweep *s)
{
	char reason[64];

	if (!s->stopping && stop_count() > 0) {
		snprintf(reason, sizeof(reason), "signal %d received",
		         stop_first_signal());
		begin_stop(s, reason);
	}
	if (s->stopping && (stop_count() >= 2 || log_now() > s->stop_deadline))
		force_stop(s);
}

/* Waits for the next result message without spinning a core, because rank
 * 0 usually shares its core with a worker, and watches for stop signals.
 * The pause between polls starts at 10 us, so a burst of results is taken
 * quickly. It doubles up to 1 ms while nothing arrives, and at that length
 * rank 0 is idle and commits the results it stored.
 * NOTE: there is no timeout. A worker that dies without the launcher ending
 * the job (Open MPI's default is to end it) leaves rank 0 waiting. */
static void wait_for_result(struct sweep *s, MPI_Status *st)
{
	const long pause_max = 1000000; /* ns */
	long pause = 10000;             /* ns */
	int ready = 0;

	for (;;) {
		struct timespec ts = {0, pause};

		MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, s->comm, &ready, st);
		if (ready)
			break;
		if (pause == pause_max && s->n_unflushed > 0 &&
		    sweep_commit(s) != 0)
			abort_sweep(s);
		poll_stop(s);
		nanosleep(&ts, NULL);
		pause = pause * 2 < pause_max ? pause * 2 : pause_max;
	}
	MPI_Recv(s->msg, (int)s->msg_size, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT,
	         s->comm, st);
	MPI_Get_count(st, MPI_BYTE, &s->n_received);
}

/* Rank 0: what worker r gets next: a trial, WORK_NONE, or WORK_STOP when a
 * stop message was sent to it. */
static int64_t next_work(struct sweep *s, int r, size_t *next)
{
	struct trial_params p;
	int64_t work = WORK_NONE;

	if (s->stop_rq[r] != MPI_REQUEST_NULL) {
		MPI_Wait(&s->stop_rq[r], MPI_STATUS_IGNORE);
		work = WORK_STOP;
	} else if (!s->stopping && *next < s->n_order) {
		work = (int64_t)s->order[(*next)++];
		grid_trial_params(&s->grid, (size_t)work, &p);
		log_msg(&s->log, LOG_INFO,
		        "trial started mode=%s hidden=%d seed=%lld rank=%d",
		        grid_mode_name(p.mode), (int)p.n_hidden,
		        (long long)p.seed, r);
	}
	s->running[r] = work;
	return work;
}

/* Rank 0 with workers: replies to every "ready" or result message with the
 * next trial index, or with WORK_NONE or WORK_STOP once none is to be run,
 * then stores the result. Replying first lets the worker train while rank
 * 0 writes. A stopped trial starts stopping the sweep before the reply, so
 * a worker that was signalled gets no new trial. */
static int coordinate(struct sweep *s)
{
	int n_active = s->n_ranks - 1;
	size_t next = 0;

	s->t_loop = log_now();
	while (n_active > 0) {
		const struct result_msg *m = (const struct result_msg *)s->msg;
		MPI_Status st;
		int64_t work;

		wait_for_result(s, &st);
		if (m->trial >= 0 && m->status == TRIAL_PENDING && !s->stopping)
			begin_stop(s, "a worker was asked to stop");
		work = next_work(s, st.MPI_SOURCE, &next);
		if (work < 0)
			n_active--;
		MPI_Send(&work, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_WORK,
		         s->comm);

		if (m->trial >= 0 && sweep_take_result(s) != 0)
			abort_sweep(s);
		if (log_now() - s->t_commit >= COMMIT_SECONDS &&
		    sweep_commit(s) != 0)
			abort_sweep(s);
	}
	return 0;
}

/* A worker: sends "ready", then runs each trial it receives until it
 * receives WORK_NONE or WORK_STOP. */
static void work(struct sweep *s)
{
	struct result_msg *m = (struct result_msg *)s->msg;

	memset(m, 0, sizeof(*m));
	m->trial = -1;
	for (;;) {
		int64_t t;
		int ignored;

		MPI_Send(s->msg, (int)sweep_msg_length(s, m), MPI_BYTE, 0,
		         TAG_RESULT, s->comm);
		MPI_Recv(&t, 1, MPI_INT64_T, 0, TAG_WORK, s->comm,
		         MPI_STATUS_IGNORE);
		if (t == WORK_STOP)
			MPI_Recv(&ignored, 1, MPI_INT, 0, TAG_STOP, s->comm,
			         MPI_STATUS_IGNORE);
		if (t < 0)
			return;
		run_trial(s, (size_t)t);
	}
}

static void log_start(struct sweep *s)
{
	const struct grid *g = &s->grid;

	log_msg(&s->log, LOG_INFO,
	        "sweep %s: %zu modes x %zu hidden sizes x "
	        "%zu seeds = %zu trials, up to %d epochs, %d rank%s, data %s, "
	        "output %s",
	        g->path, g->n_modes, g->n_hidden, g->n_seeds, s->n_trials,
	        (int)g->max_epochs, s->n_ranks, s->n_ranks == 1 ? "" : "s",
	        g->data_dir, s->opt->output_path);
}

/* Sizes the message buffer for the largest result of the grid. MPI counts
 * are int, so a result of more than INT_MAX bytes, which only weights of
 * very large hidden sizes or n_train reach, ends the sweep on every rank
 * alike. */
static int msg_size_init(struct sweep *s)
{
	struct trial_params p;
	size_t max = 0, max_trial = 0;

	s->msg_size = s->base_size;
	if (grid_n_stages(&s->grid) == 0)
		return 0;
	for (size_t t = 0; t < s->n_trials; t++) {
		size_t size;

		grid_trial_params(&s->grid, t, &p);
		size = weights_size(&s->grid, &p);
		if (size > max) {
			max = size;
			max_trial = t;
		}
	}
	s->msg_size += max;
	if (s->msg_size <= INT_MAX)
		return 0;
	grid_trial_params(&s->grid, max_trial, &p);
	if (s->rank == 0)
		log_msg(&s->log, LOG_ERROR,
		        "%s: with [output] save_weights the result of the "
		        "trial at hidden %d, seed %lld takes %zu bytes, more "
		        "than one MPI message carries (%d); store fewer "
		        "stages, or lower hidden or n_train",
		        s->grid.path, (int)p.n_hidden, (long long)p.seed,
		        s->msg_size, INT_MAX);
	return -1;
}

static int sweep_init(struct sweep *s, const struct run_options *opt,
                      MPI_Comm comm)
{
	memset(s, 0, sizeof(*s));
	node_data_init(&s->nd);
	s->opt = opt;
	s->comm = comm;
	s->t_start = log_now();
	s->t_commit = s->t_start;
	s->n_received = -1;
	s->synthetic = getenv("FASWEEP_SYNTHETIC_TRIALS") != NULL &&
	               strcmp(getenv("FASWEEP_SYNTHETIC_TRIALS"), "1") == 0;
	MPI_Comm_rank(comm, &s->rank);
	MPI_Comm_size(comm, &s->n_ranks);
	log_init(&s->log, s->rank, opt->log_level);
	if (gethostname(s->host, sizeof(s->host) - 1) != 0)
		snprintf(s->host, sizeof(s->host), "unknown");

	if (share_grid(s) != 0)
		return -1;
	if (override_data_dir(s) != 0) {
		log_msg(&s->log, LOG_ERROR, "out of memory");
		MPI_Abort(comm, 1);
	}
	s->n_trials = grid_n_trials(&s->grid);
	s->n_points = (size_t)s->grid.max_epochs + 1;
	s->base_size =
	        sizeof(struct result_msg) +
	        sizeof(float) * N_CURVES *
	                (s->n_points + (size_t)s->grid.early_checkpoints);
	if (msg_size_init(s) != 0)
		return -1;
	s->msg = calloc(1, s->msg_size);
	if (s->msg == NULL) {
		log_msg(&s->log, LOG_ERROR, "out of memory");
		MPI_Abort(comm, 1);
	}
	return 0;
}

static void sweep_free(struct sweep *s)
{
	free(s->stop_rq);
	free(s->running);
	free(s->unflushed);
	free(s->order);
	free(s->rows);
	free(s->msg);
	node_data_free(&s->nd);
	grid_free(&s->grid);
}

int coord_run(const struct run_options *opt, MPI_Comm comm)
{
	struct sweep s;
	int go = 0, rc = -1;

	trainer_pin_blas();
	if (sweep_init(&s, opt, comm) != 0)
		goto out;
	if (s.rank == 0)
		log_start(&s);

	/* An existing file that the options do not accept ends the run
	 * before MNIST is loaded, so the mistake costs no data load. */
	if (s.rank == 0)
		go = sweep_check_target(&s) == 0;
	MPI_Bcast(&go, 1, MPI_INT, 0, comm);
	if (!go)
		goto out;
	if (load_data(&s) != 0)
		goto out;

	/* Rank 0 creates the file only after the grid and the data passed. */
	if (s.rank == 0)
		go = sweep_open_results(&s) == 0;
	MPI_Bcast(&go, 1, MPI_INT, 0, comm);
	if (!go)
		goto out;

	if (s.rank != 0) {
		work(&s);
		rc = 0;
	} else {
		rc = s.n_ranks == 1 ? run_alone(&s) : coordinate(&s);
		if (rc == 0 && s.stopping && sweep_count_unfinished(&s) > 0)
			rc = sweep_finish_stopped(&s);
		else
			rc = sweep_finish(&s, rc) == 0 ? 0 : 1;
	}

out:
	sweep_log_memory(&s);
	sweep_free(&s);
	return rc < 0 ? 1 : rc;
}
