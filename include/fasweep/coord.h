/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The MPI sweep. Rank 0 validates the grid and the data, creates the results
 * file, hands out trials largest hidden size first, stores each result as it
 * arrives and runs the final pass, while the other ranks train. With one
 * rank, rank 0 runs the trials itself. */
#ifndef FASWEEP_COORD_H
#define FASWEEP_COORD_H

#include <mpi.h>

#include "fasweep/log.h"

struct run_options {
	const char *config_path;
	const char *output_path; /* the results file */
	const char *data_dir;    /* overrides [data] dir when not NULL */
	int force;               /* replace an existing results file */
	enum log_level log_level;
	const char *command_line; /* stored in the file for provenance */
};

/* Runs the sweep on every rank of comm; call it on all ranks after
 * MPI_Init. Returns the process exit code: 0 when every trial was stored
 * and the final pass written (diverged or failed trials included), 1 when
 * the sweep could not start or the results file could not be written. The
 * error has then been logged by the rank that found it. */
int coord_run(const struct run_options *opt, MPI_Comm comm);

#endif
