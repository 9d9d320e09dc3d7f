/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Stop requests: SIGTERM, SIGINT and SIGUSR1 (what SLURM's --signal and
 * scancel send, and what mpirun forwards) ask the sweep to stop cleanly.
 * The handler only counts the signals; the coordinator and the trainer
 * poll the count and decide what to do. */
#ifndef FASWEEP_STOP_H
#define FASWEEP_STOP_H

/* Installs the handler for SIGTERM, SIGINT and SIGUSR1. Returns 0, or -1
 * if the system refuses, with errno set. */
int stop_install(void);

/* Returns how many stop signals arrived since stop_install. */
int stop_count(void);

/* Returns the number of the first stop signal that arrived, or 0. */
int stop_first_signal(void);

#endif
