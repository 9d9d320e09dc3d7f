/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_trainer.c - times one training epoch, and the evaluation that
 * follows it, with the library's net_* functions for a list of hidden sizes,
 * and compares the rate with the single-core float32 peak measured on the
 * spot. The epoch and evaluation loops copy train_epoch and record of
 * src/trainer.c for bp, fa and onehot, which are static there, and measure
 * the probe diagnostics with the library's probe_measure; --verify checks
 * that the copies give trainer_run's numbers. The side-by-side runs against
 * PyTorch and the medians over rounds are left to run.sh. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "bench_peak.h"
#include "fasweep/dataset.h"
#include "fasweep/grid.h"
#include "fasweep/net.h"
#include "fasweep/probe.h"
#include "fasweep/rng.h"
#include "fasweep/trainer.h"

/* Rows per forward pass in the evaluation, EVAL_ROWS of src/trainer.c. */
#define EVAL_ROWS 1000

/* The small trial that --verify runs through both trainer_run and the
 * copied loops. */
#define VERIFY_N_TRAIN 2000
#define VERIFY_N_TEST  1000
#define VERIFY_N_PROBE 200

#define PEAK_FMA_RUNS    5
#define PEAK_FMA_SECONDS 0.2
#define PEAK_SGEMM_SIZE  2048
#define PEAK_SGEMM_RUNS  3

#define EULER_E 2.71828182845904523536

struct bench_options {
	const char *data_dir; /* NULL: synthetic images */
	int32_t hidden[MAX_HIDDEN_SIZES];
	size_t n_hidden;
	enum fw_mode mode;
	int n_epochs;         /* timed epochs per hidden size */
	double learning_rate; /* <= 0: the rule of default_learning_rate */
	int64_t seed;
	int measure_peak;     /* 0 with --no-peak */
	int peak_only;        /* --peak-only */
	int time_eval;        /* 0 with --no-eval */
	int verify;           /* --verify */
	const char *tsv_path; /* --tsv, or NULL */
};

/* The single-core peak in GFLOP per CPU second: NaN where not measured,
 * -1 where the sgemm matrices could not be allocated. */
struct peak {
	double fma_gflops;   /* FMA loop */
	double sgemm_gflops; /* OpenBLAS sgemm 2048^3 */
};

/* Everything one benchmarked trial owns: struct trial of src/trainer.c. */
struct bench_trial {
	const struct dataset *ds;
	const struct trial_params *p;
	struct split split;
	struct net net;
	struct net_batch batch; /* max(batch_size, EVAL_ROWS) rows */
	struct probe probe;
	uint32_t *order; /* n_train: this epoch's training order */
};

/* The numbers record() of src/trainer.c stores after an epoch, by enum
 * curve_id. */
struct epoch_metrics {
	double v[N_CURVES];
};

/* One row of the result table: medians over the timed epochs. */
struct bench_row {
	int32_t n_hidden;
	double learning_rate;
	struct elapsed train; /* one training epoch */
	struct elapsed eval;  /* the evaluation after it */
	double train_flop;    /* per epoch, 2 per multiply-add */
	double eval_flop;
	double test_accuracy; /* after the last timed epoch, 0-1 */
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: bench_trainer [--data DIR] [--hidden LIST] "
	        "[--mode bp|fa|onehot]\n"
	        "                     [--epochs N] [--learning-rate LR] "
	        "[--seed S] [--tsv FILE]\n"
	        "                     [--no-peak | --peak-only] [--no-eval] "
	        "[--verify]\n"
	        "Times training epochs of %d images (minibatches of %d) and "
	        "the evaluation\nafter each (%d test and %d probe images) "
	        "on one core.\n"
	        "  --data DIR       MNIST's four IDX files in DIR "
	        "(default: synthetic images)\n"
	        "  --hidden LIST    hidden sizes, comma-separated "
	        "(default 20,100,500,1000)\n"
	        "  --mode MODE      feedback rule (default bp)\n"
	        "  --epochs N       timed epochs per size; the median is "
	        "reported (default 3)\n"
	        "  --learning-rate  default 0.07 for H <= 20, else 1/H, "
	        "as configs/replication.ini\n"
	        "  --seed S         seed of weights, split and order "
	        "(default 1)\n"
	        "  --tsv FILE       append one tab-separated row per size to "
	        "FILE, with a header\n"
	        "                   line when FILE is empty or new\n"
	        "  --no-peak        skip measuring the float32 peak (about "
	        "2 s)\n"
	        "  --peak-only      measure only the peak\n"
	        "  --no-eval        time training only\n"
	        "  --verify         check on a %d-image trial that the timed "
	        "loops give\n"
	        "                   trainer_run's curves, then exit\n",
	        BENCH_N_TRAIN, BENCH_BATCH_SIZE, BENCH_N_TEST, BENCH_N_PROBE,
	        VERIFY_N_TRAIN);
}

