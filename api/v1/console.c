/*
 * console: serves the embedded files of web/ (see console.h).
 */
#include "api/v1/console.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1/cache.h"
#include "core/core.h"

/* What each file is served with, prepared once by api_console_init. */
struct prepared {
	char etag[24]; /* "\"<16 hex digits of its SHA-256>\"" */
	char *gz;      /* its gzip form, or NULL when that would not be smaller */
	size_t gzlen;
};

static struct prepared *prepared;

/*
 * Only this origin: scripts and styles from its files (never inline), the API by
 * fetch, images from its files or data: URLs (the favicon); no frames, no plugins.
 */
#define CSP                                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"           \
	" connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

int api_console_init(void)
{
	if (prepared)
		return 0;
	prepared = calloc(console_nfiles ? console_nfiles : 1, sizeof(*prepared));
	if (!prepared)
		return -1;
	for (size_t i = 0; i < console_nfiles; i++) {
		const struct console_file *f = &console_files[i];
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		char *gz = NULL;
		size_t gzlen = 0;

		if (!EVP_Digest(f->data, f->len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8)
			return -1;
		snprintf(prepared[i].etag, sizeof(prepared[i].etag),
		         "\"%02x%02x%02x%02x%02x%02x%02x%02x\"", md[0], md[1], md[2], md[3], md[4],
		         md[5], md[6], md[7]);
		if (api_gzip((const char *)f->data, f->len, &gz, &gzlen) == 0 && gzlen < f->len) {
			prepared[i].gz = gz;
			prepared[i].gzlen = gzlen;
		} else {
			free(gz);
		}
	}
	return 0;
}

void api_console_cleanup(void)
{
	for (size_t i = 0; prepared && i < console_nfiles; i++)
		free(prepared[i].gz);
	free(prepared);
	prepared = NULL;
}

/* 1 when If-None-Match names etag (a list, or "*"). */
static int client_has(struct mg_connection *conn, const char *etag)
{
	const char *inm = mg_get_header(conn, "If-None-Match");

	return inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
}

static void send_file(struct api_request *req, size_t i)
{
	const struct console_file *f = &console_files[i];
	const struct prepared *p = &prepared[i];
	int gzip = p->gz && api_accepts_gzip(req->conn);
	int status = client_has(req->conn, p->etag) ? 304 : 200;
	const void *body = gzip ? (const void *)p->gz : (const void *)f->data;
	size_t len = gzip ? p->gzlen : f->len;
	char clen[32];

	api_note_status(status);
	mg_response_header_start(req->conn, status);
	mg_response_header_add(req->conn, "Content-Type", content_type(f->name), -1);
	mg_response_header_add(req->conn, "ETag", p->etag, -1);
	mg_response_header_add(req->conn, "Cache-Control", "no-cache", -1);
	mg_response_header_add(req->conn, "Vary", "Accept-Encoding", -1);
	mg_response_header_add(req->conn, "Content-Security-Policy", CSP, -1);
	mg_response_header_add(req->conn, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add(req->conn, "Referrer-Policy", "no-referrer", -1);
	mg_response_header_add(req->conn, "X-Frame-Options", "DENY", -1);
	if (status == 304) {
		mg_response_header_send(req->conn);
		return;
	}
	if (gzip)
		mg_response_header_add(req->conn, "Content-Encoding", "gzip", -1);
	snprintf(clen, sizeof(clen), "%zu", len);
	mg_response_header_add(req->conn, "Content-Length", clen, -1);
	mg_response_header_send(req->conn);
	mg_write(req->conn, body, len);
}

/* The embedded file called name ("/app.js"), or -1. */
static long find(const char *name)
{
	for (size_t i = 0; prepared && i < console_nfiles; i++)
		if (strcmp(console_files[i].name, name) == 0)
			return (long)i;
	return -1;
}

void api_console_index(struct api_request *req)
{
	long i = find("/index.html");

	if (i < 0) {
		api_send_error(req->conn, 404, "this build has no console");
		return;
	}
	send_file(req, (size_t)i);
}

void api_console_file(struct api_request *req)
{
	char name[128];
	long i;

	if (!req->action || strlen(req->action) + 2 > sizeof(name)) {
		api_send_error(req->conn, 404, "no such file");
		return;
	}
	snprintf(name, sizeof(name), "/%s", req->action);
	i = find(name);
	/* index.html is only served as /, so that the console has one address. */
	if (i < 0 || strcmp(name, "/index.html") == 0) {
		api_send_error(req->conn, 404, "no such file");
		return;
	}
	send_file(req, (size_t)i);
}
