/*
 * Unit tests of internal/auth/roles.c: what each role grants, and the token file's line
 * parser on every form of line, good and bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/roles.h"

#define HASH "2da3f4e4a4c2d4a36b2a5b6b3b7ee20bb7a18c6a1f0c4fd0e5a2cc5b5a0d9e8a"

static void test_grants(void **state)
{
	char text[AUTH_ROLES_TEXT_MAX];

	(void)state;
	assert_int_equal(auth_roles_grant(0), 0);
	assert_int_equal(auth_roles_grant(AUTH_READER), AUTH_READER);
	assert_int_equal(auth_roles_grant(AUTH_ALERTS), AUTH_ALERTS | AUTH_READER);
	assert_int_equal(auth_roles_grant(AUTH_OPERATOR), AUTH_OPERATOR | AUTH_READER);
	assert_int_equal(auth_roles_grant(AUTH_WRITER), AUTH_WRITER | AUTH_OPERATOR |
	                                                    AUTH_APPROVER | AUTH_INVENTORY |
	                                                    AUTH_ALERTS | AUTH_READER);
	assert_int_equal(auth_roles_grant(AUTH_ADMIN), AUTH_ROLES_ALL);
	/* Every role reads; only its own writes, and admin only through admin. */
	for (unsigned r = 1; r <= AUTH_ROLES_ALL; r <<= 1) {
		assert_true(auth_roles_allow(r, AUTH_READER));
		assert_true(auth_roles_allow(r, r));
		assert_true(auth_roles_allow(AUTH_ADMIN, r));
		assert_int_equal(auth_roles_allow(r, AUTH_ADMIN), r == AUTH_ADMIN);
	}
	assert_false(auth_roles_allow(AUTH_READER, AUTH_OPERATOR));
	assert_false(auth_roles_allow(AUTH_ALERTS, AUTH_OPERATOR));
	assert_false(auth_roles_allow(AUTH_APPROVER, AUTH_OPERATOR));
	assert_false(auth_roles_allow(AUTH_OPERATOR, AUTH_APPROVER));
	assert_false(auth_roles_allow(AUTH_INVENTORY, AUTH_ALERTS));
	assert_false(auth_roles_allow(AUTH_WRITER, AUTH_ADMIN));
	assert_false(auth_roles_allow(AUTH_OPERATOR, AUTH_ALERTS)); /* alerts is its own role */
	assert_true(auth_roles_allow(AUTH_WRITER, AUTH_ALERTS));
	assert_true(auth_roles_allow(AUTH_WRITER, AUTH_INVENTORY));
	assert_true(auth_roles_allow(AUTH_READER, 0));
	assert_string_equal(auth_role_name(AUTH_INVENTORY), "inventory");
	assert_null(auth_role_name(AUTH_READER | AUTH_ADMIN));
	assert_null(auth_role_name(0));
	auth_roles_format(AUTH_WRITER | AUTH_READER | AUTH_ALERTS, text, sizeof(text));
	assert_string_equal(text, "reader,alerts,writer");
	auth_roles_format(AUTH_ROLES_ALL, text, sizeof(text));
	assert_string_equal(text, "reader,operator,approver,inventory,alerts,admin,writer");
	auth_roles_format(0, text, sizeof(text));
	assert_string_equal(text, "");
}