/* Parses "20,100,500" into o->hidden. Returns 0, or -1 after a message. */
static int parse_hidden(struct bench_options *o, const char *list)
{
	return parse_hidden_list("bench_trainer", list, o->hidden,
	                         &o->n_hidden);
}

/* Parses a number option's value into *x; returns 0, or -1 after a
 * message. */
static int parse_number(const char *name, const char *value, double min,
                        double *x)
{
	char *end;

	*x = strtod(value, &end);
	if (end == value || *end != '\0' || !(*x >= min)) {
		fprintf(stderr,
		        "bench_trainer: invalid %s '%s'; give a number of at "
		        "least %g\n",
		        name, value, min);
		return -1;
	}
	return 0;
}

static void default_options(struct bench_options *o)
{
	static const int32_t sizes[] = {20, 100, 500, 1000};

	memset(o, 0, sizeof(*o));
	memcpy(o->hidden, sizes, sizeof(sizes));
	o->n_hidden = sizeof(sizes) / sizeof(sizes[0]);
	o->mode = MODE_BP;
	o->n_epochs = 3;
	o->seed = 1;
	o->measure_peak = 1;
	o->time_eval = 1;
}

/* Handles the options that take a value; returns 0, or -1 after a
 * message. */
static int parse_valued(struct bench_options *o, const char *name,
                        const char *value)
{
	double x;

	if (!strcmp(name, "--data")) {
		o->data_dir = value;
	} else if (!strcmp(name, "--hidden")) {
		return parse_hidden(o, value);
	} else if (!strcmp(name, "--mode")) {
		if (grid_mode_parse(value, &o->mode) != 0) {
			fprintf(stderr,
			        "bench_trainer: unknown --mode '%s'; use bp, "
			        "fa or onehot\n",
			        value);
			return -1;
		}
	} else if (!strcmp(name, "--epochs")) {
		if (parse_number(name, value, 1, &x) != 0)
			return -1;
		o->n_epochs = (int)x;
	} else if (!strcmp(name, "--learning-rate")) {
		if (parse_number(name, value, 1e-12, &x) != 0)
			return -1;
		o->learning_rate = x;
	} else if (!strcmp(name, "--seed")) {
		if (parse_number(name, value, 0, &x) != 0)
			return -1;
		o->seed = (int64_t)x;
	} else {
		assert(!strcmp(name, "--tsv"));
		o->tsv_path = value;
	}
	return 0;
}

/* Fills o from argv. Returns 0, 1 after --help, or -1 after a message. */
static int parse_args(struct bench_options *o, int argc, char **argv)
{
	static const char *const valued[] = {
	        "--data",          "--hidden", "--mode", "--epochs",
	        "--learning-rate", "--seed",   "--tsv"};

	default_options(o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int takes_value = 0;

		for (size_t k = 0; k < sizeof(valued) / sizeof(*valued); k++)
			takes_value |= !strcmp(a, valued[k]);
		if (takes_value) {
			if (i + 1 == argc) {
				fprintf(stderr,
				        "bench_trainer: %s needs a value\n", a);
				return -1;
			}
			if (parse_valued(o, a, argv[++i]) != 0)
				return -1;
		} else if (!strcmp(a, "--no-peak")) {
			o->measure_peak = 0;
		} else if (!strcmp(a, "--peak-only")) {
			o->peak_only = 1;
		} else if (!strcmp(a, "--no-eval")) {
			o->time_eval = 0;
		} else if (!strcmp(a, "--verify")) {
			o->verify = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		} else {
			fprintf(stderr,
			        "bench_trainer: unknown option '%s'; see "
			        "--help\n",
			        a);
			return -1;
		}
	}
	return 0;
}

