/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests of one trial: pairing across modes, bit-identical reruns, the fa
 * scale schedule, backprop's own diagnostics, divergence, stop requests,
 * the weights and split a trial stores, and which BLAS the trainer's
 * products go to. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "check.h"
#include "fasweep/net.h"
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
	        .feedback_k = 1,
	        .kp_decay = 0.001,
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

/* Counts the calls of the stop hook and requests a stop at call limit. */
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

/* ---- weights ---- */

#define W_HIDDEN 12 /* params()'s n_hidden */
#define W_TRAIN  500
#define W_TEST   300

/* A trial's curves, outcome, and weights at both stages. */
struct saved {
	float w1[N_STAGES][NET_INPUTS * W_HIDDEN];
	float w2[N_STAGES][(W_HIDDEN + 1) * NET_OUTPUTS];
	float b[N_STAGES][W_HIDDEN * NET_OUTPUTS];
	uint32_t train[W_TRAIN];
	uint32_t test[W_TEST];
	float curves[N_CURVES * POINTS];
	struct trial_outcome out;
	int rc;
};

/* Runs trial p with weights at both stages into *sv (malloc'd). */
static struct saved *run_saving(const struct dataset *ds,
                                const struct trial_params *p,
                                const struct trainer_stop *stop)
{
	struct saved *sv = calloc(1, sizeof(*sv));
	struct trial_weights w = {.train_index = sv->train,
	                          .test_index = sv->test,
	                          .n_train = W_TRAIN,
	                          .n_test = W_TEST};
	struct fw_error err = {{0}};

	for (int st = 0; st < N_STAGES; st++) {
		w.w1[st] = sv->w1[st];
		w.w2[st] = sv->w2[st];
		w.feedback[st] = sv->b[st];
	}
	sv->rc = trainer_run_with_weights(ds, p, stop, sv->curves, POINTS, &w,
	                                  &sv->out, &err);
	return sv;
}

static int all_nan(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]))
			return 0;
	return 1;
}

/* The stored B of each mode at both stages: W2's hidden rows for bp, s R
 * for fa with s = 1 before training and ln(EPOCHS + e) after it, the
 * one-hot matrix for onehot. */
static void check_feedback(const struct saved *sv, enum fw_mode mode)
{
	const float s_final = (float)log(EPOCHS + 2.71828182845904523536);
	struct fw_error err = {{0}};
	struct net net;

	for (int st = 0; mode == MODE_BP && st < N_STAGES; st++)
		CHECK(memcmp(sv->b[st], sv->w2[st], sizeof(sv->b[st])) == 0);
	if (mode == MODE_FA) {
		CHECK(net_init(&net, MODE_FA, W_HIDDEN, 4, &err) == 0);
		CHECK(memcmp(sv->b[STAGE_INITIAL], net.feedback,
		             sizeof(sv->b[0])) == 0);
		for (size_t i = 0; i < W_HIDDEN * NET_OUTPUTS; i++)
			CHECK(sv->b[STAGE_FINAL][i] ==
			      s_final * net.feedback[i]);
		net_free(&net);
	}
	for (int st = 0; mode == MODE_ONEHOT && st < N_STAGES; st++)
		for (size_t j = 0; j < W_HIDDEN; j++)
			for (size_t k = 0; k < NET_OUTPUTS; k++)
				CHECK(sv->b[st][j * NET_OUTPUTS + k] ==
				      (k == j % NET_OUTPUTS ? 1.0f : 0.0f));
}

/* Every mode stores the same initial weights and split, the split that
 * dataset_split draws, and final weights that differ from them. Storing
 * weights leaves the curves bit for bit as they are without. */
static void test_weights_stages(const struct dataset *ds)
{
	struct saved *sv[N_MODES];
	struct split split;
	struct fw_error err = {{0}};
	float plain[N_CURVES * POINTS];
	struct trial_outcome out;

	CHECK(dataset_split(ds, SPLIT_POOLED, W_TRAIN, W_TEST, 4, W_HIDDEN,
	                    &split, &err) == 0);
	for (int m = 0; m < N_MODES; m++) {
		struct trial_params p = params((enum fw_mode)m);

		sv[m] = run_saving(ds, &p, NULL);
		CHECK_EQ_INT(sv[m]->rc, 0);
		CHECK_EQ_INT(sv[m]->out.status, TRIAL_DONE);
		run(ds, &p, plain, &out);
		CHECK(memcmp(plain, sv[m]->curves, sizeof(plain)) == 0);
		CHECK(memcmp(sv[m]->train, split.train, sizeof(sv[m]->train)) ==
		      0);
		CHECK(memcmp(sv[m]->test, split.test, sizeof(sv[m]->test)) ==
		      0);
		CHECK(memcmp(sv[m]->w1[STAGE_INITIAL], sv[0]->w1[STAGE_INITIAL],
		             sizeof(sv[m]->w1[0])) == 0);
		CHECK(memcmp(sv[m]->w2[STAGE_INITIAL], sv[0]->w2[STAGE_INITIAL],
		             sizeof(sv[m]->w2[0])) == 0);
		CHECK((memcmp(sv[m]->w1[STAGE_FINAL], sv[m]->w1[STAGE_INITIAL],
		              sizeof(sv[m]->w1[0])) == 0) ==
		      (m == MODE_SHALLOW));
		CHECK(!all_nan(sv[m]->w2[STAGE_FINAL],
		               sizeof(sv[m]->w2[0]) / sizeof(float)));
		check_feedback(sv[m], (enum fw_mode)m);
	}
	for (int m = 0; m < N_MODES; m++)
		free(sv[m]);
	split_free(&split);
}

