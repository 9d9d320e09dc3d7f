/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5layout.c - builds the layout of h5out.h for a grid in a new results
 * file: root attributes, dimension scales, settings, curves and tables,
 * every trial pending. The /weights group is left to h5weights.c, and
 * publishing and writing the file to h5out.c.
 *
 * Readers: h5py, MATLAB and R read the datasets and tables directly, and
 * xarray (engine "h5netcdf") reads the curves as netCDF-4 variables. For
 * h5netcdf 1.1.0 to read the file without phony dimensions, every axis of
 * every root dataset has exactly one dimension scale attached, and each scale
 * is named after its own dataset. */
#include "h5util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#ifndef FASWEEP_VERSION
#error "FASWEEP_VERSION must be defined by the build"
#endif

static const char *const dim_names[N_DIMS] = {
        [DIM_MODE] = "mode",
        [DIM_HIDDEN] = "hidden",
        [DIM_SEED] = "seed",
        [DIM_EPOCH] = "epoch",
};

static const char *const dim_long_names[N_DIMS] = {
        [DIM_MODE] = "feedback rule",
        [DIM_HIDDEN] = "hidden units",
        [DIM_SEED] = "random seed",
        [DIM_EPOCH] = "epochs completed (0 is before training)",
};

/* CF attributes of the curves. Units "1" marks a dimensionless quantity. */
static const struct {
	const char *long_name;
	const char *units;
} curve_attrs[N_CURVES] = {
        [CURVE_TRAIN_LOSS] = {"training loss, mean over the epoch's "
                              "minibatches",
                              "1"},
        [CURVE_TEST_LOSS] = {"test loss, mean over the test images", "1"},
        [CURVE_TEST_ACCURACY] = {"fraction of test images classified "
                                 "correctly",
                                 "1"},
        [CURVE_FEEDBACK_CORRELATION] = {"Pearson correlation of W2[0:H, :] "
                                        "and the feedback matrix B",
                                        "1"},
        [CURVE_ALIGNMENT_ANGLE] = {"angle between the hidden-layer delta "
                                   "and the backpropagation delta",
                                   "degrees"},
        [CURVE_FEEDBACK_COSINE] = {"cosine of W2[0:H, :] and the feedback "
                                   "matrix B",
                                   "1"},
        [CURVE_FEEDBACK_NORM_RATIO] = {"Frobenius norm of B over that of "
                                       "W2[0:H, :]",
                                       "1"},
        [CURVE_DELTA_NORM_RATIO] = {"norm of the hidden-layer delta over "
                                    "that of the backpropagation delta",
                                    "1"},
        [CURVE_ALIGNMENT_ANGLE_MEAN] = {"mean per-example angle between the "
                                        "hidden-layer delta and the "
                                        "backpropagation delta",
                                        "degrees"},
        [CURVE_UPDATE_ANGLE] = {"angle between the W1 update and the "
                                "backpropagation W1 update",
                                "degrees"},
        [CURVE_FEEDBACK_CONCORDANCE] = {"fraction of probe images whose "
                                        "feedback is within 90 degrees of "
                                        "backpropagation's",
                                        "1"},
        [CURVE_SATURATION_FRACTION] = {"fraction of hidden activations "
                                       "below 0.05 or above 0.95",
                                       "1"},
        [CURVE_SIGMOID_SLOPE] = {"mean sigmoid derivative h (1 - h) of the "
                                 "hidden units",
                                 "1"},
};

/* Name and long name of the point axis of the early checkpoints. */
#define EARLY_SCALE_NAME "epoch_fraction"
#define EARLY_SCALE_LONG_NAME                                                  \
	"fraction of the first epoch done at the checkpoint"

#define STATS_CHUNK_ROWS 64 /* rows per chunk of the resizable stats table */

