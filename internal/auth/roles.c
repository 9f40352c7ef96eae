/*
 * roles: the role names and what each grants, and the token file's line parser. The scope
 * of a line is checked with internal/selector and kept in its canonical form.
 */
#include "auth/roles.h"

#include <stdio.h>
#include <string.h>

#include "core/strbuf.h"
#include "labels/labels.h"
#include "selector/selector.h"

/* In enum order: bit i is names[i]. */
static const char *const names[AUTH_ROLE_COUNT] = {
    "reader", "operator", "approver", "inventory", "alerts", "admin", "writer",
};

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
#define CN_CHARS   NAME_CHARS "@=/ "

const char *auth_role_name(unsigned role)
{
	for (unsigned i = 0; i < AUTH_ROLE_COUNT; i++)
		if (role == 1u << i)
			return names[i];
	return NULL;
}

unsigned auth_roles_grant(unsigned roles)
{
	roles &= AUTH_ROLES_ALL;
	if (roles & AUTH_ADMIN)
		return AUTH_ROLES_ALL;
	/* Today's writer delivers alerts too: its meaning does not change. */
	if (roles & AUTH_WRITER)
		roles |= AUTH_OPERATOR | AUTH_APPROVER | AUTH_INVENTORY | AUTH_ALERTS;
	return roles ? roles | AUTH_READER : 0;
}

int auth_roles_allow(unsigned roles, unsigned need)
{
	return (auth_roles_grant(roles) & need) == need;
}

void auth_roles_format(unsigned roles, char *out, size_t len)
{
	size_t n = 0;

	if (len)
		out[0] = '\0';
	for (unsigned i = 0; i < AUTH_ROLE_COUNT && n < len; i++)
		if (roles & (1u << i))
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", names[i]);
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes exactly 2 * AUTH_HASH_LEN hex digits of s[0..n) into hash; 0 or -1. */
static int parse_hash(const char *s, size_t n, unsigned char *hash)
{
	if (n != 2 * AUTH_HASH_LEN)
		return -1;
	for (size_t i = 0; i < AUTH_HASH_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The field s[0..n) is 1..AUTH_NAME_MAX characters of chars; copied into out. */
static int parse_name(const char *s, size_t n, const char *chars, char *out)
{
	if (n == 0 || n > AUTH_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(chars, s[i]))
			return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Comma-separated role names s[0..n) into *roles: each known, none twice, none empty. */
static int parse_roles(const char *s, size_t n, unsigned *roles, char *why, size_t whylen)
{
	char shown[LABELS_SHOWN_MAX + 4];
	const char *end = s + n;

	*roles = 0;
	if (n == 0) {
		snprintf(why, whylen, "the roles are empty: leave out the ':' for a writer");
		return -1;
	}
	for (const char *p = s; p <= end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
		unsigned bit = 0;

		for (unsigned i = 0; i < AUTH_ROLE_COUNT; i++)
			if (strlen(names[i]) == len && strncmp(names[i], p, len) == 0)
				bit = 1u << i;
		if (len == 0) {
			snprintf(why, whylen, "an empty role: separate roles with single commas");
			return -1;
		}
		if (!bit) {
			labels_shown(p, len, shown, sizeof(shown));
			snprintf(why, whylen,
			         "unknown role \"%s\": the roles are reader, operator, approver,"
			         " inventory, alerts, admin and writer",
			         shown);
			return -1;
		}
		if (*roles & bit) {
			snprintf(why, whylen, "the role %s is given twice", auth_role_name(bit));
			return -1;
		}
		*roles |= bit;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

/* The scope text s (to the end of the line) as a selector, kept in canonical form. */
static int parse_scope(const char *s, char *out, char *why, size_t whylen)
{
	struct strbuf canon = STRBUF_INIT;
	struct selector *sel = NULL;
	struct selector_error e;
	int rc = -1;

	if (!*s) {
		snprintf(why, whylen, "the scope is empty: leave out the last ':' for no scope");
		return -1;
	}
	if (selector_parse(s, &sel, &e)) {
		snprintf(why, whylen, "the scope is not a label selector: %s", e.msg);
		return -1;
	}
	if (selector_format(sel, &canon) || canon.failed) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (canon.len == 0) {
		snprintf(why, whylen, "the scope has no requirement: leave it out for no scope");
		goto out;
	}
	if (canon.len >= AUTH_SCOPE_MAX) {
		snprintf(why, whylen, "the scope is longer than %d characters", AUTH_SCOPE_MAX - 1);
		goto out;
	}
	memcpy(out, canon.buf, canon.len + 1);
	rc = 0;
out:
	strbuf_free(&canon);
	selector_free(sel);
	return rc;
}

/* Roles (the text up to the next ':' or the end) and the scope after it, if any. */
static int parse_roles_scope(const char *s, struct auth_entry *out, char *why, size_t whylen)
{
	const char *colon = strchr(s, ':');

	if (parse_roles(s, colon ? (size_t)(colon - s) : strlen(s), &out->roles, why, whylen))
		return -1;
	return colon ? parse_scope(colon + 1, out->scope, why, whylen) : 0;
}

int auth_parse_line(const char *line, struct auth_entry *out, char *why, size_t whylen)
{
	const char *f2, *f3;
	size_t n1, n2;

	memset(out, 0, sizeof(*out));
	if (!line[0] || line[0] == '#')
		return 0;
	if (strlen(line) > AUTH_LINE_MAX) {
		snprintf(why, whylen, "longer than %d characters", AUTH_LINE_MAX);
		return -1;
	}
	f2 = strchr(line, ':');
	if (!f2) {
		snprintf(why, whylen,
		         "want name:sha256hex[:roles[:scope]] or cert:<CN>:roles[:scope]");
		return -1;
	}
	n1 = (size_t)(f2 - line);
	f2++;
	f3 = strchr(f2, ':');
	n2 = f3 ? (size_t)(f3 - f2) : strlen(f2);
	if (n1 == 4 && strncmp(line, "cert", 4) == 0 && parse_hash(f2, n2, out->hash) != 0) {
		out->kind = AUTH_LINE_CERT;
		memset(out->hash, 0, sizeof(out->hash));
		if (parse_name(f2, n2, CN_CHARS, out->name)) {
			snprintf(why, whylen,
			         "a certificate's CN must be 1..%d of [A-Za-z0-9._@=/ -]"
			         " (cert:<CN>:roles[:scope])",
			         AUTH_NAME_MAX);
			return -1;
		}
		if (!f3) {
			snprintf(why, whylen, "cert:%s needs its roles: cert:<CN>:roles[:scope]",
			         out->name);
			return -1;
		}
		return parse_roles_scope(f3 + 1, out, why, whylen);
	}
	out->kind = AUTH_LINE_TOKEN;
	if (parse_name(line, n1, NAME_CHARS, out->name)) {
		snprintf(why, whylen, "the name must be 1..%d of [A-Za-z0-9._-]", AUTH_NAME_MAX);
		return -1;
	}
	if (parse_hash(f2, n2, out->hash)) {
		snprintf(why, whylen, "the hash must be 64 hex digits (sha256sum of the token)");
		return -1;
	}
	if (!f3) {
		out->roles = AUTH_WRITER;
		return 0;
	}
	return parse_roles_scope(f3 + 1, out, why, whylen);
}
