/*
 * webstates: writes states.js, the release and node statuses of the state table
 * (internal/state) for the web console, so that a status added there reaches the console
 * without editing web/app.js. The Makefile runs it at build time and scripts/embed-web.sh
 * compiles its output into bin/cmdb beside the files of web/ (served as /ui/states.js).
 */
#include <stdio.h>
#include <string.h>

#include "state/state.h"

/* A status name goes into a JavaScript string as it is, so it may hold only [a-z_]. */
static int plain(const char *name)
{
	return name[0] && strspn(name, "abcdefghijklmnopqrstuvwxyz_") == strlen(name);
}

static int put_name(const char *name, const char *sep)
{
	if (!plain(name)) {
		fprintf(stderr, "webstates: the status name \"%s\" is not [a-z_]\n", name);
		return -1;
	}
	printf("%s'%s'", sep, name);
	return 0;
}

int main(void)
{
	puts("/* Written by cmd/webstates from internal/state at build time: not to be edited. */");
	puts("'use strict';");
	puts("/* Every release status, in the state table's order, and whether it is terminal. */");
	puts("const CMDB_RELEASE_STATUSES = Object.freeze([");
	for (int s = 0; s < RELEASE_STATUS_COUNT; s++) {
		fputs("  Object.freeze({name: ", stdout);
		if (put_name(release_status_name((enum release_status)s), "") != 0)
			return 1;
		printf(", terminal: %s}),\n",
		       release_is_terminal((enum release_status)s) ? "true" : "false");
	}
	puts("]);");
	puts("/* Every node status, in the state table's order. */");
	fputs("const CMDB_NODE_STATUSES = Object.freeze([", stdout);
	for (int s = 0; s < NODE_STATUS_COUNT; s++)
		if (put_name(node_status_name((enum node_status)s), s ? ", " : "") != 0)
			return 1;
	puts("]);");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("webstates");
		return 1;
	}
	return 0;
}
