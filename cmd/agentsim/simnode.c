/*
 * simnode: parses the nodes file ("IP:PORT [behaviour...]" per line) into a table with
 * an address index, so the request handler finds its node in O(1) even for 4,000 nodes.
 */
#include "simnode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest delay accepted: a day is far beyond any controller timeout worth testing. */
#define MAX_DELAY_S      86400.0
#define DEFAULT_DELAY_US 100000

static const char *const cert_names[SIMNODE_CERT_COUNT] = {
    [SIMNODE_CERT_GOOD] = "good",
    [SIMNODE_CERT_OTHERCA] = "otherca",
    [SIMNODE_CERT_WRONGNAME] = "wrongname",
    [SIMNODE_CERT_EXPIRED] = "expired",
};

static const char *const fault_names[SIMNODE_FAULT_COUNT] = {
    [SIMNODE_FAULT_NONE] = "",
    [SIMNODE_FAULT_HANG] = "hang",
    [SIMNODE_FAULT_5XX] = "5xx",
    [SIMNODE_FAULT_429] = "429",
    [SIMNODE_FAULT_GARBAGE] = "garbage",
    [SIMNODE_FAULT_BADSTATUS] = "badstatus",
    [SIMNODE_FAULT_BADTASKID] = "badtaskid",
    [SIMNODE_FAULT_FORGET] = "forget",
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Parses "IP:PORT" into n->ip, n->port and the canonical n->addr. */
static int parse_addr(const char *tok, struct simnode *n, char *err, size_t errlen)
{
	const char *colon = strrchr(tok, ':');
	char ip[INET_ADDRSTRLEN];
	struct in_addr in;
	char *end;
	long port;
	size_t iplen;

	if (!colon || colon == tok) {
		snprintf(err, errlen, "expected IP:PORT, got '%s'", tok);
		return -1;
	}
	iplen = (size_t)(colon - tok);
	if (iplen >= sizeof(ip)) {
		snprintf(err, errlen, "'%.*s' is not an IPv4 address", (int)iplen, tok);
		return -1;
	}
	memcpy(ip, tok, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv4 address", ip);
		return -1;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno || port < 1 || port > 65535) {
		snprintf(err, errlen, "port must be 1..65535, got '%s'", colon + 1);
		return -1;
	}
	inet_ntop(AF_INET, &in, n->ip, sizeof(n->ip));
	n->port = (unsigned)port;
	snprintf(n->addr, sizeof(n->addr), "%s:%u", n->ip, n->port);
	return 0;
}

static int parse_delay(const char *val, struct simnode *n, char *err, size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(val, &end);
	if (end == val || *end != '\0' || errno || !isfinite(d) || d < 0 || d > MAX_DELAY_S) {
		snprintf(err, errlen, "delay must be 0..%.0f seconds, got '%s'", MAX_DELAY_S, val);
		return -1;
	}
	n->delay_us = (int64_t)(d * 1e6 + 0.5);
	return 0;
}

/* Applies one behaviour token; seen tracks what was already given, to reject repeats. */
static int parse_behaviour(const char *tok, struct simnode *n, unsigned *seen, char *err,
                           size_t errlen)
{
	enum { SEEN_DELAY = 1, SEEN_FAIL = 2, SEEN_CERT = 4, SEEN_FAULT = 8 };
	int i;

	if (strncmp(tok, "delay=", 6) == 0) {
		if (*seen & SEEN_DELAY)
			goto twice;
		*seen |= SEEN_DELAY;
		return parse_delay(tok + 6, n, err, errlen);
	}
	if (strncmp(tok, "flaky=", 6) == 0) {
		char *end;
		unsigned long v = strtoul(tok + 6, &end, 10);

		if (tok[6] < '0' || tok[6] > '9' || *end || v < 1 || v > 1000) {
			snprintf(err, errlen, "flaky must be 1..1000, got '%s'", tok + 6);
			return -1;
		}
		n->flaky = (unsigned)v;
		return 0;
	}
	if (strncmp(tok, "failversion=", 12) == 0) {
		char *end;
		unsigned long long v = strtoull(tok + 12, &end, 10);

		if (tok[12] < '1' || tok[12] > '9' || *end || v > 9007199254740991ULL) {
			snprintf(err, errlen, "failversion must be a positive version, got '%s'",
			         tok + 12);
			return -1;
		}
		n->fail_version = (int64_t)v;
		return 0;
	}
	if (strcmp(tok, "fail") == 0) {
		if (*seen & SEEN_FAIL)
			goto twice;
		*seen |= SEEN_FAIL;
		n->fail = true;
		return 0;
	}
	if (strncmp(tok, "cert=", 5) == 0) {
		if (*seen & SEEN_CERT)
			goto twice;
		*seen |= SEEN_CERT;
		for (i = SIMNODE_CERT_OTHERCA; i < SIMNODE_CERT_COUNT; i++) {
			if (strcmp(tok + 5, cert_names[i]) == 0) {
				n->cert = (enum simnode_cert)i;
				return 0;
			}
		}
		snprintf(err, errlen, "cert must be otherca, wrongname or expired, got '%s'",
		         tok + 5);
		return -1;
	}
	for (i = SIMNODE_FAULT_NONE + 1; i < SIMNODE_FAULT_COUNT; i++) {
		if (strcmp(tok, fault_names[i]) != 0)
			continue;
		if (*seen & SEEN_FAULT) {
			snprintf(err, errlen, "'%s' conflicts with '%s': one fault per node", tok,
			         fault_names[n->fault]);
			return -1;
		}
		*seen |= SEEN_FAULT;
		n->fault = (enum simnode_fault)i;
		return 0;
	}
	snprintf(err, errlen, "unknown behaviour '%s'", tok);
	return -1;
twice:
	snprintf(err, errlen, "'%s': that behaviour is already set on this line", tok);
	return -1;
}

/* Parses one line. Returns 1 for a node, 0 for a blank or comment line, -1 on error. */
static int parse_line(char *line, struct simnode *n, char *err, size_t errlen)
{
	char *save = NULL;
	char *tok;
	unsigned seen = 0;

	line[strcspn(line, "#")] = '\0';
	tok = strtok_r(line, " \t\r\n", &save);
	if (!tok)
		return 0;
	memset(n, 0, sizeof(*n));
	n->delay_us = DEFAULT_DELAY_US;
	if (parse_addr(tok, n, err, errlen) < 0)
		return -1;
	while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
		if (parse_behaviour(tok, n, &seen, err, errlen) < 0)
			return -1;
	}
	return 1;
}

