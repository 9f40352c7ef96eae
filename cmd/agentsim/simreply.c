/*
 * simreply: agentsim's answers. The handler resolves the node, validates the request the
 * way a strict agent would, and lets simtask decide between a new task, a replay and a
 * conflict; faults are applied here because they are about what goes on the wire.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "simhttp_internal.h"

#define MAX_BODY     (64 * 1024)
#define MAX_KEY      128
#define MAX_TASK_ID  64
#define HANG_POLL_NS (100 * 1000000L)
/* Largest version a JSON number (a double in cJSON) holds exactly. */
#define MAX_VERSION 9007199254740992.0

#define TASKS_PATH  "/api/v1/tasks"
#define BAD_TASK_ID "bad id/../x"

/* Burns ms of this thread's CPU time holding cpu_lock: a single-threaded agent's cost. */
static void spend_cpu(struct simhttp *h)
{
	struct timespec t0, t;
	volatile unsigned sink = 0;
	int64_t spent;

	if (!h->cfg.request_cpu_ms)
		return;
	pthread_mutex_lock(&h->cpu_lock);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 1000; i++)
			sink += (unsigned)i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
		spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000;
	} while (spent < (int64_t)h->cfg.request_cpu_ms * 1000);
	pthread_mutex_unlock(&h->cpu_lock);
}

/*
 * "close" when this request ends its connection (HTTP/1.0 without keep-alive, or a
 * "Connection: close" from the client), as civetweb itself decides after the handler.
 */
static const char *connection_token(const struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *value = mg_get_header(conn, "Connection");

	if (value)
		return strcasestr(value, "keep-alive") ? "keep-alive" : "close";
	return ri && ri->http_version && strcmp(ri->http_version, "1.1") == 0 ? "keep-alive"
	                                                                      : "close";
}

/*
 * One response with a fixed body; extra is an optional "Name", "value" header pair (a
 * "Connection" one replaces the default). The status line, headers and body leave in
 * one mg_write, so in one TLS record, as a real agent's buffered writer sends them:
 * civetweb's mg_response_header_* would write each header line as a record of its own.
 */
static void send_body(struct mg_connection *conn, int status, const char *ctype, const char *body,
                      const char *extra_name, const char *extra_value)
{
	const char *reason = mg_get_response_code_text(conn, status);
	const char *connection = connection_token(conn);
	size_t n = strlen(body), cap = 512 + n;
	char *out;
	int head;

	if (extra_name && strcasecmp(extra_name, "Connection") == 0) {
		connection = extra_value;
		extra_name = NULL;
	}
	out = malloc(cap);
	if (!out)
		return;
	head =
	    snprintf(out, cap,
	             "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s%s%s"
	             "Connection: %s\r\n\r\n",
	             status, reason, ctype, n, extra_name ? extra_name : "", extra_name ? ": " : "",
	             extra_name ? extra_value : "", extra_name ? "\r\n" : "", connection);
	if (head > 0 && (size_t)head + n <= cap) {
		memcpy(out + head, body, n);
		mg_write(conn, out, (size_t)head + n);
	}
	free(out);
}

/* Sends root as JSON and frees it; an allocation failure becomes a bare 500. */
static void send_json(struct mg_connection *conn, int status, cJSON *root)
{
	char *text = root ? cJSON_PrintUnformatted(root) : NULL;

	if (text)
		send_body(conn, status, "application/json", text, NULL, NULL);
	else
		send_body(conn, 500, "application/json", "", NULL, NULL);
	cJSON_free(text);
	cJSON_Delete(root);
}

static cJSON *error_object(const char *msg)
{
	cJSON *root = cJSON_CreateObject();

	if (root && !cJSON_AddStringToObject(root, "error", msg)) {
		cJSON_Delete(root);
		root = NULL;
	}
	return root;
}

static void send_error(struct mg_connection *conn, int status, const char *msg)
{
	send_json(conn, status, error_object(msg));
}

/* Like send_error with one more header, for 405 Allow, 429 Retry-After, 413 close. */
static void send_error_hdr(struct mg_connection *conn, int status, const char *msg,
                           const char *name, const char *value)
{
	cJSON *root = error_object(msg);
	char *text = root ? cJSON_PrintUnformatted(root) : NULL;

	send_body(conn, text ? status : 500, "application/json", text ? text : "", name, value);
	cJSON_free(text);
	cJSON_Delete(root);
}

static void send_task_id(struct mg_connection *conn, int status, const char *id)
{
	cJSON *root = cJSON_CreateObject();

	if (root && !cJSON_AddStringToObject(root, "task_id", id)) {
		cJSON_Delete(root);
		root = NULL;
	}
	send_json(conn, status, root);
}

static void send_status(struct mg_connection *conn, const char *id, const char *status,
                        const char *last_error)
{
	cJSON *root = cJSON_CreateObject();

	if (root && (!cJSON_AddStringToObject(root, "task_id", id) ||
	             !cJSON_AddStringToObject(root, "status", status) ||
	             !cJSON_AddStringToObject(root, "last_error", last_error))) {
		cJSON_Delete(root);
		root = NULL;
	}
	send_json(conn, 200, root);
}