static struct trial_params make_params(const struct bench_options *o,
                                       int32_t n_hidden, int32_t n_train,
                                       int32_t n_test, int32_t n_probe)
{
	struct trial_params p = {
	        .mode = o->mode,
	        .n_hidden = n_hidden,
	        .seed = o->seed,
	        .learning_rate = o->learning_rate > 0
	                                 ? o->learning_rate
	                                 : default_learning_rate(n_hidden),
	        .batch_size = BENCH_BATCH_SIZE,
	        .n_epochs = 1,
	        .n_train = n_train,
	        .n_test = n_test,
	        .n_probe = n_probe,
	        .fa_scale = FA_SCALE_LOG_EPOCH,
	        .split = SPLIT_POOLED,
	};
	return p;
}

/* FLOP of one training epoch: per image the forward pass (x W1, h W2) and
 * the three backward products (d_out B^T, h^T d_out, x^T d_hid). */
static double train_flop(const struct trial_params *p)
{
	double h = p->n_hidden;
	double per_image = 2.0 * (NET_INPUTS * h + (h + 1) * NET_OUTPUTS +
	                          NET_OUTPUTS * h + (h + 1) * NET_OUTPUTS +
	                          NET_INPUTS * h);

	return per_image * p->n_train;
}

/* FLOP of the evaluation after an epoch: the forward pass of every test
 * and probe image, and per probe image two d_out B^T products and two
 * rows of the W1 updates that the update angle compares. */
static double eval_flop(const struct trial_params *p)
{
	double h = p->n_hidden;
	double forward = 2.0 * (NET_INPUTS * h + (h + 1) * NET_OUTPUTS);

	return forward * (p->n_test + p->n_probe) +
	       2.0 * 2.0 * (NET_OUTPUTS + NET_INPUTS) * h * p->n_probe;
}

/* --- Copies of src/trainer.c, line for line where possible. --- */

static float feedback_scale(const struct trial_params *p, int epoch)
{
	if (p->mode != MODE_FA || p->fa_scale == FA_SCALE_CONSTANT)
		return 1.0f;
	return (float)log((double)epoch + EULER_E);
}

static void trial_free(struct bench_trial *t)
{
	free(t->order);
	probe_free(&t->probe);
	net_batch_free(&t->batch);
	net_free(&t->net);
	split_free(&t->split);
}

static int trial_init(struct bench_trial *t, const struct dataset *ds,
                      const struct trial_params *p, struct fw_error *err)
{
	size_t rows =
	        p->batch_size > EVAL_ROWS ? (size_t)p->batch_size : EVAL_ROWS;

	memset(t, 0, sizeof(*t));
	t->ds = ds;
	t->p = p;
	if (dataset_split(ds, p->split, (size_t)p->n_train, (size_t)p->n_test,
	                  (uint64_t)p->seed, (uint32_t)p->n_hidden, &t->split,
	                  err) != 0)
		return -1;
	if (net_init(&t->net, p->mode, p->n_hidden, p->seed, err) != 0 ||
	    probe_init(&t->probe, p->n_hidden, EVAL_ROWS, err) != 0 ||
	    net_batch_init(&t->batch, p->n_hidden, rows, err) != 0)
		goto fail;

	t->order = malloc(sizeof(uint32_t) * (size_t)p->n_train);
	if (t->order == NULL) {
		fw_error_set(err, "out of memory for a trial with H = %d",
		             (int)p->n_hidden);
		goto fail;
	}
	return 0;

fail:
	trial_free(t);
	return -1;
}

