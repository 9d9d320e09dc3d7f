/* SPDX-License-Identifier: GPL-3.0-or-later */
/* libFuzzer target for the IDX reader: writes each input to an in-memory
 * file, once as it is and once gzip-compressed, and reads both with
 * idx_read_images and idx_read_labels. When a read succeeds, the items it
 * returns are checked against the input. Finding the four MNIST files
 * (dataset_load) is left to test_idx. */
#define _GNU_SOURCE /* memfd_create */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zlib.h>

#include "fasweep/dataset.h"

#define IDX_IMAGES_HEADER 16 /* bytes: magic, count, rows, cols */
#define IDX_LABELS_HEADER 8  /* bytes: magic, count */

/* Aborts with the failed condition, which libFuzzer reports as a crash and
 * saves the input for. */
#define REQUIRE(cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: requirement failed: %s\n",     \
			        __FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes the reader parses, when the target has them in memory. */
struct idx_content {
	const uint8_t *bytes; /* NULL when gzopen decompresses the file */
	size_t size;
};

/* Compresses data into a malloc'ed gzip stream and stores its size. */
static uint8_t *gzip_compress(const uint8_t *data, size_t size, size_t *out)
{
	z_stream zs = {0};
	uint8_t *buf;
	size_t cap;

	/* 15 + 16 window bits: a gzip header and trailer, as gzip(1) writes. */
	REQUIRE(deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8,
	                     Z_DEFAULT_STRATEGY) == Z_OK);
	cap = deflateBound(&zs, (uLong)size);
	buf = malloc(cap);
	REQUIRE(buf != NULL);

	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)size;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	*out = cap - zs.avail_out;
	REQUIRE(deflateEnd(&zs) == Z_OK);
	return buf;
}

/* Checks the result of one reader call. On success the file must have been
 * exactly the header and the items, and the items must be those bytes. */
static void check_read(int rc, const uint8_t *items, size_t n,
                       const struct fw_error *err, size_t header_size,
                       size_t item_size, const struct idx_content *content)
{
	if (rc != 0) {
		REQUIRE(rc == -1);
		REQUIRE(items == NULL);
		REQUIRE(err->msg[0] != '\0');
		REQUIRE(strchr(err->msg, '\n') == NULL);
		return;
	}

	REQUIRE(items != NULL);
	REQUIRE(n >= 1);
	if (content->bytes == NULL)
		return;
	REQUIRE(content->size == header_size + n * item_size);
	REQUIRE(memcmp(items, content->bytes + header_size, n * item_size) ==
	        0);
}

/* Reads the file at path as images and as labels and checks both. */
static void read_both(const char *path, const struct idx_content *content)
{
	struct fw_error err = {{0}};
	uint8_t *items = NULL;
	size_t i, n = 0;
	int rc;

	rc = idx_read_images(path, &items, &n, &err);
	check_read(rc, items, n, &err, IDX_IMAGES_HEADER, DATASET_PIXELS,
	           content);
	free(items);

	fw_error_clear(&err);
	items = NULL;
	rc = idx_read_labels(path, &items, &n, &err);
	check_read(rc, items, n, &err, IDX_LABELS_HEADER, 1, content);
	for (i = 0; rc == 0 && i < n; i++)
		REQUIRE(items[i] < DATASET_CLASSES);
	free(items);
}

/* Writes bytes to a new in-memory file and reads it through its /proc
 * path, which gzopen opens like any other file. */
static void read_from_memory(const uint8_t *bytes, size_t size,
                             const struct idx_content *content)
{
	char path[64];
	int fd = memfd_create("fuzz_idx", 0);

	if (fd < 0) {
		perror("fuzz_idx: memfd_create");
		abort();
	}
	REQUIRE(size == 0 || write(fd, bytes, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	read_both(path, content);
	REQUIRE(close(fd) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_content content = {data, size};
	uint8_t *gz;
	size_t gz_size;

	/* As it is. A file that starts with the gzip magic number is
	 * decompressed by gzopen, so its content is not the input. */
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		content.bytes = NULL;
	read_from_memory(data, size, &content);

	/* Compressed: the decompressed content is always the input. */
	content.bytes = data;
	gz = gzip_compress(data, size, &gz_size);
	read_from_memory(gz, gz_size, &content);
	free(gz);
	return 0;
}
