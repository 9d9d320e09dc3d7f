/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_peak.c - measures the single-core float32 peak: a loop of
 * independent FMAs that stays in registers, with the widest vectors the
 * compiler was allowed (choose them with -march), and OpenBLAS's sgemm on
 * large matrices. Timing the trainer is left to bench_trainer.c. */
#include "bench_peak.h"

#include <stdlib.h>
#include <time.h>

#include <cblas.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

/* Independent accumulator chains. Keeping every FMA unit busy needs as many
 * chains as the FMA latency times the number of units, typically 4 x 2 = 8
 * on recent x86 cores. 12 leave a margin and fit in the 16 ymm or 32 zmm
 * registers. */
#define N_CHAINS 12

/* Iterations per block: the calibration counts in blocks. */
#define BLOCK_ITERATIONS 100000

#if defined(__AVX512F__)
typedef __m512 vec;
#define VEC_LANES  16
#define VEC_ISA    "AVX-512"
#define vec_set1   _mm512_set1_ps
#define vec_fmadd  _mm512_fmadd_ps
#define vec_add    _mm512_add_ps
#define vec_reduce _mm512_reduce_add_ps
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define VEC_LANES 8
#define VEC_ISA   "AVX2+FMA"
#define vec_set1  _mm256_set1_ps
#define vec_fmadd _mm256_fmadd_ps
#define vec_add   _mm256_add_ps
static float vec_reduce(__m256 v)
{
	float lanes[8];

	_mm256_storeu_ps(lanes, v);
	return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] +
	       lanes[6] + lanes[7];
}
#else
/* NOTE: without AVX2 or AVX-512 (or without -march allowing them) the
 * "peak" is a scalar FMA rate, far below what OpenBLAS reaches. */
typedef float vec;
#define VEC_LANES 1
#define VEC_ISA   "scalar"
static float vec_set1(float x)
{
	return x;
}
static float vec_fmadd(float a, float b, float c)
{
	return a * b + c;
}
static float vec_add(float a, float b)
{
	return a + b;
}
static float vec_reduce(float v)
{
	return v;
}
#endif

/* Returns the CPU time of the process in seconds. CPU time, unlike
 * wall-clock time, leaves out the time that other processes on a shared
 * machine hold the core. */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *peak_fma_isa(void)
{
	return VEC_ISA;
}

/* Runs n_blocks blocks of N_CHAINS independent acc = acc * m + a chains.
 * m just below 1 and a small keep every value normal and finite. The sum is
 * returned so the compiler cannot drop the loop. */
static float fma_blocks(long n_blocks)
{
	vec m = vec_set1(0.9999999f), a = vec_set1(1e-7f);
	vec acc[N_CHAINS];
	vec sum;

	for (int c = 0; c < N_CHAINS; c++)
		acc[c] = vec_set1((float)c);
	for (long i = 0; i < n_blocks * BLOCK_ITERATIONS; i++)
		for (int c = 0; c < N_CHAINS; c++)
			acc[c] = vec_fmadd(acc[c], m, a);

	sum = acc[0];
	for (int c = 1; c < N_CHAINS; c++)
		sum = vec_add(sum, acc[c]);
	return vec_reduce(sum);
}

double peak_fma_gflops(int n_runs, double seconds_per_run)
{
	const double flop_per_block =
	        2.0 * VEC_LANES * N_CHAINS * (double)BLOCK_ITERATIONS;
	volatile float sink = 0.0f;
	long n_blocks = 1;
	double best = 0.0;

	/* Calibrate: double the block count until one run takes a tenth of
	 * the requested time, then scale to the requested time. */
	for (;;) {
		double t0 = cpu_seconds(), dt;

		sink += fma_blocks(n_blocks);
		dt = cpu_seconds() - t0;
		if (dt >= seconds_per_run / 10.0) {
			n_blocks = (long)((double)n_blocks * seconds_per_run /
			                  dt) +
			           1;
			break;
		}
		n_blocks *= 2;
	}

	for (int r = 0; r < n_runs; r++) {
		double t0 = cpu_seconds(), rate;

		sink += fma_blocks(n_blocks);
		rate = flop_per_block * (double)n_blocks /
		       (cpu_seconds() - t0) / 1e9;
		if (rate > best)
			best = rate;
	}
	(void)sink;
	return best;
}

double peak_sgemm_gflops(int n, int n_runs)
{
	size_t nn = (size_t)n * (size_t)n;
	float *a = malloc(sizeof(float) * nn); /* n x n */
	float *b = malloc(sizeof(float) * nn); /* n x n */
	float *c = malloc(sizeof(float) * nn); /* n x n */
	double best = -1.0;

	if (a == NULL || b == NULL || c == NULL)
		goto out;
	for (size_t i = 0; i < nn; i++) {
		a[i] = (float)(i % 7) * 0.125f;
		b[i] = (float)(i % 5) * 0.25f;
	}

	/* The first call pays for OpenBLAS's buffers and page faults. */
	for (int r = 0; r <= n_runs; r++) {
		double t0 = cpu_seconds(), rate;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n,
		            1.0f, a, n, b, n, 0.0f, c, n);
		rate = 2.0 * (double)n * (double)nn / (cpu_seconds() - t0) /
		       1e9;
		if (r > 0 && rate > best)
			best = rate;
	}

out:
	free(c);
	free(b);
	free(a);
	return best;
}
