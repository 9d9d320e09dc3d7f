/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The final pass of a sweep: pairs each mode's trials with the baseline's by
 * seed and fills the stats table. The arithmetic is in stats.c. */
#ifndef FASWEEP_FINAL_H
#define FASWEEP_FINAL_H

#include <stddef.h>

#include "fasweep/error.h"
#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/stats.h"

/* Builds one stats row per (hidden size, mode other than the baseline), in
 * grid order. A row pairs the seeds whose trials are "done" in both the
 * mode and the baseline; trials is in flat trial order. Then applies Holm's
 * correction across all rows. Returns 0 with a malloc'ed array in *rows
 * (caller frees) and its length in *n_rows, or -1 with err set. */
int final_pass(const struct grid *g, const struct trial_row *trials,
               struct stats_row **rows, size_t *n_rows, struct fw_error *err);

#endif
