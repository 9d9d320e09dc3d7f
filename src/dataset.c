/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dataset.c - finds and loads the four MNIST files of a directory into one
 * struct dataset and draws the training and test images of a trial. Parsing
 * an IDX file is left to idx.c, training to trainer.c. */
#include "fasweep/dataset.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fasweep/rng.h"

#define DATASET_FETCH_HINT                                                     \
	"fetch MNIST with jobs/fetch_mnist.sh, or point dir in [data] or "     \
	"--data at the MNIST files"

/* One pair of image and label files as loaded. */
struct dataset_part {
	uint8_t *images; /* n x 784 */
	uint8_t *labels; /* n */
	size_t n;
};

/* Returns a malloc'ed "dir/name<suffix>", or NULL when out of memory. An
 * empty dir means the current directory. */
static char *dataset_join(const char *dir, const char *name, const char *suffix)
{
	size_t len = strlen(dir);
	const char *sep = len == 0 || dir[len - 1] == '/' ? "" : "/";
	size_t size = len + strlen(sep) + strlen(name) + strlen(suffix) + 1;
	char *path = malloc(size);

	if (path != NULL)
		snprintf(path, size, "%s%s%s%s", dir, sep, name, suffix);
	return path;
}

/* Checks that dir exists and is a directory. */
static int dataset_check_dir(const char *dir, struct fw_error *err)
{
	struct stat st;

	if (stat(dir[0] ? dir : ".", &st) != 0) {
		char cwd[512] = "";

		/* A relative path is the usual mistake in batch jobs, which
		 * start in another directory: name the one it was tried in. */
		if (dir[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
			cwd[0] = '\0';
		return fw_error_set(
		        err, "%s: data directory not found (%s%s%s); %s", dir,
		        strerror(errno), cwd[0] ? ", relative to " : "", cwd,
		        DATASET_FETCH_HINT);
	}
	if (!S_ISDIR(st.st_mode))
		return fw_error_set(
		        err,
		        "%s: not a directory; point dir in [data] or "
		        "--data at the directory of the MNIST files",
		        dir);
	return 0;
}

/* Stores in *path the malloc'ed path of name in dir, or of name.gz when only
 * that exists. */
static int dataset_find(const char *dir, const char *name, char **path,
                        struct fw_error *err)
{
	static const char *const suffixes[] = {"", ".gz"};
	struct stat st;

	*path = NULL;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		char *candidate = dataset_join(dir, name, suffixes[i]);

		if (candidate == NULL)
			return fw_error_set(err, "%s: out of memory", dir);
		if (stat(candidate, &st) == 0) {
			*path = candidate;
			return 0;
		}
		if (errno != ENOENT) {
			fw_error_set(err,
			             "%s: cannot access: %s; check the "
			             "permissions",
			             candidate, strerror(errno));
			free(candidate);
			return -1;
		}
		free(candidate);
	}
	return fw_error_set(err, "%s: %s not found (nor %s.gz); %s", dir, name,
	                    name, DATASET_FETCH_HINT);
}

/* Loads one image file and its label file, whose counts must match. */
static int dataset_load_part(const char *dir, const char *images_name,
                             const char *labels_name, struct dataset_part *part,
                             struct fw_error *err)
{
	char *images_path = NULL;
	char *labels_path = NULL;
	size_t n_labels = 0;
	int status = -1;

	if (dataset_find(dir, images_name, &images_path, err) ||
	    dataset_find(dir, labels_name, &labels_path, err) ||
	    idx_read_images(images_path, &part->images, &part->n, err) ||
	    idx_read_labels(labels_path, &part->labels, &n_labels, err))
		goto out;

	if (n_labels != part->n) {
		fw_error_set(
		        err,
		        "%s: contains %zu images but %s contains %zu labels; "
		        "the counts must match, fetch both files again",
		        images_path, part->n, labels_path, n_labels);
		goto out;
	}
	status = 0;

out:
	free(labels_path);
	free(images_path);
	return status;
}

/* Moves both parts into ds, train first, growing train's arrays in place. */
static int dataset_concat(struct dataset *ds, struct dataset_part *train,
                          struct dataset_part *test, const char *dir,
                          struct fw_error *err)
{
	size_t n = train->n + test->n;
	uint8_t *images = realloc(train->images, n * DATASET_PIXELS);
	uint8_t *labels;

	if (images == NULL)
		return fw_error_set(err, "%s: out of memory for %zu images",
		                    dir, n);
	train->images = images;
	labels = realloc(train->labels, n);
	if (labels == NULL)
		return fw_error_set(err, "%s: out of memory for %zu labels",
		                    dir, n);
	train->labels = labels;

	/* The t10k images follow the train images. */
	memcpy(images + train->n * DATASET_PIXELS, test->images,
	       test->n * DATASET_PIXELS);
	memcpy(labels + train->n, test->labels, test->n);

	ds->images = images;
	ds->labels = labels;
	ds->n_images = n;
	ds->n_train_file = train->n;
	ds->n_test_file = test->n;
	train->images = NULL;
	train->labels = NULL;
	return 0;
}

int dataset_load(struct dataset *ds, const char *dir, struct fw_error *err)
{
	struct dataset_part train = {0};
	struct dataset_part test = {0};
	int status = 0;

	memset(ds, 0, sizeof(*ds));
	if (dataset_check_dir(dir, err) ||
	    dataset_load_part(dir, "train-images-idx3-ubyte",
	                      "train-labels-idx1-ubyte", &train, err) ||
	    dataset_load_part(dir, "t10k-images-idx3-ubyte",
	                      "t10k-labels-idx1-ubyte", &test, err) ||
	    dataset_concat(ds, &train, &test, dir, err))
		status = -1;

	/* Whatever dataset_concat did not move into ds. */
	free(test.labels);
	free(test.images);
	free(train.labels);
	free(train.images);
	return status;
}

void dataset_free(struct dataset *ds)
{
	free(ds->labels);
	free(ds->images);
	memset(ds, 0, sizeof(*ds));
}

/* Checks that the requested images exist in ds. */
static int dataset_check_request(const struct dataset *ds, enum split_kind kind,
                                 size_t n_train, size_t n_test,
                                 struct fw_error *err)
{
	if (kind == SPLIT_POOLED) {
		if (n_train > ds->n_images || n_test > ds->n_images - n_train)
			return fw_error_set(err,
			                    "split = pooled: n_train + n_test "
			                    "= %zu exceeds the %zu images "
			                    "loaded; lower n_train or n_test",
			                    n_train + n_test, ds->n_images);
		return 0;
	}
	if (n_train > ds->n_train_file)
		return fw_error_set(err,
		                    "split = standard: n_train = %zu exceeds "
		                    "the %zu images of the train file; lower "
		                    "n_train",
		                    n_train, ds->n_train_file);
	if (n_test > ds->n_test_file)
		return fw_error_set(
		        err,
		        "split = standard: n_test = %zu exceeds the "
		        "%zu images of the t10k file; lower n_test",
		        n_test, ds->n_test_file);
	return 0;
}

/* Returns a malloc'ed array of the n_pool indices first .. first + n_pool - 1
 * whose first n_draw entries are a uniform draw without replacement, in drawn
 * order (a partial Fisher-Yates shuffle), or NULL when out of memory. */
static uint32_t *dataset_draw(size_t first, size_t n_pool, size_t n_draw,
                              struct rng *r)
{
	uint32_t *pool = malloc((n_pool ? n_pool : 1) * sizeof(*pool));

	if (pool == NULL)
		return NULL;
	for (size_t k = 0; k < n_pool; k++)
		pool[k] = (uint32_t)(first + k);

	for (size_t i = 0; i < n_draw; i++) {
		size_t j = i + (size_t)rng_below(r, n_pool - i);
		uint32_t swap = pool[i];

		pool[i] = pool[j];
		pool[j] = swap;
	}
	return pool;
}

/* Fills the allocated out. Pooled takes train and then test from one draw
 * over all images with stream index 0. Standard draws train from the train
 * file with index 0 and test from the t10k file with index 1. */
static int dataset_fill_split(const struct dataset *ds, enum split_kind kind,
                              uint64_t seed, uint32_t n_hidden,
                              struct split *out)
{
	struct rng r;
	uint32_t *pool;
	uint32_t *test_pool;

	rng_init(&r, seed, n_hidden, RNG_SPLIT, 0);
	if (kind == SPLIT_POOLED) {
		pool = dataset_draw(0, ds->n_images, out->n_train + out->n_test,
		                    &r);
		if (pool == NULL)
			return -1;
		memcpy(out->train, pool, out->n_train * sizeof(*pool));
		memcpy(out->test, pool + out->n_train,
		       out->n_test * sizeof(*pool));
		free(pool);
		return 0;
	}

	pool = dataset_draw(0, ds->n_train_file, out->n_train, &r);
	rng_init(&r, seed, n_hidden, RNG_SPLIT, 1);
	test_pool = dataset_draw(ds->n_train_file, ds->n_test_file, out->n_test,
	                         &r);
	if (pool != NULL && test_pool != NULL) {
		memcpy(out->train, pool, out->n_train * sizeof(*pool));
		memcpy(out->test, test_pool, out->n_test * sizeof(*pool));
	}
	free(test_pool);
	free(pool);
	return pool != NULL && test_pool != NULL ? 0 : -1;
}

int dataset_split(const struct dataset *ds, enum split_kind kind,
                  size_t n_train, size_t n_test, uint64_t seed,
                  uint32_t n_hidden, struct split *out, struct fw_error *err)
{
	memset(out, 0, sizeof(*out));
	assert(kind == SPLIT_POOLED || kind == SPLIT_STANDARD);
	assert(ds->n_images == ds->n_train_file + ds->n_test_file);
	assert(ds->n_images <= UINT32_MAX);

	if (dataset_check_request(ds, kind, n_train, n_test, err))
		return -1;

	/* malloc(0) may return NULL, so empty lists get one slot. */
	out->train = malloc((n_train ? n_train : 1) * sizeof(*out->train));
	out->test = malloc((n_test ? n_test : 1) * sizeof(*out->test));
	out->n_train = n_train;
	out->n_test = n_test;
	if (out->train == NULL || out->test == NULL ||
	    dataset_fill_split(ds, kind, seed, n_hidden, out)) {
		split_free(out);
		return fw_error_set(err,
		                    "split: out of memory drawing from %zu "
		                    "images; free memory",
		                    ds->n_images);
	}
	return 0;
}

void split_free(struct split *s)
{
	free(s->test);
	free(s->train);
	memset(s, 0, sizeof(*s));
}
