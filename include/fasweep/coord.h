/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The MPI sweep. Rank 0 validates the grid and the data, creates or
 * resumes the results file, hands out trials largest hidden size first,
 * stores each result as it arrives and runs the final pass, while the other
 * ranks train. With one rank, rank 0 runs the trials itself. A stop signal
 * (stop.h) ends the sweep early with every unfinished trial pending. */
#ifndef FASWEEP_COORD_H
#define FASWEEP_COORD_H

#include <mpi.h>

#include "fasweep/log.h"

struct run_options {
	const char *config_path;
	const char *output_path; /* the results file */
	const char *data_dir;    /* overrides [data] dir when not NULL */
	int force;               /* replace an existing results file */
	int resume;              /* continue an existing results file */
	enum log_level log_level;
	const char *command_line; /* stored in the file for provenance */
};

/* Exit code of a sweep that stopped on a signal and can be resumed. */
#define COORD_EXIT_STOPPED 4

/* Seconds rank 0 waits, after a stop signal, for running trials to stop
 * before it ends the job anyway. */
#define COORD_GRACE_SECONDS 60.0

/* Runs the sweep on every rank of comm; call it on all ranks after
 * MPI_Init and stop_install. Returns the process exit code: 0 when every
 * trial was stored and the final pass written (diverged or failed trials
 * included), 1 when the sweep could not start or the results file could
 * not be written (the rank that found the error has logged it), and
 * COORD_EXIT_STOPPED when a stop signal ended it with trials pending and
 * the file closed. After a second signal, or when the running trials do not
 * stop within COORD_GRACE_SECONDS, rank 0 closes the file and ends the job
 * with MPI_Abort and that code. */
int coord_run(const struct run_options *opt, MPI_Comm comm);

#endif
