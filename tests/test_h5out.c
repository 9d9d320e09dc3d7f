/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_h5out.c - writes a small results file with h5out, reads it back and
 * checks every field. Further checks cover rejecting an existing file,
 * --force, concurrent creation, writing a trial in place with and without
 * weights, the exit status and message after a full disk, and the messages
 * for unwritable directories and foreign files. Leaves DIR/layout.h5 in place
 * for test_layout.py, which checks its layout with h5py and xarray and must
 * agree with the values written here. */
#include "fasweep/h5out.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

/* The grid of the test file: 3 modes x 2 hidden sizes x 3 seeds. */
#define N_TEST_MODES  3
#define N_TEST_HIDDEN 2
#define N_TEST_SEEDS  3
#define N_TEST_TRIALS (N_TEST_MODES * N_TEST_HIDDEN * N_TEST_SEEDS)
#define MAX_EPOCHS    4
#define N_POINTS      (MAX_EPOCHS + 1)
#define N_STATS_ROWS  4

/* The config text. Its non-ASCII characters check that it is stored as
 * UTF-8, byte for byte. */
#define CONFIG_TEXT                                                            \
	"[sweep]\n"                                                            \
	"modes = bp, fa, onehot\n"                                             \
	"hidden = 16, 32\n"                                                    \
	"seeds = 11, 22, 33\n"                                                 \
	"\n"                                                                   \
	"[network]\n"                                                          \
	"# step size \xce\xb7 per hidden size\n"                               \
	"learning_rate = 0.1, 0.05\n"                                          \
	"epochs = 4\n"

static const char *const mode_names[N_TEST_MODES] = {"bp", "fa", "onehot"};
static const int32_t hidden_sizes[N_TEST_HIDDEN] = {16, 32};
static const int64_t seed_values[N_TEST_SEEDS] = {11, 22, 33};
static const double learning_rates[N_TEST_HIDDEN] = {0.1, 0.05};

/* The trials written to layout.h5. Every other trial stays pending. */
static const struct {
	size_t trial;
	const char *status;
	const char *message;
} written[] = {
        {0, "done", ""},
        {4, "diverged", "loss became NaN in epoch 3"},
        {17, "done", ""},
};

#define N_WRITTEN (sizeof(written) / sizeof(written[0]))

static int n_failed;

static void expect_int(int line, const char *what, long long got,
                       long long want)
{
	if (got == want)
		return;
	fprintf(stderr, "line %d: %s is %lld, expected %lld\n", line, what, got,
	        want);
	n_failed++;
}

/* Compares exactly, with NaN equal to NaN. */
static void expect_dbl(int line, const char *what, double got, double want)
{
	if (got == want || (isnan(got) && isnan(want)))
		return;
	fprintf(stderr, "line %d: %s is %.17g, expected %.17g\n", line, what,
	        got, want);
	n_failed++;
}

static void expect_str(int line, const char *what, const char *got,
                       const char *want)
{
	if (got != NULL && strcmp(got, want) == 0)
		return;
	fprintf(stderr, "line %d: %s is \"%s\", expected \"%s\"\n", line, what,
	        got != NULL ? got : "(null)", want);
	n_failed++;
}

static void expect_contains(int line, const char *what, const char *got,
                            const char *part)
{
	if (strstr(got, part) != NULL)
		return;
	fprintf(stderr,
	        "line %d: %s is \"%s\", expected it to contain \"%s\"\n", line,
	        what, got, part);
	n_failed++;
}

