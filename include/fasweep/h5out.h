/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The results file: creates the HDF5 layout for a grid, writes each trial as
 * it arrives, writes the stats table, and reads a finished file back for
 * reports. Rank 0 is the only writer; HDF5 is used serially.
 *
 * The file uses the HDF5 1.10 format and, while trials arrive, SWMR mode:
 * readers may open it during a sweep with H5F_ACC_SWMR_READ.
 *
 * Layout (names are the interface):
 *   root attributes  fasweep_version, config, created_utc, mpi_ranks,
 *                    command_line, hostname, writer (strings; mpi_ranks
 *                    int32)
 *   /mode            dimension scale, variable-length strings
 *   /hidden          dimension scale, int32
 *   /seed            dimension scale, int64
 *   /epoch           dimension scale, int32, 0 .. max_epochs
 *   /<setting>       float64 [axis] for each zipped setting
 *   /train_loss, /test_loss, /test_accuracy, /feedback_correlation,
 *   /alignment_angle float32 [mode][hidden][seed][epoch], fill NaN, one
 *                    chunk per trial, dimension scales attached
 *   /tables/trials   compound, one row per flat trial index
 *   /tables/stats    compound, one row per (hidden, non-baseline mode)
 *   /weights         only with [output] save_weights: attribute stages,
 *                    /weights/stage (dimension scale, strings), and per
 *                    hidden size H a group hidden_<H> with W1, W2, B
 *                    float32 [mode][seed][stage][rows][cols] (fill NaN)
 *                    and train_index, test_index uint32 [seed][position]
 *                    (fill UINT32_MAX), one chunk per (mode, seed, stage)
 *                    or per seed, allocated when the file is created */
#ifndef FASWEEP_H5OUT_H
#define FASWEEP_H5OUT_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/error.h"
#include "fasweep/grid.h"
#include "fasweep/stats.h"
#include "fasweep/trainer.h"

#define H5OUT_HOST_MAX 64

/* One row of /tables/trials; strings are NUL-terminated and NUL-padded. */
struct trial_row {
	char mode[STATS_NAME_MAX];
	int32_t hidden;
	int64_t seed;
	char status[STATS_NAME_MAX]; /* pending, done, diverged, failed */
	float final_test_accuracy;   /* NaN unless done */
	double wall_seconds;         /* NaN while pending */
	int32_t rank;                /* MPI rank that ran it, -1 if none */
	char host[H5OUT_HOST_MAX];
	char message[TRIAL_MESSAGE_MAX];
};

/* Provenance stored as root attributes. */
struct h5out_meta {
	const char *command_line;
	const char *hostname;
	int32_t mpi_ranks;
};

struct h5out; /* an open results file */

/* Call once at program start, before any other HDF5 call. Calls
 * H5dont_atexit(), so that HDF5 registers no exit-time cleanup: in HDF5
 * 1.10.8 that cleanup closes again a file whose H5Fclose failed (for
 * example on a full disk) and crashes with SIGSEGV. A file still open at
 * exit is therefore neither flushed nor closed by HDF5, so close every
 * results file with h5out_close before exiting. Turns off nothing else.
 * Returns 0, or -1 if HDF5 rejects the call, as it does a second call. */
int h5out_library_init(void);

/* Returns 0 unless path exists and force is 0; then returns -1 with a
 * message that names the options that would accept the file. */
int h5out_check_target(const char *path, int force, struct fw_error *err);

/* Creates the results file for grid g with every trial pending. The layout
 * is built in a temporary file beside path and moved to path only when
 * complete, so an existing file is never truncated or left half-written.
 * Without force the move is a hard link, so a file that appears at path
 * meanwhile is never replaced.
 * If path exists and force is 0, returns -1 with a message saying to pass
 * --force or choose another name. Returns 0 with *out open for writing in
 * SWMR mode; close with h5out_close. */
int h5out_create(struct h5out **out, const char *path, const struct grid *g,
                 const struct h5out_meta *meta, int force,
                 struct fw_error *err);

/* Reopens the results file at path, written for grid g, to continue a
 * sweep. The caller has checked with h5out_read_summary and resume_check
 * that the file belongs to g. writer is the file's writer attribute from
 * that summary: if it names a fasweep process still running on this host,
 * returns -1. Otherwise clears the flags a killed writer leaves, records
 * this process as the writer, and returns 0 with *out open in SWMR mode. */
int h5out_reopen(struct h5out **out, const char *path, const struct grid *g,
                 const char *writer, struct fw_error *err);

/* Stores one trial: its curves (N_CURVES x n_points floats, n_points =
 * max_epochs + 1, then N_CURVES x early_checkpoints floats as
 * trainer_run lays them out) at flat index trial, a flush, then its row in
 * /tables/trials and a flush, so a stored row always has its curves on
 * disk. Returns 0 or -1 with err set. */
int h5out_write_trial(struct h5out *o, size_t trial,
                      const struct trial_row *row, const float *curves,
                      struct fw_error *err);

/* The steps of h5out_write_trial, for a writer that stores many trials
 * between flushes: write the curves of every trial, h5out_flush, then
 * their rows, then h5out_flush again, so that a row never reaches the disk
 * before its curves. None of the three flushes by itself. */
int h5out_write_curves(struct h5out *o, size_t trial, const float *curves,
                       struct fw_error *err);
int h5out_write_row(struct h5out *o, size_t trial, const struct trial_row *row,
                    struct fw_error *err);

/* Writes W1, W2 and B of every stage the file stores, and the training and
 * test indices that are not NULL, of the trial at flat index trial into
 * /weights. Part of the curves step: call it before the flush that comes
 * before the trial's row. Does not flush. Returns 0, or -1 with err set,
 * also when the file stores no weights. */
int h5out_write_weights(struct h5out *o, size_t trial,
                        const struct trial_weights *w, struct fw_error *err);
int h5out_flush(struct h5out *o, struct fw_error *err);

/* Writes /tables/stats (replacing any earlier one) and flushes. */
int h5out_write_stats(struct h5out *o, const struct stats_row *rows,
                      size_t n_rows, struct fw_error *err);

/* Closes the file; returns 0 or -1 with err set. Frees o either way. */
int h5out_close(struct h5out *o, struct fw_error *err);

/* A results file read back for reports. */
struct h5out_summary {
	char *config; /* the INI text stored in the file */
	char *writer; /* "HOST PID" of its last writer, NULL if absent */
	size_t n_trials;
	struct trial_row *trials; /* n_trials rows, flat trial order */
	size_t n_stats;
	struct stats_row *stats; /* n_stats rows; 0 if the table is absent */
	float *final; /* n_trials x N_CURVES: the last value of each curve
	                 that is not NaN, per trial in flat order; NaN where
	                 there is none or the file lacks the curve */
};

/* Reads the config attribute and both tables of the file at path. Returns 0,
 * or -1 with a message when the file is missing or not a fasweep file. Free
 * with h5out_summary_free. */
int h5out_read_summary(const char *path, struct h5out_summary *s,
                       struct fw_error *err);

void h5out_summary_free(struct h5out_summary *s);

#endif
