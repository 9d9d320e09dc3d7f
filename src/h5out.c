/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5out.c - the HDF5 results file: builds the layout of h5out.h for a grid,
 * stores trials and the stats table as they arrive and reads a file back for
 * reports. Running trials and computing the statistics are left to others.
 *
 * Readers: h5py, MATLAB and R read the datasets and tables directly, and
 * xarray (engine "h5netcdf") reads the curves as netCDF-4 variables. For
 * h5netcdf 1.1.0 to read the file without phony dimensions, every axis of
 * every root dataset has exactly one dimension scale attached, and each scale
 * is named after its own dataset. */
#include "fasweep/h5out.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "fasweep/net.h"

#ifndef FASWEEP_VERSION
#error "FASWEEP_VERSION must be defined by the build"
#endif

/* Dimensions of the curve datasets: the grid axes, then the epoch. */
enum h5_dim {
	DIM_MODE = AXIS_MODE,
	DIM_HIDDEN = AXIS_HIDDEN,
	DIM_SEED = AXIS_SEED,
	DIM_EPOCH = N_AXES,
	N_DIMS
};

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
};

#define STATS_CHUNK_ROWS 64  /* rows per chunk of the resizable stats table */
#define H5_DETAIL_MAX    160 /* bytes of HDF5's own error text kept */

#define HINT_WRITE                                                             \
	"check free disk space and that no other program has the file open"
#define HINT_READ "the file may be truncated or damaged"
#define HINT_OPEN                                                              \
	"the file is damaged or truncated, or a writer that lets no reader "   \
	"in has it open"

/* Context of the HDF5 calls for error reports: the file, the error and
 * what the user can do about a failure. */
struct h5ctx {
	const char *path;
	struct fw_error *err;
	const char *hint;
};

/* Jumps to the function's fail label, with err naming the HDF5 call, unless
 * expr (a call or an assignment of a call) is non-negative. */
