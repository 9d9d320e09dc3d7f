/* SPDX-License-Identifier: GPL-3.0-or-later */
/* main.c - the fasweep command line: parses arguments, dispatches to run,
 * plan, trial and report, and turns their status into an exit code. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <mpi.h>

#include "fasweep/coord.h"
#include "fasweep/grid.h"
#include "fasweep/h5out.h"
#include "fasweep/report.h"
#include "fasweep/stop.h"
#include "fasweep/trainer.h"

/* Exit codes; "diverged" is a result of `trial`, not an error, and
 * "stopped" means run can continue the file with --resume. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,
	EXIT_USAGE = 2,
	EXIT_DIVERGED = 3,
	EXIT_STOPPED = COORD_EXIT_STOPPED
};

static const char usage_text[] =
        "usage: fasweep COMMAND [OPTIONS]\n"
        "\n"
        "Runs paired sweeps of feedback-alignment experiments on MNIST.\n"
        "\n"
        "commands:\n"
        "  run CONFIG [-o FILE] [--resume|--force] [--data DIR]\n"
        "      [--quiet|--verbose]\n"
        "      run the sweep of CONFIG under MPI (mpirun, srun or alone) and\n"
        "      write every curve and the t-tests to FILE (default: CONFIG's\n"
        "      name with .h5, in the current directory). An existing FILE\n"
        "      is left untouched unless --resume or --force is given.\n"
        "      SIGTERM, SIGINT or SIGUSR1 stop it with trials pending (exit\n"
        "      code 4); a second signal ends it at once.\n"
        "  plan CONFIG\n"
        "      print the expanded grid, the trial count and a cost estimate.\n"
        "  trial --config CONFIG --mode MODE --hidden H --seed S [--data DIR]\n"
        "      run one trial without MPI and print its curves as TSV. MODE, H\n"
        "      and S need not be in CONFIG's grid unless a setting is zipped\n"
        "      to their axis.\n"
        "  report FILE\n"
        "      print the per-configuration means and the t-test table.\n"
        "\n"
        "options:\n"
        "  -o, --output FILE  results file of run\n"
        "  --resume           continue FILE: run its pending and failed\n"
        "                     trials; starts FILE if it does not exist\n"
        "  --force            replace an existing results file\n"
        "  --data DIR         MNIST directory, overriding [data] dir\n"
        "  --quiet, --verbose fewer or more log lines on stderr\n"
        "  -h, --help         print this help\n"
        "  --version          print the version\n"
        "\n"
        "exit codes: 0 success, 1 error, 2 bad usage, 3 the trial diverged,\n"
        "            4 the sweep stopped on a signal; run --resume continues "
        "it\n";

/* The commands, as bits so that each option can list the ones it applies
 * to. */
enum { CMD_RUN = 1, CMD_PLAN = 2, CMD_TRIAL = 4, CMD_REPORT = 8 };

/* Options of every command; each command reads the ones it takes. */
struct cli {
	const char *command;
	unsigned command_bit;
	const char *positional;
	const char *output;
	const char *config;
	const char *mode;
	const char *hidden;
	const char *seed;
	const char *data;
	int force;
	int resume;
	int help;
	enum log_level log_level;
};

/* An option that takes a value, and the commands it applies to. */
struct value_option {
	const char *name;
	const char *alias;
	size_t slot; /* offset of its const char * in struct cli */
	unsigned commands;
};

static const struct value_option value_options[] = {
        {"--output", "-o", offsetof(struct cli, output), CMD_RUN},
        {"--config", NULL, offsetof(struct cli, config), CMD_TRIAL},
        {"--mode", NULL, offsetof(struct cli, mode), CMD_TRIAL},
        {"--hidden", NULL, offsetof(struct cli, hidden), CMD_TRIAL},
        {"--seed", NULL, offsetof(struct cli, seed), CMD_TRIAL},
        {"--data", NULL, offsetof(struct cli, data), CMD_RUN | CMD_TRIAL},
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "fasweep: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; see fasweep --help\n");
	return EXIT_USAGE;
}

static unsigned command_bit(const char *command)
{
	static const char *const names[] = {"run", "plan", "trial", "report"};

	for (unsigned i = 0; i < 4; i++)
		if (!strcmp(command, names[i]))
			return 1u << i;
	return 0;
}

static const struct value_option *find_value_option(const char *arg)
{
	size_t n = sizeof(value_options) / sizeof(value_options[0]);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(arg, value_options[i].name) ||
		    (value_options[i].alias &&
		     !strcmp(arg, value_options[i].alias)))
			return &value_options[i];
	return NULL;
}

