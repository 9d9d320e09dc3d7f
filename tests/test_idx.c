/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test_idx.c - checks the IDX reader, dataset_load and dataset_split against
 * fixtures written here, raw and gzip. Usage: test_idx SCRATCH_DIR. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "fasweep/dataset.h"
#include "fasweep/rng.h"

#define PATH_LEN 4096 /* fixture paths */
#define DIR_LEN  3072 /* directories, leaving room for a file name */

static int n_checks;
static int n_failed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		n_checks++;                                                    \
		if (!(cond)) {                                                 \
			n_failed++;                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long a_ = (long long)(a);                                 \
		long long b_ = (long long)(b);                                 \
		n_checks++;                                                    \
		if (a_ != b_) {                                                \
			n_failed++;                                            \
			fprintf(stderr,                                        \
			        "%s:%d: %s == %s failed: %lld != %lld\n",      \
			        __FILE__, __LINE__, #a, #b, a_, b_);           \
		}                                                              \
	} while (0)

/* Checks that the message msg contains needle. */
#define CHECK_HAS(msg, needle)                                                 \
	do {                                                                   \
		n_checks++;                                                    \
		if (strstr((msg), (needle)) == NULL) {                         \
			n_failed++;                                            \
			fprintf(stderr,                                        \
			        "%s:%d: message lacks \"%s\": \"%s\"\n",       \
			        __FILE__, __LINE__, (needle), (msg));          \
		}                                                              \
	} while (0)

/* Checks that no error message was set. */
#define CHECK_NO_MSG(msg)                                                      \
	do {                                                                   \
		n_checks++;                                                    \
		if ((msg)[0] != '\0') {                                        \
			n_failed++;                                            \
			fprintf(stderr, "%s:%d: unexpected error: \"%s\"\n",   \
			        __FILE__, __LINE__, (msg));                    \
		}                                                              \
	} while (0)

/* Reports which table case a failure came from. */
static void note_case(int n_failed_before, const char *name)
{
	if (n_failed > n_failed_before)
		fprintf(stderr, "  (in case %s)\n", name);
}

/* How a fixture reaches the disk. */
enum encoding {
	ENC_RAW,
	ENC_GZIP,
	ENC_GZIP_BAD_BLOCK, /* first deflate byte 0xff: invalid block type */
	ENC_GZIP_BAD_CRC,   /* CRC-32 in the gzip trailer flipped */
	ENC_GZIP_CUT,       /* compressed file cut in half */
	ENC_MISSING         /* no file at all */
};

/* One IDX file to write: its header and how much data really follows. */
struct fixture {
	const char *name;    /* file name in the scratch directory */
	int is_labels;       /* 1: 8-byte label header, else 16-byte images */
	uint32_t magic;      /* as stored in the header */
	uint32_t count;      /* as stored in the header */
	uint32_t rows, cols; /* images only */
	size_t n_items;      /* images or labels actually written */
	size_t n_extra;      /* bytes appended after the items */
	long bad_label_at;   /* index of a label set to 10, or -1 */
	long keep;           /* bytes of the raw data kept, or -1 for all */
	enum encoding enc;
	uint32_t salt;      /* varies the data between files */
	const char *phrase; /* expected in the error message */
};

/* Returns a deterministic, poorly compressible byte for item i, byte k. */
static uint8_t pixel(uint32_t salt, size_t i, size_t k)
{
	uint32_t x = salt * 0x9e3779b9u ^ (uint32_t)(i * 784 + k) * 0x85ebca6bu;

	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return (uint8_t)x;
}

static uint8_t label_of(uint32_t salt, size_t i)
{
	return (uint8_t)((i + salt) % 10);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Builds the uncompressed bytes of f in a malloc'ed buffer. */
static uint8_t *fixture_bytes(const struct fixture *f, size_t *len)
{
	size_t head = f->is_labels ? 8 : 16;
	size_t item = f->is_labels ? 1 : DATASET_PIXELS;
	size_t n = head + f->n_items * item + f->n_extra;
	uint8_t *buf = malloc(n + 1);

	if (buf == NULL)
		abort();
	put_be32(buf, f->magic);
	put_be32(buf + 4, f->count);
	if (!f->is_labels) {
		put_be32(buf + 8, f->rows);
		put_be32(buf + 12, f->cols);
	}
	for (size_t i = 0; i < f->n_items; i++)
		for (size_t k = 0; k < item; k++)
			buf[head + i * item + k] =
			        f->is_labels ? label_of(f->salt, i)
			                     : pixel(f->salt, i, k);
	if (f->is_labels && f->bad_label_at >= 0)
		buf[head + (size_t)f->bad_label_at] = 10;
	memset(buf + head + f->n_items * item, 0x5a, f->n_extra);

	*len = f->keep >= 0 && (size_t)f->keep < n ? (size_t)f->keep : n;
	return buf;
}

/* Writes len bytes to path with stdio; exits on failure. */
static void write_raw(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
		fprintf(stderr, "%s: cannot write fixture: %s\n", path,
		        strerror(errno));
		exit(2);
	}
}

/* Writes len bytes to path as gzip through zlib; exits on failure. */
static void write_gzip(const char *path, const uint8_t *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb");

	if (gz == NULL ||
	    (len > 0 && gzwrite(gz, buf, (unsigned)len) != (int)len) ||
	    gzclose(gz) != Z_OK) {
		fprintf(stderr, "%s: cannot write gzip fixture\n", path);
		exit(2);
	}
}

/* Reads the whole file at path into a malloc'ed buffer; exits on failure. */
static uint8_t *read_whole(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	if (fp == NULL || buf == NULL) {
		fprintf(stderr, "%s: cannot read fixture back\n", path);
		exit(2);
	}
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

/* Writes a gzip file and then damages it as enc specifies. */
static void write_damaged_gzip(const char *path, const uint8_t *buf, size_t len,
                               enum encoding enc)
{
	size_t n;
	uint8_t *gz;

	write_gzip(path, buf, len);
	gz = read_whole(path, &n);
	if (enc == ENC_GZIP_BAD_BLOCK)
		gz[10] = 0xff; /* zlib writes a 10-byte gzip header */
	if (enc == ENC_GZIP_BAD_CRC)
		gz[n - 8] ^= 0xff;
	if (enc == ENC_GZIP_CUT)
		n /= 2;
	write_raw(path, gz, n);
	free(gz);
}

/* Writes fixture f as dir/f->name (or removes it for ENC_MISSING) and
 * stores the path in path_out. */
static void fixture_write(const char *dir, const struct fixture *f,
                          char *path_out, size_t size)
{
	size_t len;
	uint8_t *buf;

	snprintf(path_out, size, "%s/%s", dir, f->name);
	if (f->enc == ENC_MISSING) {
		unlink(path_out);
		return;
	}
	buf = fixture_bytes(f, &len);
	if (f->enc == ENC_RAW)
		write_raw(path_out, buf, len);
	else if (f->enc == ENC_GZIP)
		write_gzip(path_out, buf, len);
	else
		write_damaged_gzip(path_out, buf, len, f->enc);
	free(buf);
}

/* Creates path and its missing parents. */
static void make_dirs(const char *path)
{
	char buf[PATH_LEN];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
			fprintf(stderr, "%s: cannot create: %s\n", buf,
			        strerror(errno));
			exit(2);
		}
		*p = c;
		if (c == '\0')
			return;
	}
}