#define EXPECT_INT(got, want)                                                  \
	expect_int(__LINE__, #got, (long long)(got), (long long)(want))
#define EXPECT_DBL(got, want)                                                  \
	expect_dbl(__LINE__, #got, (double)(got), (double)(want))
#define EXPECT_STR(got, want) expect_str(__LINE__, #got, (got), (want))
#define EXPECT_CONTAINS(got, part)                                             \
	expect_contains(__LINE__, #got, (got), (part))
/* Expects status 0 and prints the error message otherwise. */
#define EXPECT_OK(call, err)                                                   \
	do {                                                                   \
		if ((call) != 0) {                                             \
			fprintf(stderr, "line %d: %s failed: %s\n", __LINE__,  \
			        #call, (err)->msg);                            \
			n_failed++;                                            \
		}                                                              \
	} while (0)

/* The grid and the arrays it points to. */
struct test_grid {
	struct grid g;
	int32_t hidden[N_TEST_HIDDEN];
	int64_t seeds[N_TEST_SEEDS];
	double values[N_SETTINGS][N_TEST_HIDDEN];
};

/* Builds the grid of grid.h by hand: learning_rate is zipped to hidden and
 * the other settings have one value each. */
static void test_grid_init(struct test_grid *t)
{
	static const char *const setting_names[N_SETTINGS] = {
	        [SET_LEARNING_RATE] = "learning_rate",
	        [SET_BATCH_SIZE] = "batch_size",
	        [SET_EPOCHS] = "epochs",
	        [SET_N_TRAIN] = "n_train",
	        [SET_N_TEST] = "n_test",
	        [SET_N_PROBE] = "n_probe",
	};
	static const double single_values[N_SETTINGS] = {
	        [SET_BATCH_SIZE] = 32, [SET_EPOCHS] = MAX_EPOCHS,
	        [SET_N_TRAIN] = 1000,  [SET_N_TEST] = 500,
	        [SET_N_PROBE] = 100,
	};
	struct grid *g = &t->g;

	memset(t, 0, sizeof(*t));
	g->path = "sweep.ini";
	g->text = CONFIG_TEXT;
	g->data_dir = "data";
	g->n_modes = N_TEST_MODES;
	g->modes[0] = MODE_BP;
	g->modes[1] = MODE_FA;
	g->modes[2] = MODE_ONEHOT;
	g->baseline = MODE_BP;
	g->n_hidden = N_TEST_HIDDEN;
	memcpy(t->hidden, hidden_sizes, sizeof(t->hidden));
	g->hidden = t->hidden;
	g->n_seeds = N_TEST_SEEDS;
	memcpy(t->seeds, seed_values, sizeof(t->seeds));
	g->seeds = t->seeds;
	g->max_epochs = MAX_EPOCHS;

	for (int i = 0; i < N_SETTINGS; i++) {
		struct grid_setting *s = &g->settings[i];

		s->name = setting_names[i];
		s->axis = AXIS_NONE;
		s->n_values = 1;
		s->values = t->values[i];
		t->values[i][0] = single_values[i];
	}
	g->settings[SET_LEARNING_RATE].axis = AXIS_HIDDEN;
	g->settings[SET_LEARNING_RATE].n_values = N_TEST_HIDDEN;
	memcpy(t->values[SET_LEARNING_RATE], learning_rates,
	       sizeof(learning_rates));
}

static const struct h5out_meta test_meta = {
        .command_line = "fasweep run sweep.ini -o layout.h5",
        .hostname = "testhost",
        .mpi_ranks = 3,
};

/* Fills the keys of trial t, flat index (m * n_hidden + h) * n_seeds + s,
 * and leaves the rest of the row pending. */
static void row_pending(size_t t, struct trial_row *row)
{
	memset(row, 0, sizeof(*row));
	snprintf(row->mode, sizeof(row->mode), "%s",
	         mode_names[t / (N_TEST_HIDDEN * N_TEST_SEEDS)]);
	row->hidden = hidden_sizes[(t / N_TEST_SEEDS) % N_TEST_HIDDEN];
	row->seed = seed_values[t % N_TEST_SEEDS];
	snprintf(row->status, sizeof(row->status), "pending");
	row->final_test_accuracy = NAN;
	row->wall_seconds = NAN;
	row->rank = -1;
}

/* Fills the row of written[i]. test_layout.py expects the same values. */
static void row_written(size_t i, struct trial_row *row)
{
	size_t t = written[i].trial;

	row_pending(t, row);
	snprintf(row->status, sizeof(row->status), "%s", written[i].status);
	if (strcmp(written[i].status, "done") == 0)
		row->final_test_accuracy = 0.5f + 0.01f * (float)t;
	row->wall_seconds = 10.0 + (double)t;
	row->rank = 1 + (int32_t)(t % 2);
	snprintf(row->host, sizeof(row->host), "node%zu", t);
	snprintf(row->message, sizeof(row->message), "%s", written[i].message);
}

/* Curve value of trial t: t * 100 + curve * 10 + epoch. */
static void curves_fill(size_t t, float *curves)
{
	for (int c = 0; c < N_CURVES; c++)
		for (int e = 0; e < N_POINTS; e++)
			curves[c * N_POINTS + e] =
			        (float)(t * 100 + (size_t)c * 10 + (size_t)e);
}

/* Fills row r of the stats table: double field k is r * 100 + k + 0.25,
 * and the last row's p_holm is NaN. */
static void stats_fill(size_t r, struct stats_row *row)
{
	double *fields[] = {
	        &row->mean,        &row->sd,        &row->mean_baseline,
	        &row->sd_baseline, &row->mean_diff, &row->ci95_low,
	        &row->ci95_high,   &row->t_paired,  &row->p_paired,
	        &row->t_welch,     &row->df_welch,  &row->p_welch,
	        &row->cohen_d,     &row->p_holm,
	};

	memset(row, 0, sizeof(*row));
	snprintf(row->mode, sizeof(row->mode), "%s", mode_names[1 + r / 2]);
	row->hidden = hidden_sizes[r % 2];
	snprintf(row->baseline, sizeof(row->baseline), "bp");
	row->n_pairs = 3;
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		*fields[k] = (double)r * 100 + (double)k + 0.25;
	if (r == N_STATS_ROWS - 1)
		row->p_holm = NAN;
}

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Returns the contents of path (malloc'd) with *size set, or NULL. */
static char *file_read_all(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return buf;
}

static void tmp_path_of(const char *path, char *tmp, size_t size)
{
	snprintf(tmp, size, "%s.tmp.%ld", path, (long)getpid());
}

/* Creates DIR/layout.h5 and writes three trials and the stats table. */
static void test_write_layout(const char *path, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct trial_row row;
	struct stats_row stats[6];
	float curves[N_CURVES * N_POINTS];
	char tmp[PATH_MAX];

	/* force = 1, because an earlier run may have left the file. */
	EXPECT_OK(h5out_create(&o, path, g, &test_meta, 1, &err), &err);
	if (o == NULL)
		return;
	tmp_path_of(path, tmp, sizeof(tmp));
	EXPECT_INT(file_exists(tmp), 0);

	for (size_t i = 0; i < N_WRITTEN; i++) {
		row_written(i, &row);
		curves_fill(written[i].trial, curves);
		EXPECT_OK(h5out_write_trial(o, written[i].trial, &row, curves,
		                            &err),
		          &err);
	}

	/* An index past the grid and a row stored at the wrong index. */
	row_pending(5, &row);
	EXPECT_INT(h5out_write_trial(o, N_TEST_TRIALS, &row, curves, &err), -1);
	EXPECT_CONTAINS(err.msg, "trial index 18 is out of range");
	fw_error_clear(&err);
	EXPECT_INT(h5out_write_trial(o, 6, &row, curves, &err), -1);
	EXPECT_CONTAINS(err.msg, "trial 6 is (fa, 16, 11) but its row is "
	                         "(bp, 32, 33)");
	fw_error_clear(&err);

	/* Six rows first, then the four that must remain. */
	for (size_t r = 0; r < 6; r++) {
		stats_fill(r % N_STATS_ROWS, &stats[r]);
		snprintf(stats[r].mode, sizeof(stats[r].mode), "earlier");
	}
	EXPECT_OK(h5out_write_stats(o, stats, 6, &err), &err);
	for (size_t r = 0; r < N_STATS_ROWS; r++)
		stats_fill(r, &stats[r]);
	EXPECT_OK(h5out_write_stats(o, stats, N_STATS_ROWS, &err), &err);

	EXPECT_OK(h5out_close(o, &err), &err);
}

static void expect_row(size_t t, const struct trial_row *got,
                       const struct trial_row *want)
{
	if (strcmp(got->mode, want->mode) != 0 || got->hidden != want->hidden ||
	    got->seed != want->seed)
		fprintf(stderr, "trial %zu:\n", t);
	EXPECT_STR(got->mode, want->mode);
	EXPECT_INT(got->hidden, want->hidden);
	EXPECT_INT(got->seed, want->seed);
	EXPECT_STR(got->status, want->status);
	EXPECT_DBL(got->final_test_accuracy, want->final_test_accuracy);
	EXPECT_DBL(got->wall_seconds, want->wall_seconds);
	EXPECT_INT(got->rank, want->rank);
	EXPECT_STR(got->host, want->host);
	EXPECT_STR(got->message, want->message);
}

static void expect_stats_row(const struct stats_row *got,
                             const struct stats_row *want)
{
	EXPECT_STR(got->mode, want->mode);
	EXPECT_INT(got->hidden, want->hidden);
	EXPECT_STR(got->baseline, want->baseline);
	EXPECT_INT(got->n_pairs, want->n_pairs);
	EXPECT_DBL(got->mean, want->mean);
	EXPECT_DBL(got->sd, want->sd);
	EXPECT_DBL(got->mean_baseline, want->mean_baseline);
	EXPECT_DBL(got->sd_baseline, want->sd_baseline);
	EXPECT_DBL(got->mean_diff, want->mean_diff);
	EXPECT_DBL(got->ci95_low, want->ci95_low);
	EXPECT_DBL(got->ci95_high, want->ci95_high);
	EXPECT_DBL(got->t_paired, want->t_paired);
	EXPECT_DBL(got->p_paired, want->p_paired);
	EXPECT_DBL(got->t_welch, want->t_welch);
	EXPECT_DBL(got->df_welch, want->df_welch);
	EXPECT_DBL(got->p_welch, want->p_welch);
	EXPECT_DBL(got->cohen_d, want->cohen_d);
	EXPECT_DBL(got->p_holm, want->p_holm);
}

/* Reads layout.h5 back and compares every row with what was written. */
static void test_read_summary(const char *path)
{
	struct fw_error err = {""};
	struct h5out_summary s;
	struct trial_row want;
	struct stats_row want_stats;

	EXPECT_OK(h5out_read_summary(path, &s, &err), &err);
	EXPECT_STR(s.config, CONFIG_TEXT);
	EXPECT_INT(s.n_trials, N_TEST_TRIALS);
	for (size_t t = 0; t < s.n_trials && t < N_TEST_TRIALS; t++) {
		row_pending(t, &want);
		for (size_t i = 0; i < N_WRITTEN; i++)
			if (written[i].trial == t)
				row_written(i, &want);
		expect_row(t, &s.trials[t], &want);
	}

	EXPECT_INT(s.n_stats, N_STATS_ROWS);
	for (size_t r = 0; r < s.n_stats && r < N_STATS_ROWS; r++) {
		stats_fill(r, &want_stats);
		expect_stats_row(&s.stats[r], &want_stats);
	}
	h5out_summary_free(&s);
	EXPECT_INT(s.n_trials, 0);
}

/* An existing file is rejected without force and left byte-identical. */
static void test_existing_rejected(const char *path, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	char want[PATH_MAX + 128];
	char tmp[PATH_MAX];
	size_t n_before = 0;
	size_t n_after = 0;
	char *before = file_read_all(path, &n_before);
	char *after;

	EXPECT_INT(before != NULL, 1);
	EXPECT_INT(h5out_create(&o, path, g, &test_meta, 0, &err), -1);
	EXPECT_INT(o == NULL, 1);
	snprintf(want, sizeof(want),
	         "%s already exists; pass --resume to continue it, --force to "
	         "replace it, or -o to write elsewhere",
	         path);
	EXPECT_STR(err.msg, want);

	after = file_read_all(path, &n_after);
	EXPECT_INT(n_after, n_before);
	EXPECT_INT(before != NULL && after != NULL && n_after == n_before &&
	                   memcmp(before, after, n_before) == 0,
	           1);
	tmp_path_of(path, tmp, sizeof(tmp));
	EXPECT_INT(file_exists(tmp), 0);
	free(after);
	free(before);
}

/* With force, a file holding a written trial is replaced by a new one with
 * every trial pending. */
static void test_force_replaces(const char *dir, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct h5out_summary s;
	struct trial_row row;
	float curves[N_CURVES * N_POINTS];
	char path[PATH_MAX];
	char tmp[PATH_MAX];

	snprintf(path, sizeof(path), "%s/replace.h5", dir);
	EXPECT_OK(h5out_create(&o, path, g, &test_meta, 1, &err), &err);
	row_written(0, &row);
	curves_fill(0, curves);
	if (o != NULL)
		EXPECT_OK(h5out_write_trial(o, 0, &row, curves, &err), &err);
	EXPECT_OK(h5out_close(o, &err), &err);

	o = NULL;
	EXPECT_OK(h5out_create(&o, path, g, &test_meta, 1, &err), &err);
	EXPECT_OK(h5out_close(o, &err), &err);
	tmp_path_of(path, tmp, sizeof(tmp));
	EXPECT_INT(file_exists(tmp), 0);

	EXPECT_OK(h5out_read_summary(path, &s, &err), &err);
	EXPECT_INT(s.n_trials, N_TEST_TRIALS);
	if (s.n_trials > 0)
		EXPECT_STR(s.trials[0].status, "pending");
	EXPECT_INT(s.n_stats, 0);
	h5out_summary_free(&s);
}

/* A path whose directory cannot hold a file gets the message of h5out.h.
 * Tests run as root, which ignores directory permissions, so the cases are
 * a missing directory and a regular file used as a directory. */
static void test_unwritable_dir(const char *dir, const struct grid *g)
{
	static const struct {
		const char *sub; /* under DIR */
		int errnum;
	} cases[] = {
	        {"no-such-dir/out.h5", ENOENT},
	        {"plain.txt/out.h5", ENOTDIR},
	};
	char plain[PATH_MAX];
	FILE *f;

	snprintf(plain, sizeof(plain), "%s/plain.txt", dir);
	f = fopen(plain, "w");
	EXPECT_INT(f != NULL, 1);
	if (f != NULL)
		EXPECT_INT(fclose(f), 0);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fw_error err = {""};
		struct h5out *o = NULL;
		char path[PATH_MAX];
		char want[PATH_MAX + 128];

		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].sub);
		snprintf(want, sizeof(want),
		         "cannot create %s: %s; choose a writable directory "
		         "with -o",
		         path, strerror(cases[i].errnum));
		EXPECT_INT(h5out_create(&o, path, g, &test_meta, 1, &err), -1);
		EXPECT_INT(o == NULL, 1);
		EXPECT_STR(err.msg, want);
	}
}

/* A failure inside HDF5 names the call and removes the temporary file: a
 * zipped setting named "seed" collides with the seed scale. */
static void test_failed_layout_removed(const char *dir, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct grid bad = *g;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	H5E_auto2_t func_before = NULL;
	H5E_auto2_t func_after = NULL;
	void *data;

	snprintf(path, sizeof(path), "%s/collision.h5", dir);
	tmp_path_of(path, tmp, sizeof(tmp));
	bad.settings[SET_LEARNING_RATE].name = "seed";
	EXPECT_INT(H5Eget_auto2(H5E_DEFAULT, &func_before, &data), 0);

	EXPECT_INT(h5out_create(&o, path, &bad, &test_meta, 1, &err), -1);
	EXPECT_INT(o == NULL, 1);
	EXPECT_CONTAINS(err.msg, "H5Dcreate2 failed at h5util.c:");
	EXPECT_INT(file_exists(path), 0);
	EXPECT_INT(file_exists(tmp), 0);

	/* h5out restores HDF5's automatic error printing when it returns. */
	EXPECT_INT(H5Eget_auto2(H5E_DEFAULT, &func_after, &data), 0);
	EXPECT_INT(func_after == func_before, 1);
}

/* Files that are missing, not HDF5, or HDF5 without fasweep_version. */
static void test_foreign_files(const char *dir)
{
	static const char *const subs[] = {"notes.txt", "other.h5"};
	char path[PATH_MAX];
	char want[PATH_MAX + 128];
	struct fw_error err = {""};
	struct h5out_summary s;
	FILE *f;
	hid_t file;

	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	EXPECT_INT(f != NULL, 1);
	if (f != NULL) {
		EXPECT_INT(fputs("not an HDF5 file\n", f) >= 0, 1);
		EXPECT_INT(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/other.h5", dir);
	file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	EXPECT_INT(file >= 0, 1);
	if (file >= 0)
		EXPECT_INT(H5Fclose(file), 0);

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if (strcmp(subs[i], "other.h5") == 0)
			snprintf(want, sizeof(want),
			         "%s: not a fasweep results file (no "
			         "fasweep_version attribute); give the results "
			         "file that fasweep run wrote",
			         path);
		else
			snprintf(want, sizeof(want),
			         "%s: not an HDF5 file; give the results file "
			         "that fasweep run wrote",
			         path);
		fw_error_clear(&err);
		EXPECT_INT(h5out_read_summary(path, &s, &err), -1);
		EXPECT_STR(err.msg, want);
		EXPECT_INT(s.trials == NULL && s.config == NULL, 1);
	}

	snprintf(path, sizeof(path), "%s/missing.h5", dir);
	snprintf(want, sizeof(want),
	         "%s: not found; give the results file that fasweep run "
	         "wrote",
	         path);
	fw_error_clear(&err);
	EXPECT_INT(h5out_read_summary(path, &s, &err), -1);
	EXPECT_STR(err.msg, want);
}

/* Byte range [start, start + size) of a file. */
struct byte_range {
	haddr_t start;
	hsize_t size;
};

/* Fills ranges[] with the places of trial t's values in the closed file at
 * path: its chunk of each curve, then its row of /tables/trials. Returns 0,
 * or -1 if HDF5 cannot tell. */
static int trial_ranges(const char *path, size_t t,
                        struct byte_range ranges[N_CURVES + 1])
{
	hsize_t offset[4] = {t / (N_TEST_HIDDEN * N_TEST_SEEDS),
	                     (t / N_TEST_SEEDS) % N_TEST_HIDDEN,
	                     t % N_TEST_SEEDS, 0};
	hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t ds, type;
	unsigned filter_mask;
	int status = 0;

	if (file < 0)
		return -1;
	for (int i = 0; i < N_CURVES; i++) {
		ds = H5Dopen2(file, trainer_curve_name(i), H5P_DEFAULT);
		if (ds < 0 || H5Dget_chunk_info_by_coord(
		                      ds, offset, &filter_mask,
		                      &ranges[i].start, &ranges[i].size) < 0)
			status = -1;
		if (ds >= 0 && H5Dclose(ds) < 0)
			status = -1;
	}

	ds = H5Dopen2(file, "/tables/trials", H5P_DEFAULT);
	type = ds >= 0 ? H5Dget_type(ds) : H5I_INVALID_HID;
	if (type < 0 || H5Dget_offset(ds) == HADDR_UNDEF) {
		status = -1;
	} else {
		ranges[N_CURVES].size = H5Tget_size(type);
		ranges[N_CURVES].start =
		        H5Dget_offset(ds) + t * ranges[N_CURVES].size;
	}
	if (type >= 0 && H5Tclose(type) < 0)
		status = -1;
	if (ds >= 0 && H5Dclose(ds) < 0)
		status = -1;
	if (H5Fclose(file) < 0)
		status = -1;
	return status;
}

static int in_ranges(size_t pos, const struct byte_range *ranges,
                     size_t n_ranges)
{
	for (size_t i = 0; i < n_ranges; i++)
		if (pos >= ranges[i].start &&
		    pos < ranges[i].start + ranges[i].size)
			return 1;
	return 0;
}

/* Writing a trial overwrites only its own chunks and row: the file keeps
 * its size and no metadata byte changes, so a process killed mid-write
 * cannot damage the chunk index of the curves. */
static void test_trial_written_in_place(const char *dir, const struct grid *g)
{
	const size_t t = 7;
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct byte_range ranges[N_CURVES + 1];
	struct trial_row row;
	float curves[N_CURVES * N_POINTS];
	char path[PATH_MAX];
	size_t n_before = 0;
	size_t n_after = 0;
	size_t n_inside = 0;
	size_t n_outside = 0;
	char *before = NULL;
	char *after = NULL;

	snprintf(path, sizeof(path), "%s/in_place.h5", dir);
	EXPECT_OK(h5out_create(&o, path, g, &test_meta, 1, &err), &err);
	if (o == NULL)
		return;
	before = file_read_all(path, &n_before);
	row_pending(t, &row);
	snprintf(row.status, sizeof(row.status), "done");
	row.final_test_accuracy = 0.75f;
	curves_fill(t, curves);
	EXPECT_OK(h5out_write_trial(o, t, &row, curves, &err), &err);
	after = file_read_all(path, &n_after);
	EXPECT_OK(h5out_close(o, &err), &err);

	EXPECT_INT(before != NULL && after != NULL, 1);
	EXPECT_INT(n_after, n_before);
	EXPECT_INT(trial_ranges(path, t, ranges), 0);
	for (size_t i = 0;
	     before != NULL && after != NULL && i < n_before && i < n_after;
	     i++) {
		if (before[i] == after[i])
			continue;
		if (in_ranges(i, ranges, N_CURVES + 1))
			n_inside++;
		else
			n_outside++;
	}
	EXPECT_INT(n_inside > 0, 1);
	EXPECT_INT(n_outside, 0);
	free(after);
	free(before);
}

/* ---- weights ---- */

#define W_HIDDEN 32  /* hidden size of the trial the weights test writes */
#define W_N_IN   785 /* rows of W1 */
#define W_N_OUT  10  /* columns of W2 and B */

/* Fills the weights of one trial: stage st of W1, W2 and B with distinct
 * values per matrix and stage, and the indices with their position. */
static void weights_fill(struct trial_weights *w, float *buf, uint32_t *index,
                         size_t n_train, size_t n_test)
{
	size_t n_w1 = W_N_IN * W_HIDDEN, n_w2 = (W_HIDDEN + 1) * W_N_OUT;
	size_t n_b = W_HIDDEN * W_N_OUT;

	memset(w, 0, sizeof(*w));
	for (int st = 0; st < N_STAGES; st++) {
		w->w1[st] = buf;
		w->w2[st] = buf + n_w1;
		w->feedback[st] = buf + n_w1 + n_w2;
		for (size_t i = 0; i < n_w1 + n_w2 + n_b; i++)
			buf[i] = (float)(st + 1) * 1000.0f + (float)i;
		buf += n_w1 + n_w2 + n_b;
	}
	for (size_t i = 0; i < n_train + n_test; i++)
		index[i] = (uint32_t)(i % n_train);
	w->train_index = index;
	w->test_index = index + n_train;
	w->n_train = n_train;
	w->n_test = n_test;
}

/* Adds the byte ranges of the chunks of trial t's weights, (mode m, seed
 * s) of hidden size W_HIDDEN, in the file at path, to ranges[]. Returns the
 * new count, or 0 if HDF5 cannot tell. */
static size_t weight_ranges(const char *path, size_t m, size_t s,
                            struct byte_range *ranges, size_t n)
{
	static const char *const names[] = {"W1", "W2", "B", "train_index",
	                                    "test_index"};
	hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	unsigned filter_mask;
	int ok = file >= 0;

	for (size_t i = 0; ok && i < sizeof(names) / sizeof(names[0]); i++) {
		char name[64];
		int matrix = i < 3;
		hid_t ds;

		snprintf(name, sizeof(name), "/weights/hidden_%d/%s", W_HIDDEN,
		         names[i]);
		ds = H5Dopen2(file, name, H5P_DEFAULT);
		ok = ds >= 0;
		for (hsize_t st = 0; ok && st < (matrix ? N_STAGES : 1); st++) {
			hsize_t at_matrix[5] = {m, s, st, 0, 0};
			hsize_t at_index[2] = {s, 0};

			ok = H5Dget_chunk_info_by_coord(
			             ds, matrix ? at_matrix : at_index,
			             &filter_mask, &ranges[n].start,
			             &ranges[n].size) >= 0;
			n++;
		}
		if (ds >= 0 && H5Dclose(ds) < 0)
			ok = 0;
	}
	if (file >= 0 && H5Fclose(file) < 0)
		ok = 0;
	return ok ? n : 0;
}

/* Reads element [m][s][st][0][0] of dataset name, or NaN on failure. */
static float weight_read(const char *path, const char *name, hsize_t m,
                         hsize_t s, hsize_t st)
{
	hsize_t start[5] = {m, s, st, 0, 0}, count[5] = {1, 1, 1, 1, 1};
	hsize_t one = 1;
	float value = NAN;
	hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	hid_t ds = file >= 0 ? H5Dopen2(file, name, H5P_DEFAULT) : -1;
	hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
	hid_t mem = H5Screate_simple(1, &one, NULL);

	if (space >= 0 && mem >= 0 &&
	    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count,
	                        NULL) >= 0 &&
	    H5Dread(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, &value) < 0)
		value = NAN;
	if (mem >= 0)
		H5Sclose(mem);
	if (space >= 0)
		H5Sclose(space);
	if (ds >= 0)
		H5Dclose(ds);
	if (file >= 0)
		H5Fclose(file);
	return value;
}

/* With save_weights, storing a trial as sweep_results.c does (curves and
 * weights, a flush, the row, a flush) overwrites only that trial's chunks
 * and row: the file keeps its size and no metadata byte changes, as without
 * weights. The values read back, and another trial's weights stay NaN. */
static void test_weights_written_in_place(const char *dir, const struct grid *g)
{
	const size_t t = 10; /* (fa, 32, 22): mode 1, hidden 1, seed 1 */
	struct grid gw = *g;
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct byte_range ranges[N_CURVES + 1 + 3 * N_STAGES + 2];
	struct trial_weights w;
	struct trial_row row;
	float curves[N_CURVES * N_POINTS];
	float *buf = malloc(sizeof(float) * N_STAGES *
	                    (W_N_IN * W_HIDDEN + (2 * W_HIDDEN + 1) * W_N_OUT));
	uint32_t *index = malloc(sizeof(uint32_t) * 1500);
	char path[PATH_MAX], name[64];
	size_t n_before = 0, n_after = 0, n_ranges, n_inside = 0, n_outside = 0;
	char *before = NULL, *after = NULL;

	gw.save_weights[STAGE_INITIAL] = gw.save_weights[STAGE_FINAL] = 1;
	snprintf(path, sizeof(path), "%s/weights.h5", dir);
	EXPECT_INT(buf != NULL && index != NULL, 1);
	EXPECT_OK(h5out_create(&o, path, &gw, &test_meta, 1, &err), &err);
	if (o == NULL || buf == NULL || index == NULL)
		goto out;
	weights_fill(&w, buf, index, 1000, 500);
	before = file_read_all(path, &n_before);
	row_pending(t, &row);
	snprintf(row.status, sizeof(row.status), "done");
	curves_fill(t, curves);
	EXPECT_OK(h5out_write_curves(o, t, curves, &err), &err);
	EXPECT_OK(h5out_write_weights(o, t, &w, &err), &err);
	EXPECT_OK(h5out_flush(o, &err), &err);
	EXPECT_OK(h5out_write_row(o, t, &row, &err), &err);
	EXPECT_OK(h5out_flush(o, &err), &err);
	after = file_read_all(path, &n_after);

	/* A trial index past the grid is rejected. */
	EXPECT_INT(h5out_write_weights(o, N_TEST_TRIALS, &w, &err), -1);
	EXPECT_CONTAINS(err.msg, "trial index 18 is out of range");
	fw_error_clear(&err);
	EXPECT_OK(h5out_close(o, &err), &err);

	EXPECT_INT(before != NULL && after != NULL, 1);
	EXPECT_INT(n_after, n_before);
	EXPECT_INT(trial_ranges(path, t, ranges), 0);
	n_ranges = weight_ranges(path, 1, 1, ranges, N_CURVES + 1);
	EXPECT_INT(n_ranges, sizeof(ranges) / sizeof(ranges[0]));
	for (size_t i = 0;
	     before != NULL && after != NULL && i < n_before && i < n_after;
	     i++) {
		if (before[i] == after[i])
			continue;
		if (in_ranges(i, ranges, n_ranges))
			n_inside++;
		else
			n_outside++;
	}
	EXPECT_INT(n_inside > 0, 1);
	EXPECT_INT(n_outside, 0);

	/* Stage 1 of W2 starts at 2000, and the bp trial of seed 1 is NaN. */
	snprintf(name, sizeof(name), "/weights/hidden_%d/W2", W_HIDDEN);
	EXPECT_DBL(weight_read(path, name, 1, 1, 1),
	           2000.0 + W_N_IN * W_HIDDEN);
	EXPECT_INT(isnan(weight_read(path, name, 0, 1, 1)), 1);
out:
	free(after);
	free(before);
	free(index);
	free(buf);
}

/* A file without save_weights has no /weights group and rejects weights. */
static void test_weights_absent(const char *path, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct trial_weights w;
	hid_t file;

	memset(&w, 0, sizeof(w));
	file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
	EXPECT_INT(file >= 0, 1);
	if (file >= 0) {
		EXPECT_INT(H5Lexists(file, "/weights", H5P_DEFAULT), 0);
		EXPECT_INT(H5Fclose(file) >= 0, 1);
	}
	EXPECT_OK(h5out_reopen(&o, path, g, NULL, &err), &err);
	if (o == NULL)
		return;
	EXPECT_INT(h5out_write_weights(o, 0, &w, &err), -1);
	EXPECT_CONTAINS(err.msg, "stores no weights");
	fw_error_clear(&err);
	EXPECT_OK(h5out_close(o, &err), &err);
}

/* Exit statuses of full_disk_child other than 1, the expected one. */
enum child_status {
	CHILD_INIT_FAILED = 2,
	CHILD_CREATE_FAILED = 3,
	CHILD_WRITE_PASSED = 4,
	CHILD_MESSAGE_LOST = 5,
};

/* Runs in a child process that has made no HDF5 call yet, as fasweep run
 * does: writes the stats table onto a full disk, stores the error message
 * in msg_path and exits with status 1 through exit(), so that any exit
 * handlers run. RLIMIT_FSIZE at the current file size makes every write
 * past the end of the file fail with EFBIG, as ENOSPC would. */
static void full_disk_child(const char *path, const char *msg_path,
                            const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	struct stats_row rows[N_STATS_ROWS];
	struct rlimit limit;
	struct stat st;
	FILE *f;

	if (h5out_library_init() != 0)
		exit(CHILD_INIT_FAILED);
	if (h5out_create(&o, path, g, &test_meta, 1, &err) != 0 ||
	    stat(path, &st) != 0)
		exit(CHILD_CREATE_FAILED);

	limit.rlim_cur = limit.rlim_max = (rlim_t)st.st_size;
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR ||
	    setrlimit(RLIMIT_FSIZE, &limit) != 0)
		exit(CHILD_CREATE_FAILED);
	for (size_t r = 0; r < N_STATS_ROWS; r++)
		stats_fill(r, &rows[r]);
	if (h5out_write_stats(o, rows, N_STATS_ROWS, &err) == 0)
		exit(CHILD_WRITE_PASSED);

	/* The close fails too, and err keeps the first message. */
	(void)h5out_close(o, &err);
	f = fopen(msg_path, "w");
	if (f == NULL || fputs(err.msg, f) < 0 || fclose(f) != 0)
		exit(CHILD_MESSAGE_LOST);
	exit(1);
}

/* After a failed write and a failed close, the process exits with the
 * status it chose instead of crashing in HDF5's exit handler. The message
 * quotes the sec2 driver's long error text, yet stays one line with its
 * cut marked. */
static void test_full_disk_exit(pid_t child, const char *msg_path)
{
	int status = 0;
	size_t n = 0;
	size_t n_control = 0;
	char *msg;

	EXPECT_INT(waitpid(child, &status, 0), child);
	EXPECT_INT(WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0);
	EXPECT_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1);

	msg = file_read_all(msg_path, &n);
	EXPECT_INT(msg != NULL, 1);
	if (msg == NULL)
		return;
	msg[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			n_control++;
	EXPECT_INT(n_control, 0);
	EXPECT_CONTAINS(msg, "failed at h5out.c:");
	EXPECT_CONTAINS(msg, "file write failed");
	EXPECT_CONTAINS(msg, "...); check free disk space");
	EXPECT_INT(strstr(msg, " ...)") == NULL, 1);
	free(msg);
}

#define N_RACERS        4
#define N_RACE_ROUNDS   10
#define N_EXIT_STATUSES 8 /* counted exit statuses, 0 .. 7 */

/* Exit statuses of a racer. */
enum racer_status {
	RACER_CREATED = 0,
	RACER_REFUSED = 3, /* the message for an existing file */
	RACER_OTHER = 4,   /* any other failure, message on stderr */
};

/* Runs in a child process: waits until the parent closes the other end of
 * start_fd, then creates path without force. */
static void racer(int start_fd, const char *path, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out *o = NULL;
	char want[PATH_MAX + 128];
	char byte;

	if (read(start_fd, &byte, 1) != 0)
		_exit(RACER_OTHER);
	if (h5out_create(&o, path, g, &test_meta, 0, &err) == 0)
		_exit(h5out_close(o, &err) == 0 ? RACER_CREATED : RACER_OTHER);

	snprintf(want, sizeof(want),
	         "%s already exists; pass --resume to continue it, --force to "
	         "replace it, or -o to write elsewhere",
	         path);
	if (strcmp(err.msg, want) == 0)
		_exit(RACER_REFUSED);
	fprintf(stderr, "racer %ld: %s\n", (long)getpid(), err.msg);
	_exit(RACER_OTHER);
}

/* Starts N_RACERS processes that create path at the same moment and
 * counts them by exit status into counts[RACER_*]. */
static void race_round(const char *path, const struct grid *g,
                       int counts[N_EXIT_STATUSES])
{
	pid_t pids[N_RACERS];
	int fds[2];
	int status;

	if (pipe(fds) != 0) {
		EXPECT_INT(errno, 0);
		return;
	}
	for (int i = 0; i < N_RACERS; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[1]);
			racer(fds[0], path, g);
		}
		EXPECT_INT(pids[i] > 0, 1);
	}

	/* Closing the write end releases every racer at once. */
	close(fds[0]);
	close(fds[1]);
	for (int i = 0; i < N_RACERS; i++) {
		if (pids[i] <= 0 || waitpid(pids[i], &status, 0) != pids[i])
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) < N_EXIT_STATUSES)
			counts[WEXITSTATUS(status)]++;
		else
			counts[RACER_OTHER]++;
	}
}