/* Builds the address index; fails on a duplicate address. */
static int build_index(struct simnode_table *t, char *err, size_t errlen)
{
	size_t i, slot, mask;

	t->nslots = 16;
	while (t->nslots < 2 * t->count)
		t->nslots *= 2;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mask = t->nslots - 1;
	for (i = 0; i < t->count; i++) {
		slot = (size_t)hash_str(t->nodes[i].addr) & mask;
		while (t->slots[slot]) {
			const struct simnode *other = &t->nodes[t->slots[slot] - 1];

			if (strcmp(other->addr, t->nodes[i].addr) == 0) {
				snprintf(err, errlen,
				         "nodes file %u: duplicate address %s (first on line %u)",
				         t->nodes[i].line, t->nodes[i].addr, other->line);
				return -1;
			}
			slot = (slot + 1) & mask;
		}
		t->slots[slot] = i + 1;
	}
	return 0;
}

int simnode_table_load(struct simnode_table *t, const char *path, char *err, size_t errlen)
{
	char why[256];
	char *line = NULL;
	size_t linecap = 0, cap = 0;
	unsigned lineno = 0;
	struct simnode n;
	FILE *f;
	int rc = -1;
	int got;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open nodes file %s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &linecap, f) >= 0) {
		lineno++;
		got = parse_line(line, &n, why, sizeof(why));
		if (got < 0) {
			snprintf(err, errlen, "nodes file %u: %s", lineno, why);
			goto out;
		}
		if (got == 0)
			continue;
		if (t->count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct simnode *grown = realloc(t->nodes, ncap * sizeof(*grown));

			if (!grown) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			t->nodes = grown;
			cap = ncap;
		}
		n.index = t->count;
		n.line = lineno;
		t->nodes[t->count++] = n;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read nodes file %s: %s", path, strerror(errno));
		goto out;
	}
	if (t->count == 0) {
		snprintf(err, errlen, "nodes file %s lists no nodes", path);
		goto out;
	}
	if (build_index(t, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	free(line);
	fclose(f);
	if (rc < 0)
		simnode_table_free(t);
	return rc;
}

const struct simnode *simnode_table_find(const struct simnode_table *t, const char *addr)
{
	size_t slot, mask;

	if (!t->slots)
		return NULL;
	mask = t->nslots - 1;
	for (slot = (size_t)hash_str(addr) & mask; t->slots[slot]; slot = (slot + 1) & mask) {
		const struct simnode *n = &t->nodes[t->slots[slot] - 1];

		if (strcmp(n->addr, addr) == 0)
			return n;
	}
	return NULL;
}

void simnode_table_free(struct simnode_table *t)
{
	free(t->nodes);
	t->nodes = NULL;
	free(t->slots);
	t->slots = NULL;
	t->count = 0;
	t->nslots = 0;
}