#define CHECK(c, expr)                                                         \
	do {                                                                   \
		if ((expr) < 0) {                                              \
			h5_report((c), #expr, __FILE__, __LINE__);             \
			goto fail;                                             \
		}                                                              \
	} while (0)

/* Closes id with close_fn and marks it closed, so the fail label's release
 * skips it even when the close itself failed. */
#define CLOSE(c, close_fn, id)                                                 \
	do {                                                                   \
		herr_t close_status_ = close_fn(id);                           \
		(id) = H5I_INVALID_HID;                                        \
		if (close_status_ < 0) {                                       \
			h5_report((c), #close_fn, __FILE__, __LINE__);         \
			goto fail;                                             \
		}                                                              \
	} while (0)

/* The open results file. */
struct h5out {
	char *path;
	hid_t file;
	hid_t curves[N_CURVES]; /* the curve datasets, by enum curve_id */
	hid_t trials;           /* /tables/trials */
	hid_t trial_type;       /* memory type of struct trial_row */
	hid_t stats_type;       /* memory type of struct stats_row */
	size_t n_modes;
	size_t n_hidden;
	size_t n_seeds;
	size_t n_points;                 /* max_epochs + 1 */
	const char *mode_names[N_MODES]; /* n_modes, the grid's order */
	int32_t *hidden;                 /* n_hidden */
	int64_t *seeds;                  /* n_seeds */
	size_t n_stages;                 /* stages of /weights, 0 if none */
	int stage_slot[N_STAGES];        /* index on the stage axis, or -1 */
};

/* HDF5's automatic error printing, saved while this module reports errors
 * itself. */
struct h5_quiet {
	H5E_auto2_t func;
	void *data;
	int saved;
};

static void h5_quiet_begin(struct h5_quiet *q)
{
	q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;

	/* Without the old handler there is nothing to restore, so printing
	 * stays as it was rather than being lost for the whole program. */
	if (q->saved && H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
		q->saved = 0;
}

static void h5_quiet_end(const struct h5_quiet *q)
{
	/* NOTE: a failure here only leaves HDF5's printing switched off. */
	if (q->saved)
		(void)H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

/* Copies the name of the called function out of a CHECK expression such as
 * "space = H5Screate_simple(1, dims, NULL)". */
static void h5_call_name(const char *expr, char *name, size_t size)
{
	const char *p = strchr(expr, '=');
	size_t n = 0;

	p = (p != NULL && p[1] != '=') ? p + 1 : expr;
	while (*p == ' ' || *p == '(')
		p++;
	while (n + 1 < size &&
	       (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
	        (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9'))) {
		name[n] = p[n];
		n++;
	}
	name[n] = '\0';
}

/* Copies HDF5's error text src into detail as one line, with each control
 * character replaced by a space. The sec2 driver's write errors contain
 * the newline that ctime() appends. Text longer than H5_DETAIL_MAX - 1
 * bytes is cut at a space near the limit, or mid-word if the last quarter
 * has no space, and ends with "...". */
static void h5_detail_copy(char detail[H5_DETAIL_MAX], const char *src)
{
	static const char mark[] = "...";
	size_t keep = H5_DETAIL_MAX - sizeof(mark); /* bytes before the mark */
	size_t n = 0;

	while (src[n] != '\0' && n < H5_DETAIL_MAX - 1) {
		unsigned char ch = (unsigned char)src[n];

		detail[n] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
		n++;
	}
	detail[n] = '\0';
	if (src[n] == '\0')
		return;

	/* Cut at a space within the last quarter, if there is one, else
	 * before the UTF-8 character that straddles the limit. */
	while (keep > 3 * H5_DETAIL_MAX / 4 && detail[keep] != ' ')
		keep--;
	if (detail[keep] != ' ') {
		keep = H5_DETAIL_MAX - sizeof(mark);
		while (keep > 0 && ((unsigned char)detail[keep] & 0xc0) == 0x80)
			keep--;
	}
	while (keep > 0 && detail[keep - 1] == ' ')
		keep--;
	memcpy(detail + keep, mark, sizeof(mark));
}

/* Keeps the description of the innermost entry of the HDF5 error stack,
 * the place where the failure was detected. */
static herr_t h5_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
	char *detail = data;

	if (n == 0 && e->desc != NULL)
		h5_detail_copy(detail, e->desc);
	return 0;
}

static void h5_report(const struct h5ctx *c, const char *expr,
                      const char *src_file, int line)
{
	char call[64];
	char detail[H5_DETAIL_MAX] = "";
	const char *src_base = strrchr(src_file, '/');

	h5_call_name(expr, call, sizeof(call));
	if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_innermost, detail) < 0)
		detail[0] = '\0';
	fw_error_set(c->err, "%s: %s failed at %s:%d (%s); %s", c->path, call,
	             src_base != NULL ? src_base + 1 : src_file, line,
	             detail[0] != '\0' ? detail : "no HDF5 error detail",
	             c->hint);
}

/* Closes any identifier on a failure path, where the first error is already
 * reported and a failed close would add nothing to it. */
static void h5_release(hid_t id)
{
	if (id < 0)
		return;
	switch (H5Iget_type(id)) {
	case H5I_FILE:
		(void)H5Fclose(id);
		break;
	case H5I_GROUP:
		(void)H5Gclose(id);
		break;
	case H5I_DATATYPE:
		(void)H5Tclose(id);
		break;
	case H5I_DATASPACE:
		(void)H5Sclose(id);
		break;
	case H5I_DATASET:
		(void)H5Dclose(id);
		break;
	case H5I_ATTR:
		(void)H5Aclose(id);
		break;
	case H5I_GENPROP_LST:
		(void)H5Pclose(id);
		break;
	default:
		break;
	}
}

/* Returns a UTF-8 string type, NUL-terminated, of size bytes or of
 * variable length (size H5T_VARIABLE). */
static hid_t h5_string_type(const struct h5ctx *c, size_t size)
{
	hid_t type = H5I_INVALID_HID;

	CHECK(c, type = H5Tcopy(H5T_C_S1));
	CHECK(c, H5Tset_size(type, size));
	CHECK(c, H5Tset_strpad(type, H5T_STR_NULLTERM));
	CHECK(c, H5Tset_cset(type, H5T_CSET_UTF8));
	return type;

fail:
	h5_release(type);
	return H5I_INVALID_HID;
}

/* Returns a file access property list for every open of a results file. */
static hid_t h5_file_access(const struct h5ctx *c)
{
	hid_t fapl = H5I_INVALID_HID;

	CHECK(c, fapl = H5Pcreate(H5P_FILE_ACCESS));

	/* The 1.10 format is what single-writer/multiple-reader (SWMR) mode
	 * needs; HDF5 1.8 cannot read it. */
	CHECK(c,
	      H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));

	/* Makes H5Fclose fail while any object is still open, so a leaked
	 * handle shows up as an error instead of a file left open. */
	CHECK(c, H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI));

#if H5_VERSION_GE(1, 12, 1) ||                                                 \
        (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
	/* HDF5 1.10.7 and later lock files with flock() and fail where the
	 * file system does not support it (some Lustre and NFS mounts). Lock
	 * where possible and carry on where locking is disabled. */
	CHECK(c, H5Pset_file_locking(fapl, 1, 1));
#endif
	return fapl;

fail:
	h5_release(fapl);
	return H5I_INVALID_HID;
}

int h5out_library_init(void)
{
	return H5dont_atexit() < 0 ? -1 : 0;
}

/* ---- compound types of the tables ---- */

enum member_kind {
	MEMBER_STRING,
	MEMBER_INT32,
	MEMBER_INT64,
	MEMBER_FLOAT,
	MEMBER_DOUBLE
};

/* One field of a table row: its name, kind, offset and size in the struct. */
struct member {
	const char *name;
	enum member_kind kind;
	size_t offset;
	size_t size;
};

#define MEMBER(type, field, kind)                                              \
	{                                                                      \
#field, kind, HOFFSET(type, field), sizeof(((type *)0)->field) \
	}

static const struct member trial_members[] = {
        MEMBER(struct trial_row, mode, MEMBER_STRING),
        MEMBER(struct trial_row, hidden, MEMBER_INT32),
        MEMBER(struct trial_row, seed, MEMBER_INT64),
        MEMBER(struct trial_row, status, MEMBER_STRING),
        MEMBER(struct trial_row, final_test_accuracy, MEMBER_FLOAT),
        MEMBER(struct trial_row, wall_seconds, MEMBER_DOUBLE),
        MEMBER(struct trial_row, rank, MEMBER_INT32),
        MEMBER(struct trial_row, host, MEMBER_STRING),
        MEMBER(struct trial_row, message, MEMBER_STRING),
};

static const struct member stats_members[] = {
        MEMBER(struct stats_row, mode, MEMBER_STRING),
        MEMBER(struct stats_row, hidden, MEMBER_INT32),
        MEMBER(struct stats_row, baseline, MEMBER_STRING),
        MEMBER(struct stats_row, n_pairs, MEMBER_INT32),
        MEMBER(struct stats_row, mean, MEMBER_DOUBLE),
        MEMBER(struct stats_row, sd, MEMBER_DOUBLE),
        MEMBER(struct stats_row, mean_baseline, MEMBER_DOUBLE),
        MEMBER(struct stats_row, sd_baseline, MEMBER_DOUBLE),
        MEMBER(struct stats_row, mean_diff, MEMBER_DOUBLE),
        MEMBER(struct stats_row, ci95_low, MEMBER_DOUBLE),
        MEMBER(struct stats_row, ci95_high, MEMBER_DOUBLE),
        MEMBER(struct stats_row, t_paired, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_paired, MEMBER_DOUBLE),
        MEMBER(struct stats_row, t_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, df_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, cohen_d, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_holm, MEMBER_DOUBLE),
};

#define N_MEMBERS(table) (sizeof(table) / sizeof((table)[0]))

static hid_t member_type(const struct h5ctx *c, const struct member *m)
{
	switch (m->kind) {
	case MEMBER_STRING:
		return h5_string_type(c, m->size);
	case MEMBER_INT32:
		return H5Tcopy(H5T_NATIVE_INT32);
	case MEMBER_INT64:
		return H5Tcopy(H5T_NATIVE_INT64);
	case MEMBER_FLOAT:
		return H5Tcopy(H5T_NATIVE_FLOAT);
	case MEMBER_DOUBLE:
		return H5Tcopy(H5T_NATIVE_DOUBLE);
	}
	return H5I_INVALID_HID;
}

/* Returns the memory type of a row struct of size bytes described by
 * members. HDF5 converts between it and the file type by field name. */
static hid_t compound_type(const struct h5ctx *c, const struct member *members,
                           size_t n_members, size_t size)
{
	hid_t type = H5I_INVALID_HID;
	hid_t field = H5I_INVALID_HID;

	CHECK(c, type = H5Tcreate(H5T_COMPOUND, size));
	for (size_t i = 0; i < n_members; i++) {
		CHECK(c, field = member_type(c, &members[i]));
		CHECK(c, H5Tinsert(type, members[i].name, members[i].offset,
		                   field));
		CLOSE(c, H5Tclose, field);
	}
	return type;

fail:
	h5_release(field);
	h5_release(type);
	return H5I_INVALID_HID;
}

static hid_t trial_row_type(const struct h5ctx *c)
{
	return compound_type(c, trial_members, N_MEMBERS(trial_members),
	                     sizeof(struct trial_row));
}

static hid_t stats_row_type(const struct h5ctx *c)
{
	return compound_type(c, stats_members, N_MEMBERS(stats_members),
	                     sizeof(struct stats_row));
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

/* ---- attributes and small datasets ---- */

static int attr_write_string(const struct h5ctx *c, hid_t loc, const char *name,
                             const char *value)
{
	const char *text = value != NULL ? value : "";
	hid_t type = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t attr = H5I_INVALID_HID;

	CHECK(c, type = h5_string_type(c, H5T_VARIABLE));
	CHECK(c, space = H5Screate(H5S_SCALAR));
	CHECK(c, attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT,
	                           H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Awrite(attr, type, &text));
	CLOSE(c, H5Aclose, attr);
	CLOSE(c, H5Tclose, type);
	return 0;

fail:
	h5_release(attr);
	h5_release(space);
	h5_release(type);
	return -1;
}

/* Writes a scalar attribute of file type file_type from *value, which has
 * the memory type mem_type. */
static int attr_write_scalar(const struct h5ctx *c, hid_t loc, const char *name,
                             hid_t file_type, hid_t mem_type, const void *value)
{
	hid_t space = H5I_INVALID_HID;
	hid_t attr = H5I_INVALID_HID;

	CHECK(c, space = H5Screate(H5S_SCALAR));
	CHECK(c, attr = H5Acreate2(loc, name, file_type, space, H5P_DEFAULT,
	                           H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Awrite(attr, mem_type, value));
	CLOSE(c, H5Aclose, attr);
	return 0;

fail:
	h5_release(attr);
	h5_release(space);
	return -1;
}

/* Creates the 1-D dataset name holding n values of data and returns it
 * open, so that it can become or receive a dimension scale. */
static hid_t dataset_create_1d(const struct h5ctx *c, hid_t loc,
                               const char *name, hid_t file_type,
                               hid_t mem_type, size_t n, const void *data)
{
	hsize_t dims[1] = {n};
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, space = H5Screate_simple(1, dims, NULL));
	CHECK(c, ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT,
	                         H5P_DEFAULT, H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
	return ds;

fail:
	h5_release(ds);
	h5_release(space);
	return H5I_INVALID_HID;
}

/* ---- the layout ---- */

/* Writes "HOST PID" of this process to buf: the writer attribute, with
 * which a later resume checks whether the file's writer still runs. */
static void writer_name(char *buf, size_t size)
{
	char host[H5OUT_HOST_MAX] = "unknown";

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	snprintf(buf, size, "%s %ld", host, (long)getpid());
}

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
	writer_name(writer, sizeof(writer));

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const char *value = attrs[i].value;

		if (attr_write_string(c, file, attrs[i].name, value) < 0)
			return -1;
	}
	return attr_write_scalar(c, file, "mpi_ranks", H5T_STD_I32LE,
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
	CHECK(c, scales[DIM_MODE] = dataset_create_1d(c, file, "mode", str, str,
	                                              g->n_modes, modes));
	CLOSE(c, H5Tclose, str);
	CHECK(c, scales[DIM_HIDDEN] = dataset_create_1d(
	                 c, file, "hidden", H5T_STD_I32LE, H5T_NATIVE_INT32,
	                 g->n_hidden, g->hidden));
	CHECK(c, scales[DIM_SEED] = dataset_create_1d(
	                 c, file, "seed", H5T_STD_I64LE, H5T_NATIVE_INT64,
	                 g->n_seeds, g->seeds));
	CHECK(c, scales[DIM_EPOCH] =
	                 dataset_create_1d(c, file, "epoch", H5T_STD_I32LE,
	                                   H5T_NATIVE_INT32, n_points, epochs));

	for (int d = 0; d < N_DIMS; d++) {
		CHECK(c, H5DSset_scale(scales[d], dim_names[d]));
		if (attr_write_string(c, scales[d], "long_name",
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
		CHECK(c, ds = dataset_create_1d(
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

	if (attr_write_string(c, ds, "long_name", curve_attrs[id].long_name) <
	    0)
		return -1;
	if (attr_write_string(c, ds, "units", curve_attrs[id].units) < 0)
		return -1;
	if (attr_write_scalar(c, ds, "_FillValue", H5T_IEEE_F32LE,
	                      H5T_NATIVE_FLOAT, &nan) < 0)
		return -1;
	if (coords[0] != '\0' &&
	    attr_write_string(c, ds, "coordinates", coords) < 0)
		return -1;
	return 0;
}

static int curves_create(const struct h5ctx *c, hid_t file,
                         const struct grid *g, const hid_t scales[N_DIMS],
                         const char *coords)
{
	size_t n_points = (size_t)g->max_epochs + 1;
	hsize_t dims[N_DIMS] = {g->n_modes, g->n_hidden, g->n_seeds, n_points};
	hid_t dcpl = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, dcpl = curve_create_plist(c, n_points));
	CHECK(c, space = H5Screate_simple(N_DIMS, dims, NULL));
	for (int i = 0; i < N_CURVES; i++) {
		CHECK(c, ds = H5Dcreate2(file, trainer_curve_name(i),
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

/* Splits a flat trial index, (m * n_hidden + h) * n_seeds + s, into m, h
 * and s. */
static void trial_split(size_t n_hidden, size_t n_seeds, size_t trial,
                        size_t idx[N_AXES])
{
	idx[AXIS_SEED] = trial % n_seeds;
	idx[AXIS_HIDDEN] = (trial / n_seeds) % n_hidden;
	idx[AXIS_MODE] = trial / n_seeds / n_hidden;
}

/* Fills rows[] with every trial of g, pending. */
static void trials_fill_pending(const struct grid *g, struct trial_row *rows,
                                size_t n_trials)
{
	size_t idx[N_AXES];

	for (size_t t = 0; t < n_trials; t++) {
		struct trial_row *r = &rows[t];

		trial_split(g->n_hidden, g->n_seeds, t, idx);
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

	CHECK(c, mem_type = trial_row_type(c));
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

	CHECK(c, mem_type = stats_row_type(c));
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

/* ---- the weights ---- */

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
	if (attr_write_scalar(c, group, "hidden", H5T_STD_I32LE,
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
		if (attr_write_string(c, axes[a], "long_name",
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
		if (attr_write_string(c, ds, "long_name",
		                      weight_matrices[i].long_name) < 0 ||
		    attr_write_string(c, ds, "units", "1") < 0 ||
		    attr_write_scalar(c, ds, "_FillValue", H5T_IEEE_F32LE,
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
		if (attr_write_string(c, ds, "long_name",
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
	CHECK(c,
	      ds = dataset_create_1d(c, weights, "stage", str, str, n, names));
	CLOSE(c, H5Tclose, str);
	CHECK(c, H5DSset_scale(ds, "stage"));
	if (attr_write_string(c, ds, "long_name",
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

/* Creates /weights with a group per hidden size when the grid stores
 * weights; does nothing otherwise. */
static int weights_create(const struct h5ctx *c, hid_t file,
                          const struct grid *g)
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
	if (attr_write_string(c, weights, "stages", stages) < 0)
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

/* Builds the whole layout of g in the new file at tmp_path. */
static int layout_build(const struct h5ctx *c, const char *tmp_path,
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
	    curves_create(c, file, g, scales, coords) < 0)
		goto fail;
	for (int d = N_DIMS - 1; d >= 0; d--)
		CLOSE(c, H5Dclose, scales[d]);

	if (tables_create(c, file, g) < 0 || weights_create(c, file, g) < 0)
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

/* ---- the open file ---- */

static void h5out_free(struct h5out *o)
{
	if (o == NULL)
		return;
	free(o->seeds);
	free(o->hidden);
	free(o->path);
	free(o);
}

/* Allocates o with every handle closed and copies what write_trial needs
 * from g: the axis sizes and the keys of each trial. */
static struct h5out *h5out_alloc(const char *path, const struct grid *g)
{
	struct h5out *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->file = o->trials = o->trial_type = o->stats_type = H5I_INVALID_HID;
	for (int i = 0; i < N_CURVES; i++)
		o->curves[i] = H5I_INVALID_HID;
	o->n_modes = g->n_modes;
	o->n_hidden = g->n_hidden;
	o->n_seeds = g->n_seeds;
	o->n_points = (size_t)g->max_epochs + 1;
	for (size_t i = 0; i < g->n_modes; i++)
		o->mode_names[i] = grid_mode_name(g->modes[i]);
	for (int st = 0; st < N_STAGES; st++)
		o->stage_slot[st] =
		        g->save_weights[st] ? (int)o->n_stages++ : -1;

	o->path = strdup(path);
	o->hidden = calloc(g->n_hidden + 1, sizeof(*o->hidden));
	o->seeds = calloc(g->n_seeds + 1, sizeof(*o->seeds));
	if (o->path == NULL || o->hidden == NULL || o->seeds == NULL) {
		h5out_free(o);
		return NULL;
	}
	memcpy(o->hidden, g->hidden, g->n_hidden * sizeof(*o->hidden));
	memcpy(o->seeds, g->seeds, g->n_seeds * sizeof(*o->seeds));
	return o;
}

/* Sets the file access property that clears the status flags a writer
 * leaves in the superblock when it dies (what `h5clear -s` does), so a
 * file whose sweep was killed opens for writing again. */
static int clear_status_flags(const struct h5ctx *c, hid_t fapl)
{
	hbool_t clear = 1;
	htri_t known;

	CHECK(c, known = H5Pexist(fapl, "clear_status_flags"));
	if (!known)
		return fw_error_set(c->err,
		                    "%s: this HDF5 library cannot clear the "
		                    "flags of a killed writer; run h5clear -s "
		                    "%s and resume again",
		                    c->path, c->path);
	CHECK(c, H5Pset(fapl, "clear_status_flags", &clear));
	return 0;

fail:
	return -1;
}

/* Records this process as the file's writer. */
static int writer_update(const struct h5ctx *c, hid_t file)
{
	char writer[H5OUT_HOST_MAX + 32];
	htri_t exists;

	writer_name(writer, sizeof(writer));
	CHECK(c, exists = H5Aexists(file, "writer"));
	if (exists)
		CHECK(c, H5Adelete(file, "writer"));
	return attr_write_string(c, file, "writer", writer);

fail:
	return -1;
}

/* Switches the open file to SWMR writing, so that readers can open it
 * while trials arrive. A file in the pre-1.10 format (written by an older
 * fasweep) stays in plain, exclusive writing. */
static int swmr_start(const struct h5ctx *c, hid_t file)
{
	H5F_info2_t info;

	CHECK(c, H5Fget_info2(file, &info));
	if (info.super.version < 3)
		return 0;
	CHECK(c, H5Fstart_swmr_write(file));
	return 0;

fail:
	return -1;
}

/* Opens path for writing. An existing file may be held for a moment by a
 * reader that opened it while no writer was running, which blocks the
 * writer's lock, so a resumed file gets several tries over a few seconds;
 * only the last failure is reported. */
static hid_t open_rdwr(const struct h5ctx *c, const char *path, hid_t fapl,
                       int resuming)
{
	const struct timespec pause = {0, 100000000}; /* 0.1 s */
	int tries = resuming ? 30 : 1;
	hid_t file;

	for (int i = 1; i < tries; i++) {
		file = H5Fopen(path, H5F_ACC_RDWR, fapl);
		if (file >= 0)
			return file;
		nanosleep(&pause, NULL);
	}
	file = H5Fopen(path, H5F_ACC_RDWR, fapl);
	if (file < 0)
		h5_report(c, "H5Fopen", __FILE__, __LINE__);
	return file;
}

/* Opens the file for writing trials, in SWMR mode, and the datasets that
 * write_trial and write_stats use. When resuming, the status flags of a
 * writer that was killed are cleared and this process becomes the writer. */
static int h5out_open(struct h5out *o, int resuming, struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	hid_t fapl = H5I_INVALID_HID;

	CHECK(&c, fapl = h5_file_access(&c));
	if (resuming && clear_status_flags(&c, fapl) < 0)
		goto fail;
	CHECK(&c, o->file = open_rdwr(&c, o->path, fapl, resuming));
	CLOSE(&c, H5Pclose, fapl);
	if (resuming && writer_update(&c, o->file) < 0)
		goto fail;
	if (swmr_start(&c, o->file) < 0)
		goto fail;

	for (int i = 0; i < N_CURVES; i++)
		CHECK(&c, o->curves[i] = H5Dopen2(
		                  o->file, trainer_curve_name(i), H5P_DEFAULT));
	CHECK(&c, o->trials = H5Dopen2(o->file, "/tables/trials", H5P_DEFAULT));
	CHECK(&c, o->trial_type = trial_row_type(&c));
	CHECK(&c, o->stats_type = stats_row_type(&c));
	return 0;

fail:
	h5_release(fapl);
	return -1;
}

/* Closes every handle of o, the file last. Returns 0, or -1 with the first
 * failure reported. */
static int h5out_close_handles(struct h5out *o, struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	int status = 0;

	if (o->stats_type >= 0 && H5Tclose(o->stats_type) < 0) {
		h5_report(&c, "H5Tclose", __FILE__, __LINE__);
		status = -1;
	}
	if (o->trial_type >= 0 && H5Tclose(o->trial_type) < 0) {
		h5_report(&c, "H5Tclose", __FILE__, __LINE__);
		status = -1;
	}
	if (o->trials >= 0 && H5Dclose(o->trials) < 0) {
		h5_report(&c, "H5Dclose", __FILE__, __LINE__);
		status = -1;
	}
	for (int i = N_CURVES - 1; i >= 0; i--) {
		if (o->curves[i] >= 0 && H5Dclose(o->curves[i]) < 0) {
			h5_report(&c, "H5Dclose", __FILE__, __LINE__);
			status = -1;
		}
	}

	/* With H5F_CLOSE_SEMI this fails while any object is still open. */
	if (o->file >= 0 && H5Fclose(o->file) < 0) {
		h5_report(&c, "H5Fclose", __FILE__, __LINE__);
		status = -1;
	}
	o->stats_type = o->trial_type = o->trials = o->file = H5I_INVALID_HID;
	for (int i = 0; i < N_CURVES; i++)
		o->curves[i] = H5I_INVALID_HID;
	return status;
}

/* An existing HDF5 file may be a sweep to continue, so its hint names
 * --resume too. */
static int target_exists_error(const char *path, struct fw_error *err)
{
	if (H5Fis_hdf5(path) > 0)
		return fw_error_set(
		        err,
		        "%s already exists; pass --resume to continue "
		        "it, --force to replace it, or -o to write "
		        "elsewhere",
		        path);
	return fw_error_set(err,
	                    "%s already exists; pass --force to replace it or "
	                    "-o to write elsewhere",
	                    path);
}

/* Returns 0 unless path exists and force is 0. This check only saves
 * building a layout that cannot be published, because tmp_publish makes
 * the final decision. */
static int target_check(const char *path, int force, struct fw_error *err)
{
	struct stat st;

	if (force || stat(path, &st) != 0)
		return 0;
	return target_exists_error(path, err);
}

/* Moves the complete file tmp_path to path. With force, rename() replaces
 * any file at path. Without force, link() fails with EEXIST if path exists,
 * even if it was created after target_check by a sweep started at the same
 * time, so only one of them publishes. On failure tmp_path is left for the
 * caller to remove and path is untouched. */
static int tmp_publish(const char *tmp_path, const char *path, int force,
                       struct fw_error *err)
{
	int saved;

	if (force) {
		if (rename(tmp_path, path) == 0)
			return 0;
	} else {
		if (link(tmp_path, path) == 0) {
			if (unlink(tmp_path) == 0)
				return 0;

			/* Undo the link, so that a failure leaves no file. */
			saved = errno;
			(void)unlink(path);
			return fw_error_set(err,
			                    "cannot remove the temporary file "
			                    "%s: %s; check the directory of %s",
			                    tmp_path, strerror(saved), path);
		}
		if (errno == EEXIST)
			return target_exists_error(path, err);
		if (errno == EPERM || errno == EOPNOTSUPP)
			return fw_error_set(err,
			                    "cannot create %s: the file system "
			                    "does not support hard links (%s); "
			                    "pass --force, which replaces any "
			                    "existing file, or -o to write to "
			                    "another file system",
			                    path, strerror(errno));
	}
	return fw_error_set(err,
	                    "cannot create %s: %s; choose a writable "
	                    "directory with -o",
	                    path, strerror(errno));
}

/* Creates the empty temporary file tmp_path beside path. O_EXCL keeps a
 * file that another process is writing under the same name untouched. */
static int tmp_reserve(const char *tmp_path, const char *path,
                       struct fw_error *err)
{
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL, 0666);

	if (fd < 0 && errno == EEXIST)
		return fw_error_set(err,
		                    "cannot create %s: the temporary file %s "
		                    "already exists; remove it unless another "
		                    "fasweep is writing it",
		                    path, tmp_path);
	if (fd < 0)
		return fw_error_set(err,
		                    "cannot create %s: %s; choose a writable "
		                    "directory with -o",
		                    path, strerror(errno));
	if (close(fd) != 0) {
		int saved = errno;

		(void)unlink(tmp_path);
		return fw_error_set(err,
		                    "cannot create %s: %s; choose a writable "
		                    "directory with -o",
		                    path, strerror(saved));
	}
	return 0;
}

int h5out_create(struct h5out **out, const char *path, const struct grid *g,
                 const struct h5out_meta *meta, int force, struct fw_error *err)
{
	struct h5ctx c = {path, err, HINT_WRITE};
	struct h5_quiet quiet;
	struct h5out *o = NULL;
	char *tmp_path = NULL;
	size_t size = strlen(path) + 32;
	int status = -1;

	*out = NULL;
	h5_quiet_begin(&quiet);
	if (target_check(path, force, err) < 0)
		goto done;

	/* Build the layout in PATH.tmp.PID, then move it to path. */
	tmp_path = malloc(size);
	if (tmp_path == NULL) {
		fw_error_set(err, "%s: out of memory", path);
		goto done;
	}
	snprintf(tmp_path, size, "%s.tmp.%ld", path, (long)getpid());
	if (tmp_reserve(tmp_path, path, err) < 0)
		goto done;
	if (layout_build(&c, tmp_path, g, meta) < 0)
		goto remove_tmp;

	/* Open the complete file in SWMR mode before it appears at path, so
	 * that a reader opening it at once cannot hold the lock that plain
	 * writing needs. */
	o = h5out_alloc(tmp_path, g);
	if (o == NULL) {
		fw_error_set(err, "%s: out of memory", path);
		goto remove_tmp;
	}
	if (h5out_open(o, 0, err) < 0 ||
	    tmp_publish(tmp_path, path, force, err) < 0)
		goto close_tmp;
	/* o->path holds the longer temporary name; errors now name path. */
	memcpy(o->path, path, strlen(path) + 1);
	*out = o;
	status = 0;
	goto done;

close_tmp:
	(void)h5out_close_handles(o, NULL);
	h5out_free(o);
remove_tmp:
	/* The first error is already reported, so a failed unlink only leaves
	 * a stray temporary file. */
	(void)unlink(tmp_path);
done:
	free(tmp_path);
	h5_quiet_end(&quiet);
	return status;
}

/* Returns 1 if process pid is a running fasweep: its /proc entry names
 * fasweep and it is not a zombie. The pid may have been reused by another
 * program since the writer died. */
static int fasweep_running(long pid)
{
	char path[64], stat_line[256];
	const char *close_paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(stat_line, sizeof(stat_line), f) == NULL)
		stat_line[0] = '\0';
	fclose(f);

	/* "PID (COMM) STATE ..." */
	close_paren = strrchr(stat_line, ')');
	if (strstr(stat_line, "(fasweep)") == NULL || close_paren == NULL ||
	    close_paren[1] != ' ')
		return 0;
	return close_paren[2] != 'Z' && close_paren[2] != 'X';
}

/* Returns 1 if writer ("HOST PID") names a fasweep process that is still
 * running on this host. A writer on another host cannot be checked. */
static int writer_alive(const char *writer)
{
	char host[H5OUT_HOST_MAX] = "", me[H5OUT_HOST_MAX] = "";
	long pid = 0;

	if (writer == NULL || sscanf(writer, "%63s %ld", host, &pid) != 2 ||
	    pid <= 0 || pid == (long)getpid())
		return 0;
	if (gethostname(me, sizeof(me) - 1) != 0 || strcmp(host, me) != 0)
		return 0;
	return fasweep_running(pid);
}

int h5out_reopen(struct h5out **out, const char *path, const struct grid *g,
                 const char *writer, struct fw_error *err)
{
	struct h5_quiet quiet;
	struct h5out *o;
	int status = -1;

	*out = NULL;
	if (writer_alive(writer))
		return fw_error_set(err,
		                    "cannot resume %s: fasweep process %s is "
		                    "still writing it; wait for it to end or "
		                    "stop it with SIGUSR1",
		                    path, writer);
	o = h5out_alloc(path, g);
	if (o == NULL)
		return fw_error_set(err, "%s: out of memory", path);

	h5_quiet_begin(&quiet);
	if (h5out_open(o, 1, err) < 0) {
		(void)h5out_close_handles(o, NULL);
		h5out_free(o);
	} else {
		*out = o;
		status = 0;
	}
	h5_quiet_end(&quiet);
	return status;
}

/* ---- writing trials and stats ---- */

/* Checks that row belongs at the flat index trial of the grid. */
static int trial_key_check(const struct h5out *o, size_t trial,
                           const struct trial_row *row, struct fw_error *err)
{
	size_t n_trials = o->n_modes * o->n_hidden * o->n_seeds;
	size_t idx[N_AXES];
	const char *mode;

	if (trial >= n_trials)
		return fw_error_set(err,
		                    "%s: trial index %zu is out of range; the "
		                    "grid has %zu trials",
		                    o->path, trial, n_trials);
	trial_split(o->n_hidden, o->n_seeds, trial, idx);
	mode = o->mode_names[idx[AXIS_MODE]];
	if (strncmp(row->mode, mode, sizeof(row->mode)) != 0 ||
	    row->hidden != o->hidden[idx[AXIS_HIDDEN]] ||
	    row->seed != o->seeds[idx[AXIS_SEED]])
		return fw_error_set(
		        err,
		        "%s: trial %zu is (%s, %" PRId32 ", %" PRId64
		        ") but its row is (%.*s, %" PRId32 ", %" PRId64
		        "); pass the row's flat trial index",
		        o->path, trial, mode, o->hidden[idx[AXIS_HIDDEN]],
		        o->seeds[idx[AXIS_SEED]], (int)sizeof(row->mode),
		        row->mode, row->hidden, row->seed);
	return 0;
}

static int trial_row_write(const struct h5ctx *c, struct h5out *o, size_t trial,
                           const struct trial_row *row)
{
	hsize_t start[1] = {trial};
	hsize_t count[1] = {1};
	hid_t file_space = H5I_INVALID_HID;
	hid_t mem_space = H5I_INVALID_HID;

	CHECK(c, file_space = H5Dget_space(o->trials));
	CHECK(c, H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL,
	                             count, NULL));
	CHECK(c, mem_space = H5Screate_simple(1, count, NULL));
	CHECK(c, H5Dwrite(o->trials, o->trial_type, mem_space, file_space,
	                  H5P_DEFAULT, row));
	CLOSE(c, H5Sclose, mem_space);
	CLOSE(c, H5Sclose, file_space);
	return 0;

fail:
	h5_release(mem_space);
	h5_release(file_space);
	return -1;
}

/* Writes the N_CURVES x n_points values of curves into [m][h][s][:] of
 * each curve dataset. */
static int trial_curves_write(const struct h5ctx *c, struct h5out *o,
                              size_t trial, const float *curves)
{
	size_t idx[N_AXES];
	hsize_t start[N_DIMS];
	hsize_t count[N_DIMS] = {1, 1, 1, o->n_points};
	hsize_t n_points[1] = {o->n_points};
	hid_t mem_space = H5I_INVALID_HID;
	hid_t file_space = H5I_INVALID_HID;

	trial_split(o->n_hidden, o->n_seeds, trial, idx);
	start[DIM_MODE] = idx[AXIS_MODE];
	start[DIM_HIDDEN] = idx[AXIS_HIDDEN];
	start[DIM_SEED] = idx[AXIS_SEED];
	start[DIM_EPOCH] = 0;

	CHECK(c, mem_space = H5Screate_simple(1, n_points, NULL));
	for (int i = 0; i < N_CURVES; i++) {
		CHECK(c, file_space = H5Dget_space(o->curves[i]));
		CHECK(c, H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start,
		                             NULL, count, NULL));
		CHECK(c, H5Dwrite(o->curves[i], H5T_NATIVE_FLOAT, mem_space,
		                  file_space, H5P_DEFAULT,
		                  curves + (size_t)i * o->n_points));
		CLOSE(c, H5Sclose, file_space);
	}
	CLOSE(c, H5Sclose, mem_space);
	return 0;

fail:
	h5_release(file_space);
	h5_release(mem_space);
	return -1;
}

int h5out_write_curves(struct h5out *o, size_t trial, const float *curves,
                       struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	size_t n_trials = o->n_modes * o->n_hidden * o->n_seeds;
	int status = -1;

	h5_quiet_begin(&quiet);
	if (trial >= n_trials)
		fw_error_set(err,
		             "%s: trial index %zu is out of range; the grid "
		             "has %zu trials",
		             o->path, trial, n_trials);
	else if (trial_curves_write(&c, o, trial, curves) == 0)
		status = 0;
	h5_quiet_end(&quiet);
	return status;
}

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
	trial_split(o->n_hidden, o->n_seeds, trial, idx);
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

int h5out_write_row(struct h5out *o, size_t trial, const struct trial_row *row,
                    struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	int status = -1;

	h5_quiet_begin(&quiet);
	if (trial_key_check(o, trial, row, err) == 0 &&
	    trial_row_write(&c, o, trial, row) == 0)
		status = 0;
	h5_quiet_end(&quiet);
	return status;
}

int h5out_flush(struct h5out *o, struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	int status = -1;

	h5_quiet_begin(&quiet);
	CHECK(&c, H5Fflush(o->file, H5F_SCOPE_LOCAL));
	status = 0;

fail:
	h5_quiet_end(&quiet);
	return status;
}

int h5out_write_trial(struct h5out *o, size_t trial,
                      const struct trial_row *row, const float *curves,
                      struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	int status = -1;

	h5_quiet_begin(&quiet);
	if (trial_key_check(o, trial, row, err) < 0)
		goto fail;

	/* Curves reach the disk before the row that marks them stored, so a
	 * row never claims curves that a crash lost. */
	if (trial_curves_write(&c, o, trial, curves) < 0)
		goto fail;
	CHECK(&c, H5Fflush(o->file, H5F_SCOPE_LOCAL));
	if (trial_row_write(&c, o, trial, row) < 0)
		goto fail;
	CHECK(&c, H5Fflush(o->file, H5F_SCOPE_LOCAL));
	status = 0;

fail:
	h5_quiet_end(&quiet);
	return status;
}

int h5out_write_stats(struct h5out *o, const struct stats_row *rows,
                      size_t n_rows, struct fw_error *err)
{
	struct h5ctx c = {o->path, err, HINT_WRITE};
	struct h5_quiet quiet;
	hsize_t dims[1] = {n_rows};
	hid_t ds = H5I_INVALID_HID;
	int status = -1;

	h5_quiet_begin(&quiet);

	/* The table is chunked and unlimited, so resizing it replaces the
	 * earlier rows without leaving unused space in the file. */
	CHECK(&c, ds = H5Dopen2(o->file, "/tables/stats", H5P_DEFAULT));
	CHECK(&c, H5Dset_extent(ds, dims));
	if (n_rows > 0)
		CHECK(&c, H5Dwrite(ds, o->stats_type, H5S_ALL, H5S_ALL,
		                   H5P_DEFAULT, rows));
	CLOSE(&c, H5Dclose, ds);
	CHECK(&c, H5Fflush(o->file, H5F_SCOPE_LOCAL));
	status = 0;

fail:
	h5_release(ds);
	h5_quiet_end(&quiet);
	return status;
}

int h5out_close(struct h5out *o, struct fw_error *err)
{
	struct h5_quiet quiet;
	int status;

	if (o == NULL)
		return 0;
	h5_quiet_begin(&quiet);
	status = h5out_close_handles(o, err);
	h5_quiet_end(&quiet);
	h5out_free(o);
	return status;
}

/* ---- reading a file back ---- */

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

	CHECK(c, trial_type = trial_row_type(c));
	if (table_read(c, file, "/tables/trials", trial_type,
	               sizeof(struct trial_row), &rows, &s->n_trials) < 0)
		goto fail;
	s->trials = rows;
	CLOSE(c, H5Tclose, trial_type);

	/* h5out_create makes an empty stats table, but a file edited with
	 * other tools may lack it, which reads as no stats. */
	CHECK(c, has_stats = H5Lexists(file, "/tables/stats", H5P_DEFAULT));
	if (has_stats) {
		CHECK(c, stats_type = stats_row_type(c));
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
	if (summary_read(&c, file, s) < 0)
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
	free(s->stats);
	free(s->trials);
	free(s->writer);
	free(s->config);
	memset(s, 0, sizeof(*s));
}
