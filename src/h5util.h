/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5util.h - private to the results-file sources (h5util.c, h5layout.c,
 * h5weights.c, h5out.c, h5read.c): the CHECK and CLOSE macros that check
 * every HDF5 call, the open file struct, and the helpers that more than one
 * of them calls. The public interface is include/fasweep/h5out.h. */
#ifndef FASWEEP_H5UTIL_H
#define FASWEEP_H5UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "fasweep/h5out.h"

/* Dimensions of the curve datasets: the grid axes, then the epoch. */
enum h5_dim {
	DIM_MODE = AXIS_MODE,
	DIM_HIDDEN = AXIS_HIDDEN,
	DIM_SEED = AXIS_SEED,
	DIM_EPOCH = N_AXES,
	N_DIMS
};

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
	hid_t early[N_CURVES];  /* /early/<curve>, only with checkpoints */
	hid_t trials;           /* /tables/trials */
	hid_t trial_type;       /* memory type of struct trial_row */
	hid_t row_xfer;         /* transfer property list of row writes */
	hid_t stats_type;       /* memory type of struct stats_row */
	size_t n_modes;
	size_t n_hidden;
	size_t n_seeds;
	size_t n_points;                 /* max_epochs + 1 */
	size_t n_early;                  /* early_checkpoints, 0 if none */
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

/* On failure, the functions below that return int return -1 and those that
 * return hid_t return H5I_INVALID_HID, with c->err set either way. */

/* Saves HDF5's automatic error printing and turns it off, so that errors
 * reach the caller only through err. h5_quiet_end restores it. */
void h5_quiet_begin(struct h5_quiet *q);
void h5_quiet_end(const struct h5_quiet *q);

/* Sets c->err to one line naming c->path, the HDF5 call in expr, the source
 * location, HDF5's innermost error text and c->hint. */
void h5_report(const struct h5ctx *c, const char *expr, const char *src_file,
               int line);

/* Closes any identifier on a failure path, where the first error is already
 * reported and a failed close would add nothing to it. */
void h5_release(hid_t id);

/* Returns a UTF-8 string type, NUL-terminated, of size bytes or of
 * variable length (size H5T_VARIABLE). */
hid_t h5_string_type(const struct h5ctx *c, size_t size);

/* Returns a file access property list for every open of a results file. */
hid_t h5_file_access(const struct h5ctx *c);

/* Return the memory types of struct trial_row and struct stats_row. HDF5
 * converts between them and the file types by field name. */
hid_t h5_trial_row_type(const struct h5ctx *c);
hid_t h5_stats_row_type(const struct h5ctx *c);

/* Writes value as the variable-length UTF-8 string attribute name of loc.
 * A NULL value is written as "". */
int h5_attr_write_string(const struct h5ctx *c, hid_t loc, const char *name,
                         const char *value);

/* Writes a scalar attribute of file type file_type from *value, which has
 * the memory type mem_type. */
int h5_attr_write_scalar(const struct h5ctx *c, hid_t loc, const char *name,
                         hid_t file_type, hid_t mem_type, const void *value);

/* Creates the 1-D dataset name holding n values of data and returns it
 * open, so that it can become or receive a dimension scale. */
hid_t h5_dataset_create_1d(const struct h5ctx *c, hid_t loc, const char *name,
                           hid_t file_type, hid_t mem_type, size_t n,
                           const void *data);

/* Writes "HOST PID" of this process to buf: the writer attribute, with
 * which a later resume checks whether the file's writer still runs. */
void h5_writer_name(char *buf, size_t size);

/* Splits a flat trial index, (m * n_hidden + h) * n_seeds + s, into m, h
 * and s. */
void h5_trial_split(size_t n_hidden, size_t n_seeds, size_t trial,
                    size_t idx[N_AXES]);

/* h5layout.c: builds the whole layout of g in the new file at tmp_path. */
int h5_layout_build(const struct h5ctx *c, const char *tmp_path,
                    const struct grid *g, const struct h5out_meta *meta);

/* h5weights.c: creates /weights with a group per hidden size when the grid
 * stores weights, and does nothing otherwise. */
int h5_weights_create(const struct h5ctx *c, hid_t file, const struct grid *g);

#endif
