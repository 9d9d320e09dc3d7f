/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The sweep grid: reads the INI file with inih, validates every key against a
 * table of key descriptors, expands the lists, and maps trials to flat
 * indices and to the order they are handed out. Loading MNIST and running
 * trials are left to the dataset and trainer modules. */
#include "fasweep/grid.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

/* Largest hidden layer size allowed in [sweep] hidden, in units. */
#define HIDDEN_MAX 100000

/* Values an expanded hidden or seeds list may hold. NOTE: the limit stops a
 * typo such as seeds = 1-1000000000 from allocating gigabytes; no experiment
 * in view needs more. */
#define LIST_MAX 100000

/* One list item fits in one line, which inih reads into INI_MAX_LINE bytes. */
#define ITEM_SIZE INI_MAX_LINE

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const mode_names[N_MODES] = {
        "bp", "fa", "onehot", "shallow", "sparse", "sign", "frsf", "kp"};
static const char *const axis_names[N_AXES] = {"mode", "hidden", "seed"};
static const char *const axis_nouns[N_AXES] = {"mode", "hidden size", "seed"};
static const char *const split_names[] = {"pooled", "standard"};
static const char *const fa_scale_names[] = {"log_epoch", "constant"};
static const char *const onehot_sign_names[] = {"positive", "random"};
static const char *const feedback_norm_names[] = {"as_drawn", "match_w2"};
static const char *const stage_names[N_STAGES] = {"initial", "final"};
static const char *const section_names[] = {"data",  "network", "feedback",
                                            "sweep", "stats",   "output"};

/* Limits and example of a numeric INI value. */
struct number_rule {
	const char *name;    /* the INI key */
	int integer;         /* whole numbers only */
	int64_t min, max;    /* integers: min <= v <= max */
	float real_min;      /* reals: real_min <= (float)v <= real_max, */
	float real_max;      /* because the trainer computes in float */
	const char *example; /* a valid value, shown in messages */
	double def;          /* default of a numeric setting */
};

/* The trainer converts the learning rate to float, so it must be a normal,
 * finite float. Otherwise 1e-50 would train with 0 and 1e39 with infinity. */
static const struct number_rule setting_rules[N_SETTINGS] = {
        [SET_LEARNING_RATE] = {"learning_rate", 0, 0, 0, FLT_MIN, FLT_MAX,
                               "0.07", 0.07},
        [SET_BATCH_SIZE] = {"batch_size", 1, 1, INT32_MAX, 0, 0, "200", 200},
        [SET_EPOCHS] = {"epochs", 1, 1, 100000, 0, 0, "200", 200},
        [SET_N_TRAIN] = {"n_train", 1, 1, INT32_MAX, 0, 0, "50000", 50000},
        [SET_N_TEST] = {"n_test", 1, 1, INT32_MAX, 0, 0, "20000", 20000},
        [SET_N_PROBE] = {"n_probe", 1, 1, INT32_MAX, 0, 0, "1000", 1000},
        [SET_FEEDBACK_K] = {"feedback_k", 1, 1, 10, 0, 0, "1", 1},
        [SET_KP_DECAY] = {"kp_decay", 0, 0, 0, 0.0f, 0.5f, "0.001", 0.001},
};

/* At most this many checkpoints inside the first epoch. */
#define EARLY_CHECKPOINTS_MAX 1000

static const struct number_rule hidden_rule = {.name = "hidden",
                                               .integer = 1,
                                               .min = 1,
                                               .max = HIDDEN_MAX,
                                               .example = "100"};
static const struct number_rule seed_rule = {.name = "seeds",
                                             .integer = 1,
                                             .min = 0,
                                             .max = INT64_MAX,
                                             .example = "1"};
static const struct number_rule early_rule = {.name = "early_checkpoints",
                                              .integer = 1,
                                              .min = 0,
                                              .max = EARLY_CHECKPOINTS_MAX,
                                              .example = "4"};
static const struct number_rule max_trials_rule = {.name = "max_trials",
                                                   .integer = 1,
                                                   .min = 1,
                                                   .max = INT64_MAX,
                                                   .example = "1000000"};

/* Every key of the INI file, in the order of the key table. */
enum key_index {
	K_DIR,
	K_SPLIT,
	K_N_TRAIN,
	K_N_TEST,
	K_N_PROBE,
	K_LEARNING_RATE,
	K_BATCH_SIZE,
	K_EPOCHS,
	K_FA_SCALE,
	K_ONEHOT_SIGN,
	K_FEEDBACK_NORM,
	K_FEEDBACK_K,
	K_KP_DECAY,
	K_MODES,
	K_HIDDEN,
	K_SEEDS,
	K_ZIP,
	K_MAX_TRIALS,
	K_BASELINE,
	K_SAVE_WEIGHTS,
	K_EARLY_CHECKPOINTS,
	N_KEYS
};

/* Line and value of a key as parsed. */
struct key_seen {
	int line;    /* 0 while the key has not appeared */
	char *value; /* the value as written, for messages after parsing */
};

struct parse_ctx {
	struct grid *g;
	const char *next;    /* start of the text not yet read */
	int line;            /* number of the line last read, from 1 */
	int key_in_section;  /* a key line came after the last header */
	int continuation;    /* inih reads the line as a continuation */
	int section_line;    /* line of the last [section] header */
	int fail_line;       /* line where the handler failed, 0 if none */
	struct fw_error err; /* the first error found */
	struct key_seen seen[N_KEYS];
	enum grid_axis zip_axis; /* AXIS_NONE without a zip key */
	int zipped[N_SETTINGS];  /* 1 if zip names the setting */

	/* Fields for the message about a line too long for inih. */
	char section[ITEM_SIZE];      /* name of the last [section] header */
	const char *long_text;        /* first line over INI_MAX_LINE - 1
	                                 characters, in the text; NULL if none */
	size_t long_length;           /* its length in characters */
	int long_line;                /* its line number, 0 if none */
	char long_section[ITEM_SIZE]; /* the section it is in */
};

typedef int (*key_parser)(struct parse_ctx *c, int k, const char *value);

static int parse_dir(struct parse_ctx *c, int k, const char *value);
static int parse_split(struct parse_ctx *c, int k, const char *value);
static int parse_fa_scale(struct parse_ctx *c, int k, const char *value);
static int parse_onehot_sign(struct parse_ctx *c, int k, const char *value);
static int parse_feedback_norm(struct parse_ctx *c, int k, const char *value);
static int parse_baseline(struct parse_ctx *c, int k, const char *value);
static int parse_setting(struct parse_ctx *c, int k, const char *value);
static int parse_modes(struct parse_ctx *c, int k, const char *value);
static int parse_hidden(struct parse_ctx *c, int k, const char *value);
static int parse_seeds(struct parse_ctx *c, int k, const char *value);
static int parse_zip(struct parse_ctx *c, int k, const char *value);
static int parse_max_trials(struct parse_ctx *c, int k, const char *value);
static int parse_save_weights(struct parse_ctx *c, int k, const char *value);
static int parse_early(struct parse_ctx *c, int k, const char *value);

/* One INI key: where it lives and how its value is parsed. */
struct key_desc {
	const char *section;
	const char *name;
	key_parser parse;
	enum grid_setting_id setting; /* used by parse_setting only */
	const char *required;         /* example value of a required key, or
	                                 NULL if the key has a default */
};