#define IMAGES(name, count, n_items, salt)                                     \
	{                                                                      \
		name, 0, 0x803, count, 28, 28, n_items, 0, -1, -1, ENC_RAW,    \
		        salt, ""                                               \
	}
#define LABELS(name, count, n_items, salt)                                     \
	{                                                                      \
		name, 1, 0x801, count, 0, 0, n_items, 0, -1, -1, ENC_RAW,      \
		        salt, ""                                               \
	}

/* Reads valid files, raw and gzip, and compares every byte. */
static void test_good_files(const char *dir)
{
	struct fixture cases[] = {
	        IMAGES("good_images", 3, 3, 1),
	        IMAGES("good_images.gz", 3, 3, 2),
	        IMAGES("raw_named_images.gz", 2, 2, 3),
	        LABELS("good_labels", 25, 25, 4),
	        LABELS("good_labels.gz", 25, 25, 5),
	};
	char path[PATH_LEN];

	cases[1].enc = ENC_GZIP;
	cases[4].enc = ENC_GZIP;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct fixture *f = &cases[c];
		struct fw_error err = {{0}};
		int before = n_failed;
		uint8_t *data = NULL;
		uint8_t *want;
		size_t n = 0, len;
		int rc;

		fixture_write(dir, f, path, sizeof(path));
		rc = f->is_labels ? idx_read_labels(path, &data, &n, &err)
		                  : idx_read_images(path, &data, &n, &err);
		CHECK_INT(rc, 0);
		CHECK_NO_MSG(err.msg);
		CHECK_INT(n, f->count);
		CHECK(data != NULL);
		want = fixture_bytes(f, &len);
		if (data != NULL && n == f->count)
			CHECK(memcmp(data, want + (f->is_labels ? 8 : 16),
			             len - (f->is_labels ? 8 : 16)) == 0);
		free(want);
		free(data);
		note_case(before, f->name);
	}
}

