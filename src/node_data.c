/* SPDX-License-Identifier: GPL-3.0-or-later */
/* node_data.c - MNIST in one MPI-3 shared window per node. The first rank
 * of the node reads the files with dataset_load, copies the arrays into the
 * window and frees its private copy. The other ranks map the same pages. */
#include "fasweep/node_data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The outcome the node's first rank broadcasts after loading. */
struct load_result {
	int64_t ok;
	int64_t n_train_file;
	int64_t n_test_file;
};

/* Allocates the window: all of it on the first rank, nothing elsewhere, and
 * points ds into the first rank's part. */
static void window_map(struct node_data *nd, size_t n_images, int node_rank)
{
	size_t bytes = n_images * (DATASET_PIXELS + 1);
	MPI_Aint size = node_rank == 0 ? (MPI_Aint)bytes : 0;
	MPI_Aint got_size;
	int disp_unit;
	uint8_t *base;

	MPI_Win_allocate_shared(size, 1, MPI_INFO_NULL, nd->node, &base,
	                        &nd->win);
	MPI_Win_shared_query(nd->win, 0, &got_size, &disp_unit, &base);
	nd->ds.images = base;
	nd->ds.labels = base + n_images * DATASET_PIXELS;
}

/* FNV-1a hash of the directory name, as a non-negative split color. */
static int dir_color(const char *dir)
{
	uint32_t h = 2166136261u;

	for (const char *p = dir; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return (int)(h & 0x7fffffff);
}

/* Groups the ranks of comm that share a node and name the same data
 * directory. Ranks started with different --data directories (an MPMD
 * launch) load their own copies. */
static void node_split(struct node_data *nd, const char *dir, MPI_Comm comm)
{
	MPI_Comm shared;
	int rank;

	MPI_Comm_rank(comm, &rank);
	MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
	                    &shared);
	MPI_Comm_split(shared, dir_color(dir), rank, &nd->node);
	MPI_Comm_free(&shared);
}

int node_data_load(struct node_data *nd, const char *dir, MPI_Comm comm,
                   struct fw_error *err)
{
	struct dataset own = {0};
	struct load_result res = {0, 0, 0};
	int node_rank;

	node_data_init(nd);
	node_split(nd, dir, comm);
	MPI_Comm_rank(nd->node, &node_rank);

	/* The first rank reads the files and shares the outcome. */
	if (node_rank == 0 && dataset_load(&own, dir, err) == 0)
		res = (struct load_result){1, (int64_t)own.n_train_file,
		                           (int64_t)own.n_test_file};
	MPI_Bcast(&res, 3, MPI_INT64_T, 0, nd->node);
	if (!res.ok)
		return -1;
	nd->ds.n_train_file = (size_t)res.n_train_file;
	nd->ds.n_test_file = (size_t)res.n_test_file;
	nd->ds.n_images = nd->ds.n_train_file + nd->ds.n_test_file;

	/* The fences order the first rank's copy before any other read. */
	window_map(nd, nd->ds.n_images, node_rank);
	MPI_Win_fence(0, nd->win);
	if (node_rank == 0) {
		memcpy(nd->ds.images, own.images,
		       nd->ds.n_images * DATASET_PIXELS);
		memcpy(nd->ds.labels, own.labels, nd->ds.n_images);
		dataset_free(&own);
	}
	MPI_Win_fence(0, nd->win);
	return 0;
}

void node_data_init(struct node_data *nd)
{
	memset(nd, 0, sizeof(*nd));
	nd->node = MPI_COMM_NULL;
	nd->win = MPI_WIN_NULL;
}

void node_data_free(struct node_data *nd)
{
	if (nd->win != MPI_WIN_NULL)
		MPI_Win_free(&nd->win);
	if (nd->node != MPI_COMM_NULL)
		MPI_Comm_free(&nd->node);
	node_data_init(nd);
}
