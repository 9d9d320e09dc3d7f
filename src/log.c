/* SPDX-License-Identifier: GPL-3.0-or-later */
/* log.c - one-line log messages to stderr with rank and elapsed time. */
#include "fasweep/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

double log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void log_init(struct log_ctx *ctx, int rank, enum log_level level)
{
	ctx->rank = rank;
	ctx->t0 = log_now();
	ctx->level = level;
}

void log_msg(const struct log_ctx *ctx, enum log_level level, const char *fmt,
             ...)
{
	char line[1024];
	va_list ap;

	if (level > ctx->level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	/* One fprintf per line keeps lines of different ranks whole. */
	fprintf(stderr, "[rank %d %8.1fs] %-5s %s\n", ctx->rank,
	        log_now() - ctx->t0, level_names[level], line);
}