static const struct key_desc keys[N_KEYS] = {
        [K_DIR] = {"data", "dir", parse_dir, 0, NULL},
        [K_SPLIT] = {"data", "split", parse_split, 0, NULL},
        [K_N_TRAIN] = {"data", "n_train", parse_setting, SET_N_TRAIN, NULL},
        [K_N_TEST] = {"data", "n_test", parse_setting, SET_N_TEST, NULL},
        [K_N_PROBE] = {"data", "n_probe", parse_setting, SET_N_PROBE, NULL},
        [K_LEARNING_RATE] = {"network", "learning_rate", parse_setting,
                             SET_LEARNING_RATE, NULL},
        [K_BATCH_SIZE] = {"network", "batch_size", parse_setting,
                          SET_BATCH_SIZE, NULL},
        [K_EPOCHS] = {"network", "epochs", parse_setting, SET_EPOCHS, NULL},
        [K_FA_SCALE] = {"feedback", "fa_scale", parse_fa_scale, 0, NULL},
        [K_ONEHOT_SIGN] = {"feedback", "onehot_sign", parse_onehot_sign, 0,
                           NULL},
        [K_FEEDBACK_NORM] = {"feedback", "feedback_norm", parse_feedback_norm,
                             0, NULL},
        [K_FEEDBACK_K] = {"feedback", "feedback_k", parse_setting,
                          SET_FEEDBACK_K, NULL},
        [K_KP_DECAY] = {"feedback", "kp_decay", parse_setting, SET_KP_DECAY,
                        NULL},
        [K_MODES] = {"sweep", "modes", parse_modes, 0, "bp, fa, onehot"},
        [K_HIDDEN] = {"sweep", "hidden", parse_hidden, 0, "20, 100, 1000"},
        [K_SEEDS] = {"sweep", "seeds", parse_seeds, 0, "1-30"},
        [K_ZIP] = {"sweep", "zip", parse_zip, 0, NULL},
        [K_MAX_TRIALS] = {"sweep", "max_trials", parse_max_trials, 0, NULL},
        [K_BASELINE] = {"stats", "baseline", parse_baseline, 0, NULL},
        [K_SAVE_WEIGHTS] = {"output", "save_weights", parse_save_weights, 0,
                            NULL},
        [K_EARLY_CHECKPOINTS] = {"output", "early_checkpoints", parse_early, 0,
                                 NULL},
};

const char *grid_mode_name(enum fw_mode mode)
{
	if ((unsigned)mode >= N_MODES)
		return "unknown";
	return mode_names[mode];
}

