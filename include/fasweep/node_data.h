/* SPDX-License-Identifier: GPL-3.0-or-later */
/* MNIST once per node: the first rank of each node loads the four files
 * into an MPI-3 shared-memory window, and every rank of the node reads the
 * images from there, read-only. Reading the files is left to dataset.c. */
#ifndef FASWEEP_NODE_DATA_H
#define FASWEEP_NODE_DATA_H

#include <mpi.h>

#include "fasweep/dataset.h"
#include "fasweep/error.h"

struct node_data {
	struct dataset ds; /* images and labels point into the window */
	MPI_Comm node;     /* the ranks that share this node's memory */
	MPI_Win win;       /* the shared window, MPI_WIN_NULL if none */
};

/* Loads MNIST from dir once per node of comm (ranks of one node that name
 * different directories form separate groups); collective over comm.
 * Returns 0 on every rank of a node whose first rank loaded the files, or
 * -1: on that first rank with err naming the file, on the other ranks of
 * the node with err left empty. Free with node_data_free on every rank. */
int node_data_load(struct node_data *nd, const char *dir, MPI_Comm comm,
                   struct fw_error *err);

/* Sets the handles of nd to null, so that node_data_free is safe on it
 * before or without node_data_load. */
void node_data_init(struct node_data *nd);

/* Releases the window and the node communicator; collective over the
 * node. */
void node_data_free(struct node_data *nd);

#endif
