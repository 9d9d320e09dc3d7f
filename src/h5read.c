/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5read.c - reads a results file back for reports and resuming: its config
 * and writer attributes and both tables (h5out_read_summary). Opens the
 * file read-only in SWMR mode, so it also reads a file that a sweep is
 * still writing. Printing the report is left to report.c. */
#include "h5util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

/* Returns a copy of the string attribute name of loc, stored either as a
 * variable-length or as a fixed-length string, or NULL on failure. */
static char *attr_read_string(const struct h5ctx *c, hid_t loc,
                              const char *name)
{
	hid_t attr = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t type = H5I_INVALID_HID;
	hid_t mem_type = H5I_INVALID_HID;
	htri_t is_vlen;
	hssize_t n;
	char *vlen = NULL;
	char *text = NULL;

	CHECK(c, attr = H5Aopen(loc, name, H5P_DEFAULT));
	CHECK(c, space = H5Aget_space(attr));
	CHECK(c, n = H5Sget_simple_extent_npoints(space));
	CLOSE(c, H5Sclose, space);
	CHECK(c, type = H5Aget_type(attr));
	if (n != 1 || H5Tget_class(type) != H5T_STRING) {
		fw_error_set(c->err,
		             "%s: attribute %s is not a single string; %s",
		             c->path, name, c->hint);
		goto fail;
	}
	CHECK(c, is_vlen = H5Tis_variable_str(type));

	if (is_vlen) {
		CHECK(c, mem_type = h5_string_type(c, H5T_VARIABLE));
		CHECK(c, H5Aread(attr, mem_type, &vlen));
		text = strdup(vlen != NULL ? vlen : "");
		CHECK(c, H5free_memory(vlen));
		CLOSE(c, H5Tclose, mem_type);
	} else {
		size_t size = H5Tget_size(type);

		text = calloc(size + 1, 1);
		if (text != NULL)
			CHECK(c, H5Aread(attr, type, text));
	}
	if (text == NULL) {
		fw_error_set(c->err, "%s: out of memory for attribute %s",
		             c->path, name);
		goto fail;
	}
	CLOSE(c, H5Tclose, type);
	CLOSE(c, H5Aclose, attr);
	return text;

fail:
	free(text);
	h5_release(mem_type);
	h5_release(type);
	h5_release(space);
	h5_release(attr);
	return NULL;
}

/* Reads the 1-D table name into *rows (malloc'd, NULL when empty) with
 * *n_rows rows of row_size bytes of memory type mem_type. */
static int table_read(const struct h5ctx *c, hid_t file, const char *name,
                      hid_t mem_type, size_t row_size, void **rows,
                      size_t *n_rows)
{
	hid_t ds = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hssize_t n;

	*rows = NULL;
	*n_rows = 0;
	CHECK(c, ds = H5Dopen2(file, name, H5P_DEFAULT));
	CHECK(c, space = H5Dget_space(ds));
	CHECK(c, n = H5Sget_simple_extent_npoints(space));
	CLOSE(c, H5Sclose, space);
	if (n > 0) {
		*rows = calloc((size_t)n, row_size);
		if (*rows == NULL) {
			fw_error_set(c->err,
			             "%s: out of memory for %lld rows "
			             "of %s",
			             c->path, (long long)n, name);
			goto fail;
		}
		CHECK(c, H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
		                 *rows));
	}
	CLOSE(c, H5Dclose, ds);
	*n_rows = (size_t)n;
	return 0;

fail:
	free(*rows);
	*rows = NULL;
	h5_release(space);
	h5_release(ds);
	return -1;
}

/* Returns 0 if path is a readable HDF5 file, or -1 with the message that
 * fits: not found, unreadable or not a fasweep results file. */
static int summary_check_file(const char *path, struct fw_error *err)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return fw_error_set(err,
			                    "%s: not found; give the results "
			                    "file that fasweep run wrote",
			                    path);
		return fw_error_set(err, "cannot read %s: %s", path,
		                    strerror(errno));
	}
	if (access(path, R_OK) != 0)
		return fw_error_set(err, "cannot read %s: %s", path,
		                    strerror(errno));
	if (!S_ISREG(st.st_mode) || H5Fis_hdf5(path) <= 0)
		return fw_error_set(
		        err,
		        "%s: not an HDF5 file; give the results file "
		        "that fasweep run wrote",
		        path);
	return 0;
}

/* Sets final[t * N_CURVES + curve] for the trials of mode index m from
 * values, the [hidden][seed][point] block of that mode. */
static void finals_of_mode(const float *values, const hsize_t dims[N_DIMS],
                           size_t m, int curve, float *final)
{
	size_t n_series = dims[DIM_HIDDEN] * dims[DIM_SEED];
	size_t n_points = dims[DIM_EPOCH];

	for (size_t i = 0; i < n_series; i++) {
		const float *v = values + i * n_points;
		size_t t = m * n_series + i;
		size_t e = n_points;

		while (e > 0 && isnan(v[e - 1]))
			e--;
		final[t * N_CURVES + (size_t)curve] = e > 0 ? v[e - 1] : NAN;
	}
}

