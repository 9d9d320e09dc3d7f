/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coord.c - the MPI sweep: set-up on all ranks, the coordinator loop on rank
 * 0, the worker loop on the others, and the final pass. Training is in
 * trainer.c, the file layout in h5out.c. */
#include "fasweep/coord.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fasweep/dataset.h"
#include "fasweep/final.h"
#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/trainer.h"

enum { TAG_WORK = 1, TAG_RESULT = 2 };

/* Header of a result message; N_CURVES x n_points floats follow. Ranks are
 * assumed to share one binary layout (one cluster, one build). */
struct result_msg {
	int64_t trial;  /* flat trial index, -1 for "ready" */
	int32_t status; /* enum trial_status */
	int32_t rank;
	double wall_seconds;
	float final_test_accuracy;
	char host[H5OUT_HOST_MAX];
	char message[TRIAL_MESSAGE_MAX];
};

struct sweep {
	const struct run_options *opt;
	MPI_Comm comm;
	int rank;
	int n_ranks;
	struct log_ctx log;
	struct grid grid;
	struct dataset ds;
	size_t n_trials;
	size_t n_points; /* max_epochs + 1 */
	char host[H5OUT_HOST_MAX];
	unsigned char *msg; /* one result message */
	size_t msg_size;
	/* Rank 0 only. */
	struct h5out *out;
	struct trial_row *rows; /* n_trials, flat order */
	size_t *order;          /* n_trials, hand-out order */
	size_t n_stored;
	double t_start;
};

static float *msg_curves(const struct sweep *s)
{
	return (float *)(s->msg + sizeof(struct result_msg));
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

/* Checks that every trial's image counts fit the loaded data. */
static int check_sizes(const struct sweep *s, struct fw_error *err)
{
	const struct dataset *ds = &s->ds;

	for (size_t t = 0; t < s->n_trials; t++) {
		struct trial_params p;
		size_t n_train, n_test;

		grid_trial_params(&s->grid, t, &p);
		n_train = (size_t)p.n_train;
		n_test = (size_t)p.n_test;
		if (p.split == SPLIT_POOLED && n_train + n_test > ds->n_images)
			return fw_error_set(
			        err,
			        "%s: [data] n_train + n_test = %zu (hidden %d, "
			        "seed %lld) exceeds the %zu images in %s "
			        "(split = "
			        "pooled); lower n_train or n_test",
			        s->grid.path, n_train + n_test, (int)p.n_hidden,
			        (long long)p.seed, ds->n_images,
			        s->grid.data_dir);
		if (p.split == SPLIT_STANDARD &&
		    (n_train > ds->n_train_file || n_test > ds->n_test_file))
			return fw_error_set(
			        err,
			        "%s: [data] n_train = %zu and n_test = %zu "
			        "(hidden %d, seed %lld) exceed the %zu "
			        "training "
			        "and %zu test images in %s (split = standard); "
			        "lower them",
			        s->grid.path, n_train, n_test, (int)p.n_hidden,
			        (long long)p.seed, ds->n_train_file,
			        ds->n_test_file, s->grid.data_dir);
	}
	return 0;
}

/* Loads MNIST on every rank and agrees on success. Rank 0 logs its own
 * error. Another rank logs its error only when rank 0 loaded the data, so
 * a file missing on one node is named with that node, and a path wrong
 * everywhere is reported once, not once per rank. */
static int load_data(struct sweep *s)
{
	struct fw_error err = {{0}};
	int ok = 1, all_ok = 0, root_ok;

	if (dataset_load(&s->ds, s->grid.data_dir, &err) != 0)
		ok = 0;
	root_ok = ok;
	MPI_Bcast(&root_ok, 1, MPI_INT, 0, s->comm);
	MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, s->comm);
	if (!ok && (s->rank == 0 || root_ok))
		log_msg(&s->log, LOG_ERROR, "on %s: %s", s->host, err.msg);
	if (!all_ok && s->rank == 0 && ok)
		log_msg(&s->log, LOG_ERROR,
		        "MNIST could not be loaded on "
		        "every rank; see the errors above");
	return all_ok ? 0 : -1;
}

