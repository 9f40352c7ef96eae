/*
 * db/hosts: CMDB_DB_HOST parsed into its hosts. Pure (no MariaDB call), so the
 * configuration and its fuzz harness use it without the connector.
 */
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "db/db.h"

int db_parse_hosts(const char *list, unsigned int default_port, struct db_host *hosts, size_t *n,
                   char *err, size_t errlen)
{
	const char *p = list;

	*n = 0;
	for (;;) {
		const char *end = strchr(p, ','), *name, *name_end, *port = NULL;
		size_t len;
		int64_t v;

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
		name = p;
		name_end = p + len;
		if (*p == '[') {
			const char *close = memchr(p, ']', len);

			if (!close || close == p + 1 || (close + 1 < p + len && close[1] != ':')) {
				snprintf(err, errlen,
				         "entry %zu: an IPv6 address is [address] or"
				         " [address]:port",
				         *n + 1);
				return CMDB_EINVAL;
			}
			name = p + 1;
			name_end = close;
			if (close + 1 < p + len)
				port = close + 2;
		} else {
			const char *colon = memchr(p, ':', len);

			if (colon && memchr(colon + 1, ':', (size_t)(p + len - colon - 1))) {
				snprintf(err, errlen,
				         "entry %zu: write an IPv6 address in brackets", *n + 1);
				return CMDB_EINVAL;
			}
			if (colon) {
				name_end = colon;
				port = colon + 1;
			}
		}
		if (name_end == name || (size_t)(name_end - name) >= DB_HOST_NAMES) {
			snprintf(err, errlen, "entry %zu: the host is empty or longer than %d",
			         *n + 1, DB_HOST_NAMES - 1);
			return CMDB_EINVAL;
		}
		for (const char *q = name; q < name_end; q++) {
			if (*q <= ' ' || *q == '/' || *q == '@' || *q == '[' || *q == ']' ||
			    *q > '~') {
				snprintf(err, errlen, "entry %zu: the host has a '%c'", *n + 1,
				         *q > ' ' && *q <= '~' ? *q : '?');
				return CMDB_EINVAL;
			}
		}
		v = default_port;
		if (port) {
			char buf[8];
			size_t plen = (size_t)(p + len - port);

			if (plen == 0 || plen >= sizeof(buf)) {
				snprintf(err, errlen, "entry %zu: the port must be 1 to 65535",
				         *n + 1);
				return CMDB_EINVAL;
			}
			memcpy(buf, port, plen);
			buf[plen] = '\0';
			if (parse_int64(buf, 1, 65535, &v)) {
				snprintf(err, errlen, "entry %zu: the port must be 1 to 65535",
				         *n + 1);
				return CMDB_EINVAL;
			}
		}
		memcpy(hosts[*n].name, name, (size_t)(name_end - name));
		hosts[*n].name[name_end - name] = '\0';
		hosts[*n].port = (unsigned int)v;
		(*n)++;
		if (!*end)
			return 0;
		p = end + 1;
	}
}
