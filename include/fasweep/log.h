/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Logging to stderr with a level, prefixed by MPI rank and elapsed time. */
#ifndef FASWEEP_LOG_H
#define FASWEEP_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

struct log_ctx {
	int rank;             /* MPI rank, or 0 outside MPI */
	double t0;            /* monotonic start time, seconds */
	enum log_level level; /* messages above this level are dropped */
};

/* Starts the clock of ctx now. */
void log_init(struct log_ctx *ctx, int rank, enum log_level level);

/* Prints "[rank R  T.Ts] LEVEL message" as one line to stderr. */
void log_msg(const struct log_ctx *ctx, enum log_level level, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

/* Returns seconds on the monotonic clock. */
double log_now(void);

#endif