static void evaluate(struct bench_trial *t, const uint32_t *idx, size_t n,
                     double *mean_loss, double *accuracy)
{
	double loss = 0.0;
	size_t correct = 0;

	for (size_t start = 0; start < n; start += EVAL_ROWS) {
		size_t rows = n - start < EVAL_ROWS ? n - start : EVAL_ROWS;
		size_t right;

		net_batch_load(&t->batch, t->ds, idx + start, rows);
		net_forward(&t->net, &t->batch, rows);
		loss += net_output_delta(&t->batch, rows, &right);
		correct += right;
	}
	*mean_loss = loss / (double)n;
	*accuracy = (double)correct / (double)n;
}

/* The evaluation after `epoch` epochs: record() without storing. */
static void record(struct bench_trial *t, int epoch, struct epoch_metrics *m)
{
	float scale = feedback_scale(t->p, epoch);

	evaluate(t, t->split.test, t->split.n_test, &m->v[CURVE_TEST_LOSS],
	         &m->v[CURVE_TEST_ACCURACY]);
	probe_measure(&t->probe, &t->net, net_feedback(&t->net), scale,
	              &t->batch, t->ds, t->split.train, (size_t)t->p->n_probe,
	              m->v);
}

static void shuffle_order(struct bench_trial *t, int epoch)
{
	struct rng r;
	size_t n = t->split.n_train;

	rng_init(&r, (uint64_t)t->p->seed, (uint32_t)t->p->n_hidden, RNG_ORDER,
	         (uint32_t)epoch);
	memcpy(t->order, t->split.train, sizeof(uint32_t) * n);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rng_below(&r, i + 1);
		uint32_t tmp = t->order[i];

		t->order[i] = t->order[j];
		t->order[j] = tmp;
	}
}

/* Trains epoch `epoch` (from 1) and returns the mean minibatch loss, or the
 * first loss that is not finite. */
static double train_epoch(struct bench_trial *t, int epoch)
{
	size_t n = t->split.n_train, bs = (size_t)t->p->batch_size;
	float scale = feedback_scale(t->p, epoch - 1);
	float lr = (float)t->p->learning_rate;
	double sum = 0.0;
	size_t n_batches = 0;

	shuffle_order(t, epoch);
	for (size_t start = 0; start < n; start += bs, n_batches++) {
		size_t rows = n - start < bs ? n - start : bs;
		double loss;

		net_batch_load(&t->batch, t->ds, t->order + start, rows);
		net_forward(&t->net, &t->batch, rows);
		loss = net_output_delta(&t->batch, rows, NULL) / (double)rows;
		if (!isfinite(loss))
			return loss;
		net_hidden_delta(net_feedback(&t->net), scale, t->p->n_hidden,
		                 &t->batch, rows);
		net_update(&t->net, &t->batch, rows, lr);
		sum += loss;
	}
	return sum / (double)n_batches;
}

/* --- End of the copies. --- */

/* Checks, for one hidden size, that train_epoch and record above give the
 * curves that trainer_run stores after one epoch of a small trial, exactly:
 * both run the same float operations in the same order. Returns the number
 * of curves that differ, or -1 with err set. */
static int verify_hidden(const struct dataset *ds,
                         const struct bench_options *o, int32_t n_hidden,
                         struct fw_error *err)
{
	struct trial_params p = make_params(o, n_hidden, VERIFY_N_TRAIN,
	                                    VERIFY_N_TEST, VERIFY_N_PROBE);
	float curves[N_CURVES * 2]; /* N_CURVES x 2 epochs (0 and 1) */
	struct trial_outcome out;
	struct bench_trial t;
	struct epoch_metrics m;
	int n_diff = 0;

	if (trainer_run(ds, &p, NULL, curves, 2, &out, err) != 0)
		return -1;
	if (trial_init(&t, ds, &p, err) != 0)
		return -1;
	m.v[CURVE_TRAIN_LOSS] = train_epoch(&t, 1);
	record(&t, 1, &m);
	trial_free(&t);

