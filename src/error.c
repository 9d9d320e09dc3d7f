/* SPDX-License-Identifier: GPL-3.0-or-later */
/* error.c - fills struct fw_error; printing is left to the caller. */
#include "fasweep/error.h"

#include <stdarg.h>
#include <stdio.h>

int fw_error_set(struct fw_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->msg[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void fw_error_clear(struct fw_error *err)
{
	if (err != NULL)
		err->msg[0] = '\0';
}