/* Returns the index of s in names, or -1. */
static int find_name(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

int grid_mode_parse(const char *name, enum fw_mode *mode)
{
	int i = find_name(mode_names, N_MODES, name);

	if (i < 0)
		return -1;
	*mode = (enum fw_mode)i;
	return 0;
}

const char *grid_onehot_sign_name(enum onehot_sign sign)
{
	return onehot_sign_names[sign];
}

const char *grid_feedback_norm_name(enum feedback_norm norm)
{
	return feedback_norm_names[norm];
}

const char *grid_stage_name(enum weight_stage stage)
{
	if ((unsigned)stage >= N_STAGES)
		return "unknown";
	return stage_names[stage];
}

size_t grid_n_stages(const struct grid *g)
{
	size_t n = 0;

	for (int i = 0; i < N_STAGES; i++)
		n += g->save_weights[i] != 0;
	return n;
}

void grid_stage_list(const struct grid *g, const char *sep, char *buf,
                     size_t size)
{
	size_t used = 0;

	snprintf(buf, size, "none");
	for (int i = 0; i < N_STAGES && used < size; i++)
		if (g->save_weights[i])
			used += (size_t)snprintf(buf + used, size - used,
			                         "%s%s", used ? sep : "",
			                         stage_names[i]);
}

const char *grid_axis_name(enum grid_axis axis)
{
	if ((unsigned)axis >= N_AXES)
		return "none";
	return axis_names[axis];
}

/* Returns the number of entries of an axis. AXIS_NONE counts as one. */
static size_t axis_length(const struct grid *g, enum grid_axis axis)
{
	switch (axis) {
	case AXIS_MODE:
		return g->n_modes;
	case AXIS_HIDDEN:
		return g->n_hidden;
	case AXIS_SEED:
		return g->n_seeds;
	default:
		return 1;
	}
}

/* ---- Error messages ---- */

/* Sets c->err to "FILE:LINE: [section] key = value: " and the message. */
static int vkey_error_at(struct parse_ctx *c, int k, int line,
                         const char *value, const char *fmt, va_list ap)
{
	char what[FW_ERROR_MAX];

	vsnprintf(what, sizeof(what), fmt, ap);
	return fw_error_set(&c->err, "%s:%d: [%s] %s = %s: %s", c->g->path,
	                    line, keys[k].section, keys[k].name, value, what);
}

static int key_error_at(struct parse_ctx *c, int k, int line, const char *value,
                        const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

static int key_error_at(struct parse_ctx *c, int k, int line, const char *value,
                        const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vkey_error_at(c, k, line, value, fmt, ap);
	va_end(ap);
	return -1;
}

/* Like key_error_at, at the line and value where key k was seen. */
static int key_error(struct parse_ctx *c, int k, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int key_error(struct parse_ctx *c, int k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vkey_error_at(c, k, c->seen[k].line, c->seen[k].value, fmt, ap);
	va_end(ap);
	return -1;
}

static int out_of_memory(struct parse_ctx *c)
{
	return fw_error_set(&c->err,
	                    "%s:%d: out of memory while reading the grid; "
	                    "free memory or shorten the lists",
	                    c->g->path, c->line);
}

/* Writes "a, b, c" from names into buf, each wrapped in pre and post. */
static void join_names(char *buf, size_t size, const char *const *names,
                       size_t n, const char *pre, const char *post)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s%s%s",
		                         i ? ", " : "", pre, names[i], post);
}

/* ---- Reading lines for inih ---- */

/* Marks where a [section] header sits, so an unknown section is reported at
 * its header rather than at its first key. */
static void note_section(struct parse_ctx *c, const char *line)
{
	const char *bom = "\xEF\xBB\xBF";
	const char *end;

	if (c->line == 1 && strncmp(line, bom, 3) == 0)
		line += 3;
	line += strspn(line, " \t\v\f\r");
	end = strchr(line, ']');
	if (c->continuation || *line != '[' || end == NULL)
		return;
	c->section_line = c->line;
	c->key_in_section = 0;
	snprintf(c->section, sizeof(c->section), "%.*s", (int)(end - line - 1),
	         line + 1);
}

/* The ini_reader of ini_parse_stream: copies the next line of the text into
 * buf without its line ending and counts lines, because the handler of this
 * inih build gets no line number. A line longer than size - 1 characters is
 * replaced by "[", which inih rejects as a syntax error at that line, and
 * the first such line is kept for its own message. Passed on, it would be
 * split by inih and shift every later line number. */
static char *read_line(char *buf, int size, void *stream)
{
	struct parse_ctx *c = stream;
	const char *start = c->next;
	const char *end;
	size_t len;

	if (*start == '\0')
		return NULL;
	end = strchr(start, '\n');
	if (end == NULL)
		end = start + strlen(start);
	c->next = *end == '\n' ? end + 1 : end;
	c->line++;

	len = (size_t)(end - start);
	if (len > 0 && start[len - 1] == '\r')
		len--;
	if (len > (size_t)size - 1) {
		if (c->long_line == 0) {
			c->long_line = c->line;
			snprintf(c->long_section, sizeof(c->long_section), "%s",
			         c->section);
			c->long_text = start;
			c->long_length = len;
		}
		snprintf(buf, (size_t)size, "[");
		return buf;
	}
	memcpy(buf, start, len);
	buf[len] = '\0';
	/* Like inih, an indented line after a key line of the same section
	 * continues that key's value, even if it looks like a header. */
	c->continuation = isspace((unsigned char)buf[0]) && c->key_in_section;
	note_section(c, buf);
	return buf;
}

/* ---- Finding a key and remembering it ---- */

static int unknown_key(struct parse_ctx *c, const char *section,
                       const char *name)
{
	const char *names[N_KEYS];
	char valid[FW_ERROR_MAX];
	size_t k, n = 0;

	for (k = 0; k < N_KEYS; k++) {
		if (strcmp(keys[k].section, section) == 0)
			names[n++] = keys[k].name;
	}
	if (n > 0) {
		join_names(valid, sizeof(valid), names, n, "", "");
		return fw_error_set(&c->err,
		                    "%s:%d: unknown key '%s' in [%s]; "
		                    "valid keys: %s",
		                    c->g->path, c->line, name, section, valid);
	}

	join_names(valid, sizeof(valid), section_names,
	           ARRAY_SIZE(section_names), "[", "]");
	if (section[0] == '\0')
		return fw_error_set(&c->err,
		                    "%s:%d: key '%s' is outside any section; "
		                    "put it under one of %s",
		                    c->g->path, c->line, name, valid);
	return fw_error_set(&c->err,
	                    "%s:%d: unknown section [%s]; valid sections: %s",
	                    c->g->path, c->section_line, section, valid);
}

/* Returns the index of the key, or -1 if there is none. */
static int lookup_key(const char *section, const char *name)
{
	int k;

	for (k = 0; k < N_KEYS; k++) {
		if (strcmp(keys[k].section, section) == 0 &&
		    strcmp(keys[k].name, name) == 0)
			return k;
	}
	return -1;
}

/* Returns the index of the key, or -1 with c->err set. */
static int find_key(struct parse_ctx *c, const char *section, const char *name)
{
	int k = lookup_key(section, name);

	return k >= 0 ? k : unknown_key(c, section, name);
}

/* Records the line and value of key k. A second occurrence is an error.
 * inih hands an indented line after a key to the handler as a second value
 * of that key (a continuation line), so that case gets its own message. */
static int remember_key(struct parse_ctx *c, int k, const char *value)
{
	struct key_seen *s = &c->seen[k];

	if (s->line != 0 && c->continuation)
		return key_error_at(c, k, c->line, value,
		                    "this indented line continues the key of "
		                    "line %d, so the key is set twice; remove "
		                    "the indentation or join the values on "
		                    "line %d",
		                    s->line, s->line);
	if (s->line != 0)
		return key_error_at(c, k, c->line, value,
		                    "duplicate key, already set on line %d; "
		                    "keep one of the two lines",
		                    s->line);

	s->value = strdup(value);
	if (s->value == NULL)
		return out_of_memory(c);
	s->line = c->line;
	return 0;
}

/* The ini_handler: dispatches one key = value to the parser of its key. */
static int on_key(void *user, const char *section, const char *name,
                  const char *value)
{
	struct parse_ctx *c = user;
	int k;

	c->key_in_section = 1;

	/* Only the first error is reported, so nothing is parsed after it. */
	if (c->fail_line != 0)
		return 1;

	k = find_key(c, section, name);
	if (k < 0 || remember_key(c, k, value) != 0 ||
	    keys[k].parse(c, k, value) != 0) {
		c->fail_line = c->line;
		return 0;
	}
	return 1;
}

/* ---- Scalar keys ---- */

static int parse_dir(struct parse_ctx *c, int k, const char *value)
{
	char *dir;

	if (value[0] == '\0')
		return key_error(c, k,
		                 "empty; give the directory that holds "
		                 "the MNIST files");
	dir = strdup(value);
	if (dir == NULL)
		return out_of_memory(c);
	free(c->g->data_dir);
	c->g->data_dir = dir;
	return 0;
}

static int parse_split(struct parse_ctx *c, int k, const char *value)
{
	int i = find_name(split_names, ARRAY_SIZE(split_names), value);

	if (i < 0)
		return key_error(c, k, "unknown split; use pooled or standard");
	c->g->split = (enum split_kind)i;
	return 0;
}

static int parse_fa_scale(struct parse_ctx *c, int k, const char *value)
{
	int i = find_name(fa_scale_names, ARRAY_SIZE(fa_scale_names), value);

	if (i < 0)
		return key_error(c, k,
		                 "unknown fa_scale; use log_epoch or constant");
	c->g->fa_scale = (enum fa_scale)i;
	return 0;
}

static int parse_onehot_sign(struct parse_ctx *c, int k, const char *value)
{
	int i = find_name(onehot_sign_names, ARRAY_SIZE(onehot_sign_names),
	                  value);

	if (i < 0)
		return key_error(c, k,
		                 "unknown onehot_sign; use positive or random");
	c->g->onehot_sign = (enum onehot_sign)i;
	return 0;
}

static int parse_feedback_norm(struct parse_ctx *c, int k, const char *value)
{
	int i = find_name(feedback_norm_names, ARRAY_SIZE(feedback_norm_names),
	                  value);

	if (i < 0)
		return key_error(c, k,
		                 "unknown feedback_norm; use as_drawn or "
		                 "match_w2");
	c->g->feedback_norm = (enum feedback_norm)i;
	return 0;
}

static int parse_baseline(struct parse_ctx *c, int k, const char *value)
{
	if (grid_mode_parse(value, &c->g->baseline) != 0)
		return key_error(c, k,
		                 "unknown mode; use one of " GRID_MODE_LIST);
	return 0;
}

/* ---- List items ---- */

/* Walks the comma-separated items of a value. */
struct item_iter {
	const char *pos; /* start of the next item; NULL after the last */
};

/* Copies the next item, without surrounding blanks, into item. Returns 0
 * after the last item. */
static int next_item(struct item_iter *it, char item[ITEM_SIZE])
{
	const char *start = it->pos;
	const char *end;
	size_t len;

	if (start == NULL)
		return 0;
	end = strchr(start, ',');
	it->pos = end != NULL ? end + 1 : NULL;
	if (end == NULL)
		end = start + strlen(start);

	while (start < end && isblank((unsigned char)*start))
		start++;
	while (end > start && isblank((unsigned char)end[-1]))
		end--;
	len = (size_t)(end - start);
	if (len > ITEM_SIZE - 1)
		len = ITEM_SIZE - 1;
	memcpy(item, start, len);
	item[len] = '\0';
	return 1;
}

static size_t count_items(const char *value)
{
	size_t n = 1;

	for (; *value != '\0'; value++)
		n += *value == ',';
	return n;
}

static int empty_value(struct parse_ctx *c, int k)
{
	return key_error(c, k, "empty list; give at least one value");
}

static int empty_item(struct parse_ctx *c, int k)
{
	return key_error(c, k,
	                 "empty item in the list; remove the extra "
	                 "comma");
}

/* Removes blanks around s in place and returns its new start. */
static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isblank((unsigned char)*s))
		s++;
	while (end > s && isblank((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* ---- Numbers ---- */

enum item_status {
	ITEM_OK,
	ITEM_NOT_NUMBER,
	ITEM_NOT_INTEGER,
	ITEM_TOO_SMALL,
	ITEM_TOO_LARGE
};

/* Rejects what strtod accepts beyond decimal notation: hex, inf, nan. */
static int looks_decimal(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789+-.eE") == strlen(s);
}

static enum item_status parse_real(const char *s, const struct number_rule *r,
                                   double *out)
{
	char *end;
	double v;
	float f;

	if (!looks_decimal(s))
		return ITEM_NOT_NUMBER;
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return ITEM_NOT_NUMBER;

	/* The trainer uses the float, so the float is checked. The bounds in
	 * the message, printed with 9 digits, convert back to exactly FLT_MIN
	 * and FLT_MAX and so are accepted. Beyond FLT_MAX the IEEE 754
	 * conversion gives infinity. */
	f = (float)v;
	if (!(f <= r->real_max))
		return ITEM_TOO_LARGE;
	if (!(f >= r->real_min))
		return ITEM_TOO_SMALL;
	*out = v;
	return ITEM_OK;
}

static enum item_status parse_int(const char *s, const struct number_rule *r,
                                  int64_t *out)
{
	char *end;
	long long v;

	if (!looks_decimal(s))
		return ITEM_NOT_NUMBER;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0') {
		/* Tell "2.5" (a number, not an integer) from "2x". */
		(void)strtod(s, &end);
		return *end == '\0' ? ITEM_NOT_INTEGER : ITEM_NOT_NUMBER;
	}
	if (errno == ERANGE || v > r->max)
		return v < 0 ? ITEM_TOO_SMALL : ITEM_TOO_LARGE;
	if (v < r->min)
		return ITEM_TOO_SMALL;
	*out = (int64_t)v;
	return ITEM_OK;
}

/* Writes the limits of r in words, e.g. "must be an integer >= 1". A max
 * that is only the storage type's limit is named once it is exceeded. */
static void describe_rule(const struct number_rule *r, enum item_status st,
                          char *buf, size_t size)
{
	int storage_max = r->max == INT32_MAX || r->max == INT64_MAX;

	if (!r->integer)
		snprintf(buf, size, "must be a number from %.9g to %.9g",
		         r->real_min, r->real_max);
	else if (storage_max && st != ITEM_TOO_LARGE)
		snprintf(buf, size, "must be an integer >= %" PRId64, r->min);
	else
		snprintf(buf, size,
		         "must be an integer from %" PRId64 " to %" PRId64,
		         r->min, r->max);
}

/* Reports a bad item. With in_list set, the message quotes the item. */
static int item_error(struct parse_ctx *c, int k, const struct number_rule *r,
                      const char *item, int in_list, enum item_status st)
{
	const char *kind = r->integer ? "an integer" : "a number";
	char rule[96];

	if (st == ITEM_NOT_NUMBER && in_list)
		return key_error(c, k,
		                 "item '%s' is not %s; write %s such as %s",
		                 item, kind, kind, r->example);
	if (st == ITEM_NOT_NUMBER)
		return key_error(c, k, "not %s; write %s such as %s", kind,
		                 kind, r->example);

	describe_rule(r, st, rule, sizeof(rule));
	if (in_list)
		return key_error(c, k, "item '%s' %s", item, rule);
	return key_error(c, k, "%s", rule);
}

/* Parses one item of a numeric setting by its rule. */
static int parse_number(struct parse_ctx *c, int k, const char *item,
                        int in_list, double *out)
{
	const struct number_rule *r = &setting_rules[keys[k].setting];
	enum item_status st;
	int64_t i = 0;

	if (r->integer) {
		st = parse_int(item, r, &i);
		*out = (double)i;
	} else {
		st = parse_real(item, r, out);
	}
	if (st != ITEM_OK)
		return item_error(c, k, r, item, in_list, st);
	return 0;
}

/* Parses a numeric setting: one value, or a list for a zip. */
static int parse_setting(struct parse_ctx *c, int k, const char *value)
{
	struct grid_setting *s = &c->g->settings[keys[k].setting];
	size_t n = count_items(value), i = 0;
	char item[ITEM_SIZE];
	struct item_iter it = {value};
	double *values;

	if (value[0] == '\0')
		return empty_value(c, k);
	values = calloc(n, sizeof(*values));
	if (values == NULL)
		return out_of_memory(c);

	while (next_item(&it, item)) {
		if (item[0] == '\0') {
			empty_item(c, k);
			goto fail;
		}
		if (parse_number(c, k, item, n > 1, &values[i++]) != 0)
			goto fail;
	}
	free(s->values);
	s->values = values;
	s->n_values = n;
	return 0;
fail:
	free(values);
	return -1;
}

/* ---- [sweep] modes ---- */

int grid_has_mode(const struct grid *g, enum fw_mode m)
{
	size_t i;

	for (i = 0; i < g->n_modes; i++)
		if (g->modes[i] == m)
			return 1;
	return 0;
}

static int parse_modes(struct parse_ctx *c, int k, const char *value)
{
	struct grid *g = c->g;
	struct item_iter it = {value};
	char item[ITEM_SIZE];
	enum fw_mode m;

	if (value[0] == '\0')
		return empty_value(c, k);
	while (next_item(&it, item)) {
		if (item[0] == '\0')
			return empty_item(c, k);
		if (grid_mode_parse(item, &m) != 0)
			return key_error(c, k,
			                 "unknown mode '%s'; valid "
			                 "modes: " GRID_MODE_LIST,
			                 item);
		if (grid_has_mode(g, m))
			return key_error(c, k,
			                 "mode '%s' appears twice; list each "
			                 "mode once",
			                 item);
		assert(g->n_modes < N_MODES);
		g->modes[g->n_modes++] = m;
	}
	return 0;
}

/* ---- [sweep] hidden and seeds: integer lists with ranges ---- */

struct int_list {
	int64_t *v; /* n values, in file order */
	size_t n;
	size_t cap;
};

static int push_int(struct int_list *l, int64_t x)
{
	int64_t *v;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap ? 2 * l->cap : 16;
		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = x;
	return 0;
}

static int parse_list_int(struct parse_ctx *c, int k,
                          const struct number_rule *r, const char *s,
                          int in_list, int64_t *out)
{
	enum item_status st = parse_int(s, r, out);

	if (st != ITEM_OK)
		return item_error(c, k, r, s, in_list, st);
	return 0;
}

/* Appends lo..hi to the list. */
static int push_range(struct parse_ctx *c, int k, int64_t lo, int64_t hi,
                      struct int_list *l)
{
	int64_t x;

	if ((uint64_t)hi - (uint64_t)lo >= LIST_MAX - l->n)
		return key_error(c, k,
		                 "the list expands to more than %d values; "
		                 "use a shorter range",
		                 LIST_MAX);
	for (x = lo;; x++) {
		if (push_int(l, x) != 0)
			return out_of_memory(c);
		if (x == hi)
			return 0;
	}
}

/* Parses one item, a single value or a range "a-b", and appends it. */
static int parse_range_item(struct parse_ctx *c, int k,
                            const struct number_rule *r, char *item,
                            int in_list, struct int_list *l)
{
	char *dash = strchr(item + 1, '-');
	int64_t lo, hi;

	if (dash == NULL) {
		if (parse_list_int(c, k, r, item, in_list, &lo) != 0)
			return -1;
		return push_range(c, k, lo, lo, l);
	}

	*dash = '\0';
	if (parse_list_int(c, k, r, trim(item), 1, &lo) != 0 ||
	    parse_list_int(c, k, r, trim(dash + 1), 1, &hi) != 0)
		return -1;
	if (lo > hi)
		return key_error(c, k,
		                 "range %" PRId64 "-%" PRId64
		                 " is reversed; write it as %" PRId64
		                 "-%" PRId64,
		                 lo, hi, hi, lo);
	return push_range(c, k, lo, hi, l);
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a;
	int64_t y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Rejects a value that appears twice: each one is a grid coordinate. */
static int check_unique(struct parse_ctx *c, int k, const char *noun,
                        const struct int_list *l)
{
	int64_t *sorted = malloc(l->n * sizeof(*sorted));
	size_t i;

	if (sorted == NULL)
		return out_of_memory(c);
	memcpy(sorted, l->v, l->n * sizeof(*sorted));
	qsort(sorted, l->n, sizeof(*sorted), compare_int64);

	for (i = 1; i < l->n; i++) {
		if (sorted[i] == sorted[i - 1]) {
			key_error(c, k,
			          "%" PRId64 " appears twice; list each %s "
			          "once",
			          sorted[i], noun);
			free(sorted);
			return -1;
		}
	}
	free(sorted);
	return 0;
}

/* Parses "a, b-c, ..." into l. On failure the caller frees l->v. */
static int parse_int_list(struct parse_ctx *c, int k,
                          const struct number_rule *r, const char *noun,
                          const char *value, struct int_list *l)
{
	struct item_iter it = {value};
	char item[ITEM_SIZE];
	int in_list = strchr(value, ',') != NULL;

	if (value[0] == '\0')
		return empty_value(c, k);
	while (next_item(&it, item)) {
		if (item[0] == '\0')
			return empty_item(c, k);
		if (parse_range_item(c, k, r, item, in_list, l) != 0)
			return -1;
	}
	return check_unique(c, k, noun, l);
}

static int parse_hidden(struct parse_ctx *c, int k, const char *value)
{
	struct grid *g = c->g;
	struct int_list l = {NULL, 0, 0};
	size_t i;
	int rc = -1;

	if (parse_int_list(c, k, &hidden_rule, axis_nouns[AXIS_HIDDEN], value,
	                   &l) != 0)
		goto out;
	g->hidden = malloc(l.n * sizeof(*g->hidden));
	if (g->hidden == NULL) {
		out_of_memory(c);
		goto out;
	}
	for (i = 0; i < l.n; i++)
		g->hidden[i] = (int32_t)l.v[i];
	g->n_hidden = l.n;
	rc = 0;
out:
	free(l.v);
	return rc;
}

static int parse_seeds(struct parse_ctx *c, int k, const char *value)
{
	struct int_list l = {NULL, 0, 0};

	if (parse_int_list(c, k, &seed_rule, axis_nouns[AXIS_SEED], value,
	                   &l) != 0) {
		free(l.v);
		return -1;
	}
	c->g->seeds = l.v;
	c->g->n_seeds = l.n;
	return 0;
}

static int parse_max_trials(struct parse_ctx *c, int k, const char *value)
{
	int64_t n = 0;

	if (value[0] == '\0')
		return key_error(c, k,
		                 "empty; give the largest number of trials to "
		                 "accept, such as %s",
		                 max_trials_rule.example);
	if (parse_list_int(c, k, &max_trials_rule, value, 0, &n) != 0)
		return -1;
	c->g->max_trials = n;
	return 0;
}

/* ---- [output] early_checkpoints ---- */

static int parse_early(struct parse_ctx *c, int k, const char *value)
{
	int64_t n = 0;

	if (value[0] == '\0')
		return key_error(c, k,
		                 "empty; give the number of checkpoints inside "
		                 "the first epoch, such as %s, or 0",
		                 early_rule.example);
	if (parse_list_int(c, k, &early_rule, value, 0, &n) != 0)
		return -1;
	c->g->early_checkpoints = (int32_t)n;
	return 0;
}

/* ---- [output] save_weights ---- */

/* Parses "none", or a list of stages in any order, each at most once. */
static int parse_save_weights(struct parse_ctx *c, int k, const char *value)
{
	struct item_iter it = {value};
	char item[ITEM_SIZE];
	int saved[N_STAGES] = {0};
	int n_items = 0, none = 0;

	if (value[0] == '\0')
		return key_error(c, k,
		                 "empty; write none, or initial and/or final "
		                 "as a list such as initial, final");
	while (next_item(&it, item)) {
		int stage = find_name(stage_names, N_STAGES, item);

		n_items++;
		if (item[0] == '\0')
			return empty_item(c, k);
		if (strcmp(item, "none") == 0) {
			none = 1;
			continue;
		}
		if (stage < 0)
			return key_error(c, k,
			                 "unknown stage '%s'; write none, or "
			                 "initial and/or final as a list such "
			                 "as initial, final",
			                 item);
		if (saved[stage])
			return key_error(c, k,
			                 "stage '%s' appears twice; list each "
			                 "stage once",
			                 item);
		saved[stage] = 1;
	}
	if (none && n_items > 1)
		return key_error(c, k,
		                 "none cannot be combined with a stage; write "
		                 "none alone or list only stages");
	memcpy(c->g->save_weights, saved, sizeof(saved));
	return 0;
}

/* ---- [sweep] zip ---- */

static int find_setting(const char *name)
{
	int id;

	for (id = 0; id < N_SETTINGS; id++)
		if (strcmp(setting_rules[id].name, name) == 0)
			return id;
	return -1;
}

/* Returns 1 for the settings that choose which images a trial trains, tests
 * or probes on. */
static int picks_images(enum grid_setting_id id)
{
	return id == SET_N_TRAIN || id == SET_N_TEST || id == SET_N_PROBE;
}

/* Parses one setting named by zip. */
static int parse_zip_setting(struct parse_ctx *c, int k, const char *item)
{
	const char *names[N_SETTINGS];
	char valid[FW_ERROR_MAX];
	int id = find_setting(item);

	if (id < 0) {
		for (id = 0; id < N_SETTINGS; id++)
			names[id] = setting_rules[id].name;
		join_names(valid, sizeof(valid), names, N_SETTINGS, "", "");
		return key_error(c, k,
		                 "'%s' is not a numeric setting; zip accepts "
		                 "%s",
		                 item, valid);
	}
	if (c->zipped[id])
		return key_error(c, k,
		                 "'%s' appears twice; list each setting once",
		                 item);
	if (c->zip_axis == AXIS_MODE && picks_images((enum grid_setting_id)id))
		return key_error(c, k,
		                 "'%s' cannot be zipped to mode, because the "
		                 "modes of one (hidden, seed) are compared as "
		                 "pairs and must see the same images; zip it "
		                 "to hidden or seed",
		                 item);
	c->zipped[id] = 1;
	return 0;
}

/* Parses "AXIS, SETTING[, SETTING ...]". The checks that need the lists are
 * left to apply_zip. */
static int parse_zip(struct parse_ctx *c, int k, const char *value)
{
	struct item_iter it = {value};
	char item[ITEM_SIZE];
	int axis, n = 0;

	if (value[0] == '\0')
		return key_error(c, k,
		                 "empty; write the axis and then the "
		                 "settings, e.g. zip = hidden, "
		                 "learning_rate");
	while (next_item(&it, item)) {
		if (item[0] == '\0')
			return empty_item(c, k);
		if (n++ > 0) {
			if (parse_zip_setting(c, k, item) != 0)
				return -1;
			continue;
		}
		axis = find_name(axis_names, N_AXES, item);
		if (axis < 0)
			return key_error(c, k,
			                 "'%s' is not an axis; the first item "
			                 "must be mode, hidden or seed",
			                 item);
		c->zip_axis = (enum grid_axis)axis;
	}
	if (n < 2)
		return key_error(c, k,
		                 "no setting after the axis; write e.g. "
		                 "zip = hidden, learning_rate");
	return 0;
}

/* ---- Checks after parsing ---- */

/* Returns the key of a numeric setting. */
static int setting_key(enum grid_setting_id id)
{
	int k;

	for (k = 0; k < N_KEYS; k++)
		if (keys[k].parse == parse_setting && keys[k].setting == id)
			return k;
	assert(!"every setting has a key");
	return -1;
}

static int check_required(struct parse_ctx *c)
{
	int k;

	for (k = 0; k < N_KEYS; k++) {
		if (keys[k].required == NULL || c->seen[k].line != 0)
			continue;
		return fw_error_set(&c->err,
		                    "%s: missing key '%s' in [%s]; add a line "
		                    "such as '%s = %s'",
		                    c->g->path, keys[k].name, keys[k].section,
		                    keys[k].name, keys[k].required);
	}
	return 0;
}

/* Ties each zipped setting to the zip axis. Its values must match the axis
 * one to one, in the axis's file order. */
static int apply_zip(struct parse_ctx *c)
{
	enum grid_axis axis = c->zip_axis;
	size_t n_axis = axis_length(c->g, axis);
	struct grid_setting *s;
	int id, k;

	for (id = 0; id < N_SETTINGS; id++) {
		if (!c->zipped[id])
			continue;
		s = &c->g->settings[id];
		k = setting_key((enum grid_setting_id)id);
		if (c->seen[k].line == 0 && n_axis != 1)
			return key_error(c, K_ZIP,
			                 "%s is not set, so it has 1 value but "
			                 "%s has %zu; set %s in [%s] to one "
			                 "value per %s",
			                 s->name, axis_names[axis], n_axis,
			                 s->name, keys[k].section,
			                 axis_nouns[axis]);
		if (s->n_values != n_axis)
			return key_error(c, k,
			                 "%zu values, but zip on line %d ties "
			                 "it to %s, which has %zu; give one "
			                 "value per %s",
			                 s->n_values, c->seen[K_ZIP].line,
			                 axis_names[axis], n_axis,
			                 axis_nouns[axis]);
		s->axis = axis;
	}
	return 0;
}

/* Returns the axis whose length matches n, preferring hidden. */
static enum grid_axis suggest_axis(const struct grid *g, size_t n)
{
	static const enum grid_axis order[] = {AXIS_HIDDEN, AXIS_SEED,
	                                       AXIS_MODE};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++)
		if (axis_length(g, order[i]) == n)
			return order[i];
	return AXIS_HIDDEN;
}

/* Rejects a setting with several values that no zip ties to an axis. */
static int check_lists_zipped(struct parse_ctx *c)
{
	const struct grid_setting *s;
	enum grid_axis axis;
	int id, k;

	for (id = 0; id < N_SETTINGS; id++) {
		s = &c->g->settings[id];
		if (s->axis != AXIS_NONE || s->n_values == 1)
			continue;
		k = setting_key((enum grid_setting_id)id);
		axis = suggest_axis(c->g, s->n_values);
		if (c->seen[K_ZIP].line != 0 && axis != c->zip_axis &&
		    axis_length(c->g, axis) == s->n_values)
			return key_error(
			        c, k,
			        "%zu values, one per %s, but the zip on "
			        "line %d ties settings to %s, and there "
			        "is one zip; give one value, or one per "
			        "%s and name %s in that zip",
			        s->n_values, axis_nouns[axis],
			        c->seen[K_ZIP].line, axis_names[c->zip_axis],
			        axis_nouns[c->zip_axis], s->name);
		if (c->seen[K_ZIP].line != 0)
			return key_error(c, k,
			                 "%zu values, but the zip on line %d "
			                 "does not name %s; add it there to "
			                 "give one value per %s",
			                 s->n_values, c->seen[K_ZIP].line,
			                 s->name, axis_nouns[c->zip_axis]);
		return key_error(c, k,
		                 "%zu values but no zip; add 'zip = %s, %s' "
		                 "to [sweep] to give one value per %s",
		                 s->n_values, axis_names[axis], s->name,
		                 axis_nouns[axis]);
	}
	return 0;
}

static int check_baseline(struct parse_ctx *c)
{
	const struct grid *g = c->g;
	const char *name = grid_mode_name(g->baseline);

	if (grid_has_mode(g, g->baseline))
		return 0;
	if (c->seen[K_BASELINE].line != 0)
		return key_error(c, K_BASELINE,
		                 "%s is not among [sweep] modes (line %d); "
		                 "add it there or choose one of the modes",
		                 name, c->seen[K_MODES].line);
	return key_error(c, K_MODES,
	                 "the baseline mode %s, the default of [stats] "
	                 "baseline, is not among the modes; add %s or set "
	                 "[stats] baseline to one of the modes",
	                 name, name);
}

/* Returns the value of setting s at entry i of the zip axis. */
static double value_along_zip(const struct grid_setting *s, size_t i)
{
	return s->axis == AXIS_NONE ? s->values[0] : s->values[i];
}

/* Writes " for hidden 100" and the like for entry i of axis. */
static void describe_entry(const struct grid *g, enum grid_axis axis, size_t i,
                           char *buf, size_t size)
{
	buf[0] = '\0';
	if (axis == AXIS_MODE)
		snprintf(buf, size, " for mode %s",
		         grid_mode_name(g->modes[i]));
	else if (axis == AXIS_HIDDEN)
		snprintf(buf, size, " for hidden %" PRId32, g->hidden[i]);
	else if (axis == AXIS_SEED)
		snprintf(buf, size, " for seed %" PRId64, g->seeds[i]);
}

/* Finds the first entry of the zip axis where setting small exceeds setting
 * large, stores both values and writes where it is (" for hidden 100", or ""
 * if neither is zipped). Both vary only along the zip axis, so one pass over
 * that axis covers every trial. Returns 1 if an entry was found. */
static int find_excess(const struct parse_ctx *c, enum grid_setting_id small,
                       enum grid_setting_id large, double *small_value,
                       double *large_value, char *where, size_t size)
{
	const struct grid *g = c->g;
	const struct grid_setting *s = &g->settings[small];
	const struct grid_setting *l = &g->settings[large];
	size_t i, n = axis_length(g, c->zip_axis);

	where[0] = '\0';
	for (i = 0; i < n; i++) {
		*small_value = value_along_zip(s, i);
		*large_value = value_along_zip(l, i);
		if (*small_value <= *large_value)
			continue;
		if (s->axis != AXIS_NONE || l->axis != AXIS_NONE)
			describe_entry(g, c->zip_axis, i, where, size);
		return 1;
	}
	return 0;
}

/* Checks n_probe <= n_train for every trial. */
static int check_probe(struct parse_ctx *c)
{
	double n_train, n_probe;
	char where[64];

	if (!find_excess(c, SET_N_PROBE, SET_N_TRAIN, &n_probe, &n_train, where,
	                 sizeof(where)))
		return 0;
	if (c->seen[K_N_PROBE].line != 0)
		return key_error(
		        c, K_N_PROBE,
		        "%.0f exceeds n_train = %.0f%s; set n_probe to "
		        "at most n_train",
		        n_probe, n_train, where);
	return key_error(c, K_N_TRAIN,
	                 "smaller than n_probe = %.0f (the default)%s; set "
	                 "[data] n_probe to at most n_train",
	                 n_probe, where);
}

/* Checks batch_size <= n_train for every trial. The trainer sizes its
 * buffers by batch_size, so a larger one would only waste memory or fail to
 * allocate. batch_size == n_train gives one minibatch per epoch. */
/* Checks that every trial's first epoch has at least early_checkpoints + 1
 * minibatches, so that each checkpoint falls after a different one. */
static int check_early(struct parse_ctx *c)
{
	const struct grid *g = c->g;
	size_t i, n = axis_length(g, c->zip_axis);
	char where[64] = "";

	if (g->early_checkpoints == 0)
		return 0;
	for (i = 0; i < n; i++) {
		double n_train = value_along_zip(&g->settings[SET_N_TRAIN], i);
		double batch = value_along_zip(&g->settings[SET_BATCH_SIZE], i);
		double n_batches = ceil(n_train / batch);

		if (n_batches >= g->early_checkpoints + 1.0)
			continue;
		if (g->settings[SET_N_TRAIN].axis != AXIS_NONE ||
		    g->settings[SET_BATCH_SIZE].axis != AXIS_NONE)
			describe_entry(g, c->zip_axis, i, where, sizeof(where));
		return key_error(c, K_EARLY_CHECKPOINTS,
		                 "%d checkpoints need at least %d minibatches "
		                 "per epoch, but there are %.0f%s; use at most "
		                 "%.0f",
		                 (int)g->early_checkpoints,
		                 (int)g->early_checkpoints + 1, n_batches,
		                 where, n_batches - 1.0);
	}
	return 0;
}

static int check_batch(struct parse_ctx *c)
{
	double n_train, batch_size;
	char where[64];

	if (!find_excess(c, SET_BATCH_SIZE, SET_N_TRAIN, &batch_size, &n_train,
	                 where, sizeof(where)))
		return 0;
	if (c->seen[K_BATCH_SIZE].line != 0)
		return key_error(
		        c, K_BATCH_SIZE,
		        "%.0f exceeds n_train = %.0f%s; lower "
		        "batch_size to at most n_train or raise n_train",
		        batch_size, n_train, where);
	return key_error(c, K_N_TRAIN,
	                 "smaller than batch_size = %.0f (the default)%s; "
	                 "raise n_train or set [network] batch_size to at "
	                 "most n_train",
	                 batch_size, where);
}

/* Returns the ending of a count's noun: "" for one, "s" otherwise. */
static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* Rejects a grid of more trials than max_trials. Without a max_trials key
 * the message names the longer of the hidden and seeds lists, the likelier
 * place of a typo. */
static int check_n_trials(struct parse_ctx *c)
{
	const struct grid *g = c->g;
	uint64_t n = (uint64_t)g->n_modes * g->n_hidden * g->n_seeds;
	int k = g->n_hidden > g->n_seeds ? K_HIDDEN : K_SEEDS;

	if (n <= (uint64_t)g->max_trials)
		return 0;
	if (c->seen[K_MAX_TRIALS].line != 0)
		return key_error(
		        c, K_MAX_TRIALS,
		        "the grid has %zu mode%s x %zu hidden size%s x "
		        "%zu seed%s = %" PRIu64 " trials; shorten "
		        "[sweep] hidden or seeds, or raise max_trials "
		        "to %" PRIu64 " if the sweep is meant",
		        g->n_modes, plural(g->n_modes), g->n_hidden,
		        plural(g->n_hidden), g->n_seeds, plural(g->n_seeds), n,
		        n);
	return key_error(c, k,
	                 "the grid has %zu mode%s x %zu hidden size%s x %zu "
	                 "seed%s = %" PRIu64 " trials, more than the %" PRId64
	                 " that max_trials allows by default; shorten the "
	                 "list, or add 'max_trials = %" PRIu64 "' to [sweep] "
	                 "if the sweep is meant",
	                 g->n_modes, plural(g->n_modes), g->n_hidden,
	                 plural(g->n_hidden), g->n_seeds, plural(g->n_seeds), n,
	                 g->max_trials, n);
}

static void set_max_epochs(struct grid *g)
{
	const struct grid_setting *s = &g->settings[SET_EPOCHS];
	size_t i;

	g->max_epochs = 0;
	for (i = 0; i < s->n_values; i++)
		if (s->values[i] > g->max_epochs)
			g->max_epochs = (int32_t)s->values[i];
}

static int finish(struct parse_ctx *c)
{
	if (check_required(c) != 0 || check_n_trials(c) != 0 ||
	    apply_zip(c) != 0 || check_lists_zipped(c) != 0 ||
	    check_baseline(c) != 0 || check_probe(c) != 0 ||
	    check_batch(c) != 0 || check_early(c) != 0)
		return -1;
	set_max_epochs(c->g);
	return 0;
}

/* ---- Parsing a whole file ---- */

/* Fills g with its path, text and the default of every optional key. */
static int set_defaults(struct grid *g, const char *path, const char *text)
{
	struct grid_setting *s;
	int id;

	g->path = strdup(path);
	g->text = strdup(text);
	g->data_dir = strdup("data/mnist");
	if (g->path == NULL || g->text == NULL || g->data_dir == NULL)
		return -1;
	g->split = SPLIT_POOLED;
	g->fa_scale = FA_SCALE_LOG_EPOCH;
	g->baseline = MODE_BP;
	g->max_trials = GRID_DEFAULT_MAX_TRIALS;

	for (id = 0; id < N_SETTINGS; id++) {
		s = &g->settings[id];
		s->name = setting_rules[id].name;
		s->axis = AXIS_NONE;
		s->n_values = 1;
		s->values = malloc(sizeof(*s->values));
		if (s->values == NULL)
			return -1;
		s->values[0] = setting_rules[id].def;
	}
	return 0;
}

/* Returns how to shorten an over-long line of the key name. n_before is the
 * length of the line up to its inline comment, or 0 without one. */
static const char *long_key_hint(const struct parse_ctx *c, const char *name,
                                 size_t n_before)
{
	if (n_before > 0 && n_before <= INI_MAX_LINE - 1)
		return "move the comment to a line of its own";

	switch (lookup_key(c->long_section, name)) {
	case K_HIDDEN:
		return "write runs of consecutive hidden sizes as ranges "
		       "such as 20-30";
	case K_SEEDS:
		return "write runs of consecutive seeds as ranges such as "
		       "1-100";
	case K_DIR:
		return "use a shorter path, such as a relative path or a "
		       "symbolic link";
	default:
		return "shorten the value";
	}
}

/* Returns the ';' where inih starts an inline comment in value, the first
 * one after a blank, or NULL. */
static char *find_inline_comment(char *value)
{
	char *p = value;

	while ((p = strchr(p, ';')) != NULL) {
		if (p > value && isspace((unsigned char)p[-1]))
			return p;
		p++;
	}
	return NULL;
}

/* Reports a key line that read_line found too long for inih, with a way to
 * shorten it. line is a copy of the line that this function may change, and
 * start and delim point into it, at the key and at its '=' or ':'. */
static int long_key_error(struct parse_ctx *c, char *line, char *start,
                          char *delim)
{
	char *name, *value, *comment;
	size_t n_before = 0;

	*delim = '\0';
	name = trim(start);
	value = delim + 1;
	comment = find_inline_comment(value);
	if (comment != NULL) {
		*comment = '\0';
		n_before = (size_t)(comment - line);
	}
	value = trim(value);
	return fw_error_set(&c->err,
	                    "%s:%d: [%s] %s = %.40s%s: the line has %zu "
	                    "characters, but lines may have at most %d; %s",
	                    c->g->path, c->long_line, c->long_section, name,
	                    value, strlen(value) > 40 ? "..." : "",
	                    c->long_length, INI_MAX_LINE - 1,
	                    long_key_hint(c, name, n_before));
}

/* Reports the line that read_line found too long for inih, with a way to
 * shorten it where one exists. NOTE: a zipped list that does not fit has no
 * way out but shorter numbers, because a key must sit on one line. */
static int long_line_error(struct parse_ctx *c)
{
	char *line = strndup(c->long_text, c->long_length);
	char *start, *delim;
	const char *hint = "shorten it";

	if (line == NULL)
		return out_of_memory(c);
	start = line;
	if (c->long_line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	start += strspn(start, " \t\v\f\r");
	delim = strpbrk(start, "=:");

	if (*start == ';' || *start == '#')
		hint = "split the comment over several lines";
	else if (*start != '[' && delim != NULL)
		hint = NULL;

	if (hint != NULL)
		fw_error_set(
		        &c->err,
		        "%s:%d: the line has %zu characters, but lines may "
		        "have at most %d; %s",
		        c->g->path, c->long_line, c->long_length,
		        INI_MAX_LINE - 1, hint);
	else
		long_key_error(c, line, start, delim);
	free(line);
	return -1;
}

/* Runs inih over the text. inih returns the first bad line, either one it
 * rejects itself or one where the handler failed. Only in the second case
 * does c->err describe that line. */
static int run_inih(struct parse_ctx *c)
{
	int rc = ini_parse_stream(read_line, c, on_key, c);

	if (rc == 0)
		return 0;
	if (rc > 0 && rc == c->fail_line)
		return -1;

	fw_error_clear(&c->err);
	if (rc == c->long_line)
		return long_line_error(c);
	if (rc < 0)
		return fw_error_set(&c->err,
		                    "%s: inih failed to parse the file (code "
		                    "%d); check that it is an INI text file",
		                    c->g->path, rc);
	return fw_error_set(&c->err,
	                    "%s:%d: syntax error: expected [section] or key = "
	                    "value",
	                    c->g->path, rc);
}

int grid_parse(struct grid *g, const char *path, const char *text,
               struct fw_error *err)
{
	struct parse_ctx c;
	int k, rc = -1;

	memset(g, 0, sizeof(*g));
	memset(&c, 0, sizeof(c));
	c.g = g;
	c.next = text;
	c.zip_axis = AXIS_NONE;

	if (set_defaults(g, path, text) != 0) {
		fw_error_set(&c.err, "%s: out of memory while reading the grid",
		             path);
		goto out;
	}
	if (run_inih(&c) != 0 || finish(&c) != 0)
		goto out;
	rc = 0;
out:
	for (k = 0; k < N_KEYS; k++)
		free(c.seen[k].value);
	if (rc != 0) {
		fw_error_set(err, "%s", c.err.msg);
		grid_free(g);
	}
	return rc;
}

/* Reads the whole file at path into a NUL-terminated string of *n bytes. */
static int read_file(const char *path, char **text, size_t *n,
                     struct fw_error *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096;
	char *buf = NULL, *grown;

	*n = 0;
	if (f == NULL)
		goto fail;
	for (;;) {
		grown = realloc(buf, cap + 1);
		if (grown == NULL) {
			errno = ENOMEM;
			goto fail;
		}
		buf = grown;
		*n += fread(buf + *n, 1, cap - *n, f);
		if (*n < cap)
			break;
		cap *= 2;
	}
	if (ferror(f))
		goto fail;
	if (fclose(f) != 0) {
		f = NULL;
		goto fail;
	}
	buf[*n] = '\0';
	*text = buf;
	return 0;
fail:
	fw_error_set(err, "%s: cannot read: %s; check the path", path,
	             strerror(errno));
	if (f != NULL)
		fclose(f);
	free(buf);
	return -1;
}

int grid_load(struct grid *g, const char *path, struct fw_error *err)
{
	char *text = NULL;
	size_t n;
	int rc = -1;

	memset(g, 0, sizeof(*g));
	if (read_file(path, &text, &n, err) != 0)
		goto out;
	if (strlen(text) != n) {
		fw_error_set(err,
		             "%s: contains a NUL byte, so it is not an INI "
		             "text file; check the path",
		             path);
		goto out;
	}
	rc = grid_parse(g, path, text, err);
out:
	free(text);
	return rc;
}

void grid_free(struct grid *g)
{
	int id;

	free(g->path);
	free(g->text);
	free(g->data_dir);
	free(g->hidden);
	free(g->seeds);
	for (id = 0; id < N_SETTINGS; id++)
		free(g->settings[id].values);
	memset(g, 0, sizeof(*g));
}

/* ---- Trials ---- */

size_t grid_n_trials(const struct grid *g)
{
	return g->n_modes * g->n_hidden * g->n_seeds;
}

size_t grid_trial_index(const struct grid *g, size_t mode_i, size_t hidden_i,
                        size_t seed_i)
{
	assert(mode_i < g->n_modes);
	assert(hidden_i < g->n_hidden);
	assert(seed_i < g->n_seeds);
	return (mode_i * g->n_hidden + hidden_i) * g->n_seeds + seed_i;
}

void grid_trial_coords(const struct grid *g, size_t trial, size_t *mode_i,
                       size_t *hidden_i, size_t *seed_i)
{
	assert(trial < grid_n_trials(g));
	*seed_i = trial % g->n_seeds;
	*hidden_i = trial / g->n_seeds % g->n_hidden;
	*mode_i = trial / g->n_seeds / g->n_hidden;
}

/* Returns the value of setting id for the trial at axis indices at[]. */
static double setting_at(const struct grid *g, enum grid_setting_id id,
                         const size_t at[N_AXES])
{
	const struct grid_setting *s = &g->settings[id];

	if (s->axis == AXIS_NONE)
		return s->values[0];
	assert(at[s->axis] < s->n_values);
	return s->values[at[s->axis]];
}

void grid_trial_params(const struct grid *g, size_t trial,
                       struct trial_params *p)
{
	size_t at[N_AXES];

	grid_trial_coords(g, trial, &at[AXIS_MODE], &at[AXIS_HIDDEN],
	                  &at[AXIS_SEED]);
	p->mode = g->modes[at[AXIS_MODE]];
	p->n_hidden = g->hidden[at[AXIS_HIDDEN]];
	p->seed = g->seeds[at[AXIS_SEED]];
	p->learning_rate = setting_at(g, SET_LEARNING_RATE, at);
	p->batch_size = (int32_t)setting_at(g, SET_BATCH_SIZE, at);
	p->n_epochs = (int32_t)setting_at(g, SET_EPOCHS, at);
	p->n_train = (int32_t)setting_at(g, SET_N_TRAIN, at);
	p->n_test = (int32_t)setting_at(g, SET_N_TEST, at);
	p->n_probe = (int32_t)setting_at(g, SET_N_PROBE, at);
	p->feedback_k = (int32_t)setting_at(g, SET_FEEDBACK_K, at);
	p->kp_decay = setting_at(g, SET_KP_DECAY, at);
	p->early_checkpoints = g->early_checkpoints;
	p->fa_scale = g->fa_scale;
	p->onehot_sign = g->onehot_sign;
	p->feedback_norm = g->feedback_norm;
	p->split = g->split;
}

/* 1 if hidden index a is handed out before b: the larger size first. */
static int runs_before(const struct grid *g, size_t a, size_t b)
{
	return g->hidden[a] > g->hidden[b];
}

/* Restores the heap property below root in heap[0..n): each parent runs
 * after its children. */
static void sift_down(const struct grid *g, size_t *heap, size_t root, size_t n)
{
	size_t child, last, tmp;

	for (;;) {
		child = 2 * root + 1;
		if (child >= n)
			return;
		last = child;
		if (child + 1 < n &&
		    runs_before(g, heap[child], heap[child + 1]))
			last = child + 1;
		if (!runs_before(g, heap[root], heap[last]))
			return;
		tmp = heap[root];
		heap[root] = heap[last];
		heap[last] = tmp;
		root = last;
	}
}

/* Sorts the hidden indices into idx[0..n_hidden), largest size first. A
 * heapsort works in idx alone, because grid_schedule returns no status and
 * so must not allocate. */
static void sort_hidden(const struct grid *g, size_t *idx)
{
	size_t i, n = g->n_hidden, tmp;

	for (i = 0; i < n; i++)
		idx[i] = i;
	for (i = n / 2; i-- > 0;)
		sift_down(g, idx, i, n);
	for (i = n; i-- > 1;) {
		tmp = idx[0];
		idx[0] = idx[i];
		idx[i] = tmp;
		sift_down(g, idx, 0, i);
	}
}

void grid_schedule(const struct grid *g, size_t *order)
{
	size_t block = g->n_seeds * g->n_modes;
	size_t r, h, s, m, pos;

	if (grid_n_trials(g) == 0)
		return;
	sort_hidden(g, order);

	/* Expand rank r into its block order[r * block ..]; going from the
	 * last rank down, a block never overwrites a rank not yet read. */
	for (r = g->n_hidden; r-- > 0;) {
		h = order[r];
		pos = r * block;
		for (s = 0; s < g->n_seeds; s++)
			for (m = 0; m < g->n_modes; m++)
				order[pos++] = grid_trial_index(g, m, h, s);
	}
}
