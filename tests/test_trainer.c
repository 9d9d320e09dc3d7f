/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of one trial: pairing across modes, bit-identical reruns, the fa
 * scale schedule, backprop's own diagnostics, divergence, stop requests,
 * and which BLAS the trainer's products go to. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "fasweep/rng.h"
#include "fasweep/trainer.h"

#define N_IMAGES 900
#define EPOCHS   3
#define POINTS   (EPOCHS + 1)

/* Random images whose class sets a bright 4 x 28 band, so a network can
 * learn them. */
static void make_dataset(struct dataset *ds)
{
	struct rng r;

	memset(ds, 0, sizeof(*ds));
	ds->images = malloc((size_t)N_IMAGES * DATASET_PIXELS);
	ds->labels = malloc(N_IMAGES);
	ds->n_images = N_IMAGES;
	ds->n_train_file = 700;
	ds->n_test_file = 200;
	rng_init(&r, 1, 0, RNG_SPLIT, 9);
	for (size_t i = 0; i < N_IMAGES; i++) {
		uint8_t label = (uint8_t)rng_below(&r, DATASET_CLASSES);
		uint8_t *img = ds->images + i * DATASET_PIXELS;

		ds->labels[i] = label;
		for (size_t p = 0; p < DATASET_PIXELS; p++)
			img[p] = (uint8_t)rng_below(&r, 64);
		for (size_t p = 0; p < 4 * DATASET_COLS; p++)
			img[label * 2 * DATASET_COLS + p] = 255;
	}
}

static struct trial_params params(enum fw_mode mode)
{
	struct trial_params p = {
	        .mode = mode,
	        .n_hidden = 12,
	        .seed = 4,
	        .learning_rate = 0.05,
	        .batch_size = 25,
	        .n_epochs = EPOCHS,
	        .n_train = 500,
	        .n_test = 300,
	        .n_probe = 100,
	        .fa_scale = FA_SCALE_LOG_EPOCH,
	        .split = SPLIT_POOLED,
	};
	return p;
}

static float at(const float *curves, enum curve_id id, int epoch)
{
	return curves[id * POINTS + epoch];
}

static void run(const struct dataset *ds, const struct trial_params *p,
                float *curves, struct trial_outcome *out)
{
	struct fw_error err = {{0}};

	CHECK(trainer_run(ds, p, NULL, curves, POINTS, out, &err) == 0);
	if (err.msg[0])
		fprintf(stderr, "trainer_run: %s\n", err.msg);
}

/* Epoch 0 is the shared start: identical losses and accuracy in every
 * mode. After training the modes differ. */
static void test_pairing(const struct dataset *ds)
{
	float curves[N_MODES][N_CURVES * POINTS];
	struct trial_outcome out;

	for (int m = 0; m < N_MODES; m++) {
		struct trial_params p = params((enum fw_mode)m);

		run(ds, &p, curves[m], &out);
		CHECK_EQ_INT(out.status, TRIAL_DONE);
	}
	for (int m = 1; m < N_MODES; m++) {
		CHECK(at(curves[m], CURVE_TRAIN_LOSS, 0) ==
		      at(curves[0], CURVE_TRAIN_LOSS, 0));
		CHECK(at(curves[m], CURVE_TEST_LOSS, 0) ==
		      at(curves[0], CURVE_TEST_LOSS, 0));
		CHECK(at(curves[m], CURVE_TEST_ACCURACY, 0) ==
		      at(curves[0], CURVE_TEST_ACCURACY, 0));
		CHECK(at(curves[m], CURVE_TEST_LOSS, EPOCHS) !=
		      at(curves[0], CURVE_TEST_LOSS, EPOCHS));
	}

	/* Backprop's feedback is W2 itself. */
	for (int e = 0; e <= EPOCHS; e++) {
		CHECK_NEAR(at(curves[MODE_BP], CURVE_FEEDBACK_CORRELATION, e),
		           1.0, 1e-6);
		CHECK_NEAR(at(curves[MODE_BP], CURVE_ALIGNMENT_ANGLE, e), 0.0,
		           0.05);
	}
	/* The band images are easy: backprop learns them in three epochs. */
	CHECK(at(curves[MODE_BP], CURVE_TEST_ACCURACY, EPOCHS) > 0.5);
}

/* The same trial twice gives bit-identical curves. */
static void test_rerun(const struct dataset *ds)
{
	float a[N_CURVES * POINTS], b[N_CURVES * POINTS];
	struct trial_params p = params(MODE_FA);
	struct trial_outcome out;

	run(ds, &p, a, &out);
	run(ds, &p, b, &out);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
}

/* s(epoch) = ln(epoch + e) is 1 in the first epoch, so fa with log_epoch
 * and with constant agree after epoch 1 and differ after epoch 2. */
