/*
 * Unit tests of internal/auth: the token file rules, how a principal is named, and the
 * roles a token or a certificate gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"

/* A well-formed hash (of no particular token), for the file-format rules. */
#define HASH_S3CRET "2da3f4e4a4c2d4a36b2a5b6b3b7ee20bb7a18c6a1f0c4fd0e5a2cc5b5a0d9e8a"

static char path[64];

static int write_file(const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/cmdb-test-tokens-%d", (int)getpid());
	unlink(path);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return chmod(path, mode);
}

/* A token file line for token, with its SHA-256 from sha256sum(1), as an operator makes it. */
static void token_line(char *out, size_t len, const char *name, const char *token, const char *role)
{
	char cmd[128];
	FILE *p;
	char hex[65] = "";

	snprintf(cmd, sizeof(cmd), "printf '%%s' '%s' | sha256sum", token);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%64s", hex), 1);
	pclose(p);
	snprintf(out, len, "%s:%s%s%s\n", name, hex, role ? ":" : "", role ? role : "");
}

static void test_tokens_writer_reader_invalid(void **state)
{
	char text[1024], line[160], err[256];
	struct auth_principal who;
	struct auth a = AUTH_INIT;

	(void)state;
	token_line(line, sizeof(line), "ops", "s3cret", NULL);
	snprintf(text, sizeof(text), "%s# a comment\n\n", line);
	token_line(line, sizeof(line), "audit", "peek", "reader");
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", line);
	token_line(line, sizeof(line), "stage", "st4ge", "operator,approver:env=staging");
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", line);
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "cert:alice.ops:approver\n");
	assert_int_equal(write_file(text, 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), 0);
	assert_int_equal(a.ntokens, 3);
	assert_int_equal(a.ncerts, 1);
	assert_int_equal(auth_check_bearer(&a, "Bearer s3cret", &who), AUTH_KNOWN);
	assert_string_equal(who.name, "token:ops");
	assert_int_equal(who.roles, AUTH_WRITER);
	assert_string_equal(who.scope, "");
	assert_int_equal(auth_check_bearer(&a, "bearer peek", &who), AUTH_KNOWN);
	assert_string_equal(who.name, "token:audit");
	assert_int_equal(who.roles, AUTH_READER);
	assert_int_equal(auth_check_bearer(&a, "Bearer st4ge", &who), AUTH_KNOWN);
	assert_string_equal(who.name, "token:stage");
	assert_int_equal(who.roles, AUTH_OPERATOR | AUTH_APPROVER);
	assert_string_equal(who.scope, "env=staging");
	assert_int_equal(auth_check_bearer(&a, "Bearer s3cret2", &who), AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, "Basic b3BzOnMzY3JldA==", &who), AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, "Bearer ", &who), AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, NULL, &who), AUTH_ANONYMOUS);
	/* A certificate with a line has its roles; one without is a writer, as before. */
	assert_int_equal(auth_check_cert(&a, "cert:alice.ops", &who), 1);
	assert_string_equal(who.name, "cert:alice.ops");
	assert_int_equal(who.roles, AUTH_APPROVER);
	assert_int_equal(auth_check_cert(&a, "cert:bob.ops", &who), 0);
	assert_string_equal(who.name, "cert:bob.ops");
	assert_int_equal(who.roles, AUTH_WRITER);
	assert_string_equal(who.scope, "");
	auth_free(&a);
	assert_null(a.entries);
	unlink(path);
}

/* Loads text as a token file and expects a refusal whose message holds want. */
static void refused(const char *text, const char *want)
{
	struct auth a = AUTH_INIT;
	char err[512];

	assert_int_equal(write_file(text, 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("\"%s\" does not say \"%s\"", err, want);
	assert_null(a.entries);
	assert_int_equal(a.n, 0);
}

static void test_token_file_rules(void **state)
{
	struct auth a = AUTH_INIT;
	char err[256], line[160], big[40 * 100];

	(void)state;
	token_line(line, sizeof(line), "ops", "s3cret", NULL);
	assert_int_equal(write_file(line, 0644), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	refused("ops:abc\n", "line 1: the hash must be 64 hex digits");
	refused("bad name:" HASH_S3CRET "\n", "the name must be");
	refused("# first\na:" HASH_S3CRET ":root\n", "line 2: unknown role \"root\"");
	refused("a:" HASH_S3CRET "\na:" HASH_S3CRET "\n", "line 2: name a given twice");
	refused("a:" HASH_S3CRET "\nb:" HASH_S3CRET ":reader\n", "line 2: token (the same hash)");
	refused("cert:x:reader\ncert:x:admin\n", "line 2: certificate x given twice");
	refused("a:" HASH_S3CRET ":operator:env in (a\n", "line 1: the scope is not a label");
	refused("# nothing\n", "holds no token");
	/* Many lines grow the table; the last one is refused and named. */
	big[0] = '\0';
	for (int i = 0; i < 39; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big), "t%d:%.62s%02d\n", i,
		         HASH_S3CRET, i);
	snprintf(big + strlen(big), sizeof(big) - strlen(big), "t39:nohash\n");
	refused(big, "line 40: the hash");
	unlink(path);
}

static void test_cert_principal(void **state)
{
	char who[AUTH_PRINCIPAL_MAX];

	(void)state;
	auth_cert_principal("/C=DE/O=Ops/CN=alice.ops/emailAddress=a@x", who, sizeof(who));
	assert_string_equal(who, "cert:alice.ops");
	auth_cert_principal("/O=NoName", who, sizeof(who));
	assert_string_equal(who, "cert:/O=NoName");
	auth_cert_principal("/CN=evil\n\"quote", who, sizeof(who));
	assert_string_equal(who, "cert:evil??quote");
	auth_cert_principal(NULL, who, sizeof(who));
	assert_string_equal(who, "cert:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens_writer_reader_invalid),
	    cmocka_unit_test(test_token_file_rules),
	    cmocka_unit_test(test_cert_principal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
