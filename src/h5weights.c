/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5weights.c - the /weights group of a results file (h5out.h): creates it
 * for a grid with [output] save_weights, and writes each trial's W1, W2, B
 * and image indices into it. Taking the weights during training is left to
 * trainer.c, and the rest of the file to h5layout.c and h5out.c. */
#include "h5util.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "fasweep/net.h"

/* Axes of the weight and index datasets besides mode, seed and stage. */
enum weight_axis {
	WAXIS_INPUT,         /* 785: the pixels, then the bias input */
	WAXIS_UNIT,          /* H */
	WAXIS_UNIT_AND_BIAS, /* H + 1: the hidden units, then the bias */
	WAXIS_OUTPUT,        /* 10 */
	WAXIS_TRAIN,         /* the largest n_train of the hidden size */
	WAXIS_TEST,          /* the largest n_test of the hidden size */
	N_WAXES
};

static const struct {
	const char *name;
	const char *long_name;
} weight_axes[N_WAXES] = {
        [WAXIS_INPUT] = {"input", "input of the hidden layer: the 784 "
                                  "pixels, then the bias input"},
        [WAXIS_UNIT] = {"unit", "hidden unit"},
        [WAXIS_UNIT_AND_BIAS] = {"unit_and_bias",
                                 "input of the output layer: the hidden "
                                 "units, then the bias input"},
        [WAXIS_OUTPUT] = {"output", "output unit, one per digit"},
        [WAXIS_TRAIN] = {"train_position",
                         "position in the drawn order of the training "
                         "images"},
        [WAXIS_TEST] = {"test_position",
                        "position in the drawn order of the test images"},
};

/* The matrices stored per (mode, seed, stage), by their two last axes. */
enum weight_matrix { MATRIX_W1, MATRIX_W2, MATRIX_B, N_MATRICES };

static const struct {
	const char *name;
	const char *long_name;
	enum weight_axis rows, cols;
} weight_matrices[N_MATRICES] = {
        [MATRIX_W1] = {"W1",
                       "weights of the hidden layer, bias in the "
                       "last row",
                       WAXIS_INPUT, WAXIS_UNIT},
        [MATRIX_W2] = {"W2",
                       "weights of the output layer, bias in the "
                       "last row",
                       WAXIS_UNIT_AND_BIAS, WAXIS_OUTPUT},
        [MATRIX_B] = {"B",
                      "feedback matrix as applied in training, fa "
                      "scale included",
                      WAXIS_UNIT, WAXIS_OUTPUT},
};

/* The image indices stored per seed. */
enum split_part { PART_TRAIN, PART_TEST, N_PARTS };

static const struct {
	const char *name;
	const char *long_name;
	enum weight_axis axis;
} split_parts[N_PARTS] = {
        [PART_TRAIN] = {"train_index",
                        "training images in drawn order, as indices into "
                        "all images (train file first, then t10k); "
                        "4294967295 beyond the seed's n_train",
                        WAXIS_TRAIN},
        [PART_TEST] = {"test_index",
                       "test images in drawn order, as indices into all "
                       "images (train file first, then t10k); 4294967295 "
                       "beyond the seed's n_test",
                       WAXIS_TEST},
};

/* The netCDF-4 mark of a dimension without a coordinate variable, which
 * h5netcdf and netCDF-C read as a plain named axis. */
#define NETCDF_DIM_ONLY "This is a netCDF dimension but not a netCDF variable."

/* Creates the group of the weights of one hidden size under loc and
 * returns it open. */
