/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_sgemm.c - times only the five cblas_sgemm calls of a bp training
 * epoch, with the shapes, transposes and leading dimensions of src/net.c
 * and none of the elementwise work (loading, sigmoid, deltas), for a list
 * of hidden sizes. That is the floor OpenBLAS sets under bench_trainer's
 * epoch. Then it times each product alone to show where the floor goes.
 * The side-by-side runs and the medians over rounds are left to run.sh. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "bench_common.h"
#include "fasweep/net.h"
#include "fasweep/rng.h"
#include "fasweep/trainer.h"

#define N_BATCHES  (BENCH_N_TRAIN / BENCH_BATCH_SIZE) /* 250 per epoch */
#define N_PRODUCTS 5

/* alpha of the two updates. The trainer's -lr would let W1 and W2 grow
 * without the sigmoid and deltas that hold them back, until they overflow.
 * This keeps them near their start, neither overflowing nor subnormal.
 * OpenBLAS runs the same kernels for every alpha but 0. */
#define UPDATE_ALPHA (-1e-6f)

struct sgemm_options {
	int32_t hidden[MAX_HIDDEN_SIZES];
	size_t n_hidden;
	int n_epochs;         /* timed epochs per hidden size */
	const char *tsv_path; /* --tsv, or NULL */
};

/* One hidden size: medians over the timed epochs, and each product's CPU
 * seconds for one epoch's worth of calls when timed alone. */
struct sgemm_row {
	int32_t n_hidden;
	struct elapsed epoch;
	double product_cpu[N_PRODUCTS];
	double product_flop[N_PRODUCTS];
};

static const char *const product_names[N_PRODUCTS] = {
        "x W1", "h W2", "d_out B^T", "h^T d_out", "x^T d_hid"};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: bench_sgemm [--hidden LIST] [--epochs N] "
	        "[--tsv FILE]\n"
	        "Times the five cblas_sgemm calls of a training epoch of %d "
	        "images in\nminibatches of %d on one core, with no other "
	        "work.\n"
	        "  --hidden LIST  hidden sizes, comma-separated (default "
	        "20,100,500,1000)\n"
	        "  --epochs N     timed epochs per size; the median is "
	        "reported (default 3)\n"
	        "  --tsv FILE     append one row per size to FILE in "
	        "bench_trainer's columns,\n"
	        "                 with a header line when FILE is empty "
	        "or new\n",
	        BENCH_N_TRAIN, BENCH_BATCH_SIZE);
}

/* Fills o from argv. Returns 0, 1 after --help, or -1 after a message. */
static int parse_args(struct sgemm_options *o, int argc, char **argv)
{
	static const int32_t sizes[] = {20, 100, 500, 1000};

	memset(o, 0, sizeof(*o));
	memcpy(o->hidden, sizes, sizeof(sizes));
	o->n_hidden = sizeof(sizes) / sizeof(sizes[0]);
	o->n_epochs = 3;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--hidden") && strcmp(a, "--epochs") &&
		    strcmp(a, "--tsv")) {
			fprintf(stderr,
			        "bench_sgemm: unknown option '%s'; see "
			        "--help\n",
			        a);
			return -1;
		}
		if (v == NULL) {
			fprintf(stderr, "bench_sgemm: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--tsv")) {
			o->tsv_path = v;
		} else if (!strcmp(a, "--hidden")) {
			if (parse_hidden_list("bench_sgemm", v, o->hidden,
			                      &o->n_hidden) != 0)
				return -1;
		} else {
			long n = strtol(v, &end, 10);

			if (end == v || *end != '\0' || n < 1 || n > 10000) {
				fprintf(stderr,
				        "bench_sgemm: invalid --epochs '%s'; "
				        "give an integer from 1 to 10000\n",
				        v);
				return -1;
			}
			o->n_epochs = (int)n;
		}
	}
	return 0;
}

/* Runs product k of one minibatch with the arguments of src/net.c: the
 * forward pass of net_forward, the hidden delta of net_hidden_delta with
 * B = W2[0:H] (bp) and scale 1, and the two updates of net_update. */