static int root_attrs_write(const struct h5ctx *c, hid_t file,
                            const struct grid *g, const struct h5out_meta *meta)
{
	char created[32]; /* ISO 8601, e.g. 2026-12-04T19:46:54Z */
	char writer[H5OUT_HOST_MAX + 32];
	const struct {
		const char *name;
		const char *value;
	} attrs[] = {
	        {"fasweep_version", FASWEEP_VERSION},
	        {"config", g->text},
	        {"created_utc", created},
	        {"command_line", meta->command_line},
	        {"hostname", meta->hostname},
	        {"writer", writer},
	};
	struct tm utc;
	time_t now = time(NULL);

	if (now == (time_t)-1 || gmtime_r(&now, &utc) == NULL ||
	    strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
		return fw_error_set(c->err,
		                    "%s: cannot read the system clock for "
		                    "created_utc; check the system time",
		                    c->path);
	h5_writer_name(writer, sizeof(writer));

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const char *value = attrs[i].value;

		if (h5_attr_write_string(c, file, attrs[i].name, value) < 0)
			return -1;
	}
	return h5_attr_write_scalar(c, file, "mpi_ranks", H5T_STD_I32LE,
	                            H5T_NATIVE_INT32, &meta->mpi_ranks);
}

/* Creates /mode, /hidden, /seed and /epoch as dimension scales and leaves
 * them open in scales[] for attaching. The caller closes them. */
static int scales_create(const struct h5ctx *c, hid_t file,
                         const struct grid *g, hid_t scales[N_DIMS])
{
	const char *modes[N_MODES];
	size_t n_points = (size_t)g->max_epochs + 1;
	int32_t *epochs = malloc(n_points * sizeof(*epochs)); /* n_points */
	hid_t str = H5I_INVALID_HID;

	if (epochs == NULL)
		return fw_error_set(c->err, "%s: out of memory for %zu epochs",
		                    c->path, n_points);
	for (size_t i = 0; i < n_points; i++)
		epochs[i] = (int32_t)i;
	for (size_t i = 0; i < g->n_modes; i++)
		modes[i] = grid_mode_name(g->modes[i]);

	CHECK(c, str = h5_string_type(c, H5T_VARIABLE));
	CHECK(c, scales[DIM_MODE] = h5_dataset_create_1d(
	                 c, file, "mode", str, str, g->n_modes, modes));
	CLOSE(c, H5Tclose, str);
	CHECK(c, scales[DIM_HIDDEN] = h5_dataset_create_1d(
	                 c, file, "hidden", H5T_STD_I32LE, H5T_NATIVE_INT32,
	                 g->n_hidden, g->hidden));
	CHECK(c, scales[DIM_SEED] = h5_dataset_create_1d(
	                 c, file, "seed", H5T_STD_I64LE, H5T_NATIVE_INT64,
	                 g->n_seeds, g->seeds));
	CHECK(c, scales[DIM_EPOCH] = h5_dataset_create_1d(
	                 c, file, "epoch", H5T_STD_I32LE, H5T_NATIVE_INT32,
	                 n_points, epochs));

	for (int d = 0; d < N_DIMS; d++) {
		CHECK(c, H5DSset_scale(scales[d], dim_names[d]));
		if (h5_attr_write_string(c, scales[d], "long_name",
		                         dim_long_names[d]) < 0)
			goto fail;
	}
	free(epochs);
	return 0;

fail:
	h5_release(str);
	free(epochs);
	return -1;
}

/* Creates a float64 dataset for each zipped setting, on the scale of its
 * axis, and lists their names, space-separated, in coords. */
static int settings_create(const struct h5ctx *c, hid_t file,
                           const struct grid *g, const hid_t scales[N_DIMS],
                           char *coords, size_t size)
{
	hid_t ds = H5I_INVALID_HID;
	size_t used = 0;

	coords[0] = '\0';
	for (int i = 0; i < N_SETTINGS; i++) {
		const struct grid_setting *s = &g->settings[i];
		int n;

		if (s->axis == AXIS_NONE)
			continue;
		CHECK(c, ds = h5_dataset_create_1d(
		                 c, file, s->name, H5T_IEEE_F64LE,
		                 H5T_NATIVE_DOUBLE, s->n_values, s->values));
		CHECK(c, H5DSattach_scale(ds, scales[s->axis], 0));
		CLOSE(c, H5Dclose, ds);

		n = snprintf(coords + used, size - used, "%s%s",
		             used > 0 ? " " : "", s->name);
		if (n < 0 || (size_t)n >= size - used)
			return fw_error_set(c->err,
			                    "%s: the names of the zipped "
			                    "settings exceed %zu bytes",
			                    c->path, size);
		used += (size_t)n;
	}
	return 0;

fail:
	h5_release(ds);
	return -1;
}

