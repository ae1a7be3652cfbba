/*
 * tap_ok.h — one TAP line per check, for the C test programs that print
 * TAP themselves (tests/pool, tests/unroll): ok(cond, what, detail)
 * prints "ok N - what" or "not ok N - what" and, on failure, the detail
 * (or nothing for NULL); count and failed are the program's tallies.
 * skip(what, why) counts a check this build cannot make.
 */
#ifndef TAP_OK_H
#define TAP_OK_H

#include <stdio.h>

static int count, failed;

static void
ok(int cond, const char *what, const char *detail)
{
	count++;
	if (!cond)
		failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", count, what);
	if (!cond && detail)
		printf("#   %s\n", detail);
	fflush(stdout);
}

/* A check that cannot be made in this build: "ok N - what # SKIP why". */
static inline void
skip(const char *what, const char *why)
{
	count++;
	printf("ok %d - %s # SKIP %s\n", count, what, why);
	fflush(stdout);
}

#endif