/* Reads invalid files; each must fail with the path and the problem. */
static void test_bad_files(const char *dir)
{
	struct fixture cases[] = {
	        IMAGES("img_bad_magic", 3, 3, 1),
	        IMAGES("img_27x28", 3, 3, 1),
	        IMAGES("img_zero_count", 0, 0, 1),
	        IMAGES("img_huge_count", 10000001, 1, 1),
	        IMAGES("img_truncated", 3, 1, 1),
	        IMAGES("img_trailing", 2, 2, 1),
	        IMAGES("img_header_cut", 3, 3, 1),
	        IMAGES("img_empty", 3, 3, 1),
	        IMAGES("img_truncated.gz", 3, 2, 1),
	        IMAGES("img_bad_block.gz", 3, 3, 1),
	        IMAGES("img_bad_crc.gz", 3, 3, 1),
	        IMAGES("img_cut.gz", 3, 3, 1),
	        IMAGES("img_missing", 3, 3, 1),
	        LABELS("lbl_bad_magic", 10, 10, 1),
	        LABELS("lbl_zero_count", 0, 0, 1),
	        LABELS("lbl_truncated", 10, 4, 1),
	        LABELS("lbl_trailing", 10, 10, 1),
	        LABELS("lbl_label_10", 10, 10, 1),
	        LABELS("lbl_label_10.gz", 10, 10, 1),
	        LABELS("lbl_bad_crc.gz", 10, 10, 1),
	};
	char path[PATH_LEN];
	size_t c = 0;

	/* Each case differs from a valid file as set here, with its phrase. */
	cases[c].magic = 0x801;
	cases[c++].phrase = "bad magic number 0x00000801, expected 0x00000803";
	cases[c].rows = 27;
	cases[c++].phrase = "wrong dimensions: images are 27 x 28 pixels";
	cases[c++].phrase = "invalid count: the header declares 0 images";
	cases[c++].phrase = "the header declares 10000001 images";
	cases[c].n_extra = 100;
	cases[c++].phrase = "truncated: the header declares 3 images "
	                    "(2368 bytes) but the file ends after 900 bytes";
	cases[c].n_extra = 5;
	cases[c++].phrase = "trailing data: the header declares 2 images "
	                    "(1584 bytes) but the file is 1589 bytes long";
	cases[c].keep = 5;
	cases[c++].phrase = "truncated: the file ends after 5 bytes, inside "
	                    "the 16-byte IDX header";
	cases[c].keep = 0;
	cases[c++].phrase = "empty file";
	cases[c].enc = ENC_GZIP;
	cases[c++].phrase = "truncated: the header declares 3 images (2368 "
	                    "bytes) but the decompressed gzip data ends after "
	                    "1584 bytes";
	cases[c].enc = ENC_GZIP_BAD_BLOCK;
	cases[c++].phrase = "gzip error: invalid block type";
	cases[c].enc = ENC_GZIP_BAD_CRC;
	cases[c++].phrase = "gzip error: incorrect data check";
	cases[c].enc = ENC_GZIP_CUT;
	cases[c++].phrase = "truncated";
	cases[c].enc = ENC_MISSING;
	cases[c++].phrase = "cannot open: No such file or directory";
	cases[c].magic = 0x803;
	cases[c++].phrase = "bad magic number 0x00000803, expected 0x00000801";
	cases[c++].phrase = "invalid count: the header declares 0 labels";
	cases[c++].phrase = "truncated: the header declares 10 labels "
	                    "(18 bytes) but the file ends after 12 bytes";
	cases[c].n_extra = 1;
	cases[c++].phrase = "trailing data: the header declares 10 labels "
	                    "(18 bytes) but the file is 19 bytes long";
	cases[c].bad_label_at = 7;
	cases[c++].phrase = "invalid label 10 at index 7";
	cases[c].bad_label_at = 7;
	cases[c].enc = ENC_GZIP;
	cases[c++].phrase = "invalid label 10 at index 7";
	cases[c].enc = ENC_GZIP_BAD_CRC;
	cases[c++].phrase = "gzip error: incorrect data check";
	CHECK_INT(c, sizeof(cases) / sizeof(cases[0]));

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct fixture *f = &cases[c];
		struct fw_error err = {{0}};
		int before = n_failed;
		uint8_t *data = (uint8_t *)&err; /* must come back NULL */
		size_t n = 99;
		int rc;

		fixture_write(dir, f, path, sizeof(path));
		rc = f->is_labels ? idx_read_labels(path, &data, &n, &err)
		                  : idx_read_images(path, &data, &n, &err);
		CHECK_INT(rc, -1);
		CHECK(data == NULL);
		CHECK_INT(n, 0);
		CHECK(strncmp(err.msg, path, strlen(path)) == 0);
		CHECK_HAS(err.msg, f->phrase);
		CHECK(strchr(err.msg, '\n') == NULL);
		note_case(before, f->name);
	}
}

