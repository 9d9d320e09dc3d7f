/* SPDX-License-Identifier: GPL-3.0-or-later */
/* h5util.c - the helpers that the results-file sources share: error reports
 * for failed HDF5 calls, the file access properties, the compound types of
 * the two tables, and the writers of attributes and 1-D datasets. Which
 * objects a file contains is left to h5layout.c and h5weights.c. */
#include "h5util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#define H5_DETAIL_MAX 160 /* bytes of HDF5's own error text kept */

void h5_quiet_begin(struct h5_quiet *q)
{
	q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;

	/* Without the old handler there is nothing to restore, so printing
	 * stays as it was rather than being lost for the whole program. */
	if (q->saved && H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
		q->saved = 0;
}

void h5_quiet_end(const struct h5_quiet *q)
{
	/* NOTE: a failure here only leaves HDF5's printing switched off. */
	if (q->saved)
		(void)H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

/* Copies the name of the called function out of a CHECK expression such as
 * "space = H5Screate_simple(1, dims, NULL)". */
static void h5_call_name(const char *expr, char *name, size_t size)
{
	const char *p = strchr(expr, '=');
	size_t n = 0;

	p = (p != NULL && p[1] != '=') ? p + 1 : expr;
	while (*p == ' ' || *p == '(')
		p++;
	while (n + 1 < size &&
	       (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') ||
	        (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9'))) {
		name[n] = p[n];
		n++;
	}
	name[n] = '\0';
}

/* Copies HDF5's error text src into detail as one line, with each control
 * character replaced by a space. The sec2 driver's write errors contain
 * the newline that ctime() appends. Text longer than H5_DETAIL_MAX - 1
 * bytes is cut at a space near the limit, or mid-word if the last quarter
 * has no space, and ends with "...". */
static void h5_detail_copy(char detail[H5_DETAIL_MAX], const char *src)
{
	static const char mark[] = "...";
	size_t keep = H5_DETAIL_MAX - sizeof(mark); /* bytes before the mark */
	size_t n = 0;

	while (src[n] != '\0' && n < H5_DETAIL_MAX - 1) {
		unsigned char ch = (unsigned char)src[n];

		detail[n] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
		n++;
	}
	detail[n] = '\0';
	if (src[n] == '\0')
		return;

	/* Cut at a space within the last quarter, if there is one, else
	 * before the UTF-8 character that straddles the limit. */
	while (keep > 3 * H5_DETAIL_MAX / 4 && detail[keep] != ' ')
		keep--;
	if (detail[keep] != ' ') {
		keep = H5_DETAIL_MAX - sizeof(mark);
		while (keep > 0 && ((unsigned char)detail[keep] & 0xc0) == 0x80)
			keep--;
	}
	while (keep > 0 && detail[keep - 1] == ' ')
		keep--;
	memcpy(detail + keep, mark, sizeof(mark));
}

/* Keeps the description of the innermost entry of the HDF5 error stack,
 * the place where the failure was detected. */
static herr_t h5_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
	char *detail = data;

	if (n == 0 && e->desc != NULL)
		h5_detail_copy(detail, e->desc);
	return 0;
}

void h5_report(const struct h5ctx *c, const char *expr, const char *src_file,
               int line)
{
	char call[64];
	char detail[H5_DETAIL_MAX] = "";
	const char *src_base = strrchr(src_file, '/');

	h5_call_name(expr, call, sizeof(call));
	if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_innermost, detail) < 0)
		detail[0] = '\0';
	fw_error_set(c->err, "%s: %s failed at %s:%d (%s); %s", c->path, call,
	             src_base != NULL ? src_base + 1 : src_file, line,
	             detail[0] != '\0' ? detail : "no HDF5 error detail",
	             c->hint);
}

void h5_release(hid_t id)
{
	if (id < 0)
		return;
	switch (H5Iget_type(id)) {
	case H5I_FILE:
		(void)H5Fclose(id);
		break;
	case H5I_GROUP:
		(void)H5Gclose(id);
		break;
	case H5I_DATATYPE:
		(void)H5Tclose(id);
		break;
	case H5I_DATASPACE:
		(void)H5Sclose(id);
		break;
	case H5I_DATASET:
		(void)H5Dclose(id);
		break;
	case H5I_ATTR:
		(void)H5Aclose(id);
		break;
	case H5I_GENPROP_LST:
		(void)H5Pclose(id);
		break;
	default:
		break;
	}
}

hid_t h5_string_type(const struct h5ctx *c, size_t size)
{
	hid_t type = H5I_INVALID_HID;

	CHECK(c, type = H5Tcopy(H5T_C_S1));
	CHECK(c, H5Tset_size(type, size));
	CHECK(c, H5Tset_strpad(type, H5T_STR_NULLTERM));
	CHECK(c, H5Tset_cset(type, H5T_CSET_UTF8));
	return type;

fail:
	h5_release(type);
	return H5I_INVALID_HID;
}

hid_t h5_file_access(const struct h5ctx *c)
{
	hid_t fapl = H5I_INVALID_HID;

	CHECK(c, fapl = H5Pcreate(H5P_FILE_ACCESS));

	/* The 1.10 format is what single-writer/multiple-reader (SWMR) mode
	 * needs; HDF5 1.8 cannot read it. */
	CHECK(c,
	      H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST));

	/* Makes H5Fclose fail while any object is still open, so a leaked
	 * handle shows up as an error instead of a file left open. */
	CHECK(c, H5Pset_fclose_degree(fapl, H5F_CLOSE_SEMI));

#if H5_VERSION_GE(1, 12, 1) ||                                                 \
        (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
	/* HDF5 1.10.7 and later lock files with flock() and fail where the
	 * file system does not support it (some Lustre and NFS mounts). Lock
	 * where possible and carry on where locking is disabled. */
	CHECK(c, H5Pset_file_locking(fapl, 1, 1));
#endif
	return fapl;

fail:
	h5_release(fapl);
	return H5I_INVALID_HID;
}

/* ---- compound types of the tables ---- */

enum member_kind {
	MEMBER_STRING,
	MEMBER_INT32,
	MEMBER_INT64,
	MEMBER_FLOAT,
	MEMBER_DOUBLE
};

/* One field of a table row: its name, kind, offset and size in the struct. */
struct member {
	const char *name;
	enum member_kind kind;
	size_t offset;
	size_t size;
};

#define MEMBER(type, field, kind)                                              \
	{                                                                      \
#field, kind, HOFFSET(type, field), sizeof(((type *)0)->field) \
	}

static const struct member trial_members[] = {
        MEMBER(struct trial_row, mode, MEMBER_STRING),
        MEMBER(struct trial_row, hidden, MEMBER_INT32),
        MEMBER(struct trial_row, seed, MEMBER_INT64),
        MEMBER(struct trial_row, status, MEMBER_STRING),
        MEMBER(struct trial_row, final_test_accuracy, MEMBER_FLOAT),
        MEMBER(struct trial_row, wall_seconds, MEMBER_DOUBLE),
        MEMBER(struct trial_row, rank, MEMBER_INT32),
        MEMBER(struct trial_row, host, MEMBER_STRING),
        MEMBER(struct trial_row, message, MEMBER_STRING),
};

static const struct member stats_members[] = {
        MEMBER(struct stats_row, mode, MEMBER_STRING),
        MEMBER(struct stats_row, hidden, MEMBER_INT32),
        MEMBER(struct stats_row, baseline, MEMBER_STRING),
        MEMBER(struct stats_row, n_pairs, MEMBER_INT32),
        MEMBER(struct stats_row, mean, MEMBER_DOUBLE),
        MEMBER(struct stats_row, sd, MEMBER_DOUBLE),
        MEMBER(struct stats_row, mean_baseline, MEMBER_DOUBLE),
        MEMBER(struct stats_row, sd_baseline, MEMBER_DOUBLE),
        MEMBER(struct stats_row, mean_diff, MEMBER_DOUBLE),
        MEMBER(struct stats_row, ci95_low, MEMBER_DOUBLE),
        MEMBER(struct stats_row, ci95_high, MEMBER_DOUBLE),
        MEMBER(struct stats_row, t_paired, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_paired, MEMBER_DOUBLE),
        MEMBER(struct stats_row, t_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, df_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_welch, MEMBER_DOUBLE),
        MEMBER(struct stats_row, cohen_d, MEMBER_DOUBLE),
        MEMBER(struct stats_row, p_holm, MEMBER_DOUBLE),
};

#define N_MEMBERS(table) (sizeof(table) / sizeof((table)[0]))

static hid_t member_type(const struct h5ctx *c, const struct member *m)
{
	switch (m->kind) {
	case MEMBER_STRING:
		return h5_string_type(c, m->size);
	case MEMBER_INT32:
		return H5Tcopy(H5T_NATIVE_INT32);
	case MEMBER_INT64:
		return H5Tcopy(H5T_NATIVE_INT64);
	case MEMBER_FLOAT:
		return H5Tcopy(H5T_NATIVE_FLOAT);
	case MEMBER_DOUBLE:
		return H5Tcopy(H5T_NATIVE_DOUBLE);
	}
	return H5I_INVALID_HID;
}

/* Returns the memory type of a row struct of size bytes described by
 * members. HDF5 converts between it and the file type by field name. */
static hid_t compound_type(const struct h5ctx *c, const struct member *members,
                           size_t n_members, size_t size)
{
	hid_t type = H5I_INVALID_HID;
	hid_t field = H5I_INVALID_HID;

	CHECK(c, type = H5Tcreate(H5T_COMPOUND, size));
	for (size_t i = 0; i < n_members; i++) {
		CHECK(c, field = member_type(c, &members[i]));
		CHECK(c, H5Tinsert(type, members[i].name, members[i].offset,
		                   field));
		CLOSE(c, H5Tclose, field);
	}
	return type;

fail:
	h5_release(field);
	h5_release(type);
	return H5I_INVALID_HID;
}

hid_t h5_trial_row_type(const struct h5ctx *c)
{
	return compound_type(c, trial_members, N_MEMBERS(trial_members),
	                     sizeof(struct trial_row));
}

hid_t h5_stats_row_type(const struct h5ctx *c)
{
	return compound_type(c, stats_members, N_MEMBERS(stats_members),
	                     sizeof(struct stats_row));
}

/* ---- attributes and small datasets ---- */

int h5_attr_write_string(const struct h5ctx *c, hid_t loc, const char *name,
                         const char *value)
{
	const char *text = value != NULL ? value : "";
	hid_t type = H5I_INVALID_HID;
	hid_t space = H5I_INVALID_HID;
	hid_t attr = H5I_INVALID_HID;

	CHECK(c, type = h5_string_type(c, H5T_VARIABLE));
	CHECK(c, space = H5Screate(H5S_SCALAR));
	CHECK(c, attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT,
	                           H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Awrite(attr, type, &text));
	CLOSE(c, H5Aclose, attr);
	CLOSE(c, H5Tclose, type);
	return 0;

fail:
	h5_release(attr);
	h5_release(space);
	h5_release(type);
	return -1;
}

int h5_attr_write_scalar(const struct h5ctx *c, hid_t loc, const char *name,
                         hid_t file_type, hid_t mem_type, const void *value)
{
	hid_t space = H5I_INVALID_HID;
	hid_t attr = H5I_INVALID_HID;

	CHECK(c, space = H5Screate(H5S_SCALAR));
	CHECK(c, attr = H5Acreate2(loc, name, file_type, space, H5P_DEFAULT,
	                           H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Awrite(attr, mem_type, value));
	CLOSE(c, H5Aclose, attr);
	return 0;

fail:
	h5_release(attr);
	h5_release(space);
	return -1;
}

hid_t h5_dataset_create_1d(const struct h5ctx *c, hid_t loc, const char *name,
                           hid_t file_type, hid_t mem_type, size_t n,
                           const void *data)
{
	hsize_t dims[1] = {n};
	hid_t space = H5I_INVALID_HID;
	hid_t ds = H5I_INVALID_HID;

	CHECK(c, space = H5Screate_simple(1, dims, NULL));
	CHECK(c, ds = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT,
	                         H5P_DEFAULT, H5P_DEFAULT));
	CLOSE(c, H5Sclose, space);
	CHECK(c, H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
	return ds;

fail:
	h5_release(ds);
	h5_release(space);
	return H5I_INVALID_HID;
}

void h5_writer_name(char *buf, size_t size)
{
	char host[H5OUT_HOST_MAX] = "unknown";

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	snprintf(buf, size, "%s %ld", host, (long)getpid());
}

void h5_trial_split(size_t n_hidden, size_t n_seeds, size_t trial,
                    size_t idx[N_AXES])
{
	idx[AXIS_SEED] = trial % n_seeds;
	idx[AXIS_HIDDEN] = (trial / n_seeds) % n_hidden;
	idx[AXIS_MODE] = trial / n_seeds / n_hidden;
}