/* Rank 0: the pending trial rows, the hand-out order, the results file. */
static int open_results(struct sweep *s)
{
	struct fw_error err = {{0}};
	struct h5out_meta meta = {s->opt->command_line, s->host, s->n_ranks};

	s->rows = calloc(s->n_trials, sizeof(*s->rows));
	s->order = malloc(sizeof(*s->order) * s->n_trials);
	if (s->rows == NULL || s->order == NULL) {
		log_msg(&s->log, LOG_ERROR, "out of memory for %zu trials",
		        s->n_trials);
		return -1;
	}
	for (size_t t = 0; t < s->n_trials; t++) {
		struct trial_params p;
		struct trial_row *row = &s->rows[t];

		grid_trial_params(&s->grid, t, &p);
		snprintf(row->mode, sizeof(row->mode), "%s",
		         grid_mode_name(p.mode));
		row->hidden = p.n_hidden;
		row->seed = p.seed;
		snprintf(row->status, sizeof(row->status), "pending");
		row->final_test_accuracy = NAN;
		row->wall_seconds = NAN;
		row->rank = -1;
	}
	grid_schedule(&s->grid, s->order);

	if (check_sizes(s, &err) != 0 ||
	    h5out_create(&s->out, s->opt->output_path, &s->grid, &meta,
	                 s->opt->force, &err) != 0) {
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* Rank 0: stores the result in the message buffer and logs it. */
static int store_result(struct sweep *s)
{
	const struct result_msg *m = (const struct result_msg *)s->msg;
	struct trial_row *row;
	struct fw_error err = {{0}};

	if (m->trial < 0 || (uint64_t)m->trial >= s->n_trials ||
	    m->status < TRIAL_PENDING || m->status > TRIAL_FAILED) {
		log_msg(&s->log, LOG_ERROR,
		        "rank %d sent an invalid result "
		        "(trial %lld, status %d); the ranks do not run the "
		        "same fasweep build",
		        (int)m->rank, (long long)m->trial, (int)m->status);
		return -1;
	}
	row = &s->rows[m->trial];

	snprintf(row->status, sizeof(row->status), "%s",
	         trainer_status_name((enum trial_status)m->status));
	row->final_test_accuracy = m->final_test_accuracy;
	row->wall_seconds = m->wall_seconds;
	row->rank = m->rank;
	memcpy(row->host, m->host, sizeof(row->host));
	memcpy(row->message, m->message, sizeof(row->message));
	if (h5out_write_trial(s->out, (size_t)m->trial, row, msg_curves(s),
	                      &err) != 0) {
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		return -1;
	}

	s->n_stored++;
	log_msg(&s->log, m->status == TRIAL_DONE ? LOG_INFO : LOG_WARN,
	        "trial %s mode=%s hidden=%d seed=%lld accuracy=%.4f "
	        "seconds=%.1f rank=%d progress=%zu/%zu%s%s",
	        row->status, row->mode, (int)row->hidden, (long long)row->seed,
	        (double)row->final_test_accuracy, row->wall_seconds,
	        (int)row->rank, s->n_stored, s->n_trials,
	        row->message[0] ? " message=" : "", row->message);
	return 0;
}

/* Runs trial t on this rank and fills the message buffer with its result. */
static void run_trial(struct sweep *s, size_t t)
{
	struct result_msg *m = (struct result_msg *)s->msg;
	struct trial_outcome outcome;
	struct trial_params p;
	struct fw_error err = {{0}};

	grid_trial_params(&s->grid, t, &p);
	log_msg(&s->log, LOG_DEBUG, "trial started mode=%s hidden=%d seed=%lld",
	        grid_mode_name(p.mode), (int)p.n_hidden, (long long)p.seed);
	trainer_run(&s->ds, &p, msg_curves(s), s->n_points, &outcome, &err);

	memset(m, 0, sizeof(*m));
	m->trial = (int64_t)t;
	m->status = (int32_t)outcome.status;
	m->rank = s->rank;
	m->wall_seconds = outcome.wall_seconds;
	m->final_test_accuracy = outcome.final_test_accuracy;
	memcpy(m->host, s->host, sizeof(m->host));
	memcpy(m->message, outcome.message, sizeof(m->message));
}

/* One rank: rank 0 runs every trial itself. */
static int run_alone(struct sweep *s)
{
	for (size_t i = 0; i < s->n_trials; i++) {
		run_trial(s, s->order[i]);
		if (store_result(s) != 0)
			return -1;
	}
	return 0;
}

/* Waits for the next result message without spinning a core, because rank
 * 0 usually shares its core with a worker.
 * NOTE: there is no timeout. A worker that dies without the launcher ending
 * the job (Open MPI's default is to end it) leaves rank 0 waiting. */
static void wait_for_result(struct sweep *s, MPI_Status *st)
{
	const struct timespec pause = {0, 1000000}; /* 1 ms */
	int ready = 0;

	for (;;) {
		MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, s->comm, &ready, st);
		if (ready)
			break;
		nanosleep(&pause, NULL);
	}
	MPI_Recv(s->msg, (int)s->msg_size, MPI_BYTE, st->MPI_SOURCE, TAG_RESULT,
	         s->comm, st);
}

/* Rank 0: ends the whole job once a result cannot be stored, so that no
 * worker trains for a file that no longer takes results. */
static void abort_sweep(struct sweep *s)
{
	struct fw_error err = {{0}};

	log_msg(&s->log, LOG_ERROR,
	        "stopping the sweep: %zu of %zu trials "
	        "were stored in %s before the error above",
	        s->n_stored, s->n_trials, s->opt->output_path);
	if (h5out_close(s->out, &err) != 0)
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	s->out = NULL;
	MPI_Abort(s->comm, 1);
}

/* Rank 0 with workers: replies to every "ready" or result message with the
 * next trial index, or with -1 once none is left, then stores the result.
 * Replying first lets the worker train while rank 0 writes. */
static int coordinate(struct sweep *s)
{
	int n_active = s->n_ranks - 1;
	size_t next = 0;

	while (n_active > 0) {
		MPI_Status st;
		int64_t work = -1;

		wait_for_result(s, &st);
		if (next < s->n_trials)
			work = (int64_t)s->order[next++];
		else
			n_active--;
		MPI_Send(&work, 1, MPI_INT64_T, st.MPI_SOURCE, TAG_WORK,
		         s->comm);

		if (((struct result_msg *)s->msg)->trial >= 0 &&
		    store_result(s) != 0)
			abort_sweep(s);
	}
	return 0;
}

/* A worker: sends "ready", then runs each trial it receives until it
 * receives -1. */
static void work(struct sweep *s)
{
	struct result_msg *m = (struct result_msg *)s->msg;

	memset(m, 0, sizeof(*m));
	m->trial = -1;
	for (;;) {
		int64_t t;

		MPI_Send(s->msg, (int)s->msg_size, MPI_BYTE, 0, TAG_RESULT,
		         s->comm);
		MPI_Recv(&t, 1, MPI_INT64_T, 0, TAG_WORK, s->comm,
		         MPI_STATUS_IGNORE);
		if (t < 0)
			return;
		run_trial(s, (size_t)t);
	}
}

/* Rank 0: the final pass into /tables/stats, then closes the file. */
static int finish(struct sweep *s, int rc)
{
	struct fw_error err = {{0}};
	struct stats_row *stats = NULL;
	size_t n_stats = 0;

	if (rc == 0 &&
	    final_pass(&s->grid, s->rows, &stats, &n_stats, &err) == 0)
		rc = h5out_write_stats(s->out, stats, n_stats, &err);
	else if (rc == 0)
		rc = -1;
	free(stats);
	if (h5out_close(s->out, &err) != 0)
		rc = -1;
	s->out = NULL;
	if (err.msg[0] != '\0')
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	if (rc == 0)
		log_msg(&s->log, LOG_INFO,
		        "sweep finished: %zu trials in "
		        "%.1f s, results in %s",
		        s->n_trials, log_now() - s->t_start,
		        s->opt->output_path);
	return rc;
}

static void log_start(struct sweep *s)
{
	const struct grid *g = &s->grid;

	log_msg(&s->log, LOG_INFO,
	        "sweep %s: %zu modes x %zu hidden sizes x "
	        "%zu seeds = %zu trials, up to %d epochs, %d ranks, data %s, "
	        "output %s",
	        g->path, g->n_modes, g->n_hidden, g->n_seeds, s->n_trials,
	        (int)g->max_epochs, s->n_ranks, g->data_dir,
	        s->opt->output_path);
}

static int sweep_init(struct sweep *s, const struct run_options *opt,
                      MPI_Comm comm)
{
	memset(s, 0, sizeof(*s));
	s->opt = opt;
	s->comm = comm;
	s->t_start = log_now();
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
	s->msg_size = sizeof(struct result_msg) +
	              sizeof(float) * N_CURVES * s->n_points;
	s->msg = calloc(1, s->msg_size);
	if (s->msg == NULL) {
		log_msg(&s->log, LOG_ERROR, "out of memory");
		MPI_Abort(comm, 1);
	}
	return 0;
}

static void sweep_free(struct sweep *s)
{
	free(s->order);
	free(s->rows);
	free(s->msg);
	dataset_free(&s->ds);
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
	if (load_data(&s) != 0)
		goto out;

	/* Rank 0 creates the file only after the grid and the data passed. */
	if (s.rank == 0)
		go = open_results(&s) == 0;
	MPI_Bcast(&go, 1, MPI_INT, 0, comm);
	if (!go)
		goto out;

	if (s.rank != 0) {
		work(&s);
		rc = 0;
	} else {
		rc = s.n_ranks == 1 ? run_alone(&s) : coordinate(&s);
		rc = finish(&s, rc);
	}

out:
	sweep_free(&s);
	return rc == 0 ? 0 : 1;
}
