/*
 * console: the web console (web/ in the repository), compiled into the binary by
 * scripts/embed-web.sh so that a controller always serves the console of its own API.
 * GET / is web/index.html; GET /ui/<file> is any other file of web/. Each answer carries
 * its content type, a strong ETag (a 304 for a client that has it), "Cache-Control:
 * no-cache" (always revalidated, so a new build is seen at once), gzip for a client that
 * takes it, and a Content-Security-Policy that allows nothing but this origin's own
 * script, style, images and API: no inline script, no other origin.
 */
#ifndef CMDB_API_CONSOLE_H
#define CMDB_API_CONSOLE_H

#include <stddef.h>

#include "api/v1/http.h"

/* One file of web/, as scripts/embed-web.sh writes it. */
struct console_file {
	const char *name; /* "/index.html", "/app.js" */
	const unsigned char *data;
	size_t len;
};

extern const struct console_file console_files[];
extern const size_t console_nfiles;

/* Prepares the ETags and the compressed forms; once, before serving. 0 or -1. */
int api_console_init(void);
void api_console_cleanup(void);

void api_console_index(struct api_request *req); /* GET / */
void api_console_file(struct api_request *req);  /* GET /ui/{file}: req->action is the file */

#endif