static const char *const mnist_names[4] = {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
};

/* Writes the four files of a dataset into dir: 5 train and 3 t10k images,
 * file k gzip when gzip_mask has bit k. */
static void write_dataset(const char *dir, unsigned gzip_mask)
{
	struct fixture files[4] = {
	        IMAGES("", 5, 5, 11),
	        LABELS("", 5, 5, 12),
	        IMAGES("", 3, 3, 13),
	        LABELS("", 3, 3, 14),
	};
	char name[64];
	char path[PATH_LEN];

	make_dirs(dir);
	for (int k = 0; k < 4; k++) {
		int gz = (gzip_mask >> k) & 1;

		/* Leave only the one form of the name. */
		snprintf(path, sizeof(path), "%s/%s%s", dir, mnist_names[k],
		         gz ? "" : ".gz");
		unlink(path);
		snprintf(name, sizeof(name), "%s%s", mnist_names[k],
		         gz ? ".gz" : "");
		files[k].name = name;
		files[k].enc = gz ? ENC_GZIP : ENC_RAW;
		fixture_write(dir, &files[k], path, sizeof(path));
	}
}

/* Loads a complete directory mixing raw and gzip files. */
static void test_load_good(const char *scratch)
{
	struct dataset ds;
	struct fw_error err = {{0}};
	char dir[DIR_LEN];
	char path[PATH_LEN];

	snprintf(dir, sizeof(dir), "%s/ds_good", scratch);
	write_dataset(dir, 0x6); /* train labels and t10k images gzip */

	CHECK_INT(dataset_load(&ds, dir, &err), 0);
	CHECK_NO_MSG(err.msg);
	CHECK_INT(ds.n_train_file, 5);
	CHECK_INT(ds.n_test_file, 3);
	CHECK_INT(ds.n_images, 8);
	if (ds.images == NULL || ds.labels == NULL || ds.n_images != 8) {
		CHECK(0);
		dataset_free(&ds);
		return;
	}

	/* Train file first, then t10k. */
	for (size_t i = 0; i < 8; i++) {
		uint32_t salt = i < 5 ? 11 : 13;
		size_t j = i < 5 ? i : i - 5;
		int same = 1;

		for (size_t k = 0; k < DATASET_PIXELS; k++)
			same &= ds.images[i * DATASET_PIXELS + k] ==
			        pixel(salt, j, k);
		CHECK(same);
		CHECK_INT(ds.labels[i], label_of(i < 5 ? 12 : 14, j));
	}
	dataset_free(&ds);
	CHECK(ds.images == NULL);
	CHECK(ds.labels == NULL);
	CHECK_INT(ds.n_images, 0);

	/* With both forms present, the uncompressed one is read. */
	snprintf(path, sizeof(path), "%s/train-images-idx3-ubyte.gz", dir);
	write_gzip(path, (const uint8_t *)"not an IDX file", 15);
	CHECK_INT(dataset_load(&ds, dir, &err), 0);
	CHECK_INT(ds.n_train_file, 5);
	dataset_free(&ds);
}