/* A diverged or stopped trial stores its initial weights and leaves the
 * final stage NaN. A failed trial stores nothing: NaN weights and
 * UINT32_MAX indices. */
static void test_weights_unreached(const struct dataset *ds)
{
	struct trial_params p = params(MODE_BP);
	struct stop_after counter = {0, 3};
	struct trainer_stop stop = {stop_after_requested, &counter};
	struct saved *done = run_saving(ds, &p, NULL);
	struct saved *sv[2];

	p.learning_rate = INFINITY;
	sv[0] = run_saving(ds, &p, NULL);
	CHECK_EQ_INT(sv[0]->out.status, TRIAL_DIVERGED);
	p.learning_rate = params(MODE_BP).learning_rate;
	sv[1] = run_saving(ds, &p, &stop);
	CHECK_EQ_INT(sv[1]->out.status, TRIAL_PENDING);
	for (int i = 0; i < 2; i++) {
		CHECK(memcmp(sv[i]->w1[STAGE_INITIAL], done->w1[STAGE_INITIAL],
		             sizeof(done->w1[0])) == 0);
		CHECK(memcmp(sv[i]->b[STAGE_INITIAL], done->b[STAGE_INITIAL],
		             sizeof(done->b[0])) == 0);
		CHECK(memcmp(sv[i]->train, done->train, sizeof(done->train)) ==
		      0);
		CHECK(all_nan(sv[i]->w1[STAGE_FINAL],
		              sizeof(done->w1[0]) / sizeof(float)));
		CHECK(all_nan(sv[i]->w2[STAGE_FINAL],
		              sizeof(done->w2[0]) / sizeof(float)));
		CHECK(all_nan(sv[i]->b[STAGE_FINAL],
		              sizeof(done->b[0]) / sizeof(float)));
		free(sv[i]);
	}
	free(done);

	p.n_train = N_IMAGES;
	sv[0] = run_saving(ds, &p, NULL);
	CHECK_EQ_INT(sv[0]->rc, -1);
	CHECK_EQ_INT(sv[0]->out.status, TRIAL_FAILED);
	CHECK(all_nan(sv[0]->w1[STAGE_INITIAL],
	              sizeof(sv[0]->w1[0]) / sizeof(float)));
	CHECK_EQ_INT(sv[0]->train[0], UINT32_MAX);
	CHECK_EQ_INT(sv[0]->test[W_TEST - 1], UINT32_MAX);
	free(sv[0]);
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

/* Returns the angle in degrees between W2[0:H, :] and B at a point. */
static double feedback_angle(const float *curves, int epoch)
{
	return acos(at(curves, CURVE_FEEDBACK_COSINE, epoch)) * 180.0 /
	       3.14159265358979323846;
}

/* kp gives B and W2[0:H, :] the same gradient steps and decays both, so
 * the angle between them falls every epoch, from about 90 degrees to below
 * 15 after 60 steps with decay 0.05 (0.95^60 = 0.05 of the start's
 * difference). fa's fixed B stays further from W2. */
static void test_kp_aligns(const struct dataset *ds)
{
	struct trial_params p = params(MODE_KP);
	float kp[N_CURVES * POINTS], fa[N_CURVES * POINTS];
	struct trial_outcome out;

	p.kp_decay = 0.05;
	run(ds, &p, kp, &out);
	CHECK_EQ_INT(out.status, TRIAL_DONE);
	CHECK(feedback_angle(kp, 0) > 60.0);
	for (int e = 1; e <= EPOCHS; e++)
		CHECK(feedback_angle(kp, e) < feedback_angle(kp, e - 1));
	CHECK(feedback_angle(kp, EPOCHS) < 15.0);

	p = params(MODE_FA);
	run(ds, &p, fa, &out);
	CHECK(feedback_angle(fa, EPOCHS) > feedback_angle(kp, EPOCHS) + 10.0);
}

/* Checkpoints inside the first epoch leave the epoch curves as they are,
 * bit for bit, and are themselves finite and reproducible. */
static void test_early_checkpoints(const struct dataset *ds)
{
	enum { N_EARLY = 4 };
	struct trial_params p = params(MODE_SIGN);
	float plain[N_CURVES * POINTS];
	float early[2][N_CURVES * (POINTS + N_EARLY)];
	struct trial_outcome out;
	struct fw_error err = {{0}};

	run(ds, &p, plain, &out);
	p.early_checkpoints = N_EARLY;
	for (int i = 0; i < 2; i++)
		CHECK(trainer_run(ds, &p, NULL, early[i], POINTS, &out, &err) ==
		      0);
	CHECK(memcmp(plain, early[0], sizeof(plain)) == 0);
	CHECK(memcmp(early[0], early[1], sizeof(early[0])) == 0);
	for (int i = 0; i < N_CURVES * N_EARLY; i++)
		CHECK(isfinite(early[0][N_CURVES * POINTS + i]));

	/* The first checkpoint's test loss lies below the start's, after
	 * 4 of the epoch's 20 minibatches. */
	CHECK(early[0][N_CURVES * POINTS + CURVE_TEST_LOSS * N_EARLY] <
	      at(plain, CURVE_TEST_LOSS, 0));
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
	test_weights_stages(&ds);
	test_weights_unreached(&ds);
	test_kp_aligns(&ds);
	test_early_checkpoints(&ds);
	test_blas_is_openblas();
	dataset_free(&ds);
	return check_exit("test_trainer");
}