static hid_t hidden_group_create(const struct h5ctx *c, hid_t loc,
                                 int32_t n_hidden)
{
	char name[32];
	hid_t gcpl = H5I_INVALID_HID;
	hid_t group = H5I_INVALID_HID;

	snprintf(name, sizeof(name), "hidden_%" PRId32, n_hidden);
	CHECK(c, gcpl = H5Pcreate(H5P_GROUP_CREATE));
	CHECK(c, H5Pset_link_creation_order(
	                 gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
	CHECK(c, group = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT));
	CLOSE(c, H5Pclose, gcpl);
	if (h5_attr_write_scalar(c, group, "hidden", H5T_STD_I32LE,
	                         H5T_NATIVE_INT32, &n_hidden) < 0)
		goto fail;
	return group;

fail:
	h5_release(group);
	h5_release(gcpl);
	return H5I_INVALID_HID;
}

/* Creates the axis scales of one hidden size's group, lengths in len[],
 * and leaves them open in axes[]. They have no values, so they take no
 * space in the file. */
static int weight_axes_create(const struct h5ctx *c, hid_t group,
                              const hsize_t len[N_WAXES], hid_t axes[N_WAXES])
{
	char scale_name[sizeof(NETCDF_DIM_ONLY) + 24];
	hid_t space = H5I_INVALID_HID;

	for (int a = 0; a < N_WAXES; a++) {
		CHECK(c, space = H5Screate_simple(1, &len[a], NULL));
		CHECK(c, axes[a] = H5Dcreate2(
		                 group, weight_axes[a].name, H5T_IEEE_F32LE,
		                 space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
		CLOSE(c, H5Sclose, space);
		snprintf(scale_name, sizeof(scale_name), "%s%10llu",
		         NETCDF_DIM_ONLY, (unsigned long long)len[a]);
		CHECK(c, H5DSset_scale(axes[a], scale_name));
		if (h5_attr_write_string(c, axes[a], "long_name",
		                         weight_axes[a].long_name) < 0)
			goto fail;
	}
	return 0;

fail:
	h5_release(space);
	return -1;
}

/* Returns the creation property list of a weight or index dataset: chunks
 * of shape chunk[] (n_dims axes), filled with *fill of memory type
 * fill_type and allocated when the dataset is created, as the curves are. */
static hid_t weight_create_plist(const struct h5ctx *c, int n_dims,
                                 const hsize_t *chunk, hid_t fill_type,
                                 const void *fill)
{
	hid_t dcpl = H5I_INVALID_HID;

	CHECK(c, dcpl = H5Pcreate(H5P_DATASET_CREATE));
	CHECK(c, H5Pset_chunk(dcpl, n_dims, chunk));
	CHECK(c, H5Pset_fill_value(dcpl, fill_type, fill));
	CHECK(c, H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
	CHECK(c, H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC));
	return dcpl;

fail:
	h5_release(dcpl);
	return H5I_INVALID_HID;
}

/* Creates the dataset name of rank n_dims, dims[] long, with scales[]
 * attached to its axes, and returns it open. A chunk spans the last
 * n_inner axes whole and one index of each other axis. */
static hid_t weight_dataset_create(const struct h5ctx *c, hid_t group,
                                   const char *name, hid_t file_type,
                                   hid_t fill_type, const void *fill,
                                   int n_dims, int n_inner, const hsize_t *dims,
                                   const hid_t *scales)
{
	hsize_t chunk[5];
	hid_t dcpl = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	assert(n_dims <= 5);
	for (int d = 0; d < n_dims; d++)
		chunk[d] = d < n_dims - n_inner ? 1 : dims[d];
	CHECK(c, dcpl = weight_create_plist(c, n_dims, chunk, fill_type, fill));
	CHECK(c, space = H5Screate_simple(n_dims, dims, NULL));
	CHECK(c, ds = H5Dcreate2(group, name, file_type, space, H5P_DEFAULT,
	                         dcpl, H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CLOSE(c, H5Pclose, dcpl);
	for (int d = 0; d < n_dims; d++)
		CHECK(c, H5DSattach_scale(ds, scales[d], (unsigned)d));
	return ds;

fail:
	h5_release(ds);
	h5_release(space);
	h5_release(dcpl);
	return H5I_INVALID_HID;
}

/* Creates W1, W2 and B in group: float32 [mode][seed][stage][rows][cols],
 * fill NaN. */
static int matrices_create(const struct h5ctx *c, hid_t group,
                           const struct grid *g, const hid_t outer[3],
                           const hsize_t len[N_WAXES],
                           const hid_t axes[N_WAXES])
{
	float nan = NAN;
	hid_t ds = H5I_INVALID_HID;

	for (int i = 0; i < N_MATRICES; i++) {
		enum weight_axis rows = weight_matrices[i].rows;
		enum weight_axis cols = weight_matrices[i].cols;
		hsize_t dims[5] = {g->n_modes, g->n_seeds, grid_n_stages(g),
		                   len[rows], len[cols]};
		hid_t scales[5] = {outer[0], outer[1], outer[2], axes[rows],
		                   axes[cols]};

		CHECK(c,
		      ds = weight_dataset_create(
		              c, group, weight_matrices[i].name, H5T_IEEE_F32LE,
		              H5T_NATIVE_FLOAT, &nan, 5, 2, dims, scales));
		if (h5_attr_write_string(c, ds, "long_name",
		                         weight_matrices[i].long_name) < 0 ||
		    h5_attr_write_string(c, ds, "units", "1") < 0 ||
		    h5_attr_write_scalar(c, ds, "_FillValue", H5T_IEEE_F32LE,
		                         H5T_NATIVE_FLOAT, &nan) < 0)
			goto fail;
		CLOSE(c, H5Dclose, ds);
	}
	return 0;

fail:
	h5_release(ds);
	return -1;
}

/* Creates train_index and test_index in group: uint32 [seed][position],
 * fill UINT32_MAX. They get no _FillValue attribute, so that xarray keeps
 * them uint32 instead of masking the fill as NaN in float64. */
static int indices_create(const struct h5ctx *c, hid_t group,
                          const struct grid *g, hid_t seed_scale,
                          const hsize_t len[N_WAXES], const hid_t axes[N_WAXES])
{
	uint32_t fill = UINT32_MAX;
	hid_t ds = H5I_INVALID_HID;

	for (int i = 0; i < N_PARTS; i++) {
		enum weight_axis axis = split_parts[i].axis;
		hsize_t dims[2] = {g->n_seeds, len[axis]};
		hid_t scales[2] = {seed_scale, axes[axis]};

		CHECK(c, ds = weight_dataset_create(
		                 c, group, split_parts[i].name, H5T_STD_U32LE,
		                 H5T_NATIVE_UINT32, &fill, 2, 1, dims, scales));
		if (h5_attr_write_string(c, ds, "long_name",
		                         split_parts[i].long_name) < 0)
			goto fail;
		CLOSE(c, H5Dclose, ds);
	}
	return 0;

fail:
	h5_release(ds);
	return -1;
}

/* Fills len[] with the axis lengths of hidden size index h: the largest
 * n_train and n_test over its trials set the index axes. */
static void weight_axis_lengths(const struct grid *g, size_t h,
                                hsize_t len[N_WAXES])
{
	hsize_t n_hidden = (hsize_t)g->hidden[h];

	len[WAXIS_INPUT] = NET_INPUTS;
	len[WAXIS_UNIT] = n_hidden;
	len[WAXIS_UNIT_AND_BIAS] = n_hidden + 1;
	len[WAXIS_OUTPUT] = NET_OUTPUTS;
	len[WAXIS_TRAIN] = len[WAXIS_TEST] = 0;
	for (size_t m = 0; m < g->n_modes; m++)
		for (size_t s = 0; s < g->n_seeds; s++) {
			struct trial_params p;

			grid_trial_params(g, grid_trial_index(g, m, h, s), &p);
			if ((hsize_t)p.n_train > len[WAXIS_TRAIN])
				len[WAXIS_TRAIN] = (hsize_t)p.n_train;
			if ((hsize_t)p.n_test > len[WAXIS_TEST])
				len[WAXIS_TEST] = (hsize_t)p.n_test;
		}
}

/* Creates /weights/hidden_<H> for hidden size index h. outer[] contains
 * the open scales /mode, /seed and /weights/stage. */
static int hidden_weights_create(const struct h5ctx *c, hid_t weights,
                                 const struct grid *g, size_t h,
                                 const hid_t outer[3])
{
	hsize_t len[N_WAXES];
	hid_t axes[N_WAXES];
	hid_t group = H5I_INVALID_HID;
	int status = -1;

	for (int a = 0; a < N_WAXES; a++)
		axes[a] = H5I_INVALID_HID;
	weight_axis_lengths(g, h, len);
	group = hidden_group_create(c, weights, g->hidden[h]);
	if (group < 0 || weight_axes_create(c, group, len, axes) < 0 ||
	    matrices_create(c, group, g, outer, len, axes) < 0 ||
	    indices_create(c, group, g, outer[1], len, axes) < 0)
		goto fail;
	for (int a = N_WAXES - 1; a >= 0; a--)
		CLOSE(c, H5Dclose, axes[a]);
	CLOSE(c, H5Gclose, group);
	status = 0;

fail:
	for (int a = N_WAXES - 1; a >= 0; a--)
		h5_release(axes[a]);
	h5_release(group);
	return status;
}

/* Creates the /weights/stage scale, the names of the stored stages in
 * stage order, and returns it open. */
static hid_t stage_scale_create(const struct h5ctx *c, hid_t weights,
                                const struct grid *g)
{
	const char *names[N_STAGES];
	size_t n = 0;
	hid_t str = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	for (int st = 0; st < N_STAGES; st++)
		if (g->save_weights[st])
			names[n++] = grid_stage_name((enum weight_stage)st);
	CHECK(c, str = h5_string_type(c, H5T_VARIABLE));
	CHECK(c, ds = h5_dataset_create_1d(c, weights, "stage", str, str, n,
	                                   names));
	CLOSE(c, H5Tclose, str);
	CHECK(c, H5DSset_scale(ds, "stage"));
	if (h5_attr_write_string(c, ds, "long_name",
	                         "when the weights were taken: initial is "
	                         "before training, final after the last "
	                         "epoch") < 0)
		goto fail;
	return ds;

fail:
	h5_release(ds);
	h5_release(str);
	return H5I_INVALID_HID;
}

int h5_weights_create(const struct h5ctx *c, hid_t file, const struct grid *g)
{
	char stages[64];
	hid_t outer[3] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
	hid_t gcpl = H5I_INVALID_HID;
	hid_t weights = H5I_INVALID_HID;
	int status = -1;

	if (grid_n_stages(g) == 0)
		return 0;
	CHECK(c, gcpl = H5Pcreate(H5P_GROUP_CREATE));
	CHECK(c, H5Pset_link_creation_order(
	                 gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED));
	CHECK(c, weights = H5Gcreate2(file, "weights", H5P_DEFAULT, gcpl,
	                              H5P_DEFAULT));
	CLOSE(c, H5Pclose, gcpl);
	grid_stage_list(g, ",", stages, sizeof(stages));
	if (h5_attr_write_string(c, weights, "stages", stages) < 0)
		goto fail;

	CHECK(c, outer[0] = H5Dopen2(file, "mode", H5P_DEFAULT));
	CHECK(c, outer[1] = H5Dopen2(file, "seed", H5P_DEFAULT));
	CHECK(c, outer[2] = stage_scale_create(c, weights, g));
	for (size_t h = 0; h < g->n_hidden; h++)
		if (hidden_weights_create(c, weights, g, h, outer) < 0)
			goto fail;
	for (int i = 2; i >= 0; i--)
		CLOSE(c, H5Dclose, outer[i]);
	CLOSE(c, H5Gclose, weights);
	status = 0;

fail:
	for (int i = 2; i >= 0; i--)
		h5_release(outer[i]);
	h5_release(weights);
	h5_release(gcpl);
	return status;
}

/* ---- writing a trial's weights ---- */

/* Writes the values of data, of memory type mem_type, to the block of ds
 * that starts at start[] and spans count[] on each of its n_dims axes. */
static int block_write(const struct h5ctx *c, hid_t ds, hid_t mem_type,
                       int n_dims, const hsize_t *start, const hsize_t *count,
                       const void *data)
{
	hsize_t n = 1;
	hid_t file_space = H5I_INVALID_HID;
	hid_t mem_space = H5I_INVALID_HID;

	for (int d = 0; d < n_dims; d++)
		n *= count[d];
	CHECK(c, file_space = H5Dget_space(ds));
	CHECK(c, H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL,
	                             count, NULL));
	CHECK(c, mem_space = H5Screate_simple(1, &n, NULL));
	CHECK(c,
	      H5Dwrite(ds, mem_type, mem_space, file_space, H5P_DEFAULT, data));
	CLOSE(c, H5Sclose, mem_space);
	CLOSE(c, H5Sclose, file_space);
	return 0;

fail:
	h5_release(mem_space);
	h5_release(file_space);
	return -1;
}

/* Returns the length of a matrix axis at n_hidden hidden units. */
static hsize_t matrix_axis_length(enum weight_axis axis, int32_t n_hidden)
{
	switch (axis) {
	case WAXIS_INPUT:
		return NET_INPUTS;
	case WAXIS_UNIT:
		return (hsize_t)n_hidden;
	case WAXIS_UNIT_AND_BIAS:
		return (hsize_t)n_hidden + 1;
	default:
		return NET_OUTPUTS;
	}
}

/* Returns the matrix i of stage st in w. */
static const float *weights_matrix(const struct trial_weights *w,
                                   enum weight_matrix i, int st)
{
	if (i == MATRIX_W1)
		return w->w1[st];
	return i == MATRIX_W2 ? w->w2[st] : w->feedback[st];
}

/* Writes W1, W2 and B of every stored stage of the trial at axis indices
 * idx[] into the group of its hidden size. */
static int trial_matrices_write(const struct h5ctx *c, const struct h5out *o,
                                hid_t group, const size_t idx[N_AXES],
                                const struct trial_weights *w)
{
	int32_t n_hidden = o->hidden[idx[AXIS_HIDDEN]];
	hid_t ds = H5I_INVALID_HID;

	for (int i = 0; i < N_MATRICES; i++) {
		hsize_t count[5] = {
		        1, 1, 1,
		        matrix_axis_length(weight_matrices[i].rows, n_hidden),
		        matrix_axis_length(weight_matrices[i].cols, n_hidden)};

		CHECK(c, ds = H5Dopen2(group, weight_matrices[i].name,
		                       H5P_DEFAULT));
		for (int st = 0; st < N_STAGES; st++) {
			hsize_t start[5] = {idx[AXIS_MODE], idx[AXIS_SEED],
			                    (hsize_t)o->stage_slot[st], 0, 0};

			if (o->stage_slot[st] < 0)
				continue;
			if (block_write(c, ds, H5T_NATIVE_FLOAT, 5, start,
			                count, weights_matrix(w, i, st)) < 0)
				goto fail;
		}
		CLOSE(c, H5Dclose, ds);
	}
	return 0;

fail:
	h5_release(ds);
	return -1;
}

/* Writes the n indices of data to row seed_i of the dataset name. */
static int index_write(const struct h5ctx *c, hid_t group, const char *name,
                       size_t seed_i, size_t n, const uint32_t *data)
{
	hsize_t dims[2];
	hsize_t start[2] = {seed_i, 0};
	hsize_t count[2] = {1, n};
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, ds = H5Dopen2(group, name, H5P_DEFAULT));
	CHECK(c, space = H5Dget_space(ds));
	CHECK(c, H5Sget_simple_extent_dims(space, dims, NULL));
	CLOSE(c, H5Sclose, space);
	if (n > dims[1]) {
		fw_error_set(c->err,
		             "%s: %zu indices do not fit the %llu of %s; the "
		             "file was written for another grid",
		             c->path, n, (unsigned long long)dims[1], name);
		goto fail;
	}
	if (block_write(c, ds, H5T_NATIVE_UINT32, 2, start, count, data) < 0)
		goto fail;
	CLOSE(c, H5Dclose, ds);
	return 0;

fail:
	h5_release(space);
	h5_release(ds);
	return -1;
}

/* Returns 0 if w has the three matrices of every stage the file stores,
 * or -1 with err set. */
static int weights_check(const struct h5out *o, size_t trial,
                         const struct trial_weights *w, struct fw_error *err)
{
	size_t n_trials = o->n_modes * o->n_hidden * o->n_seeds;

	if (trial >= n_trials)
		return fw_error_set(err,
		                    "%s: trial index %zu is out of range; the "
		                    "grid has %zu trials",
		                    o->path, trial, n_trials);
	if (o->n_stages == 0)
		return fw_error_set(err,
		                    "%s: the file stores no weights; its grid "
		                    "has [output] save_weights = none",
		                    o->path);
	for (int st = 0; st < N_STAGES; st++)
		if (o->stage_slot[st] >= 0 &&
		    (w->w1[st] == NULL || w->w2[st] == NULL ||
		     w->feedback[st] == NULL))
			return fw_error_set(
			        err,
			        "%s: the weights of trial %zu lack "
			        "stage %s, which the file stores",
			        o->path, trial,
			        grid_stage_name((enum weight_stage)st));
	return 0;
}

int h5out_write_weights(struct h5out *o, size_t trial,
                        const struct trial_weights *w, struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	size_t idx[N_AXES];
	char name[40];
	hid_t group = H5I_INVALID_HID;
	int status = -1;

	if (weights_check(o, trial, w, err) < 0)
		return -1;
	h5_trial_split(o->n_hidden, o->n_seeds, trial, idx);
	snprintf(name, sizeof(name), "/weights/hidden_%" PRId32,
	         o->hidden[idx[AXIS_HIDDEN]]);

	h5_quiet_begin(&quiet);
	CHECK(&c, group = H5Gopen2(o->file, name, H5P_DEFAULT));
	if (trial_matrices_write(&c, o, group, idx, w) < 0)
		goto fail;
	if (w->train_index != NULL &&
	    index_write(&c, group, split_parts[PART_TRAIN].name, idx[AXIS_SEED],
	                w->n_train, w->train_index) < 0)
		goto fail;
	if (w->test_index != NULL &&
	    index_write(&c, group, split_parts[PART_TEST].name, idx[AXIS_SEED],
	                w->n_test, w->test_index) < 0)
		goto fail;
	CLOSE(&c, H5Gclose, group);
	status = 0;

fail:
	h5_release(group);
	h5_quiet_end(&quiet);
	return status;
}
