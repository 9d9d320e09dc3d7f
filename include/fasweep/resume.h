/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whether a sweep may continue a results file: the config given now must
 * define the same trials with the same settings as the config stored in
 * the file. Reading the file and rerunning trials are left to others. */
#ifndef FASWEEP_RESUME_H
#define FASWEEP_RESUME_H

#include "fasweep/error.h"
#include "fasweep/grid.h"

/* Compares stored (parsed from the file's config attribute) with now (the
 * config given to this run): the three axes in order, the baseline, every
 * trial's settings, and [output] save_weights, which changes the layout.
 * The data directory may differ. Returns 0, or -1
 * with err naming the first difference, the file and the config. */
int resume_check(const struct grid *stored, const struct grid *now,
                 const char *file, struct fw_error *err);

#endif