/* Each of the four files missing in turn, and a missing directory. */
static void test_load_missing(const char *scratch)
{
	char dir[DIR_LEN];
	char path[PATH_LEN];
	char want[256];

	for (int k = 0; k < 4; k++) {
		struct dataset ds;
		struct fw_error err = {{0}};
		int before = n_failed;

		snprintf(dir, sizeof(dir), "%s/ds_missing_%d", scratch, k);
		write_dataset(dir, 0x0);
		snprintf(path, sizeof(path), "%s/%s", dir, mnist_names[k]);
		unlink(path);

		CHECK_INT(dataset_load(&ds, dir, &err), -1);
		CHECK(ds.images == NULL);
		CHECK_INT(ds.n_images, 0);
		CHECK(strncmp(err.msg, dir, strlen(dir)) == 0);
		snprintf(want, sizeof(want), "%s not found (nor %s.gz)",
		         mnist_names[k], mnist_names[k]);
		CHECK_HAS(err.msg, want);
		CHECK_HAS(err.msg, "jobs/fetch_mnist.sh");
		note_case(before, mnist_names[k]);
	}

	struct dataset ds;
	struct fw_error err = {{0}};

	snprintf(dir, sizeof(dir), "%s/ds_no_such_dir", scratch);
	CHECK_INT(dataset_load(&ds, dir, &err), -1);
	CHECK(strncmp(err.msg, dir, strlen(dir)) == 0);
	CHECK_HAS(err.msg, "data directory not found");
}

/* Mismatched counts and an invalid file inside an otherwise good set. */
static void test_load_invalid(const char *scratch)
{
	struct fixture short_labels =
	        LABELS("train-labels-idx1-ubyte", 4, 4, 12);
	struct fixture bad_labels = LABELS("t10k-labels-idx1-ubyte", 3, 3, 14);
	struct dataset ds;
	struct fw_error err = {{0}};
	char dir[DIR_LEN];
	char path[PATH_LEN];
	char want[PATH_LEN + 64];

	/* Train images 5, train labels 4. */
	snprintf(dir, sizeof(dir), "%s/ds_mismatch", scratch);
	write_dataset(dir, 0x0);
	fixture_write(dir, &short_labels, path, sizeof(path));
	CHECK_INT(dataset_load(&ds, dir, &err), -1);
	CHECK(ds.images == NULL);
	CHECK_INT(ds.n_images, 0);
	snprintf(want, sizeof(want),
	         "%s/train-images-idx3-ubyte: contains 5 "
	         "images but ",
	         dir);
	CHECK_HAS(err.msg, want);
	snprintf(want, sizeof(want),
	         "%s/train-labels-idx1-ubyte contains 4 "
	         "labels",
	         dir);
	CHECK_HAS(err.msg, want);

	/* A label 10 in the t10k labels. */
	fw_error_clear(&err);
	snprintf(dir, sizeof(dir), "%s/ds_bad_label", scratch);
	write_dataset(dir, 0x0);
	bad_labels.bad_label_at = 2;
	fixture_write(dir, &bad_labels, path, sizeof(path));
	CHECK_INT(dataset_load(&ds, dir, &err), -1);
	CHECK(ds.images == NULL);
	CHECK(ds.labels == NULL);
	CHECK_INT(ds.n_images, 0);
	CHECK(strncmp(err.msg, path, strlen(path)) == 0);
	CHECK_HAS(err.msg, "invalid label 10 at index 2");
}