static void test_good_lines(void **state)
{
	struct auth_entry e;
	char why[AUTH_WHY_MAX] = "";

	(void)state;
	assert_int_equal(auth_parse_line("", &e, why, sizeof(why)), 0);
	assert_int_equal(e.kind, AUTH_LINE_BLANK);
	assert_int_equal(auth_parse_line("# alice:" HASH, &e, why, sizeof(why)), 0);
	assert_int_equal(e.kind, AUTH_LINE_BLANK);
	/* Today's forms keep their meaning. */
	assert_int_equal(auth_parse_line("ops:" HASH, &e, why, sizeof(why)), 0);
	assert_int_equal(e.kind, AUTH_LINE_TOKEN);
	assert_string_equal(e.name, "ops");
	assert_int_equal(e.roles, AUTH_WRITER);
	assert_int_equal(e.hash[0], 0x2d);
	assert_int_equal(e.hash[31], 0x8a);
	assert_string_equal(e.scope, "");
	assert_int_equal(auth_parse_line("ops:" HASH ":writer", &e, why, sizeof(why)), 0);
	assert_int_equal(e.roles, AUTH_WRITER);
	assert_int_equal(auth_parse_line("audit:" HASH ":reader", &e, why, sizeof(why)), 0);
	assert_int_equal(e.roles, AUTH_READER);
	/* Roles and a scope, kept in canonical form. */
	assert_int_equal(
	    auth_parse_line("alice:" HASH ":operator,approver:env=staging", &e, why, sizeof(why)),
	    0);
	assert_int_equal(e.roles, AUTH_OPERATOR | AUTH_APPROVER);
	assert_string_equal(e.scope, "env=staging");
	assert_int_equal(auth_parse_line("s:" HASH ":inventory:tier in ( web,api ) , !draining", &e,
	                                 why, sizeof(why)),
	                 0);
	assert_string_equal(e.scope, "!draining,tier in (api,web)");
	assert_int_equal(auth_parse_line("am:" HASH ":alerts", &e, why, sizeof(why)), 0);
	assert_int_equal(e.roles, AUTH_ALERTS);
	/* Certificates: cert:<CN>:roles[:scope]. */
	assert_int_equal(auth_parse_line("cert:alice@ops.example:admin", &e, why, sizeof(why)), 0);
	assert_int_equal(e.kind, AUTH_LINE_CERT);
	assert_string_equal(e.name, "alice@ops.example");
	assert_int_equal(e.roles, AUTH_ADMIN);
	assert_int_equal(e.hash[0], 0);
	assert_int_equal(auth_parse_line("cert:Build Bot:operator:env=dev", &e, why, sizeof(why)),
	                 0);
	assert_string_equal(e.name, "Build Bot");
	assert_string_equal(e.scope, "env=dev");
	/* A token named cert stays a token: its second field is a hash. */
	assert_int_equal(auth_parse_line("cert:" HASH ":reader", &e, why, sizeof(why)), 0);
	assert_int_equal(e.kind, AUTH_LINE_TOKEN);
	assert_string_equal(e.name, "cert");
	assert_int_equal(e.roles, AUTH_READER);
}

/* Each malformed form: refused with a message that holds want and never the hash. */
static void bad(const char *line, const char *want)
{
	struct auth_entry e;
	char why[AUTH_WHY_MAX] = "";

	assert_int_equal(auth_parse_line(line, &e, why, sizeof(why)), -1);
	if (!strstr(why, want))
		fail_msg("%s: \"%s\" does not say \"%s\"", line, why, want);
	assert_null(strstr(why, HASH));
	for (const char *p = why; *p; p++)
		assert_true(*p >= 0x20 && *p <= 0x7e);
}

/* Each malformed form, and what its refusal must say. */
static const struct {
	const char *line, *want;
} bad_lines[] = {
    {"broken-line-without-hash", "want name:sha256hex"},
    {"bad name:" HASH, "the name must be"},
    {":" HASH, "the name must be"},
    {"a-name-that-is-far-too-long-for-a-token-file-since-names-stop-at-64:" HASH,
     "the name must be"},
    {"ops:abc", "the hash must be 64 hex digits"},
    {"ops:" HASH "0", "the hash must be 64 hex digits"},
    {"ops:zz" HASH, "the hash must be 64 hex digits"},
    {"ops:" HASH ":admn", "unknown role \"admn\""},
    {"ops:" HASH ":Reader", "unknown role \"Reader\""},
    {"ops:" HASH ":", "the roles are empty"},
    {"ops:" HASH "::env=prod", "the roles are empty"},
    {"ops:" HASH ":operator,,approver", "an empty role"},
    {"ops:" HASH ":operator,", "an empty role"},
    {"ops:" HASH ":operator, approver", "unknown role \" approver\""},
    {"ops:" HASH ":operator,operator", "the role operator is given twice"},
    {"ops:" HASH ":operator:", "the scope is empty"},
    {"ops:" HASH ":operator:\t", "the scope has no requirement"},
    {"ops:" HASH ":operator:env in (a", "the scope is not a label selector: position"},
    {"ops:" HASH ":operator:Env_=x", "the scope is not a label selector"},
    {"ops:" HASH ":operator:env=prod:x", "the scope is not a label selector"},
    {"cert:", "a certificate's CN must be"},
    {"cert::reader", "a certificate's CN must be"},
    {"cert:a:b:c", "unknown role \"b\""},
    {"cert:alice", "cert:alice needs its roles"},
    {"cert:ali\"ce:reader", "a certificate's CN must be"},
    {"cert:bob:reader:env in (", "the scope is not a label selector"},
};

static void test_bad_lines(void **state)
{
	char longline[AUTH_LINE_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++)
		bad(bad_lines[i].line, bad_lines[i].want);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	bad(longline, "longer than 512");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_grants),
	    cmocka_unit_test(test_good_lines),
	    cmocka_unit_test(test_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