/*
 * The node this request addresses: the Host header names it (the controller connects by
 * IP, so Host is "IP:PORT"), and it must be the node whose certificate the connection
 * presented, so a client cannot reach a node through another node's certificate.
 */
static const struct simnode *addressed_node(const struct simhttp *h,
                                            const struct mg_connection *conn,
                                            const struct mg_request_info *ri)
{
	const char *host = mg_get_header(conn, "Host");
	const struct simnode *node;
	char ip[INET_ADDRSTRLEN], canon[INET_ADDRSTRLEN], addr[SIMNODE_ADDR_MAX];
	struct in_addr in;
	const char *colon;
	size_t iplen;
	long port = ri->server_port;
	char *end;

	if (!host)
		return NULL;
	colon = strchr(host, ':');
	iplen = colon ? (size_t)(colon - host) : strlen(host);
	if (iplen == 0 || iplen >= sizeof(ip))
		return NULL;
	memcpy(ip, host, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1)
		return NULL;
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno)
			return NULL;
	}
	inet_ntop(AF_INET, &in, canon, sizeof(canon));
	snprintf(addr, sizeof(addr), "%s:%ld", canon, port);
	node = simnode_table_find(h->cfg.nodes, addr);
	if (!node || node != ri->conn_data)
		return NULL;
	return node;
}

/* Blocks until simhttp_stop(): the simulated agent accepted the request and went silent. */
static void hang(struct simhttp *h, const struct simnode *node)
{
	struct timespec ts;

	log_info("agentsim", "node %s hangs a request until shutdown", node->addr);
	pthread_mutex_lock(&h->hang_lock);
	while (!h->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += HANG_POLL_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->hang_cond, &h->hang_lock, &ts);
	}
	pthread_mutex_unlock(&h->hang_lock);
}

/*
 * Reads the whole body into a fresh NUL-terminated buffer. Returns 0 with *body (caller
 * frees) and *len, 1 when the body exceeds MAX_BODY, -1 on a read error or no memory.
 */
static int read_body(struct mg_connection *conn, char **body, size_t *len)
{
	char *buf = malloc(MAX_BODY + 2);
	size_t n = 0;
	int got;

	if (!buf)
		return -1;
	while (n <= MAX_BODY) {
		got = mg_read(conn, buf + n, MAX_BODY + 1 - n);
		if (got < 0) {
			free(buf);
			return -1;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (n > MAX_BODY) {
		free(buf);
		return 1;
	}
	buf[n] = '\0';
	*body = buf;
	*len = n;
	return 0;
}

static bool is_json_type(const char *ctype)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (!ctype || strncasecmp(ctype, want, n) != 0)
		return false;
	return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ';
}

/* 1..MAX_KEY printable ASCII characters, as the protocol defines Idempotency-Key. */
static bool valid_key(const char *key)
{
	size_t n = strlen(key);
	size_t i;

	if (n < 1 || n > MAX_KEY)
		return false;
	for (i = 0; i < n; i++) {
		if (key[i] < 0x20 || key[i] > 0x7e)
			return false;
	}
	return true;
}

/* 1..64 characters from [A-Za-z0-9._:-], the protocol's task id alphabet. */
static bool valid_task_id(const char *id)
{
	size_t n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                      "0123456789._:-");

	return n >= 1 && n <= MAX_TASK_ID && id[n] == '\0';
}

/*
 * Checks a dispatch body: exactly {"type":"apply_config","version":<positive integer>}.
 * Returns 0 with *version, or -1 with a static reason in *why.
 */