/* Marks each index in seen[]; returns 0 if one repeats or is out of range. */
static int mark_all(const uint32_t *idx, size_t n, size_t lo, size_t hi,
                    unsigned char *seen)
{
	for (size_t i = 0; i < n; i++) {
		if (idx[i] < lo || idx[i] >= hi || seen[idx[i]])
			return 0;
		seen[idx[i]] = 1;
	}
	return 1;
}

/* A dataset with counts only: dataset_split reads nothing else. */
static const struct dataset split_ds = {
        .n_images = 700,
        .n_train_file = 600,
        .n_test_file = 100,
};

static void test_split_pooled(void)
{
	struct split s, again, other;
	struct fw_error err = {{0}};
	unsigned char seen[700] = {0};
	size_t from_t10k = 0;

	CHECK_INT(dataset_split(&split_ds, SPLIT_POOLED, 500, 150, 7, 32, &s,
	                        &err),
	          0);
	CHECK_INT(s.n_train, 500);
	CHECK_INT(s.n_test, 150);

	/* Distinct, in range, train and test disjoint. */
	CHECK(mark_all(s.train, s.n_train, 0, 700, seen));
	CHECK(mark_all(s.test, s.n_test, 0, 700, seen));

	/* Same arguments, same draw. */
	CHECK_INT(dataset_split(&split_ds, SPLIT_POOLED, 500, 150, 7, 32,
	                        &again, &err),
	          0);
	CHECK(memcmp(s.train, again.train, 500 * sizeof(uint32_t)) == 0);
	CHECK(memcmp(s.test, again.test, 150 * sizeof(uint32_t)) == 0);
	split_free(&again);

	/* Another seed or hidden size, another draw. */
	CHECK_INT(dataset_split(&split_ds, SPLIT_POOLED, 500, 150, 8, 32,
	                        &other, &err),
	          0);
	CHECK(memcmp(s.train, other.train, 500 * sizeof(uint32_t)) != 0);
	split_free(&other);
	CHECK_INT(dataset_split(&split_ds, SPLIT_POOLED, 500, 150, 7, 64,
	                        &other, &err),
	          0);
	CHECK(memcmp(s.train, other.train, 500 * sizeof(uint32_t)) != 0);
	split_free(&other);
	split_free(&s);
	CHECK(s.train == NULL);
	CHECK(s.test == NULL);
	CHECK_INT(s.n_train, 0);

	/* A small pooled draw still reaches the t10k part. */
	CHECK_INT(
	        dataset_split(&split_ds, SPLIT_POOLED, 50, 20, 7, 32, &s, &err),
	        0);
	for (size_t i = 0; i < s.n_train; i++)
		from_t10k += s.train[i] >= 600;
	for (size_t i = 0; i < s.n_test; i++)
		from_t10k += s.test[i] >= 600;
	CHECK(from_t10k > 0);
	split_free(&s);
}

static void test_split_standard(void)
{
	struct split s;
	struct fw_error err = {{0}};
	unsigned char seen[700] = {0};

	CHECK_INT(dataset_split(&split_ds, SPLIT_STANDARD, 300, 80, 7, 32, &s,
	                        &err),
	          0);
	CHECK(mark_all(s.train, s.n_train, 0, 600, seen));
	CHECK(mark_all(s.test, s.n_test, 600, 700, seen));
	split_free(&s);

	/* The whole of both files: each index exactly once. */
	memset(seen, 0, sizeof(seen));
	CHECK_INT(dataset_split(&split_ds, SPLIT_STANDARD, 600, 100, 7, 32, &s,
	                        &err),
	          0);
	CHECK(mark_all(s.train, s.n_train, 0, 600, seen));
	CHECK(mark_all(s.test, s.n_test, 600, 700, seen));
	CHECK(memchr(seen, 0, sizeof(seen)) == NULL);
	split_free(&s);
}