	for (int c = 0; c < N_CURVES; c++) {
		float stored = curves[c * 2 + 1];
		float copied = (float)m.v[c];

		if (copied == stored || (isnan(copied) && isnan(stored)))
			continue;
		n_diff++;
		fprintf(stderr,
		        "bench_trainer: H = %d: %s after epoch 1 is %.9g in "
		        "trainer_run but %.9g in the benchmark's copy; update "
		        "the copied loops from src/trainer.c\n",
		        (int)n_hidden, trainer_curve_name((enum curve_id)c),
		        (double)stored, (double)copied);
	}
	return n_diff;
}

/* The times of n_epochs epochs, one array per clock, and the test
 * accuracy after the last. */
struct epoch_times {
	double *train_wall, *train_cpu, *eval_wall, *eval_cpu;
	double test_accuracy;
};

/* Times n epochs of t; each epoch's times go to index e - 1 of *times.
 * Returns 0, or -1 with err set when the loss stops being finite. */
static int time_epochs(struct bench_trial *t, int n, int time_eval,
                       struct epoch_times *times, struct fw_error *err)
{
	for (int e = 1; e <= n; e++) {
		struct epoch_metrics m;
		struct elapsed t0 = clock_now(), dt;
		double loss = train_epoch(t, e);

		dt = clock_since(t0);
		if (!isfinite(loss))
			return fw_error_set(err,
			                    "H = %d: the loss became %g in "
			                    "epoch %d, so the timing is not "
			                    "that of a full epoch; lower "
			                    "--learning-rate",
			                    (int)t->p->n_hidden, loss, e);
		times->train_wall[e - 1] = dt.wall;
		times->train_cpu[e - 1] = dt.cpu;
		if (!time_eval)
			continue;

		t0 = clock_now();
		record(t, e, &m);
		dt = clock_since(t0);
		times->eval_wall[e - 1] = dt.wall;
		times->eval_cpu[e - 1] = dt.cpu;
		times->test_accuracy = m.v[CURVE_TEST_ACCURACY];
	}
	return 0;
}

/* Times o->n_epochs epochs of a full-size trial with H = n_hidden after one
 * untimed evaluation that warms up OpenBLAS's buffers and the caches, and
 * fills row with the medians. Returns 0, or -1 with err set. */
static int bench_hidden(const struct dataset *ds, const struct bench_options *o,
                        int32_t n_hidden, struct bench_row *row,
                        struct fw_error *err)
{
	struct trial_params p = make_params(o, n_hidden, BENCH_N_TRAIN,
	                                    BENCH_N_TEST, BENCH_N_PROBE);
	int n = o->n_epochs;
	double *all = calloc(4 * (size_t)n, sizeof(double)); /* 4 x n */
	struct epoch_times times = {all, all + n, all + 2 * n, all + 3 * n,
	                            NAN};
	struct bench_trial t;
	struct epoch_metrics warm;
	int status = -1;

	if (all == NULL)
		return fw_error_set(err, "out of memory for %d epoch times", n);
	if (trial_init(&t, ds, &p, err) != 0)
		goto out_times;

	record(&t, 0, &warm);
	if (time_epochs(&t, n, o->time_eval, &times, err) != 0)
		goto out_trial;

	row->n_hidden = n_hidden;
	row->learning_rate = p.learning_rate;
	row->train.wall = median(times.train_wall, n);
	row->train.cpu = median(times.train_cpu, n);
	row->eval.wall = o->time_eval ? median(times.eval_wall, n) : NAN;
	row->eval.cpu = o->time_eval ? median(times.eval_cpu, n) : NAN;
	row->train_flop = train_flop(&p);
	row->eval_flop = eval_flop(&p);
	row->test_accuracy = times.test_accuracy;
	status = 0;

out_trial:
	trial_free(&t);
out_times:
	free(all);
	return status;
}