/* Returns the creation property list of a curve dataset: one chunk per
 * trial, NaN wherever no trial was written. */
static hid_t curve_create_plist(const struct h5ctx *c, size_t n_points)
{
	hsize_t chunk[N_DIMS] = {1, 1, 1, n_points};
	float nan = NAN;
	hid_t dcpl = H5I_INVALID_HID;

	CHECK(c, dcpl = H5Pcreate(H5P_DATASET_CREATE));
	CHECK(c, H5Pset_chunk(dcpl, N_DIMS, chunk));
	CHECK(c, H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan));

	/* Every chunk is allocated and filled with NaN when the dataset is
	 * created, so writing a trial overwrites data already in the file and
	 * changes neither the chunk index nor the end of file. A process
	 * killed mid-write then damages at most that trial's values, and a
	 * full disk fails h5out_create rather than a trial hours later. */
	CHECK(c, H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
	CHECK(c, H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
	return dcpl;

fail:
	h5_release(dcpl);
	return H5I_INVALID_HID;
}

/* Writes the attributes of one curve. _FillValue repeats the dataset's
 * fill value for netCDF readers (netCDF-C, ncdf4, MATLAB's ncread), and
 * coordinates names the zipped settings, so that xarray shows them as
 * coordinates of their axis. */
static int curve_attrs_write(const struct h5ctx *c, hid_t ds, enum curve_id id,
                             const char *coords)
{
	float nan = NAN;

	if (h5_attr_write_string(c, ds, "long_name",
	                         curve_attrs[id].long_name) < 0)
		return -1;
	if (h5_attr_write_string(c, ds, "units", curve_attrs[id].units) < 0)
		return -1;
	if (h5_attr_write_scalar(c, ds, "_FillValue", H5T_IEEE_F32LE,
	                         H5T_NATIVE_FLOAT, &nan) < 0)
		return -1;
	if (coords[0] != '\0' &&
	    h5_attr_write_string(c, ds, "coordinates", coords) < 0)
		return -1;
	return 0;
}

/* Creates one dataset per curve in loc, [mode][hidden][seed][point] with
 * n_points points, on scales. */
static int curves_create(const struct h5ctx *c, hid_t loc, const struct grid *g,
                         const hid_t scales[N_DIMS], size_t n_points,
                         const char *coords)
{
	hsize_t dims[N_DIMS] = {g->n_modes, g->n_hidden, g->n_seeds, n_points};
	hid_t dcpl = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, dcpl = curve_create_plist(c, n_points));
	CHECK(c, space = H5Screate_simple(N_DIMS, dims, NULL));
	for (int i = 0; i < N_CURVES; i++) {
		CHECK(c, ds = H5Dcreate2(loc, trainer_curve_name(i),
		                         H5T_IEEE_F32LE, space, H5P_DEFAULT,
		                         dcpl, H5P_DEFAULT));
		for (int d = 0; d < N_DIMS; d++)
			CHECK(c, H5DSattach_scale(ds, scales[d], (unsigned)d));
		if (curve_attrs_write(c, ds, i, coords) < 0)
			goto fail;
		CLOSE(c, H5Dclose, ds);
	}
	CLOSE(c, H5Sclose, space);
	CLOSE(c, H5Pclose, dcpl);
	return 0;

fail:
	h5_release(ds);
	h5_release(space);
	h5_release(dcpl);
	return -1;
}

/* Creates the group /early with its scale epoch_fraction, k / (N + 1) for
 * checkpoint k from 1, and a dataset per curve, [mode][hidden][seed][N].
 * The zipped settings are not named as coordinates there, because they
 * are root datasets. */
