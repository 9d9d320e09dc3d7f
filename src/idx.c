/* SPDX-License-Identifier: GPL-3.0-or-later */
/* idx.c - reads and validates one MNIST IDX file (images or labels, raw or
 * gzip). Finding the four files and combining them is left to dataset.c. */
#include "fasweep/dataset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_MAX_COUNT    10000000u   /* far above MNIST's 60000 */
#define IDX_CHUNK        (1u << 24)  /* bytes per gzread call */
#define IDX_FIRST_ALLOC  (1u << 26)  /* bytes; later grown by doubling */

/* The layout of one kind of IDX file. */
struct idx_format {
	uint32_t magic;
	size_t header_size; /* bytes: magic, count and for images rows, cols */
	size_t item_size;   /* bytes per image or label */
	const char *items;  /* "images" or "labels", for messages */
	const char *kind;   /* the kind of file, for messages */
};

static const struct idx_format idx_images = {
        .magic = IDX_MAGIC_IMAGES,
        .header_size = 16,
        .item_size = DATASET_PIXELS,
        .items = "images",
        .kind = "an IDX3 file of unsigned-byte images",
};

static const struct idx_format idx_labels = {
        .magic = IDX_MAGIC_LABELS,
        .header_size = 8,
        .item_size = 1,
        .items = "labels",
        .kind = "an IDX1 file of unsigned-byte labels",
};

static uint32_t idx_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads up to len bytes into buf and returns how many it read. A count below
 * len means the data ended or gzread failed, and idx_check_gz distinguishes
 * the two. */
