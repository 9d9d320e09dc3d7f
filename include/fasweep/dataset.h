/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MNIST in memory: the IDX reader for the four files and the per-trial draw
 * of training and test images. Training does not happen here. */
#ifndef FASWEEP_DATASET_H
#define FASWEEP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "fasweep/error.h"

#define DATASET_ROWS    28
#define DATASET_COLS    28
#define DATASET_PIXELS  (DATASET_ROWS * DATASET_COLS)
#define DATASET_CLASSES 10

/* The rule that chooses a trial's training and test images. */
enum split_kind {
	SPLIT_POOLED,  /* both drawn, disjoint, from all images of both files */
	SPLIT_STANDARD /* training from the train files, test from t10k */
};

/* All images of the four files: the train files first, then t10k. */
struct dataset {
	uint8_t *images;     /* n_images x 784, row-major, pixel values 0-255 */
	uint8_t *labels;     /* n_images, each 0-9 */
	size_t n_images;     /* n_train_file + n_test_file */
	size_t n_train_file; /* images from train-images-idx3-ubyte */
	size_t n_test_file;  /* images from t10k-images-idx3-ubyte */
};

/* The images one trial uses, as indices into struct dataset. */
struct split {
	uint32_t *train; /* n_train indices, in drawn order */
	uint32_t *test;  /* n_test indices, in drawn order */
	size_t n_train;
	size_t n_test;
};

/* Reads an IDX3 image file (raw or gzip, detected from the content) of
 * 28 x 28 images. On success stores a malloc'ed n x 784 array in *pixels and
 * the count in *n and returns 0; the caller frees *pixels. On failure returns
 * -1, leaves *pixels NULL and names the file and the problem in err (bad
 * magic number, wrong dimensions, count, truncated or overlong file). */
int idx_read_images(const char *path, uint8_t **pixels, size_t *n,
                    struct fw_error *err);

/* Reads an IDX1 label file (raw or gzip) like idx_read_images; every label
 * must be 0-9. */
int idx_read_labels(const char *path, uint8_t **labels, size_t *n,
                    struct fw_error *err);

/* Loads the four MNIST files from dir. Each file is looked up under its
 * standard name (train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), then with ".gz" added.
 * Image and label counts of each pair must match. Returns 0, or -1 with a
 * message naming the missing or invalid file. Free with dataset_free. */
int dataset_load(struct dataset *ds, const char *dir, struct fw_error *err);

/* Releases what dataset_load allocated; safe on a zeroed struct. */
void dataset_free(struct dataset *ds);

/* Draws the images of one trial from the stream (seed, n_hidden, RNG_SPLIT).
 * pooled draws n_train + n_test distinct images from all of ds. standard
 * draws n_train from the train file and n_test from the t10k file. Both are
 * partial Fisher-Yates shuffles, so the same arguments give the same split.
 * Returns -1 with a message when the request exceeds the available images.
 * Free with split_free. */
int dataset_split(const struct dataset *ds, enum split_kind kind,
                  size_t n_train, size_t n_test, uint64_t seed,
                  uint32_t n_hidden, struct split *out, struct fw_error *err);

/* Releases what dataset_split allocated; safe on a zeroed struct. */
void split_free(struct split *s);

#endif