static int early_create(const struct h5ctx *c, hid_t file, const struct grid *g,
                        const hid_t scales[N_DIMS])
{
	size_t n = (size_t)g->early_checkpoints;
	hid_t early_scales[N_DIMS];
	double *fraction = malloc(n * sizeof(*fraction)); /* n */
	hid_t group = H5I_INVALID_HID;
	hid_t scale = H5I_INVALID_HID;

	if (fraction == NULL)
		return fw_error_set(c->err,
		                    "%s: out of memory for %zu "
		                    "checkpoints",
		                    c->path, n);
	for (size_t k = 0; k < n; k++)
		fraction[k] = (double)(k + 1) / (double)(n + 1);

	CHECK(c, group = H5Gcreate2(file, "early", H5P_DEFAULT, H5P_DEFAULT,
	                            H5P_DEFAULT));
	CHECK(c, scale = h5_dataset_create_1d(c, group, EARLY_SCALE_NAME,
	                                      H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
	                                      n, fraction));
	CHECK(c, H5DSset_scale(scale, EARLY_SCALE_NAME));
	if (h5_attr_write_string(c, scale, "long_name", EARLY_SCALE_LONG_NAME) <
	    0)
		goto fail;
	memcpy(early_scales, scales, sizeof(early_scales));
	early_scales[DIM_EPOCH] = scale;
	if (curves_create(c, group, g, early_scales, n, "") < 0)
		goto fail;
	CLOSE(c, H5Dclose, scale);
	CLOSE(c, H5Gclose, group);
	free(fraction);
	return 0;

fail:
	h5_release(scale);
	h5_release(group);
	free(fraction);
	return -1;
}

/* Returns the file type of a table: the memory type without the struct's
 * padding, so that no uninitialised padding bytes reach the file. */
static hid_t packed_type(const struct h5ctx *c, hid_t mem_type)
{
	hid_t type = H5I_INVALID_HID;

	CHECK(c, type = H5Tcopy(mem_type));
	CHECK(c, H5Tpack(type));
	return type;

fail:
	h5_release(type);
	return H5I_INVALID_HID;
}

/* Fills rows[] with every trial of g, pending. */
static void trials_fill_pending(const struct grid *g, struct trial_row *rows,
                                size_t n_trials)
{
	size_t idx[N_AXES];

	for (size_t t = 0; t < n_trials; t++) {
		struct trial_row *r = &rows[t];

		h5_trial_split(g->n_hidden, g->n_seeds, t, idx);
		memset(r, 0, sizeof(*r));
		snprintf(r->mode, sizeof(r->mode), "%s",
		         grid_mode_name(g->modes[idx[AXIS_MODE]]));
		r->hidden = g->hidden[idx[AXIS_HIDDEN]];
		r->seed = g->seeds[idx[AXIS_SEED]];
		snprintf(r->status, sizeof(r->status), "pending");
		r->final_test_accuracy = NAN;
		r->wall_seconds = NAN;
		r->rank = -1;
	}
}

static int trials_create(const struct h5ctx *c, hid_t group,
                         const struct grid *g)
{
	size_t n_trials = g->n_modes * g->n_hidden * g->n_seeds;
	hsize_t dims[1] = {n_trials};
	struct trial_row *rows = calloc(n_trials > 0 ? n_trials : 1,
	                                sizeof(*rows)); /* n_trials */
	hid_t mem_type = H5I_INVALID_HID;
	hid_t file_type = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	if (rows == NULL)
		return fw_error_set(c->err, "%s: out of memory for %zu trials",
		                    c->path, n_trials);
	trials_fill_pending(g, rows, n_trials);

	CHECK(c, mem_type = h5_trial_row_type(c));
	CHECK(c, file_type = packed_type(c, mem_type));
	CHECK(c, space = H5Screate_simple(1, dims, NULL));
	CHECK(c, ds = H5Dcreate2(group, "trials", file_type, space, H5P_DEFAULT,
	                         H5P_DEFAULT, H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CLOSE(c, H5Tclose, file_type);
	CHECK(c, H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows));
	CLOSE(c, H5Dclose, ds);
	CLOSE(c, H5Tclose, mem_type);
	free(rows);
	return 0;

fail:
	h5_release(ds);
	h5_release(space);
	h5_release(file_type);
	h5_release(mem_type);
	free(rows);
	return -1;
}

/* Creates /tables/stats empty and resizable, so that it is present from
 * the start and can be rewritten with any number of rows. */
static int stats_create(const struct h5ctx *c, hid_t group)
{
	hsize_t dims[1] = {0};
	hsize_t max_dims[1] = {H5S_UNLIMITED};
	hsize_t chunk[1] = {STATS_CHUNK_ROWS};
	hid_t mem_type = H5I_INVALID_HID;
	hid_t file_type = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t dcpl = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, mem_type = h5_stats_row_type(c));
	CHECK(c, file_type = packed_type(c, mem_type));
	CLOSE(c, H5Tclose, mem_type);
	CHECK(c, space = H5Screate_simple(1, dims, max_dims));
	CHECK(c, dcpl = H5Pcreate(H5P_DATASET_CREATE));
	CHECK(c, H5Pset_chunk(dcpl, 1, chunk));
	CHECK(c, ds = H5Dcreate2(group, "stats", file_type, space, H5P_DEFAULT,
	                         dcpl, H5P_DEFAULT));
	CLOSE(c, H5Dclose, ds);
	CLOSE(c, H5Pclose, dcpl);
	CLOSE(c, H5Sclose, space);
	CLOSE(c, H5Tclose, file_type);
	return 0;

fail:
	h5_release(ds);
	h5_release(dcpl);
	h5_release(space);
	h5_release(file_type);
	h5_release(mem_type);
	return -1;
}

