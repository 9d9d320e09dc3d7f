/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sweep_results.c - rank 0's handling of the results of a sweep. It keeps
 * the trial rows and the hand-out order, and creates or resumes the results
 * file. It stores each result, commits rows in batches and logs progress,
 * and closes the file after the final pass or a stop. It also logs every
 * rank's resource use. Messages and loops are in coord.c, the file itself
 * in the h5*.c sources (h5out.h). */
#include "sweep.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fasweep/dataset.h"
#include "fasweep/final.h"
#include "fasweep/report.h"
#include "fasweep/resume.h"

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
 * config is parsed under a label that names where it came from. */
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

int sweep_check_target(const struct sweep *s)
{
	struct fw_error err = {{0}};

	if (s->opt->resume ||
	    h5out_check_target(s->opt->output_path, s->opt->force, &err) == 0)
		return 0;
	log_msg(&s->log, LOG_ERROR, "%s", err.msg);
	return -1;
}

int sweep_open_results(struct sweep *s)
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
	expected = sweep_msg_length(s, m);
	if (s->n_received < 0 || (size_t)s->n_received == expected)
		return 0;
	log_msg(&s->log, LOG_ERROR,
	        "rank %d sent a result of %d bytes for trial %lld, but its "
	        "grid needs %zu; the ranks do not run the same fasweep build",
	        (int)m->rank, s->n_received, (long long)m->trial, expected);
	return -1;
}

int sweep_commit(struct sweep *s)
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
	if (h5out_write_curves(s->out, (size_t)m->trial, sweep_msg_curves(s),
	                       &err) != 0)
		goto fail;
	if (sweep_msg_has_weights(s, m)) {
		struct trial_weights w;

		sweep_weights_bind(s, &p, &w);
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

int sweep_take_result(struct sweep *s)
{
	const struct result_msg *m = (const struct result_msg *)s->msg;

	if (result_check(s, m) != 0)
		return -1;
	if (m->status != TRIAL_PENDING)
		return store_result(s);
	log_stopped(s, m);
	return 0;
}

size_t sweep_count_unfinished(const struct sweep *s)
{
	size_t n = 0;

	for (size_t t = 0; t < s->n_trials; t++)
		n += !row_finished(&s->rows[t]) &&
		     strcmp(s->rows[t].status, "failed") != 0;
	return n;
}

int sweep_finish_stopped(struct sweep *s)
{
	struct fw_error err = {{0}};
	size_t n_left = sweep_count_unfinished(s);

	if (sweep_commit(s) != 0 || h5out_close(s->out, &err) != 0) {
		log_msg(&s->log, LOG_ERROR, "%s", err.msg);
		s->out = NULL;
		return 1;
	}
	s->out = NULL;
	log_msg(&s->log, LOG_WARN,
	        "sweep stopped: %zu of %zu trials stored, %zu pending; "
	        "continue under the same launcher with fasweep run %s -o %s "
	        "--resume",
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

int sweep_finish(struct sweep *s, int rc)
{
	struct fw_error err = {{0}};
	struct stats_row *stats = NULL;
	size_t n_stats = 0;

	if (rc == 0 && sweep_commit(s) != 0)
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

void sweep_log_memory(const struct sweep *s)
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