/* Parses a flag (an option without a value); returns 0, or the exit code
 * of a usage error. */
static int parse_flag(struct cli *c, const char *arg)
{
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		c->help = 1;
		return EXIT_OK;
	}
	if (c->command_bit != CMD_RUN &&
	    (!strcmp(arg, "--force") || !strcmp(arg, "--resume") ||
	     !strcmp(arg, "--quiet") || !strcmp(arg, "--verbose")))
		return usage_error("option '%s' applies only to run", arg);
	if (!strcmp(arg, "--force"))
		c->force = 1;
	else if (!strcmp(arg, "--resume"))
		c->resume = 1;
	else if (!strcmp(arg, "--quiet"))
		c->log_level = LOG_WARN;
	else if (!strcmp(arg, "--verbose"))
		c->log_level = LOG_DEBUG;
	else
		return usage_error("unknown option '%s'", arg);
	return EXIT_OK;
}

/* Stores the value of option opt, which argv[*i] named. */
static int parse_value(struct cli *c, const struct value_option *opt, int argc,
                       char **argv, int *i)
{
	if (!(opt->commands & c->command_bit))
		return usage_error("option '%s' does not apply to this command",
		                   argv[*i]);
	if (*i + 1 >= argc)
		return usage_error("%s needs a value", argv[*i]);
	*(const char **)((char *)c + opt->slot) = argv[++*i];
	return EXIT_OK;
}

static int parse_args(struct cli *c, int argc, char **argv)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO;
	c->command = argv[1];
	c->command_bit = command_bit(argv[1]);
	if (c->command_bit == 0)
		return usage_error("unknown command '%s'", argv[1]);

	for (int i = 2; i < argc; i++) {
		const struct value_option *opt = find_value_option(argv[i]);
		int rc = EXIT_OK;

		if (opt != NULL)
			rc = parse_value(c, opt, argc, argv, &i);
		else if (argv[i][0] == '-')
			rc = parse_flag(c, argv[i]);
		else if (c->positional == NULL)
			c->positional = argv[i];
		else
			rc = usage_error("unexpected argument '%s'", argv[i]);
		if (rc != EXIT_OK)
			return rc;
	}
	return EXIT_OK;
}

/* The default results file: the config's base name with .h5. */
static char *default_output(const char *config)
{
	const char *base = strrchr(config, '/');
	size_t len;
	char *out;

	base = base ? base + 1 : config;
	len = strlen(base);
	if (len > 4 && !strcmp(base + len - 4, ".ini"))
		len -= 4;
	out = malloc(len + 4);
	if (out != NULL)
		snprintf(out, len + 4, "%.*s.h5", (int)len, base);
	return out;
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(len, 1);
	for (int i = 0; s != NULL && i < argc; i++) {
		strcat(s, argv[i]);
		if (i + 1 < argc)
			strcat(s, " ");
	}
	return s;
}

static int cmd_run(const struct cli *c, int argc, char **argv)
{
	struct run_options opt;
	char *output = NULL, *command_line = join_args(argc, argv);
	int rc;

	if (c->positional == NULL)
		return usage_error("%s needs a CONFIG file", "run");
	if (c->force && c->resume)
		return usage_error(
		        "%s: --force replaces the file that --resume "
		        "continues; give one of them",
		        "run");
	if (c->output == NULL &&
	    (output = default_output(c->positional)) == NULL) {
		fprintf(stderr, "fasweep: out of memory\n");
		free(command_line);
		return EXIT_ERROR;
	}
	opt.config_path = c->positional;
	opt.output_path = c->output ? c->output : output;
	opt.data_dir = c->data;
	opt.force = c->force;
	opt.resume = c->resume;
	opt.log_level = c->log_level;
	opt.command_line = command_line ? command_line : "";

	MPI_Init(&argc, &argv);
	if (stop_install() != 0)
		fprintf(stderr,
		        "fasweep: cannot handle stop signals (%s); a signal "
		        "will end the sweep without closing the file\n",
		        strerror(errno));
	rc = coord_run(&opt, MPI_COMM_WORLD);
	MPI_Finalize();
	free(command_line);
	free(output);
	return rc;
}

static int cmd_plan(const struct cli *c)
{
	struct grid g = {0};
	struct fw_error err = {{0}};

	if (c->positional == NULL)
		return usage_error("%s needs a CONFIG file", "plan");
	if (grid_load(&g, c->positional, &err) != 0) {
		fprintf(stderr, "fasweep: %s\n", err.msg);
		grid_free(&g);
		return EXIT_ERROR;
	}
	report_plan(stdout, &g);
	grid_free(&g);
	return EXIT_OK;
}

