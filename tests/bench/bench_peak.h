/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The single-core float32 peak that bench_trainer compares the trainer with:
 * a register-resident FMA loop and a large OpenBLAS sgemm, both measured on
 * the spot in GFLOP per second of process CPU time. bench_peak.c is built for
 * the host CPU (-march=native), the trainer's timing code is not. */
#ifndef FASWEEP_BENCH_PEAK_H
#define FASWEEP_BENCH_PEAK_H

/* Returns the name of the vector instructions the FMA loop was compiled for
 * ("AVX-512", "AVX2+FMA" or "scalar"). */
const char *peak_fma_isa(void);

/* Runs the FMA loop n_runs times for about seconds_per_run each and returns
 * the best rate in GFLOP/s (2 FLOP per multiply-add). */
double peak_fma_gflops(int n_runs, double seconds_per_run);

/* Times C = A B for n x n float32 matrices through cblas_sgemm n_runs times
 * and returns the best rate in GFLOP/s (2 n^3 FLOP per product), or -1 when
 * the matrices cannot be allocated. */
double peak_sgemm_gflops(int n, int n_runs);

#endif