static int tables_create(const struct h5ctx *c, hid_t file,
                         const struct grid *g)
{
	hid_t gcpl = H5I_INVALID_HID;
	hid_t group = H5I_INVALID_HID;

	CHECK(c, gcpl = H5Pcreate(H5P_GROUP_CREATE));
	CHECK(c, H5Pset_link_creation_order(
	                 gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
	CHECK(c, group = H5Gcreate2(file, "tables", H5P_DEFAULT, gcpl,
	                            H5P_DEFAULT));
	CLOSE(c, H5Pclose, gcpl);
	if (trials_create(c, group, g) < 0 || stats_create(c, group) < 0)
		goto fail;
	CLOSE(c, H5Gclose, group);
	return 0;

fail:
	h5_release(group);
	h5_release(gcpl);
	return -1;
}

int h5_layout_build(const struct h5ctx *c, const char *tmp_path,
                    const struct grid *g, const struct h5out_meta *meta)
{
	char coords[256]; /* names of the zipped settings, space-separated */
	hid_t scales[N_DIMS];
	hid_t fcpl = H5I_INVALID_HID;
	hid_t fapl = H5I_INVALID_HID;
	hid_t file = H5I_INVALID_HID;

	for (int d = 0; d < N_DIMS; d++)
		scales[d] = H5I_INVALID_HID;

	/* Creation order makes h5py, h5netcdf and netCDF-C list the datasets
	 * in the order they are created here instead of by name. */
	CHECK(c, fcpl = H5Pcreate(H5P_FILE_CREATE));
	CHECK(c, H5Pset_link_creation_order(
	                 fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
	CHECK(c, fapl = h5_file_access(c));
	CHECK(c, file = H5Fcreate(tmp_path, H5F_ACC_TRUNC, fcpl, fapl));
	CLOSE(c, H5Pclose, fapl);
	CLOSE(c, H5Pclose, fcpl);

	if (root_attrs_write(c, file, g, meta) < 0 ||
	    scales_create(c, file, g, scales) < 0 ||
	    settings_create(c, file, g, scales, coords, sizeof(coords)) < 0 ||
	    curves_create(c, file, g, scales, (size_t)g->max_epochs + 1,
	                  coords) < 0)
		goto fail;
	if (g->early_checkpoints > 0 && early_create(c, file, g, scales) < 0)
		goto fail;
	for (int d = N_DIMS - 1; d >= 0; d--)
		CLOSE(c, H5Dclose, scales[d]);

	if (tables_create(c, file, g) < 0 || h5_weights_create(c, file, g) < 0)
		goto fail;
	CLOSE(c, H5Fclose, file);
	return 0;

fail:
	for (int d = N_DIMS - 1; d >= 0; d--)
		h5_release(scales[d]);
	h5_release(file);
	h5_release(fapl);
	h5_release(fcpl);
	return -1;
}