static void run_product(int k, struct net *net, struct net_batch *b, int n)
{
	int nh = net->n_hidden, ld = nh + 1;

	switch (k) {
	case 0: /* h[:, 0:H] = x W1: n x 785 by 785 x H */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nh,
		            NET_INPUTS, 1.0f, b->x, NET_INPUTS, net->w1, nh,
		            0.0f, b->h, ld);
		break;
	case 1: /* y = [h;1] W2: n x (H + 1) by (H + 1) x 10 */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n,
		            NET_OUTPUTS, ld, 1.0f, b->h, ld, net->w2,
		            NET_OUTPUTS, 0.0f, b->y, NET_OUTPUTS);
		break;
	case 2: /* d_hid = d_out B^T: n x 10 by 10 x H */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nh,
		            NET_OUTPUTS, 1.0f, b->d_out, NET_OUTPUTS,
		            net_feedback(net), NET_OUTPUTS, 0.0f, b->d_hid, nh);
		break;
	case 3: /* W2 += alpha [h;1]^T d_out: (H + 1) x n by n x 10 */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ld,
		            NET_OUTPUTS, n, UPDATE_ALPHA, b->h, ld, b->d_out,
		            NET_OUTPUTS, 1.0f, net->w2, NET_OUTPUTS);
		break;
	default: /* W1 += alpha x^T d_hid: 785 x n by n x H */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, NET_INPUTS,
		            nh, n, UPDATE_ALPHA, b->x, NET_INPUTS, b->d_hid, nh,
		            1.0f, net->w1, nh);
		break;
	}
}

/* FLOP of product k for n rows, 2 per multiply-add. Their sum per image
 * is train_flop of bench_trainer. */
static double product_flop(int k, int32_t n_hidden, int n)
{
	double h = n_hidden;
	double per_row[N_PRODUCTS] = {NET_INPUTS * h, (h + 1) * NET_OUTPUTS,
	                              NET_OUTPUTS * h, (h + 1) * NET_OUTPUTS,
	                              NET_INPUTS * h};

	return 2.0 * per_row[k] * n;
}

/* Fills x with random pixels in (0, 1) and the bias input, and the labels
 * at random. Then runs the library's forward pass and deltas once, untimed,
 * so that h, y, d_out and d_hid hold the values of a real minibatch and
 * OpenBLAS has allocated its buffers. */
static void fill_batch(struct net *net, struct net_batch *b, int n)
{
	struct rng r;

	rng_init(&r, 1, (uint32_t)net->n_hidden, RNG_SPLIT, 0x5e33);
	for (int i = 0; i < n; i++) {
		float *row = b->x + (size_t)i * NET_INPUTS;

		for (int j = 0; j < DATASET_PIXELS; j++)
			row[j] = (float)rng_uniform(&r);
		row[DATASET_PIXELS] = 1.0f;
		b->labels[i] = (uint8_t)rng_below(&r, NET_OUTPUTS);
	}
	net_forward(net, b, (size_t)n);
	net_output_delta(b, (size_t)n, NULL);
	net_hidden_delta(net_feedback(net), 1.0f, net->n_hidden, b, (size_t)n);
}

static int all_finite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

/* Times n_epochs epochs of the five products and each product alone for
 * one epoch's worth of calls. Returns 0, or -1 with err set. */
static int time_hidden(const struct sgemm_options *o, int32_t n_hidden,
                       struct sgemm_row *row, struct fw_error *err)
{
	int n = BENCH_BATCH_SIZE, status = -1;
	double *wall = calloc(2 * (size_t)o->n_epochs, sizeof(double));
	double *cpu = wall + o->n_epochs;
	struct net net;
	struct net_batch b;

	if (wall == NULL)
		return fw_error_set(err, "out of memory for %d epoch times",
		                    o->n_epochs);
	if (net_init(&net, MODE_BP, n_hidden, 1, err) != 0)
		goto out_times;
	if (net_batch_init(&b, n_hidden, (size_t)n, err) != 0)
		goto out_net;
	fill_batch(&net, &b, n);

	for (int e = 0; e < o->n_epochs; e++) {
		struct elapsed t0 = clock_now(), dt;

		for (int i = 0; i < N_BATCHES; i++)
			for (int k = 0; k < N_PRODUCTS; k++)
				run_product(k, &net, &b, n);
		dt = clock_since(t0);
		wall[e] = dt.wall;
		cpu[e] = dt.cpu;
	}
	for (int k = 0; k < N_PRODUCTS; k++) {
		struct elapsed t0 = clock_now();

		for (int i = 0; i < N_BATCHES; i++)
			run_product(k, &net, &b, n);
		row->product_cpu[k] = clock_since(t0).cpu;
		row->product_flop[k] = N_BATCHES * product_flop(k, n_hidden, n);
	}