static int cmd_report(const struct cli *c)
{
	struct h5out_summary s = {0};
	struct fw_error err = {{0}};

	if (c->positional == NULL)
		return usage_error("%s needs a results FILE", "report");
	if (h5out_read_summary(c->positional, &s, &err) != 0) {
		fprintf(stderr, "fasweep: %s\n", err.msg);
		return EXIT_ERROR;
	}
	report_summary(stdout, c->positional, &s);
	h5out_summary_free(&s);
	return EXIT_OK;
}

/* Parses a whole decimal integer; returns 0 or -1. */
static int parse_int64(const char *s, long long *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return *end == '\0' && errno != ERANGE ? 0 : -1;
}

/* Index of value in list, or -1. */
static long find_hidden(const struct grid *g, long long h)
{
	for (size_t i = 0; i < g->n_hidden; i++)
		if (g->hidden[i] == h)
			return (long)i;
	return -1;
}

static long find_seed(const struct grid *g, long long s)
{
	for (size_t i = 0; i < g->n_seeds; i++)
		if (g->seeds[i] == s)
			return (long)i;
	return -1;
}

static long find_mode(const struct grid *g, enum fw_mode mode)
{
	for (size_t i = 0; i < g->n_modes; i++)
		if (g->modes[i] == mode)
			return (long)i;
	return -1;
}

/* Prints the values of an axis, for an error message. */
static void print_axis_values(const struct grid *g, enum grid_axis axis)
{
	size_t n = axis == AXIS_MODE     ? g->n_modes
	           : axis == AXIS_HIDDEN ? g->n_hidden
	                                 : g->n_seeds;

	for (size_t i = 0; i < n; i++) {
		fprintf(stderr, "%s", i ? ", " : "");
		if (axis == AXIS_MODE)
			fprintf(stderr, "%s", grid_mode_name(g->modes[i]));
		else if (axis == AXIS_HIDDEN)
			fprintf(stderr, "%d", (int)g->hidden[i]);
		else
			fprintf(stderr, "%lld", (long long)g->seeds[i]);
	}
	fprintf(stderr, "\n");
}

/* Resolves the settings of (mode, hidden, seed), which need not be in the
 * grid unless a setting is zipped to their axis. */
static int trial_settings(const struct grid *g, enum fw_mode mode,
                          long long hidden, long long seed,
                          struct trial_params *p)
{
	long at[N_AXES] = {find_mode(g, mode), find_hidden(g, hidden),
	                   find_seed(g, seed)};

	for (size_t k = 0; k < N_SETTINGS; k++) {
		enum grid_axis axis = g->settings[k].axis;

		if (axis != AXIS_NONE && at[axis] < 0) {
			fprintf(stderr,
			        "fasweep: %s: %s is zipped to %s, so "
			        "the trial's %s must be one of: ",
			        g->path, g->settings[k].name,
			        grid_axis_name(axis), grid_axis_name(axis));
			print_axis_values(g, axis);
			return -1;
		}
	}
	grid_trial_params(g,
	                  grid_trial_index(g, at[0] < 0 ? 0 : (size_t)at[0],
	                                   at[1] < 0 ? 0 : (size_t)at[1],
	                                   at[2] < 0 ? 0 : (size_t)at[2]),
	                  p);
	p->mode = mode;
	p->n_hidden = (int32_t)hidden;
	p->seed = seed;
	return 0;
}

/* Prints the values of one point, curve c at curves[c * stride]. */
static void print_point(const float *curves, size_t stride)
{
	for (int k = 0; k < N_CURVES; k++) {
		float v = curves[(size_t)k * stride];

		/* NaN from 0/0 carries a sign; print it as plain nan. */
		printf("\t%.9g", isnan(v) ? (double)NAN : (double)v);
	}
	printf("\n");
}

/* Prints one row per point: epoch 0, the checkpoints inside the first
 * epoch with their fraction of it in the epoch column, then epochs 1 on. */
static void print_curves(const float *curves, size_t n_points,
                         const struct trial_params *p)
{
	size_t n_early = (size_t)p->early_checkpoints;
	const float *early = curves + N_CURVES * n_points;

	printf("epoch");
	for (int k = 0; k < N_CURVES; k++)
		printf("\t%s", trainer_curve_name((enum curve_id)k));
	printf("\n");
	for (int e = 0; e <= p->n_epochs; e++) {
		printf("%d", e);
		print_point(curves + e, n_points);
		for (size_t k = 0; e == 0 && k < n_early; k++) {
			printf("%g", (double)(k + 1) / (double)(n_early + 1));
			print_point(early + k, n_early);
		}
	}
}