static int parse_dispatch(const char *body, size_t len, int64_t *version, const char **why)
{
	const char *end = NULL;
	cJSON *root, *item;
	int ntype = 0, nversion = 0;
	double v = 0;
	int rc = -1;

	if (strlen(body) != len) {
		*why = "body contains a NUL byte";
		return -1;
	}
	root = cJSON_ParseWithOpts(body, &end, 1);
	if (!cJSON_IsObject(root)) {
		*why = "body must be a JSON object";
		goto out;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (item->string && strcmp(item->string, "type") == 0) {
			ntype++;
			if (!cJSON_IsString(item) ||
			    strcmp(item->valuestring, "apply_config") != 0) {
				*why = "type must be \"apply_config\"";
				goto out;
			}
		} else if (item->string && strcmp(item->string, "version") == 0) {
			nversion++;
			v = item->valuedouble;
			if (!cJSON_IsNumber(item) || v < 1 || v > MAX_VERSION || v != floor(v)) {
				*why = "version must be a positive integer";
				goto out;
			}
		} else {
			*why = "unknown field; the body is {\"type\", \"version\"}";
			goto out;
		}
	}
	if (ntype != 1 || nversion != 1) {
		*why = "body needs exactly one type and one version";
		goto out;
	}
	*version = (int64_t)v;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

static void handle_dispatch(struct simhttp *h, struct mg_connection *conn,
                            const struct mg_request_info *ri, const struct simnode *node)
{
	const char *key = mg_get_header(conn, "Idempotency-Key");
	const char *why = NULL;
	const char *shown;
	char id[SIMTASK_ID_MAX];
	char *body = NULL;
	size_t len = 0;
	int64_t version;
	int got;

	if (node->fault == SIMNODE_FAULT_HANG) {
		hang(h, node);
		return;
	}
	/* Refuse an announced oversize body unread; close, as its bytes are still coming. */
	if (ri->content_length > MAX_BODY) {
		send_error_hdr(conn, 413, "body larger than 64 KiB", "Connection", "close");
		return;
	}
	got = read_body(conn, &body, &len);
	if (got > 0) {
		send_error_hdr(conn, 413, "body larger than 64 KiB", "Connection", "close");
		return;
	}
	if (got < 0) {
		send_error_hdr(conn, 500, "cannot read the request body", "Connection", "close");
		return;
	}
	if (node->flaky && atomic_fetch_add(&h->posts[node->index], 1) < node->flaky) {
		send_error(conn, 503, "simulated transient fault");
		goto out;
	}
	if (node->fault == SIMNODE_FAULT_5XX) {
		send_error(conn, 500, "simulated agent fault");
		goto out;
	}
	if (node->fault == SIMNODE_FAULT_429) {
		send_error_hdr(conn, 429, "busy", "Retry-After", "1");
		goto out;
	}
	if (!is_json_type(mg_get_header(conn, "Content-Type"))) {
		send_error(conn, 400, "Content-Type must be application/json");
		goto out;
	}
	if (parse_dispatch(body, len, &version, &why) < 0) {
		send_error(conn, 400, why);
		goto out;
	}
	if (key && !valid_key(key)) {
		send_error(conn, 400, "Idempotency-Key must be 1..128 printable ASCII characters");
		goto out;
	}
	/* A badtaskid node records and logs the task normally and only lies on the wire. */
	shown = node->fault == SIMNODE_FAULT_BADTASKID ? BAD_TASK_ID : id;
	switch (simtask_dispatch(h->cfg.tasks, node, version, key, id, sizeof(id))) {
	case SIMTASK_CREATED:
		send_task_id(conn, 202, shown);
		break;
	case SIMTASK_REPLAYED:
		send_task_id(conn, 200, shown);
		break;
	case SIMTASK_CONFLICT:
		send_error(conn, 409, "Idempotency-Key was used with a different body");
		break;
	default:
		send_error(conn, 500, "out of memory");
		break;
	}
out:
	free(body);
}

static void handle_status(struct simhttp *h, struct mg_connection *conn, const struct simnode *node,
                          const char *id)
{
	char last_error[64];
	enum simtask_status st;
	int64_t created_us, version = 0;

	if (node->fault == SIMNODE_FAULT_HANG) {
		hang(h, node);
		return;
	}
	if (!valid_task_id(id) || node->fault == SIMNODE_FAULT_FORGET ||
	    simtask_find(h->cfg.tasks, node, id, &created_us, &version) < 0) {
		send_error(conn, 404, "unknown task");
		return;
	}
	if (node->fault == SIMNODE_FAULT_GARBAGE) {
		send_body(conn, 200, "text/html", "<html>not json", NULL, NULL);
		return;
	}
	if (node->fault == SIMNODE_FAULT_BADSTATUS) {
		send_status(conn, id, "exploded", "");
		return;
	}
	st = simtask_status_at(node, simtask_now_us() - created_us, version);
	last_error[0] = '\0';
	if (st == SIMTASK_FAILED)
		snprintf(last_error, sizeof(last_error), "simulated apply failure on %s", node->ip);
	send_status(conn, id, simtask_status_name(st), last_error);
}

/* civetweb begin_request callback: every request comes through here. */
int simhttp_handle(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct simhttp *h = ri->user_data;
	const struct simnode *node;
	const char *uri = ri->local_uri_raw ? ri->local_uri_raw : ri->local_uri;
	const size_t plen = sizeof(TASKS_PATH) - 1;

	node = addressed_node(h, conn, ri);
	if (!node) {
		send_error(conn, 421, "no node at the address in the Host header");
		return 1;
	}
	spend_cpu(h);
	if (uri && strcmp(uri, TASKS_PATH) == 0) {
		if (strcmp(ri->request_method, "POST") == 0)
			handle_dispatch(h, conn, ri, node);
		else
			send_error_hdr(conn, 405, "method not allowed", "Allow", "POST");
		return 1;
	}
	if (uri && strncmp(uri, TASKS_PATH "/", plen + 1) == 0) {
		if (strcmp(ri->request_method, "GET") == 0)
			handle_status(h, conn, node, uri + plen + 1);
		else
			send_error_hdr(conn, 405, "method not allowed", "Allow", "GET");
		return 1;
	}
	send_error(conn, 404, "not found");
	return 1;
}

/* civetweb's own messages (TLS setup, handshake failures) go to our log. */