	if (!all_finite(net.w1, (size_t)NET_INPUTS * (size_t)n_hidden) ||
	    !all_finite(net.w2, (size_t)(n_hidden + 1) * NET_OUTPUTS)) {
		fw_error_set(err,
		             "H = %d: the weights stopped being finite; "
		             "lower UPDATE_ALPHA",
		             (int)n_hidden);
		goto out_batch;
	}
	row->n_hidden = n_hidden;
	row->epoch.wall = median(wall, o->n_epochs);
	row->epoch.cpu = median(cpu, o->n_epochs);
	status = 0;

out_batch:
	net_batch_free(&b);
out_net:
	net_free(&net);
out_times:
	free(wall);
	return status;
}

static double epoch_flop(const struct sgemm_row *r)
{
	double sum = 0.0;

	for (int k = 0; k < N_PRODUCTS; k++)
		sum += r->product_flop[k];
	return sum;
}

static void print_row(const struct sgemm_row *r)
{
	printf("%6d %9.4f %9.4f %8.1f", (int)r->n_hidden, r->epoch.wall,
	       r->epoch.cpu, epoch_flop(r) / r->epoch.cpu / 1e9);
	for (int k = 0; k < N_PRODUCTS; k++)
		printf(" %7.4f %5.1f", r->product_cpu[k],
		       r->product_flop[k] / r->product_cpu[k] / 1e9);
	printf("\n");
}

/* Appends rows in bench_trainer's columns, with impl "sgemm", mode "bp"
 * and NaN where nothing was measured. */
static int write_tsv(const char *path, const struct sgemm_row *rows,
                     size_t n_rows, struct fw_error *err)
{
	FILE *f = fopen(path, "a");
	int failed;

	if (f == NULL)
		return fw_error_set(err, "cannot open %s for appending: %s",
		                    path, strerror(errno));
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0)
		fputs("impl\tmode\tH\tdata\tn_train\tbatch_size\ttrain_s\t"
		      "train_cpu_s\teval_s\teval_cpu_s\ttrain_flop\teval_flop\t"
		      "train_cpu_gflops\tfma_peak_gflops\tsgemm_peak_gflops\t"
		      "train_pct_fma_peak\ttest_accuracy\n",
		      f);
	for (size_t i = 0; i < n_rows; i++) {
		const struct sgemm_row *r = &rows[i];
		double flop = epoch_flop(r);

		fprintf(f,
		        "sgemm\tbp\t%d\trandom\t%d\t%d\t%.6f\t%.6f\tnan\tnan\t"
		        "%.6g\tnan\t%.3f\tnan\tnan\tnan\tnan\n",
		        (int)r->n_hidden, BENCH_N_TRAIN, BENCH_BATCH_SIZE,
		        r->epoch.wall, r->epoch.cpu, flop,
		        flop / r->epoch.cpu / 1e9);
	}
	failed = ferror(f);
	if (fclose(f) != 0 || failed)
		return fw_error_set(err, "writing %s failed: %s", path,
		                    strerror(errno));
	return 0;
}

static void print_header(const struct sgemm_options *o)
{
	printf("the five sgemms of a bp epoch (%d minibatches of %d), "
	       "nothing else;\nepoch seconds are medians of %d timed "
	       "epochs, then each product alone for one\nepoch's worth of "
	       "calls: CPU s and GFLOP per CPU second\n\n",
	       N_BATCHES, BENCH_BATCH_SIZE, o->n_epochs);
	printf("%6s %9s %9s %8s", "H", "wall s", "CPU s", "GFLOP/s");
	for (int k = 0; k < N_PRODUCTS; k++)
		printf(" %13s", product_names[k]);
	printf("\n");
}

int main(int argc, char **argv)
{
	struct sgemm_options o;
	struct sgemm_row rows[MAX_HIDDEN_SIZES];
	struct fw_error err = {{0}};
	int parsed = parse_args(&o, argc, argv);

	if (parsed != 0)
		return parsed > 0 ? EXIT_SUCCESS : 2;
	trainer_pin_blas();

	print_header(&o);
	for (size_t i = 0; i < o.n_hidden; i++) {
		if (time_hidden(&o, o.hidden[i], &rows[i], &err) != 0) {
			fprintf(stderr, "bench_sgemm: %s\n", err.msg);
			return EXIT_FAILURE;
		}
		print_row(&rows[i]);
		fflush(stdout);
	}
	if (o.tsv_path != NULL &&
	    write_tsv(o.tsv_path, rows, o.n_hidden, &err) != 0) {
		fprintf(stderr, "bench_sgemm: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
