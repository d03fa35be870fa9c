// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * LD_PRELOAD helper of the end-to-end tests (t_faults.sh): makes an unmodified
 * target exec another program mid-trace.  On SIGUSR2 the process (whichever
 * thread takes the signal) execs $EXEC_ON_USR2 with the arguments in
 * $EXEC_ON_USR2_ARG (one argument, optional); execve is async-signal-safe.
 * LD_PRELOAD is removed from the new program's environment.
 *
 *   cc -shared -fPIC -o exec_on_usr2.so exec_on_usr2.c
 *   EXEC_ON_USR2=/bin/sleep EXEC_ON_USR2_ARG=30 LD_PRELOAD=./exec_on_usr2.so mt ...
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static char *prog;
static char *argv_new[3];
static char *env_new[256];

static void on_usr2(int sig)
{
	(void)sig;
	execve(prog, argv_new, env_new);
	_exit(127);
}

__attribute__((constructor)) static void setup(void)
{
	struct sigaction sa;
	size_t n = 0;

	prog = getenv("EXEC_ON_USR2");
	if (!prog || !*prog)
		return;
	argv_new[0] = prog;
	argv_new[1] = getenv("EXEC_ON_USR2_ARG");
	for (char **e = environ; *e && n < sizeof(env_new) / sizeof(env_new[0]) - 1; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "EXEC_ON_USR2", 12))
			env_new[n++] = *e;
	env_new[n] = NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}