static size_t idx_read_full(gzFile gz, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t want = len - got < IDX_CHUNK ? len - got : IDX_CHUNK;
		int n = gzread(gz, buf + got, (unsigned)want);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* Returns -1 with a message if gzread failed, 0 if the data merely ended.
 * Z_BUF_ERROR means a gzip stream cut off, which the caller reports as a
 * truncated file. */
static int idx_check_gz(gzFile gz, const char *path, struct fw_error *err)
{
	int errnum;
	const char *msg = gzerror(gz, &errnum);

	if (errnum == Z_OK || errnum == Z_BUF_ERROR)
		return 0;
	/* zlib prefixes its message with "path: ", which is stripped here
	 * because the message below starts with the path already. */
	if (strncmp(msg, path, strlen(path)) == 0 &&
	    strncmp(msg + strlen(path), ": ", 2) == 0)
		msg += strlen(path) + 2;

	if (errnum == Z_ERRNO)
		return fw_error_set(err, "%s: read failed: %s; check the file",
		                    path, strerror(errno));
	return fw_error_set(err,
	                    "%s: gzip error: %s; the file is corrupt, fetch it "
	                    "again",
	                    path, msg);
}

/* Names where the data ended: the file itself, or its gzip content. */
static const char *idx_data_name(gzFile gz)
{
	return gzdirect(gz) ? "the file" : "the decompressed gzip data";
}

/* Reads and validates the header; stores the declared item count in *count. */
static int idx_read_header(gzFile gz, const char *path,
                           const struct idx_format *fmt, size_t *count,
                           struct fw_error *err)
{
	uint8_t head[16];
	size_t got = idx_read_full(gz, head, fmt->header_size);
	uint32_t magic, n;

	/* The header must be complete. */
	if (idx_check_gz(gz, path, err))
		return -1;
	if (got == 0)
		return fw_error_set(err, "%s: empty file; fetch the file again",
		                    path);
	if (got < fmt->header_size)
		return fw_error_set(err,
		                    "%s: truncated: %s ends after %zu bytes, "
		                    "inside the %zu-byte IDX header; fetch the "
		                    "file again",
		                    path, idx_data_name(gz), got,
		                    fmt->header_size);

	/* The magic number identifies the kind of file. */
	magic = idx_be32(head);
	if (magic != fmt->magic)
		return fw_error_set(err,
		                    "%s: bad magic number 0x%08x, expected "
		                    "0x%08x (%s); check that this is the right "
		                    "MNIST file",
		                    path, (unsigned)magic, (unsigned)fmt->magic,
		                    fmt->kind);

	/* The count must be plausible. */
	n = idx_be32(head + 4);
	if (n < 1 || n > IDX_MAX_COUNT || n > SIZE_MAX / fmt->item_size)
		return fw_error_set(
		        err,
		        "%s: invalid count: the header declares %u "
		        "%s, expected 1 to %u; fetch the file again",
		        path, (unsigned)n, fmt->items, (unsigned)IDX_MAX_COUNT);

	/* Images must be 28 x 28. */
	if (fmt->magic == IDX_MAGIC_IMAGES &&
	    (idx_be32(head + 8) != DATASET_ROWS ||
	     idx_be32(head + 12) != DATASET_COLS))
		return fw_error_set(err,
		                    "%s: wrong dimensions: images are %u x %u "
		                    "pixels, expected %d x %d; use the MNIST "
		                    "files",
		                    path, (unsigned)idx_be32(head + 8),
		                    (unsigned)idx_be32(head + 12), DATASET_ROWS,
		                    DATASET_COLS);

	*count = n;
	return 0;
}

/* Reads the count items that follow the header into a malloc'ed *data. The
 * buffer grows as data arrives, so a header that declares too many items
 * does not make a short file allocate their full size. */
static int idx_read_body(gzFile gz, const char *path,
                         const struct idx_format *fmt, size_t count,
                         uint8_t **data, struct fw_error *err)
{
	size_t len = count * fmt->item_size; /* bytes declared */
	size_t cap = len < IDX_FIRST_ALLOC ? len : IDX_FIRST_ALLOC;
	size_t got = 0;
	uint8_t *buf = malloc(cap);

	while (buf != NULL) {
		size_t n = idx_read_full(gz, buf + got, cap - got);
		uint8_t *grown;

		got += n;
		if (got < cap || cap == len)
			break;
		cap = cap > len / 2 ? len : 2 * cap;
		grown = realloc(buf, cap);
		if (grown == NULL) {
			free(buf);
			buf = NULL;
		} else {
			buf = grown;
		}
	}
	if (buf == NULL)
		return fw_error_set(err,
		                    "%s: out of memory for %zu %s (%zu bytes); "
		                    "free memory or use a smaller file",
		                    path, count, fmt->items, len);

	/* A short read is a gzip error or a truncated file. */
	if (got < len) {
		free(buf);
		if (idx_check_gz(gz, path, err))
			return -1;
		return fw_error_set(err,
		                    "%s: truncated: the header declares %zu %s "
		                    "(%zu bytes) but %s ends after %zu bytes; "
		                    "fetch the file again",
		                    path, count, fmt->items,
		                    fmt->header_size + len, idx_data_name(gz),
		                    fmt->header_size + got);
	}
	*data = buf;
	return 0;
}

/* Checks that nothing follows the declared items. Reading on to the end also
 * makes zlib verify the gzip trailer's CRC and length. */
static int idx_check_end(gzFile gz, const char *path,
                         const struct idx_format *fmt, size_t count,
                         struct fw_error *err)
{
	uint8_t probe[4096];
	size_t len = fmt->header_size + count * fmt->item_size;
	size_t extra = 0;
	size_t n;

	while ((n = idx_read_full(gz, probe, sizeof(probe))) > 0)
		extra += n;
	if (idx_check_gz(gz, path, err))
		return -1;
	if (extra > 0)
		return fw_error_set(
		        err,
		        "%s: trailing data: the header declares %zu "
		        "%s (%zu bytes) but %s is %zu bytes long; "
		        "fetch the file again",
		        path, count, fmt->items, len, idx_data_name(gz),
		        len + extra);
	return 0;
}

/* Reads a whole IDX file of the given format into a malloc'ed *data. */
static int idx_read(const char *path, const struct idx_format *fmt,
                    uint8_t **data, size_t *n, struct fw_error *err)
{
	gzFile gz;
	size_t count = 0;
	uint8_t *buf = NULL;

	*data = NULL;
	*n = 0;

	/* gzopen reads gzip and raw files alike. */
	errno = 0;
	gz = gzopen(path, "rb");
	if (gz == NULL)
		return fw_error_set(err, "%s: cannot open: %s; check the path",
		                    path,
		                    errno ? strerror(errno) : "out of memory");

	if (idx_read_header(gz, path, fmt, &count, err) ||
	    idx_read_body(gz, path, fmt, count, &buf, err) ||
	    idx_check_end(gz, path, fmt, count, err))
		goto fail;

	if (gzclose(gz) != Z_OK) {
		gz = NULL;
		fw_error_set(err, "%s: closing the file failed; check the file",
		             path);
		goto fail;
	}
	*data = buf;
	*n = count;
	return 0;

fail:
	free(buf);
	if (gz != NULL)
		gzclose(gz);
	return -1;
}

int idx_read_images(const char *path, uint8_t **pixels, size_t *n,
                    struct fw_error *err)
{
	return idx_read(path, &idx_images, pixels, n, err);
}

int idx_read_labels(const char *path, uint8_t **labels, size_t *n,
                    struct fw_error *err)
{
	if (idx_read(path, &idx_labels, labels, n, err))
		return -1;

	/* Every label must name one of the ten classes. */
	for (size_t i = 0; i < *n; i++) {
		if ((*labels)[i] < DATASET_CLASSES)
			continue;
		fw_error_set(err,
		             "%s: invalid label %u at index %zu (counting from "
		             "0), expected 0-%d; fetch the file again",
		             path, (unsigned)(*labels)[i], i,
		             DATASET_CLASSES - 1);
		free(*labels);
		*labels = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