static void test_fa_scale(const struct dataset *ds)
{
	float log_curves[N_CURVES * POINTS], const_curves[N_CURVES * POINTS];
	struct trial_params p = params(MODE_FA);
	struct trial_outcome out;

	run(ds, &p, log_curves, &out);
	p.fa_scale = FA_SCALE_CONSTANT;
	run(ds, &p, const_curves, &out);
	CHECK(at(log_curves, CURVE_TEST_LOSS, 1) ==
	      at(const_curves, CURVE_TEST_LOSS, 1));
	CHECK(at(log_curves, CURVE_TEST_LOSS, 2) !=
	      at(const_curves, CURVE_TEST_LOSS, 2));
}

/* An infinite learning rate makes the loss NaN in the second minibatch:
 * the trial stops as diverged, keeps epoch 0 and leaves the rest NaN. */
static void test_divergence(const struct dataset *ds)
{
	float curves[N_CURVES * POINTS];
	struct trial_params p = params(MODE_BP);
	struct trial_outcome out;

	p.learning_rate = INFINITY;
	run(ds, &p, curves, &out);
	CHECK_EQ_INT(out.status, TRIAL_DIVERGED);
	CHECK(strstr(out.message, "epoch 1, minibatch 2") != NULL);
	CHECK(isnan(out.final_test_accuracy));
	CHECK(!isnan(at(curves, CURVE_TEST_ACCURACY, 0)));
	for (int e = 1; e <= EPOCHS; e++)
		CHECK(isnan(at(curves, CURVE_TEST_ACCURACY, e)));
}

/* A split larger than the data is a failed trial with a message. */
static void test_too_few_images(const struct dataset *ds)
{
	float curves[N_CURVES * POINTS];
	struct trial_params p = params(MODE_BP);
	struct trial_outcome out;
	struct fw_error err = {{0}};

	p.n_train = N_IMAGES;
	CHECK(trainer_run(ds, &p, NULL, curves, POINTS, &out, &err) == -1);
	CHECK_EQ_INT(out.status, TRIAL_FAILED);
	CHECK(err.msg[0] != '\0');
	CHECK(strcmp(out.message, "") != 0);
}

/* Counts the calls of the stop hook and asks to stop at call limit. */
struct stop_after {
	int calls;
	int limit;
};

static int stop_after_requested(void *ctx)
{
	struct stop_after *s = ctx;

	return ++s->calls >= s->limit;
}

/* A stop request before a minibatch ends the trial as pending, with the
 * epochs before it recorded exactly as in a full run and the rest NaN. */
static void test_stop(const struct dataset *ds)
{
	float full[N_CURVES * POINTS], curves[N_CURVES * POINTS];
	struct trial_params p = params(MODE_FA);
	struct stop_after counter = {0, 0};
	struct trainer_stop stop = {stop_after_requested, &counter};
	struct trial_outcome out;
	struct fw_error err = {{0}};
	int per_epoch = (p.n_train + p.batch_size - 1) / p.batch_size;

	run(ds, &p, full, &out);
	counter.limit = per_epoch + 3; /* the third minibatch of epoch 2 */
	CHECK(trainer_run(ds, &p, &stop, curves, POINTS, &out, &err) == 0);
	CHECK_EQ_INT(out.status, TRIAL_PENDING);
	CHECK_EQ_INT(counter.calls, per_epoch + 3);
	CHECK(strstr(out.message, "stopped in epoch 2") != NULL);
	CHECK(isnan(out.final_test_accuracy));
	for (int c = 0; c < N_CURVES; c++) {
		CHECK(memcmp(&curves[c * POINTS], &full[c * POINTS],
		             2 * sizeof(float)) == 0);
		for (int e = 2; e <= EPOCHS; e++)
			CHECK(isnan(at(curves, (enum curve_id)c, e)));
	}
}

/* libgsl loads GSL's reference CBLAS too; OpenBLAS must be the library
 * that provides cblas_sgemm, or every product runs several times slower. */
static void test_blas_is_openblas(void)
{
	Dl_info info;

	CHECK(dladdr((void *)cblas_sgemm, &info) != 0);
	CHECK(info.dli_fname != NULL);
	if (info.dli_fname != NULL) {
		printf("cblas_sgemm is in %s\n", info.dli_fname);
		CHECK(strstr(info.dli_fname, "openblas") != NULL);
	}
}

int main(void)
{
	struct dataset ds;

	trainer_pin_blas();
	make_dataset(&ds);
	test_pairing(&ds);
	test_rerun(&ds);
	test_fa_scale(&ds);
	test_divergence(&ds);
	test_too_few_images(&ds);
	test_stop(&ds);
	test_blas_is_openblas();
	dataset_free(&ds);
	return check_exit("test_trainer");
}