static void measure_peak(struct peak *peak)
{
	peak->fma_gflops = peak_fma_gflops(PEAK_FMA_RUNS, PEAK_FMA_SECONDS);
	peak->sgemm_gflops =
	        peak_sgemm_gflops(PEAK_SGEMM_SIZE, PEAK_SGEMM_RUNS);
}

static void print_header(const struct bench_options *o, const struct peak *peak)
{
	printf("fasweep trainer benchmark: mode %s, %s, seed %lld\n",
	       grid_mode_name(o->mode),
	       o->data_dir ? o->data_dir : "synthetic images",
	       (long long)o->seed);
	printf("epoch: %d training images in minibatches of %d; evaluation: "
	       "%d test and %d probe images\n",
	       BENCH_N_TRAIN, BENCH_BATCH_SIZE, BENCH_N_TEST, BENCH_N_PROBE);
	printf("seconds are medians of %d timed epochs, wall-clock and "
	       "process CPU time;\nGFLOP/s counts 2 per multiply-add per "
	       "CPU second, as the peak does\n",
	       o->n_epochs);
	if (peak->fma_gflops > 0)
		printf("single-core float32 peak: %.1f GFLOP/s (%s FMA loop), "
		       "%.1f GFLOP/s (OpenBLAS sgemm %d^3)\n",
		       peak->fma_gflops, peak_fma_isa(), peak->sgemm_gflops,
		       PEAK_SGEMM_SIZE);
	printf("\n%6s %7s %9s %9s %8s %7s %8s %9s %9s %8s %9s\n", "", "",
	       "train", "train", "train", "", "", "eval", "tr+eval", "tr+eval",
	       "test");
	printf("%6s %7s %9s %9s %8s %7s %8s %9s %9s %8s %9s\n", "H", "lr",
	       "wall s", "CPU s", "GFLOP/s", "% peak", "% sgemm", "CPU s",
	       "CPU s", "GFLOP/s", "accuracy");
}

static void print_row(const struct bench_row *r, const struct peak *peak)
{
	double rate = r->train_flop / r->train.cpu / 1e9;
	double total_s = r->train.cpu + r->eval.cpu;
	double total_rate = (r->train_flop + r->eval_flop) / total_s / 1e9;

	printf("%6d %7.3g %9.4f %9.4f %8.1f %7.1f %8.1f %9.4f %9.4f %8.1f "
	       "%9.4f\n",
	       (int)r->n_hidden, r->learning_rate, r->train.wall, r->train.cpu,
	       rate, 100.0 * rate / peak->fma_gflops,
	       100.0 * rate / peak->sgemm_gflops, r->eval.cpu, total_s,
	       total_rate, r->test_accuracy);
}

/* The tab-separated columns; peer_torch.py writes the same ones. Rates are
 * per CPU second. */
static const char tsv_header[] =
        "impl\tmode\tH\tdata\tn_train\tbatch_size\ttrain_s\ttrain_cpu_s\t"
        "eval_s\teval_cpu_s\ttrain_flop\teval_flop\ttrain_cpu_gflops\t"
        "fma_peak_gflops\tsgemm_peak_gflops\ttrain_pct_fma_peak\ttest_"
        "accuracy\n";

/* Appends rows to path, with the header line first if path is empty. */
static int write_tsv(const char *path, const struct bench_options *o,
                     const struct bench_row *rows, size_t n_rows,
                     const struct peak *peak, struct fw_error *err)
{
	FILE *f = fopen(path, "a");
	int failed;

	if (f == NULL)
		return fw_error_set(err, "cannot open %s for appending: %s",
		                    path, strerror(errno));
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
		fputs(tsv_header, f);
	for (size_t i = 0; i < n_rows; i++) {
		const struct bench_row *r = &rows[i];
		double rate = r->train_flop / r->train.cpu / 1e9;

		fprintf(f,
		        "fasweep\t%s\t%d\t%s\t%d\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t"
		        "%.6g\t%.6g\t%.3f\t%.3f\t%.3f\t%.2f\t%.4f\n",
		        grid_mode_name(o->mode), (int)r->n_hidden,
		        o->data_dir ? "mnist" : "synthetic", BENCH_N_TRAIN,
		        BENCH_BATCH_SIZE, r->train.wall, r->train.cpu,
		        r->eval.wall, r->eval.cpu, r->train_flop, r->eval_flop,
		        rate, peak->fma_gflops, peak->sgemm_gflops,
		        100.0 * rate / peak->fma_gflops, r->test_accuracy);
	}
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return fw_error_set(err, "writing %s failed: %s", path,
		                    strerror(errno));
	return 0;
}

