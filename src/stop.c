/* SPDX-License-Identifier: GPL-3.0-or-later */
/* stop.c - counts stop signals. The handler touches only two sig_atomic_t
 * variables, the one state the program shares with a signal handler. Other
 * code reads them through the functions below. */
#include "fasweep/stop.h"

#include <signal.h>
#include <stddef.h>

static volatile sig_atomic_t n_signals;
static volatile sig_atomic_t first_signal;

static void on_signal(int sig)
{
	if (first_signal == 0)
		first_signal = sig;
	if (n_signals < 1000)
		n_signals++;
}

int stop_install(void)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGUSR1};
	struct sigaction sa;

	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigemptyset(&sa.sa_mask) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (sigaction(signals[i], &sa, NULL) != 0)
			return -1;
	return 0;
}

int stop_count(void)
{
	return n_signals;
}

int stop_first_signal(void)
{
	return first_signal;
}