/* Reads the last value of one curve per trial, one mode at a time. */
static int curve_finals_read(const struct h5ctx *c, hid_t ds, int curve,
                             size_t n_trials, float *final)
{
	hsize_t dims[N_DIMS], start[N_DIMS] = {0, 0, 0, 0}, count[N_DIMS];
	hid_t space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
	float *values = NULL;

	CHECK(c, space = H5Dget_space(ds));
	if (H5Sget_simple_extent_ndims(space) != N_DIMS)
		goto fail;
	CHECK(c, H5Sget_simple_extent_dims(space, dims, NULL));
	if (dims[DIM_MODE] * dims[DIM_HIDDEN] * dims[DIM_SEED] != n_trials)
		goto fail;
	memcpy(count, dims, sizeof(count));
	count[DIM_MODE] = 1;
	values = malloc(sizeof(float) * dims[DIM_HIDDEN] * dims[DIM_SEED] *
	                        dims[DIM_EPOCH] +
	                1);
	if (values == NULL)
		goto fail;
	CHECK(c, mem = H5Screate_simple(N_DIMS, count, NULL));

	for (size_t m = 0; m < dims[DIM_MODE]; m++) {
		start[DIM_MODE] = m;
		CHECK(c, H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL,
		                             count, NULL));
		CHECK(c, H5Dread(ds, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT,
		                 values));
		finals_of_mode(values, dims, m, curve, final);
	}
	CLOSE(c, H5Sclose, mem);
	CLOSE(c, H5Sclose, space);
	free(values);
	return 0;

fail:
	h5_release(mem);
	h5_release(space);
	free(values);
	return -1;
}

/* Fills s->final from every curve dataset the file has. A curve that is
 * missing or shaped unlike the trials table stays NaN, because the report
 * does not need it to show the tables. */
static int finals_read(const struct h5ctx *c, hid_t file,
                       struct h5out_summary *s)
{
	size_t n = s->n_trials * N_CURVES;

	s->final = malloc(sizeof(float) * n + 1);
	if (s->final == NULL)
		return fw_error_set(c->err,
		                    "%s: out of memory for the final "
		                    "values of %zu trials",
		                    c->path, s->n_trials);
	for (size_t i = 0; i < n; i++)
		s->final[i] = NAN;

	for (int k = 0; k < N_CURVES; k++) {
		const char *name = trainer_curve_name((enum curve_id)k);
		hid_t ds;

		if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
			continue;
		ds = H5Dopen2(file, name, H5P_DEFAULT);
		if (ds < 0)
			continue;
		if (curve_finals_read(c, ds, k, s->n_trials, s->final) < 0)
			for (size_t t = 0; t < s->n_trials; t++)
				s->final[t * N_CURVES + (size_t)k] = NAN;
		H5Dclose(ds);
	}
	return 0;
}

/* Reads the config attribute and both tables of the open file into s. */
static int summary_read(const struct h5ctx *c, hid_t file,
                        struct h5out_summary *s)
{
	hid_t trial_type = H5I_INVALID_HID;
	hid_t stats_type = H5I_INVALID_HID;
	htri_t has_stats, has_writer;
	void *rows;

	s->config = attr_read_string(c, file, "config");
	if (s->config == NULL)
		goto fail;
	CHECK(c, has_writer = H5Aexists(file, "writer"));
	if (has_writer) {
		s->writer = attr_read_string(c, file, "writer");
		if (s->writer == NULL)
			goto fail;
	}

	CHECK(c, trial_type = h5_trial_row_type(c));
	if (table_read(c, file, "/tables/trials", trial_type,
	               sizeof(struct trial_row), &rows, &s->n_trials) < 0)
		goto fail;
	s->trials = rows;
	CLOSE(c, H5Tclose, trial_type);

	/* h5out_create makes an empty stats table, but a file edited with
	 * other tools may lack it, which reads as no stats. */
	CHECK(c, has_stats = H5Lexists(file, "/tables/stats", H5P_DEFAULT));
	if (has_stats) {
		CHECK(c, stats_type = h5_stats_row_type(c));
		if (table_read(c, file, "/tables/stats", stats_type,
		               sizeof(struct stats_row), &rows,
		               &s->n_stats) < 0)
			goto fail;
		s->stats = rows;
		CLOSE(c, H5Tclose, stats_type);
	}
	return 0;

fail:
	h5_release(stats_type);
	h5_release(trial_type);
	return -1;
}

int h5out_read_summary(const char *path, struct h5out_summary *s,
                       struct fw_error *err)
{
	struct h5ctx c = {path, err, HINT_READ};
	struct h5_quiet quiet;
	hid_t fapl = H5I_INVALID_HID;
	hid_t file = H5I_INVALID_HID;
	htri_t is_fasweep;
	int status = -1;

	memset(s, 0, sizeof(*s));
	h5_quiet_begin(&quiet);
	if (summary_check_file(path, err) < 0)
		goto fail;

	CHECK(&c, fapl = h5_file_access(&c));
	c.hint = HINT_OPEN;
	CHECK(&c,
	      file = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl));
	c.hint = HINT_READ;
	CLOSE(&c, H5Pclose, fapl);
	CHECK(&c, is_fasweep = H5Aexists(file, "fasweep_version"));
	if (!is_fasweep) {
		fw_error_set(err,
		             "%s: not a fasweep results file (no "
		             "fasweep_version attribute); give the results "
		             "file that fasweep run wrote",
		             path);
		goto fail;
	}
	if (summary_read(&c, file, s) < 0 || finals_read(&c, file, s) < 0)
		goto fail;
	CLOSE(&c, H5Fclose, file);
	status = 0;

fail:
	h5_release(file);
	h5_release(fapl);
	if (status != 0)
		h5out_summary_free(s);
	h5_quiet_end(&quiet);
	return status;
}

void h5out_summary_free(struct h5out_summary *s)
{
	if (s == NULL)
		return;
	free(s->final);
	free(s->stats);
	free(s->trials);
	free(s->writer);
	free(s->config);
	memset(s, 0, sizeof(*s));
}