/* Counts the files in dir whose names start with prefix. */
static int files_with_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/* Processes that create the same file at the same moment without force:
 * exactly one succeeds and the others get the existing-file message. */
static void test_concurrent_create(const char *dir, const struct grid *g)
{
	struct fw_error err = {""};
	struct h5out_summary s;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/race.h5", dir);
	for (int round = 0; round < N_RACE_ROUNDS; round++) {
		int counts[N_EXIT_STATUSES] = {0};

		if (unlink(path) != 0 && errno != ENOENT)
			EXPECT_INT(errno, 0);
		fflush(NULL);
		race_round(path, g, counts);
		if (counts[RACER_CREATED] != 1)
			fprintf(stderr, "race round %d:\n", round);
		EXPECT_INT(counts[RACER_CREATED], 1);
		EXPECT_INT(counts[RACER_REFUSED], N_RACERS - 1);
	}
	EXPECT_INT(files_with_prefix(dir, "race.h5.tmp."), 0);

	EXPECT_OK(h5out_read_summary(path, &s, &err), &err);
	EXPECT_INT(s.n_trials, N_TEST_TRIALS);
	h5out_summary_free(&s);
}

int main(int argc, char **argv)
{
	struct test_grid tg;
	char path[PATH_MAX];
	char msg_path[PATH_MAX];
	pid_t child;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	if (mkdir(argv[1], 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "cannot create %s: %s\n", argv[1],
		        strerror(errno));
		return 2;
	}
	test_grid_init(&tg);

	/* The full-disk child runs before this process makes any HDF5 call,
	 * because h5out_library_init must precede them. */
	snprintf(path, sizeof(path), "%s/full.h5", argv[1]);
	snprintf(msg_path, sizeof(msg_path), "%s/full.msg", argv[1]);
	fflush(NULL);
	child = fork();
	if (child == 0)
		full_disk_child(path, msg_path, &tg.g);
	EXPECT_INT(child > 0, 1);
	if (child > 0)
		test_full_disk_exit(child, msg_path);
	EXPECT_INT(h5out_library_init(), 0);
	EXPECT_INT(h5out_library_init(), -1);

	snprintf(path, sizeof(path), "%s/layout.h5", argv[1]);
	test_write_layout(path, &tg.g);
	test_read_summary(path);
	test_existing_rejected(path, &tg.g);
	test_force_replaces(argv[1], &tg.g);
	test_concurrent_create(argv[1], &tg.g);
	test_trial_written_in_place(argv[1], &tg.g);
	test_weights_written_in_place(argv[1], &tg.g);
	snprintf(path, sizeof(path), "%s/in_place.h5", argv[1]);
	test_weights_absent(path, &tg.g);
	test_unwritable_dir(argv[1], &tg.g);
	test_failed_layout_removed(argv[1], &tg.g);
	test_foreign_files(argv[1]);

	if (n_failed > 0) {
		fprintf(stderr, "test_h5out: %d checks failed\n", n_failed);
		return 1;
	}
	printf("test_h5out: all checks passed\n");
	return 0;
}