/* Replays the partial Fisher-Yates shuffle on the stream. */
static void replay_draw(uint32_t first, size_t n_pool, size_t n_draw,
                        uint32_t index, uint32_t *out)
{
	uint32_t pool[700];
	struct rng r;

	rng_init(&r, 7, 32, RNG_SPLIT, index);
	for (size_t k = 0; k < n_pool; k++)
		pool[k] = first + (uint32_t)k;
	for (size_t i = 0; i < n_draw; i++) {
		size_t j = i + (size_t)rng_below(&r, n_pool - i);
		uint32_t t = pool[i];

		pool[i] = pool[j];
		pool[j] = t;
	}
	memcpy(out, pool, n_draw * sizeof(uint32_t));
}

/* The draw is part of the reproducibility contract: pooled takes stream
 * index 0 over all images; standard index 0 for train, 1 for t10k. */
static void test_split_stream(void)
{
	struct split s;
	struct fw_error err = {{0}};
	uint32_t want[700];

	CHECK_INT(
	        dataset_split(&split_ds, SPLIT_POOLED, 40, 30, 7, 32, &s, &err),
	        0);
	replay_draw(0, 700, 70, 0, want);
	CHECK(memcmp(s.train, want, 40 * sizeof(uint32_t)) == 0);
	CHECK(memcmp(s.test, want + 40, 30 * sizeof(uint32_t)) == 0);
	split_free(&s);

	CHECK_INT(dataset_split(&split_ds, SPLIT_STANDARD, 40, 30, 7, 32, &s,
	                        &err),
	          0);
	replay_draw(0, 600, 40, 0, want);
	CHECK(memcmp(s.train, want, 40 * sizeof(uint32_t)) == 0);
	replay_draw(600, 100, 30, 1, want);
	CHECK(memcmp(s.test, want, 30 * sizeof(uint32_t)) == 0);
	split_free(&s);
}

static void test_split_too_large(void)
{
	static const struct {
		enum split_kind kind;
		size_t n_train, n_test;
		const char *phrase;
	} cases[] = {
	        {SPLIT_POOLED, 600, 101,
	         "split = pooled: n_train + n_test = 701 exceeds the 700 "
	         "images loaded"},
	        {SPLIT_POOLED, 701, 0, "n_train + n_test = 701 exceeds"},
	        {SPLIT_STANDARD, 601, 10,
	         "split = standard: n_train = 601 exceeds the 600 images of "
	         "the train file"},
	        {SPLIT_STANDARD, 10, 101,
	         "split = standard: n_test = 101 exceeds the 100 images of the "
	         "t10k file"},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct split s;
		struct fw_error err = {{0}};
		int before = n_failed;
		char name[32];

		CHECK_INT(dataset_split(&split_ds, cases[c].kind,
		                        cases[c].n_train, cases[c].n_test, 7,
		                        32, &s, &err),
		          -1);
		CHECK(s.train == NULL);
		CHECK(s.test == NULL);
		CHECK_HAS(err.msg, cases[c].phrase);
		snprintf(name, sizeof(name), "too large %zu", c);
		note_case(before, name);
	}
}

int main(int argc, char **argv)
{
	char dir[DIR_LEN];
	struct dataset zero_ds = {0};
	struct split zero_split = {0};

	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	if (strlen(argv[1]) > DIR_LEN - 64) {
		fprintf(stderr, "%s: scratch path too long\n", argv[1]);
		return 2;
	}
	make_dirs(argv[1]);
	snprintf(dir, sizeof(dir), "%s/files", argv[1]);
	make_dirs(dir);

	test_good_files(dir);
	test_bad_files(dir);
	test_load_good(argv[1]);
	test_load_missing(argv[1]);
	test_load_invalid(argv[1]);
	test_split_pooled();
	test_split_standard();
	test_split_stream();
	test_split_too_large();

	/* Freeing zeroed structs is allowed. */
	dataset_free(&zero_ds);
	split_free(&zero_split);

	printf("test_idx: %d checks, %d failed\n", n_checks, n_failed);
	return n_failed ? 1 : 0;
}
