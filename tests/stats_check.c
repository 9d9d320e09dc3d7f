/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Command-line front end to stats_compare and stats_holm, so that
 * test_stats_scipy.py can feed it data sets and compare every field with
 * scipy.stats. The comparison itself is left to that script.
 *
 * Input (stdin): data sets separated by one or more blank lines. Each line of
 * a data set is one pair "x y", x the mode and y the baseline, two numbers in
 * any form strtod accepts (including nan and inf). A data set with no pairs
 * is written as a block holding the single line "-".
 *
 * Output (stdout): one line per data set, in input order, with these fields
 * separated by one space, n_pairs as an integer and the rest with %.17g (NaN
 * and inf as glibc prints them: nan, -nan, inf, -inf):
 *
 *   n_pairs mean sd mean_baseline sd_baseline mean_diff ci95_low ci95_high
 *   t_paired p_paired t_welch df_welch p_welch cohen_d p_holm
 *
 * p_holm is computed across all data sets of the input. Exits 0 on success
 * and 1 with a message on stderr on invalid input or when out of memory. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasweep/stats.h"

/* A growable array of doubles. */
struct dvec {
	double *v;
	size_t n;
	size_t cap;
};

/* The data sets read so far and the one being read. */
struct input {
	struct dvec x;          /* pairs of the current data set, mode */
	struct dvec y;          /* and baseline */
	int empty_marker;       /* the current data set is "-" */
	struct stats_row *rows; /* one per finished data set */
	size_t n_rows;
	size_t cap_rows;
};

static void die(const char *msg, size_t line)
{
	if (line)
		fprintf(stderr, "stats_check: stdin line %zu: %s\n", line, msg);
	else
		fprintf(stderr, "stats_check: %s\n", msg);
	exit(1);
}

static void dvec_push(struct dvec *d, double value)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		double *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			die("out of memory while reading the pairs", 0);
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = value;
}

/* Returns whether the line contains only white space. */
static int is_blank(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* Runs stats_compare on the current data set, if any, and starts a new one. */
static void finish_block(struct input *in)
{
	struct stats_row *row;

	if (in->x.n == 0 && !in->empty_marker)
		return;

	if (in->n_rows == in->cap_rows) {
		size_t cap = in->cap_rows ? 2 * in->cap_rows : 64;
		struct stats_row *rows = realloc(in->rows, cap * sizeof(*rows));

		if (!rows)
			die("out of memory while storing the results", 0);
		in->rows = rows;
		in->cap_rows = cap;
	}

	row = &in->rows[in->n_rows++];
	memset(row, 0, sizeof(*row));
	stats_compare(in->x.v, in->y.v, in->x.n, row);

	in->x.n = 0;
	in->y.n = 0;
	in->empty_marker = 0;
}

/* Parses one non-blank line into the current data set. */
static void read_pair(struct input *in, const char *line, size_t line_no)
{
	const char *start = line + strspn(line, " \t");
	char *end;
	double x, y;

	/* "-" alone is a data set with no pairs */
	if (start[0] == '-' && is_blank(start + 1)) {
		if (in->x.n != 0 || in->empty_marker)
			die("\"-\" must be the only line of its data set",
			    line_no);
		in->empty_marker = 1;
		return;
	}
	if (in->empty_marker)
		die("a data set marked \"-\" cannot hold pairs: add a blank "
		    "line before this pair",
		    line_no);

	errno = 0;
	x = strtod(line, &end);
	if (end == line)
		die("expected two numbers \"x y\", found no number", line_no);
	line = end;
	y = strtod(line, &end);
	if (end == line || !is_blank(end))
		die("expected two numbers \"x y\" and nothing else", line_no);
	if (errno == ERANGE)
		die("number out of the range of double", line_no);

	dvec_push(&in->x, x);
	dvec_push(&in->y, y);
}

static void print_row(const struct stats_row *r)
{
	const double fields[] = {
	        r->mean,      r->sd,       r->mean_baseline, r->sd_baseline,
	        r->mean_diff, r->ci95_low, r->ci95_high,     r->t_paired,
	        r->p_paired,  r->t_welch,  r->df_welch,      r->p_welch,
	        r->cohen_d,   r->p_holm,
	};
	size_t i;

	printf("%d", (int)r->n_pairs);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		printf(" %.17g", fields[i]);
	printf("\n");
}

int main(void)
{
	struct input in = {0};
	char *line = NULL;
	size_t line_cap = 0;
	size_t line_no = 0;
	size_t i;

	/* read the data sets, computing each as it ends */
	while (getline(&line, &line_cap, stdin) != -1) {
		line_no++;
		if (is_blank(line))
			finish_block(&in);
		else
			read_pair(&in, line, line_no);
	}
	if (ferror(stdin))
		die("failed to read stdin", 0);
	finish_block(&in);

	/* Holm across all data sets, then print */
	stats_holm(in.rows, in.n_rows);
	for (i = 0; i < in.n_rows; i++)
		print_row(&in.rows[i]);
	if (fflush(stdout) != 0)
		die("failed to write stdout", 0);

	free(line);
	free(in.rows);
	free(in.y.v);
	free(in.x.v);
	return 0;
}
