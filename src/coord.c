/* SPDX-License-Identifier: GPL-3.0-or-later */
/* coord.c - the MPI sweep: set-up on all ranks, the coordinator loop on rank
 * 0, the worker loop on the others, and the final pass. Training is in
 * trainer.c, the file layout in h5out.c. */
#include "fasweep/coord.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fasweep/dataset.h"
#include "fasweep/final.h"
#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/net.h"
#include "fasweep/node_data.h"
#include "fasweep/report.h"
#include "fasweep/resume.h"
#include "fasweep/stop.h"
#include "fasweep/trainer.h"

enum { TAG_WORK = 1, TAG_RESULT = 2, TAG_STOP = 3 };

/* Replies to a worker besides a trial index. */
enum {
	WORK_NONE = -1, /* no trial left: exit */
	WORK_STOP = -2  /* stopping: receive the TAG_STOP message, then exit */
};

/* Header of a result message; N_CURVES x n_points floats follow. With
 * [output] save_weights, a done or diverged trial's weights follow them:
 * W1, W2 and B of each stored stage, then the training and test indices
 * (weights_bind). Ranks are assumed to share one binary layout (one
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

/* Longest time stored results wait for their rows to be committed while
 * results keep arriving. An idle rank 0 commits at once. */
#define COMMIT_SECONDS 1.0

static float *msg_curves(const struct sweep *s)
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

/* Points w into the message buffer after the curves: W1, W2 and B of each
 * stored stage in stage order, then the training and test indices. */