/* Runs --verify for every hidden size; returns the exit status. */
static int run_verify(const struct dataset *ds, const struct bench_options *o)
{
	int n_diff = 0;

	for (size_t i = 0; i < o->n_hidden; i++) {
		struct fw_error err = {{0}};
		int d = verify_hidden(ds, o, o->hidden[i], &err);

		if (d < 0) {
			fprintf(stderr, "bench_trainer: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		n_diff += d;
	}
	printf("verify: %zu hidden sizes x %d curves, %d differ from "
	       "trainer_run\n",
	       o->n_hidden, N_CURVES, n_diff);
	return n_diff ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Times every hidden size and prints the table; returns the exit status. */
static int run_bench(const struct dataset *ds, const struct bench_options *o,
                     const struct peak *peak)
{
	struct bench_row rows[MAX_HIDDEN_SIZES];
	struct fw_error err = {{0}};

	print_header(o, peak);
	for (size_t i = 0; i < o->n_hidden; i++) {
		if (bench_hidden(ds, o, o->hidden[i], &rows[i], &err) != 0) {
			fprintf(stderr, "bench_trainer: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		print_row(&rows[i], peak);
		fflush(stdout);
	}
	if (o->tsv_path != NULL &&
	    write_tsv(o->tsv_path, o, rows, o->n_hidden, peak, &err) != 0) {
		fprintf(stderr, "bench_trainer: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* Prints the peak, and appends it to o->tsv_path as "method gflops"
 * rows; returns the exit status. */
static int run_peak_only(const struct bench_options *o, struct peak *peak)
{
	FILE *f;

	printf("single-core float32 peak: %.1f GFLOP/s (%s FMA loop), "
	       "%.1f GFLOP/s (OpenBLAS sgemm %d^3)\n",
	       peak->fma_gflops, peak_fma_isa(), peak->sgemm_gflops,
	       PEAK_SGEMM_SIZE);
	if (o->tsv_path == NULL)
		return EXIT_SUCCESS;

	f = fopen(o->tsv_path, "a");
	if (f == NULL) {
		fprintf(stderr,
		        "bench_trainer: cannot open %s for appending: %s\n",
		        o->tsv_path, strerror(errno));
		return EXIT_FAILURE;
	}
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
		fputs("method\tisa\tgflops\n", f);
	fprintf(f, "fma\t%s\t%.3f\nsgemm_%d\topenblas\t%.3f\n", peak_fma_isa(),
	        peak->fma_gflops, PEAK_SGEMM_SIZE, peak->sgemm_gflops);
	if (fclose(f) != 0) {
		fprintf(stderr, "bench_trainer: writing %s failed: %s\n",
		        o->tsv_path, strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct bench_options o;
	struct peak peak = {NAN, NAN};
	struct dataset ds;
	struct fw_error err = {{0}};
	int status, parsed = parse_args(&o, argc, argv);

	if (parsed != 0)
		return parsed > 0 ? EXIT_SUCCESS : 2;
	trainer_pin_blas();
	if (o.peak_only || (o.measure_peak && !o.verify))
		measure_peak(&peak);
	if (o.peak_only)
		return run_peak_only(&o, &peak);

	if (load_data(&ds, o.data_dir, &err) != 0) {
		fprintf(stderr, "bench_trainer: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	status = o.verify ? run_verify(&ds, &o) : run_bench(&ds, &o, &peak);
	dataset_free(&ds);
	return status;
}
