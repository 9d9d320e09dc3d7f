/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5out.c - the results file while a sweep writes it: creates it or
 * reopens it to resume, in SWMR mode, then stores trials and the stats
 * table and closes it. A new file is built by h5layout.c in a temporary
 * file, which is published only when complete. Reading a file back is left
 * to h5read.c, and the weights to h5weights.c. */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

/* Bytes of the type conversion buffer of a row write: a few rows. */
#define ROW_XFER_BUFFER (4 * sizeof(struct trial_row))

int h5out_library_init(void)
{
	return H5dont_atexit() < 0 ? -1 : 0;
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
	o->row_xfer = H5I_INVALID_HID;
	for (int i = 0; i < N_CURVES; i++)
		o->curves[i] = o->early[i] = H5I_INVALID_HID;
	o->n_modes = g->n_modes;
	o->n_hidden = g->n_hidden;
	o->n_seeds = g->n_seeds;
	o->n_points = (size_t)g->max_epochs + 1;
	o->n_early = (size_t)g->early_checkpoints;
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

	h5_writer_name(writer, sizeof(writer));
	CHECK(c, exists = H5Aexists(file, "writer"));
	if (exists)
		CHECK(c, H5Adelete(file, "writer"));
	return h5_attr_write_string(c, file, "writer", writer);

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

/* Opens path for writing. A reader that opened an existing file while no
 * writer ran blocks the writer's lock for a moment. So a resumed file gets
 * 30 tries over 3 seconds, and only the last failure is reported. */
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
	for (int i = 0; i < N_CURVES && o->n_early > 0; i++) {
		char name[64];

		snprintf(name, sizeof(name), "early/%s", trainer_curve_name(i));
		CHECK(&c, o->early[i] = H5Dopen2(o->file, name, H5P_DEFAULT));
	}
	CHECK(&c, o->trials = H5Dopen2(o->file, "/tables/trials", H5P_DEFAULT));
	CHECK(&c, o->trial_type = h5_trial_row_type(&c));
	CHECK(&c, o->stats_type = h5_stats_row_type(&c));

	/* HDF5 allocates and zeroes its type conversion buffer, 1 MB by
	 * default, on every H5Dwrite that converts. A row converts from the
	 * padded struct to the packed file type, so a buffer of a few rows
	 * saves rank 0 a fifth of its time per result. */
	CHECK(&c, o->row_xfer = H5Pcreate(H5P_DATASET_XFER));
	CHECK(&c, H5Pset_buffer(o->row_xfer, ROW_XFER_BUFFER, NULL, NULL));
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

	if (o->row_xfer >= 0 && H5Pclose(o->row_xfer) < 0) {
		h5_report(&c, "H5Pclose", __FILE__, __LINE__);
		status = -1;
	}
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
		if (o->early[i] >= 0 && H5Dclose(o->early[i]) < 0) {
			h5_report(&c, "H5Dclose", __FILE__, __LINE__);
			status = -1;
		}
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
	o->row_xfer = H5I_INVALID_HID;
	for (int i = 0; i < N_CURVES; i++)
		o->curves[i] = o->early[i] = H5I_INVALID_HID;
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

int h5out_check_target(const char *path, int force, struct fw_error *err)
{
	struct stat st;

	if (force || stat(path, &st) != 0)
		return 0;
	return target_exists_error(path, err);
}

/* Moves the complete file tmp_path to path. With force, rename() replaces
 * any file at path. Without force, link() fails with EEXIST if path exists,
 * even if it was created after h5out_check_target by a sweep started at the
 * same time, so only one of them publishes. On failure tmp_path is left for the
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
	/* This check only saves building a layout that cannot be published,
	 * because tmp_publish makes the final decision. */
	if (h5out_check_target(path, force, err) < 0)
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
	if (h5_layout_build(&c, tmp_path, g, meta) < 0)
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
	/* Overwrite the longer temporary name, so errors name path from now
	 * on. */
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
	h5_trial_split(o->n_hidden, o->n_seeds, trial, idx);
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
	                  o->row_xfer, row));
	CLOSE(c, H5Sclose, mem_space);
	CLOSE(c, H5Sclose, file_space);
	return 0;

fail:
	h5_release(mem_space);
	h5_release(file_space);
	return -1;
}

/* Writes the N_CURVES x n_points values of curves into [m][h][s][:] of
 * the datasets ids, one per curve. */
static int curve_set_write(const struct h5ctx *c, const struct h5out *o,
                           const hid_t ids[N_CURVES], size_t trial,
                           const float *curves, size_t points)
{
	size_t idx[N_AXES];
	hsize_t start[N_DIMS];
	hsize_t count[N_DIMS] = {1, 1, 1, points};
	hsize_t n_points[1] = {points};
	hid_t mem_space = H5I_INVALID_HID;
	hid_t file_space = H5I_INVALID_HID;

	h5_trial_split(o->n_hidden, o->n_seeds, trial, idx);
	start[DIM_MODE] = idx[AXIS_MODE];
	start[DIM_HIDDEN] = idx[AXIS_HIDDEN];
	start[DIM_SEED] = idx[AXIS_SEED];
	start[DIM_EPOCH] = 0;

	/* Every curve dataset has the same shape, so one selection serves
	 * all of them and the per-curve cost is one H5Dwrite. */
	CHECK(c, mem_space = H5Screate_simple(1, n_points, NULL));
	CHECK(c, file_space = H5Dget_space(ids[0]));
	CHECK(c, H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL,
	                             count, NULL));
	for (int i = 0; i < N_CURVES; i++)
		CHECK(c,
		      H5Dwrite(ids[i], H5T_NATIVE_FLOAT, mem_space, file_space,
		               H5P_DEFAULT, curves + (size_t)i * points));
	CLOSE(c, H5Sclose, file_space);
	CLOSE(c, H5Sclose, mem_space);
	return 0;

fail:
	h5_release(file_space);
	h5_release(mem_space);
	return -1;
}

/* Writes a trial's curves, N_CURVES x n_points floats followed by
 * N_CURVES x n_early for the checkpoints, to the curve datasets. */
static int trial_curves_write(const struct h5ctx *c, const struct h5out *o,
                              size_t trial, const float *curves)
{
	if (curve_set_write(c, o, o->curves, trial, curves, o->n_points) < 0)
		return -1;
	if (o->n_early == 0)
		return 0;
	return curve_set_write(c, o, o->early, trial,
	                       curves + N_CURVES * o->n_points, o->n_early);
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
