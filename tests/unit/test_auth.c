/* Unit tests of internal/auth: the token file rules and how a principal is named. */
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
	char text[512], line[160], err[256], who[AUTH_PRINCIPAL_MAX];
	struct auth a = AUTH_INIT;

	(void)state;
	token_line(line, sizeof(line), "ops", "s3cret", NULL);
	snprintf(text, sizeof(text), "%s# a comment\n\n", line);
	token_line(line, sizeof(line), "audit", "peek", "reader");
	snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s", line);
	assert_int_equal(write_file(text, 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), 0);
	assert_int_equal(auth_check_bearer(&a, "Bearer s3cret", who, sizeof(who)), AUTH_WRITER);
	assert_string_equal(who, "token:ops");
	assert_int_equal(auth_check_bearer(&a, "bearer peek", who, sizeof(who)), AUTH_READER);
	assert_string_equal(who, "token:audit");
	assert_int_equal(auth_check_bearer(&a, "Bearer s3cret2", who, sizeof(who)), AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, "Basic b3BzOnMzY3JldA==", who, sizeof(who)),
	                 AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, "Bearer ", who, sizeof(who)), AUTH_INVALID);
	assert_int_equal(auth_check_bearer(&a, NULL, who, sizeof(who)), AUTH_ANONYMOUS);
	auth_free(&a);
	unlink(path);
}

static void test_token_file_rules(void **state)
{
	struct auth a = AUTH_INIT;
	char err[256], line[160];

	(void)state;
	token_line(line, sizeof(line), "ops", "s3cret", NULL);
	assert_int_equal(write_file(line, 0644), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(write_file("ops:abc\n", 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 1: the hash must be 64 hex digits"));
	assert_int_equal(write_file("bad name:" HASH_S3CRET "\n", 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the name must be"));
	assert_int_equal(write_file("a:" HASH_S3CRET ":admin\n", 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the role must be writer or reader"));
	assert_int_equal(write_file("a:" HASH_S3CRET "\na:" HASH_S3CRET "\n", 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 2: name a given twice"));
	assert_int_equal(write_file("# nothing\n", 0600), 0);
	assert_int_equal(auth_load_tokens(&a, path, err, sizeof(err)), -1);
	assert_null(a.tokens);
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
