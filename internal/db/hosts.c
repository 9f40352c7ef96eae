/*
 * db/hosts: CMDB_DB_HOST parsed into its hosts. Pure (no MariaDB call), so the
 * configuration and its fuzz harness use it without the connector.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"

/* Splits an entry into its host and its port (NULL when it has none). */
static int split_entry(const char *p, size_t len, size_t idx, const char **name,
                       const char **name_end, const char **port, char *err, size_t errlen)
{
	*name = p;
	*name_end = p + len;
	*port = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', len);

		if (!close || close == p + 1 || (close + 1 < p + len && close[1] != ':')) {
			snprintf(err, errlen,
			         "entry %zu: an IPv6 address is [address] or"
			         " [address]:port",
			         idx);
			return CMDB_EINVAL;
		}
		*name = p + 1;
		*name_end = close;
		if (close + 1 < p + len)
			*port = close + 2;
	} else {
		const char *colon = memchr(p, ':', len);

		if (colon && memchr(colon + 1, ':', (size_t)(p + len - colon - 1))) {
			snprintf(err, errlen, "entry %zu: write an IPv6 address in brackets", idx);
			return CMDB_EINVAL;
		}
		if (colon) {
			*name_end = colon;
			*port = colon + 1;
		}
	}
	return 0;
}

/* A port of plen characters: 0 with *v set, or -1. */
static int parse_port(const char *port, size_t plen, int64_t *v)
{
	char buf[8];

	if (plen == 0 || plen >= sizeof(buf))
		return -1;
	memcpy(buf, port, plen);
	buf[plen] = '\0';
	return parse_int64(buf, 1, 65535, v) ? -1 : 0;
}

/* Parses one entry p[0..len), trimmed and not empty (number idx, for messages), into h. */
static int parse_entry(const char *p, size_t len, size_t idx, unsigned int default_port,
                       struct db_host *h, char *err, size_t errlen)
{
	const char *name, *name_end, *port;
	int64_t v = default_port;

	if (split_entry(p, len, idx, &name, &name_end, &port, err, errlen))
		return CMDB_EINVAL;
	if (name_end == name || (size_t)(name_end - name) >= DB_HOST_NAMES) {
		snprintf(err, errlen, "entry %zu: the host is empty or longer than %d", idx,
		         DB_HOST_NAMES - 1);
		return CMDB_EINVAL;
	}
	for (const char *q = name; q < name_end; q++) {
		if (*q <= ' ' || *q == '/' || *q == '@' || *q == '[' || *q == ']' || *q > '~') {
			snprintf(err, errlen, "entry %zu: the host has a '%c'", idx,
			         *q > ' ' && *q <= '~' ? *q : '?');
			return CMDB_EINVAL;
		}
	}
	if (port && parse_port(port, (size_t)(p + len - port), &v)) {
		snprintf(err, errlen, "entry %zu: the port must be 1 to 65535", idx);
		return CMDB_EINVAL;
	}
	memcpy(h->name, name, (size_t)(name_end - name));
	h->name[name_end - name] = '\0';
	h->port = (unsigned int)v;
	return 0;
}

int db_parse_hosts(const char *list, unsigned int default_port, struct db_host *hosts, size_t *n,
                   char *err, size_t errlen)
{
	const char *p = list;

	*n = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len;

		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(end - p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			snprintf(err, errlen, "entry %zu is empty", *n + 1);
			return CMDB_EINVAL;
		}
		if (*n == DB_MAX_HOSTS) {
			snprintf(err, errlen, "more than %d hosts", DB_MAX_HOSTS);
			return CMDB_EINVAL;
		}
		if (parse_entry(p, len, *n + 1, default_port, &hosts[*n], err, errlen))
			return CMDB_EINVAL;
		(*n)++;
		if (!*end)
			return 0;
		p = end + 1;
	}
}
