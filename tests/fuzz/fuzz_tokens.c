/*
 * fuzz_tokens: libFuzzer harness for the token file's line parser (internal/auth/roles.c):
 * any text as one line. A refusal has a printable message; an accepted line has a valid
 * name, known roles and a scope in canonical form, and the line written back from the
 * entry parses to the same entry.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/roles.h"
#include "selector/selector.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *msg)
{
	assert(*msg);
	for (; *msg; msg++)
		assert(*msg >= 0x20 && *msg <= 0x7e);
}

/* The line an operator would write for e. */
static void write_back(const struct auth_entry *e, char *out, size_t len)
{
	char roles[AUTH_ROLES_TEXT_MAX];
	size_t n;

	auth_roles_format(e->roles, roles, sizeof(roles));
	if (e->kind == AUTH_LINE_CERT) {
		n = (size_t)snprintf(out, len, "cert:%s:%s", e->name, roles);
	} else {
		n = (size_t)snprintf(out, len, "%s:", e->name);
		for (size_t i = 0; i < AUTH_HASH_LEN; i++)
			n += (size_t)snprintf(out + n, len - n, "%02x", e->hash[i]);
		n += (size_t)snprintf(out + n, len - n, ":%s", roles);
	}
	if (e->scope[0])
		snprintf(out + n, len - n, ":%s", e->scope);
}

static void check_entry(const struct auth_entry *e)
{
	struct auth_entry again;
	char why[AUTH_WHY_MAX], line[AUTH_LINE_MAX + AUTH_SCOPE_MAX + 256];
	size_t n = strlen(e->name);

	if (e->kind == AUTH_LINE_BLANK)
		return;
	assert(e->kind == AUTH_LINE_TOKEN || e->kind == AUTH_LINE_CERT);
	assert(n >= 1 && n <= AUTH_NAME_MAX);
	assert(strspn(e->name,
	              e->kind == AUTH_LINE_TOKEN
	                  ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
	                  : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	                    "._-@=/ ") == n);
	assert(e->roles && (e->roles & ~(unsigned)AUTH_ROLES_ALL) == 0);
	assert(strlen(e->scope) < AUTH_SCOPE_MAX);
	if (e->scope[0]) {
		struct selector *sel = NULL;
		struct selector_error se;

		assert(selector_parse(e->scope, &sel, &se) == 0);
		selector_free(sel);
	}
	write_back(e, line, sizeof(line));
	/* The canonical scope may be longer than the one given: no file could hold that. */
	if (strlen(line) > AUTH_LINE_MAX)
		return;
	assert(auth_parse_line(line, &again, why, sizeof(why)) == 0);
	assert(again.kind == e->kind);
	assert(strcmp(again.name, e->name) == 0);
	assert(memcmp(again.hash, e->hash, sizeof(e->hash)) == 0);
	assert(again.roles == e->roles);
	assert(strcmp(again.scope, e->scope) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_entry e;
	char why[AUTH_WHY_MAX];
	char *line = malloc(size + 1);

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	why[0] = '\0';
	if (auth_parse_line(line, &e, why, sizeof(why)) == 0)
		check_entry(&e);
	else
		check_printable(why);
	free(line);
	return 0;
}
