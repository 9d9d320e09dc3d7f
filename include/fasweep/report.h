/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Text output for people: the plan of a grid before it runs and the report
 * of a finished results file. Computing and storing results is elsewhere. */
#ifndef FASWEEP_REPORT_H
#define FASWEEP_REPORT_H

#include <stdio.h>

#include "fasweep/grid.h"
#include "fasweep/h5out.h"

/* Prints the expanded grid, the trial count and an estimate of the compute
 * it needs (floating-point operations, and core-hours at an assumed rate
 * that the text states). */
void report_plan(FILE *out, const struct grid *g);

/* Returns the floating-point operations of one trial, 2 per multiply-add,
 * training and evaluation included. */
double report_trial_flops(const struct trial_params *p);

/* Prints trial counts by status, the mean and standard deviation of the
 * final test accuracy per (hidden size, mode), and the stats table. */
void report_summary(FILE *out, const char *path, const struct h5out_summary *s);

#endif