/* Checks the trial command's arguments and fills the mode, H and seed. */
static int trial_args(const struct cli *c, enum fw_mode *mode,
                      long long *hidden, long long *seed)
{
	if (c->config == NULL || c->mode == NULL || c->hidden == NULL ||
	    c->seed == NULL)
		return usage_error("%s needs --config, --mode, --hidden and "
		                   "--seed",
		                   "trial");
	if (grid_mode_parse(c->mode, mode) != 0)
		return usage_error(
		        "unknown mode '%s' (use one of " GRID_MODE_LIST ")",
		        c->mode);
	if (parse_int64(c->hidden, hidden) != 0 || *hidden < 1 ||
	    *hidden > 100000)
		return usage_error("--hidden '%s' must be an integer from 1 to "
		                   "100000",
		                   c->hidden);
	if (parse_int64(c->seed, seed) != 0 || *seed < 0)
		return usage_error("--seed '%s' must be an integer from 0 to "
		                   "9223372036854775807",
		                   c->seed);
	return EXIT_OK;
}

static int run_one(const struct grid *g, const struct trial_params *p)
{
	struct dataset ds = {0};
	struct fw_error err = {{0}};
	struct trial_outcome outcome;
	size_t n_points = (size_t)p->n_epochs + 1;
	float *curves = malloc(sizeof(float) * N_CURVES *
	                       (n_points + (size_t)p->early_checkpoints));
	int rc = EXIT_ERROR;

	trainer_pin_blas();
	if (curves == NULL || dataset_load(&ds, g->data_dir, &err) != 0 ||
	    trainer_run(&ds, p, NULL, curves, n_points, &outcome, &err) != 0) {
		fprintf(stderr, "fasweep: %s\n",
		        curves ? err.msg : "out of memory");
		goto out;
	}
	print_curves(curves, n_points, p);
	fprintf(stderr, "status=%s seconds=%.2f%s%s\n",
	        trainer_status_name(outcome.status), outcome.wall_seconds,
	        outcome.message[0] ? " message=" : "", outcome.message);
	rc = outcome.status == TRIAL_DONE ? EXIT_OK : EXIT_DIVERGED;
out:
	free(curves);
	dataset_free(&ds);
	return rc;
}

static int cmd_trial(const struct cli *c)
{
	struct grid g = {0};
	struct fw_error err = {{0}};
	struct trial_params p;
	enum fw_mode mode;
	long long hidden, seed;
	int rc = trial_args(c, &mode, &hidden, &seed);

	if (rc != EXIT_OK)
		return rc;
	if (grid_load(&g, c->config, &err) != 0) {
		fprintf(stderr, "fasweep: %s\n", err.msg);
		grid_free(&g);
		return EXIT_ERROR;
	}
	if (c->data != NULL) {
		char *dir = strdup(c->data);

		if (dir == NULL) {
			grid_free(&g);
			fprintf(stderr, "fasweep: out of memory\n");
			return EXIT_ERROR;
		}
		free(g.data_dir);
		g.data_dir = dir;
	}
	rc = trial_settings(&g, mode, hidden, seed, &p) == 0 ? run_one(&g, &p)
	                                                     : EXIT_USAGE;
	grid_free(&g);
	return rc;
}

/* Runs the parsed command and returns its exit code. */
static int dispatch(const struct cli *c, int argc, char **argv)
{
	switch (c->command_bit) {
	case CMD_RUN:
		return cmd_run(c, argc, argv);
	case CMD_PLAN:
		return cmd_plan(c);
	case CMD_TRIAL:
		return cmd_trial(c);
	default:
		return cmd_report(c);
	}
}

int main(int argc, char **argv)
{
	struct cli c;
	int rc;

	/* GSL's default handler aborts; the statistics return NaN instead. */
	gsl_set_error_handler_off();
	if (h5out_library_init() != 0) {
		fprintf(stderr, "fasweep: the HDF5 library could not be "
		                "initialised\n");
		return EXIT_ERROR;
	}
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("fasweep %s\n", FASWEEP_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	rc = parse_args(&c, argc, argv);
	if (rc != EXIT_OK)
		return rc;
	if (c.help) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}

	rc = dispatch(&c, argc, argv);

	/* A full disk or a closed pipe must not pass for success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "fasweep: writing standard output failed: %s\n",
		        strerror(errno));
		return EXIT_ERROR;
	}
	return rc;
}
