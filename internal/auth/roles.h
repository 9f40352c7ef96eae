/*
 * roles: who may do what. The roles a principal holds, what each one grants, and one
 * line of the token file parsed into an entry. Pure: no I/O, no globals, no allocation
 * that outlives a call. docs/security.md has the table of who may do what.
 */
#ifndef CMDB_AUTH_ROLES_H
#define CMDB_AUTH_ROLES_H

#include <stddef.h>

/*
 * The roles, one bit each, in the order they are printed. What a role grants beyond
 * itself is auth_roles_grant's: every role reads; operator includes alerts (an alert
 * only cancels and rolls back, which an operator may do by hand); writer, today's word,
 * is operator, approver and inventory; admin is every role.
 */
enum auth_role {
	AUTH_READER = 1u << 0, /* reads */
	AUTH_OPERATOR =
	    1u << 1, /* create releases (dry runs too), pause, resume, cancel, roll back */
	AUTH_APPROVER = 1u << 2,  /* approve and reject, never a release it created */
	AUTH_INVENTORY = 1u << 3, /* register, change and import nodes */
	AUTH_ALERTS = 1u << 4,    /* POST /api/v1/alerts */
	AUTH_ADMIN = 1u << 5,     /* everything, and what later issues reserve for it */
	AUTH_WRITER = 1u << 6,    /* operator, approver and inventory together */
};

#define AUTH_ROLE_COUNT 7
#define AUTH_ROLES_ALL  ((1u << AUTH_ROLE_COUNT) - 1)
/* Big enough for every role name, comma-separated, and the terminator. */
#define AUTH_ROLES_TEXT_MAX 64

/* The name of one role bit ("operator"); NULL for anything else. */
const char *auth_role_name(unsigned role);

/* The roles that roles grant: themselves and what they include (see enum auth_role). */
unsigned auth_roles_grant(unsigned roles);

/* 1 when roles grant every bit of need (a role bit; 0 needs nothing). */
int auth_roles_allow(unsigned roles, unsigned need);

/* Writes the names of roles into out, comma-separated, in enum order ("" for none). */
void auth_roles_format(unsigned roles, char *out, size_t len);

#define AUTH_NAME_MAX  64  /* a token's name, a certificate's CN */
#define AUTH_HASH_LEN  32  /* SHA-256 */
#define AUTH_LINE_MAX  512 /* one line of the token file, without its newline */
#define AUTH_SCOPE_MAX 640 /* a scope's canonical text and its terminator */
#define AUTH_WHY_MAX   480 /* a message of auth_parse_line always fits */

enum auth_line_kind {
	AUTH_LINE_BLANK = 0, /* empty, or a '#' comment */
	AUTH_LINE_TOKEN,     /* name:sha256hex[:roles[:scope]] */
	AUTH_LINE_CERT,      /* cert:<CN>:roles[:scope] */
};

/* One line of the token file. */
struct auth_entry {
	enum auth_line_kind kind;
	char name[AUTH_NAME_MAX + 1];      /* the token's name, or the certificate's CN */
	unsigned char hash[AUTH_HASH_LEN]; /* a token's SHA-256; zero for a certificate */
	unsigned roles;                    /* as written (AUTH_WRITER when a token has none) */
	char scope[AUTH_SCOPE_MAX];        /* a label selector in canonical form; "" for none */
};

/*
 * Parses one line, without its newline, into out:
 *   name:sha256hex[:roles[:scope]]  a bearer token: name 1..64 of [A-Za-z0-9._-], the
 *                                   SHA-256 of the token as 64 hex digits, roles
 *                                   comma-separated (default writer), scope a label
 *                                   selector (docs/labels.md);
 *   cert:<CN>:roles[:scope]         a client certificate's principal cert:<CN>, CN 1..64
 *                                   of [A-Za-z0-9._@=/ -]. A line "cert:<64 hex digits>..."
 *                                   is a token named cert, as it always was.
 * An empty line or one starting with '#' is AUTH_LINE_BLANK. Returns 0, or -1 with why
 * (printable ASCII, never the hash) saying what is wrong: no hash, a bad name or hash, an
 * unknown, empty or repeated role, an empty scope or one that is not a selector, or a
 * line longer than AUTH_LINE_MAX.
 */
int auth_parse_line(const char *line, struct auth_entry *out, char *why, size_t whylen);

#endif