static void weights_bind(const struct sweep *s, const struct trial_params *p,
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

/* Returns 1 if the result carries weights: save_weights is on and the
 * trial is done or diverged, the results that are stored. */
static int msg_has_weights(const struct sweep *s, const struct result_msg *m)
{
	return s->msg_size > s->base_size && m->trial >= 0 &&
	       (m->status == TRIAL_DONE || m->status == TRIAL_DIVERGED);
}

/* Returns the bytes of the result message in the buffer. */
static size_t msg_length(const struct sweep *s, const struct result_msg *m)
{
	struct trial_params p;

	if (!msg_has_weights(s, m))
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

/* Checks that every trial's image counts fit the loaded data. */
static int check_sizes(const struct sweep *s, struct fw_error *err)
{
	const struct dataset *ds = &s->nd.ds;

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

/* Rank 0: every trial pending, in the order of the grid. */
static int rows_init(struct sweep *s)
{
	s->rows = calloc(s->n_trials, sizeof(*s->rows));
	s->order = malloc(sizeof(*s->order) * s->n_trials);
	s->unflushed = malloc(sizeof(*s->unflushed) * s->n_trials);
	s->running = malloc(sizeof(*s->running) * (size_t)s->n_ranks);
	s->stop_rq = malloc(sizeof(*s->stop_rq) * (size_t)s->n_ranks);
	if (s->rows == NULL || s->order == NULL || s->unflushed == NULL ||
	    s->running == NULL || s->stop_rq == NULL) {
		log_msg(&s->log, LOG_ERROR, "out of memory for %zu trials",
		        s->n_trials);
		return -1;
	}
	for (int r = 0; r < s->n_ranks; r++) {
		s->running[r] = -1;
		s->stop_rq[r] = MPI_REQUEST_NULL;
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
	return 0;
}

/* A trial is finished when it is done or diverged; pending and failed
 * trials run (again). */
static int row_finished(const struct trial_row *row)
{
	return !strcmp(row->status, "done") || !strcmp(row->status, "diverged");
}

/* Rank 0: the trials left to run, largest hidden size first, and their
 * cost for the ETA. */
static void order_init(struct sweep *s)
{
	size_t n = 0;

	grid_schedule(&s->grid, s->order);
	for (size_t i = 0; i < s->n_trials; i++) {
		size_t t = s->order[i];
		struct trial_params p;

		if (row_finished(&s->rows[t])) {
			s->n_before++;
			continue;
		}
		grid_trial_params(&s->grid, t, &p);
		s->flops_todo += report_trial_flops(&p);
		s->order[n++] = t;
	}
	s->n_order = n;
}

/* Rank 0: takes the rows of a file written for the same grid. The file's
 * config is parsed under a label that says where it came from. */
static int resume_rows(struct sweep *s, const struct h5out_summary *sum,
                       struct fw_error *err)
{
	const char *path = s->opt->output_path;
	struct grid stored = {0};
	char label[512];
	int rc;

	snprintf(label, sizeof(label), "%s (config attribute)", path);
	rc = grid_parse(&stored, label, sum->config, err);
	if (rc == 0)
		rc = resume_check(&stored, &s->grid, path, err);
	grid_free(&stored);
	if (rc != 0)
		return -1;
	if (sum->n_trials != s->n_trials)
		return fw_error_set(err,
		                    "cannot resume %s: it has %zu trial rows "
		                    "but its grid has %zu trials; the file is "
		                    "damaged, start a new one with -o",
		                    path, sum->n_trials, s->n_trials);
	memcpy(s->rows, sum->trials, sizeof(*s->rows) * s->n_trials);
	return 0;
}

/* Rank 0: continues the existing results file. */
static int resume_results(struct sweep *s, struct fw_error *err)
{
	struct h5out_summary sum;
	int rc;

	if (h5out_read_summary(s->opt->output_path, &sum, err) != 0)
		return -1;
	rc = resume_rows(s, &sum, err);
	if (rc == 0)
		rc = h5out_reopen(&s->out, s->opt->output_path, &s->grid,
		                  sum.writer, err);
	h5out_summary_free(&sum);
	return rc;
}

static void log_resume(struct sweep *s)
{
	size_t n_diverged = 0, n_failed = 0;

	for (size_t t = 0; t < s->n_trials; t++) {
		n_diverged += !strcmp(s->rows[t].status, "diverged");
		n_failed += !strcmp(s->rows[t].status, "failed");
	}
	log_msg(&s->log, LOG_INFO,
	        "resuming %s: %zu of %zu trials finished before (%zu "
	        "diverged), %zu to run (%zu of them failed before)",
	        s->opt->output_path, s->n_before, s->n_trials, n_diverged,
	        s->n_order, n_failed);
}

/* Rank 0: the trial rows, the results file (new, or resumed when asked
 * and present) and the hand-out order. */
static int open_results(struct sweep *s)
{
	struct fw_error err = {{0}};
	struct h5out_meta meta = {s->opt->command_line, s->host, s->n_ranks};
	struct stat st;
	int resuming = s->opt->resume && stat(s->opt->output_path, &st) == 0;
	int rc;

	if (rows_init(s) != 0)
		return -1;
	rc = check_sizes(s, &err);
	if (rc == 0 && resuming)
		rc = resume_results(s, &err);
	else if (rc == 0)
		rc = h5out_create(&s->out, s->opt->output_path, &s->grid, &meta,
		                  s->opt->force, &err);
	if (rc != 0) {
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		return -1;
	}
	order_init(s);
	if (resuming)
		log_resume(s);
	return 0;
}

/* Formats seconds as "1h02m", "3m05s" or "42s". */
static void format_duration(double seconds, char *buf, size_t size)
{
	long t = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;

	if (t >= 3600)
		snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, size, "%lds", t);
}

/* Rank 0: the time left, from the cost of the trials stored so far. */
static void eta(struct sweep *s, char *buf, size_t size)
{
	double elapsed = log_now() - s->t_loop;

	if (s->flops_stored <= 0.0) {
		snprintf(buf, size, "unknown");
		return;
	}
	format_duration(elapsed * (s->flops_todo - s->flops_stored) /
	                        s->flops_stored,
	                buf, size);
}

static void log_stored(struct sweep *s, const struct trial_row *row, int status)
{
	char left[32];

	eta(s, left, sizeof(left));
	log_msg(&s->log, status == TRIAL_DONE ? LOG_INFO : LOG_WARN,
	        "trial %s mode=%s hidden=%d seed=%lld accuracy=%.4f "
	        "seconds=%.1f rank=%d progress=%zu/%zu eta=%s%s%s",
	        row->status, row->mode, (int)row->hidden, (long long)row->seed,
	        (double)row->final_test_accuracy, row->wall_seconds,
	        (int)row->rank, s->n_before + s->n_stored, s->n_trials, left,
	        row->message[0] ? " message=" : "", row->message);
}

/* Rank 0: checks the result in the message buffer, and its length when
 * it came from a worker. */
static int result_check(struct sweep *s, const struct result_msg *m)
{
	size_t expected;

	if (m->trial < 0 || (uint64_t)m->trial >= s->n_trials ||
	    m->status < TRIAL_PENDING || m->status > TRIAL_FAILED) {
		log_msg(&s->log, LOG_ERROR,
		        "rank %d sent an invalid result (trial %lld, status "
		        "%d); the ranks do not run the same fasweep build",
		        (int)m->rank, (long long)m->trial, (int)m->status);
		return -1;
	}
	expected = msg_length(s, m);
	if (s->n_received < 0 || (size_t)s->n_received == expected)
		return 0;
	log_msg(&s->log, LOG_ERROR,
	        "rank %d sent a result of %d bytes for trial %lld, but its "
	        "grid needs %zu; the ranks do not run the same fasweep build",
	        (int)m->rank, s->n_received, (long long)m->trial, expected);
	return -1;
}

/* Rank 0: makes the stored results durable: a flush puts their curves on
 * disk, then their rows are written and flushed, so that a row never
 * claims curves a crash lost. Batching many results per flush is what lets
 * rank 0 keep up with thousands of short trials per second. */
static int commit(struct sweep *s)
{
	struct fw_error err = {{0}};
	int rc;

	if (s->n_unflushed == 0)
		return 0;
	rc = h5out_flush(s->out, &err);
	for (size_t i = 0; rc == 0 && i < s->n_unflushed; i++) {
		size_t t = s->unflushed[i];

		rc = h5out_write_row(s->out, t, &s->rows[t], &err);
	}
	if (rc == 0)
		rc = h5out_flush(s->out, &err);
	if (rc != 0)
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	s->n_unflushed = 0;
	s->t_commit = log_now();
	return rc;
}

/* Rank 0: stores the curves of the finished trial in the message buffer
 * and logs it. Its row follows at the next commit. */
static int store_result(struct sweep *s)
{
	const struct result_msg *m = (const struct result_msg *)s->msg;
	struct trial_row *row = &s->rows[m->trial];
	struct trial_params p;
	struct fw_error err = {{0}};

	snprintf(row->status, sizeof(row->status), "%s",
	         trainer_status_name((enum trial_status)m->status));
	row->final_test_accuracy = m->final_test_accuracy;
	row->wall_seconds = m->wall_seconds;
	row->rank = m->rank;
	memcpy(row->host, m->host, sizeof(row->host));
	memcpy(row->message, m->message, sizeof(row->message));
	grid_trial_params(&s->grid, (size_t)m->trial, &p);
	if (h5out_write_curves(s->out, (size_t)m->trial, msg_curves(s), &err) !=
	    0)
		goto fail;
	if (msg_has_weights(s, m)) {
		struct trial_weights w;

		weights_bind(s, &p, &w);
		if (h5out_write_weights(s->out, (size_t)m->trial, &w, &err) !=
		    0)
			goto fail;
	}
	s->unflushed[s->n_unflushed++] = (size_t)m->trial;

	s->n_stored++;
	s->flops_stored += report_trial_flops(&p);
	log_stored(s, row, m->status);
	return 0;

fail:
	log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	return -1;
}

/* Rank 0: a trial that a stop request interrupted stays pending. */
static void log_stopped(struct sweep *s, const struct result_msg *m)
{
	const struct trial_row *row = &s->rows[m->trial];

	log_msg(&s->log, LOG_INFO,
	        "trial stopped mode=%s hidden=%d seed=%lld rank=%d (%s); it "
	        "stays %s",
	        row->mode, (int)row->hidden, (long long)row->seed, (int)m->rank,
	        m->message, row->status);
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
	for (size_t c = 0; c < N_CURVES; c++)
		for (size_t e = 0; e < s->n_points; e++)
			curves[c * s->n_points + e] =
			        (int32_t)e <= p->n_epochs
			                ? (float)(t % 1000) + 1e-3f * (float)e
			                : NAN;
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
		weights_bind(s, &p, &weights);
		saved = &weights;
	}
	log_msg(&s->log, LOG_DEBUG, "trial started mode=%s hidden=%d seed=%lld",
	        grid_mode_name(p.mode), (int)p.n_hidden, (long long)p.seed);
	if (s->synthetic) {
		synthetic_trial(s, t, &p, msg_curves(s), &outcome);

		/* All bits set: NaN weights and UINT32_MAX indices. */
		memset(s->msg + s->base_size, 0xff, weights_size(&s->grid, &p));
	} else {
		trainer_run_with_weights(&s->nd.ds, &p, &stop, msg_curves(s),
		                         s->n_points, saved, &outcome, &err);
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

/* Rank 0 with a result in the message buffer: stores it, or notes that it
 * was stopped, which starts stopping the sweep. */
static int take_result(struct sweep *s)
{
	const struct result_msg *m = (const struct result_msg *)s->msg;

	if (result_check(s, m) != 0)
		return -1;
	if (m->status != TRIAL_PENDING)
		return store_result(s);
	log_stopped(s, m);
	return 0;
}

/* One rank: rank 0 runs every trial itself, until a stop signal. */
static int run_alone(struct sweep *s)
{
	s->t_loop = log_now();
	for (size_t i = 0; i < s->n_order && !s->stopping; i++) {
		const struct result_msg *m = (const struct result_msg *)s->msg;

		run_trial(s, s->order[i]);
		if (take_result(s) != 0 || commit(s) != 0)
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

/* Rank 0: no new trials from now on; asks every running trial to stop. */
static void begin_stop(struct sweep *s, const char *why)
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
	        why, n_running, COORD_GRACE_SECONDS);
}

/* Rank 0: a second signal, or running trials that outlast the grace
 * period, end the job now. The file is closed first; what it holds is
 * complete for every stored trial. */
static void force_stop(struct sweep *s)
{
	struct fw_error err = {{0}};

	if (commit(s) != 0)
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
	char why[64];

	if (!s->stopping && stop_count() > 0) {
		snprintf(why, sizeof(why), "signal %d received",
		         stop_first_signal());
		begin_stop(s, why);
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
		if (pause == pause_max && s->n_unflushed > 0 && commit(s) != 0)
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

		if (m->trial >= 0 && take_result(s) != 0)
			abort_sweep(s);
		if (log_now() - s->t_commit >= COMMIT_SECONDS && commit(s) != 0)
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

		MPI_Send(s->msg, (int)msg_length(s, m), MPI_BYTE, 0, TAG_RESULT,
		         s->comm);
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

/* Rank 0: how many trials are still to run after the loop. */
static size_t count_unfinished(const struct sweep *s)
{
	size_t n = 0;

	for (size_t t = 0; t < s->n_trials; t++)
		n += !row_finished(&s->rows[t]) &&
		     strcmp(s->rows[t].status, "failed") != 0;
	return n;
}

/* Rank 0 after a stop: closes the file without a final pass. */
static int finish_stopped(struct sweep *s)
{
	struct fw_error err = {{0}};
	size_t n_left = count_unfinished(s);

	if (commit(s) != 0 || h5out_close(s->out, &err) != 0) {
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		s->out = NULL;
		return 1;
	}
	s->out = NULL;
	log_msg(&s->log, LOG_WARN,
	        "sweep stopped: %zu of %zu trials stored, %zu pending; "
	        "continue with fasweep run %s -o %s --resume",
	        s->n_trials - n_left, s->n_trials, n_left, s->opt->config_path,
	        s->opt->output_path);
	return COORD_EXIT_STOPPED;
}

/* Rank 0: logs how many seeds each comparison lost to unfinished pairs. */
static void log_dropped(struct sweep *s, const struct stats_row *rows,
                        size_t n_rows)
{
	for (size_t i = 0; i < n_rows; i++) {
		size_t n_dropped = s->grid.n_seeds - (size_t)rows[i].n_pairs;

		if (n_dropped == 0)
			continue;
		log_msg(&s->log, LOG_WARN,
		        "final pass: hidden %d, %s vs %s: %zu of %zu seeds "
		        "dropped, because a trial of the pair did not finish",
		        (int)rows[i].hidden, rows[i].mode, rows[i].baseline,
		        n_dropped, s->grid.n_seeds);
	}
}

/* Rank 0: the final pass into /tables/stats, then closes the file. */
static int finish(struct sweep *s, int rc)
{
	struct fw_error err = {{0}};
	struct stats_row *stats = NULL;
	size_t n_stats = 0;

	if (rc == 0 && commit(s) != 0)
		rc = -1;
	if (rc == 0 &&
	    final_pass(&s->grid, s->rows, &stats, &n_stats, &err) == 0) {
		log_dropped(s, stats, n_stats);
		rc = h5out_write_stats(s->out, stats, n_stats, &err);
	} else if (rc == 0) {
		rc = -1;
	}
	free(stats);
	if (h5out_close(s->out, &err) != 0)
		rc = -1;
	s->out = NULL;
	if (err.msg[0] != '\0')
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	if (rc == 0)
		log_msg(&s->log, LOG_INFO,
		        "sweep finished: %zu trials (%zu run now) in %.1f s, "
		        "results in %s",
		        s->n_trials, s->n_stored, log_now() - s->t_start,
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
	s->base_size = sizeof(struct result_msg) +
	               sizeof(float) * N_CURVES * s->n_points;
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

/* Returns the value in kB of the line "key: N kB" of a /proc file, or
 * -1. */
static long proc_kb(const char *path, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long kb = -1;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (kb < 0 && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, len) == 0 && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

/* Logs this rank's CPU time, peak resident memory, private memory and
 * proportional share (PSS), which divides the node's shared MNIST among the
 * ranks that map it. */
static void log_memory(const struct sweep *s)
{
	const char *rollup = "/proc/self/smaps_rollup";
	long hwm = proc_kb("/proc/self/status", "VmHWM");
	long pss = proc_kb(rollup, "Pss");
	long own = proc_kb(rollup, "Private_Clean") +
	           proc_kb(rollup, "Private_Dirty");

	struct rusage ru;
	double cpu = -1.0;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec +
		      (double)ru.ru_stime.tv_sec + 1e-6 * ru.ru_stime.tv_usec;
	log_msg(&s->log, s->rank == 0 ? LOG_INFO : LOG_DEBUG,
	        "resources: cpu %.2f s; peak resident %.1f MB; now private "
	        "%.1f MB, proportional share %.1f MB",
	        cpu, hwm / 1024.0, own / 1024.0, pss / 1024.0);
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
		if (rc == 0 && s.stopping && count_unfinished(&s) > 0)
			rc = finish_stopped(&s);
		else
			rc = finish(&s, rc) == 0 ? 0 : 1;
	}

out:
	log_memory(&s);
	sweep_free(&s);
	return rc < 0 ? 1 : rc;
}
