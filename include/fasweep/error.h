/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Error reporting for library code: a function that fails fills a struct
 * fw_error with one line for the user and returns a non-zero status. The
 * program's edge prints it. */
#ifndef FASWEEP_ERROR_H
#define FASWEEP_ERROR_H

#include <stddef.h>

#define FW_ERROR_MAX 512

struct fw_error {
	char msg[FW_ERROR_MAX]; /* one line, no trailing newline */
};

/* Formats the message into err (printf style) unless err is NULL or already
 * holds a message, so the first, most specific failure wins. Returns -1 so
 * callers can write `return fw_error_set(err, ...);`. */
int fw_error_set(struct fw_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Clears err so that it can be reused. */
void fw_error_clear(struct fw_error *err);

#endif
