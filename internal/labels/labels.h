/*
 * labels: what a node is, as Kubernetes labels (docs/labels.md): the rules a key and a
 * value must follow, a sorted label set, its JSON form and an RFC 7386 merge patch on it.
 * Pure: no I/O, no globals. Messages name the bad key or value and the rule it breaks.
 */
#ifndef CMDB_LABELS_H
#define CMDB_LABELS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define LABELS_MAX       64  /* labels on one node */
#define LABEL_PREFIX_MAX 253 /* the DNS subdomain before '/' */
#define LABEL_NAME_MAX   63  /* the name after it */
#define LABEL_KEY_MAX    (LABEL_PREFIX_MAX + 1 + LABEL_NAME_MAX)
#define LABEL_VALUE_MAX  63
#define LABELS_ERR_MAX   320 /* a message always fits a buffer of this size */
#define LABELS_SHOWN_MAX 64  /* characters of a bad key or value echoed in a message */

/*
 * Checks a key: an optional prefix and '/', then a name. The prefix is a DNS-1123
 * subdomain (lowercase letters, digits, '-' and '.', every dot-separated part starting
 * and ending with a letter or digit) of at most 253 characters; the name has 1 to 63
 * characters, letters (either case), digits, '-', '_' and '.', a letter or digit at both
 * ends. 0, or CMDB_EINVAL with `label key "...": <the rule>` in err.
 */
int labels_check_key(const char *key, char *err, size_t errlen);

/*
 * Checks the value of key: empty, or 1 to 63 characters of the name's form. 0, or
 * CMDB_EINVAL with `label "<key>": value "..." must <the rule>` in err.
 */
int labels_check_value(const char *key, const char *value, char *err, size_t errlen);

/*
 * Copies at most n bytes of s (less at a NUL) into out as they may appear in a message:
 * printable ASCII, with '"', '\\' and other bytes as '?', cut after LABELS_SHOWN_MAX
 * characters with "..." added. out of LABELS_SHOWN_MAX + 4 bytes holds any of them.
 */
void labels_shown(const char *s, size_t n, char *out, size_t len);

/* One label; key and value share one allocation that the set owns. */
struct label {
	const char *key;
	const char *value;
};

/*
 * A set of at most LABELS_MAX labels, sorted by key in byte order (strcmp, as an
 * ascii_bin column sorts), keys distinct, every key and value valid. Readers may use
 * items and n directly; only these functions change a set.
 */
struct labels {
	struct label *items;
	size_t n;
	size_t alloc;
};

#define LABELS_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Frees what the set owns and leaves it empty (LABELS_INIT). */
void labels_free(struct labels *ls);

/* The value of key, or NULL when the set has no such key. Binary search, no allocation. */
const char *labels_get(const struct labels *ls, const char *key);

/*
 * Sets key to value (both checked), replacing an earlier value. 0; CMDB_EINVAL with the
 * message in err for a bad key or value or a 65th label; CMDB_ENOMEM. On failure the set
 * is unchanged.
 */
int labels_set(struct labels *ls, const char *key, const char *value, char *err, size_t errlen);

/* Removes key; 1 when it was there, 0 when not. */
int labels_remove(struct labels *ls, const char *key);

/* 1 when both sets hold the same keys with the same values. */
int labels_equal(const struct labels *a, const struct labels *b);

/* Makes dst (any set; its labels are freed first) a copy of src. 0 or CMDB_ENOMEM. */
int labels_copy(struct labels *dst, const struct labels *src);

/*
 * Reads a JSON object of string to string into out (which it replaces): every key and
 * value checked, no key twice, at most LABELS_MAX. 0, or CMDB_EINVAL / CMDB_ENOMEM with
 * the message in err; out is then empty.
 */
int labels_from_json(const cJSON *obj, struct labels *out, char *err, size_t errlen);

/* The set as a JSON object, keys in order ({} when empty). Caller owns it; NULL: no memory. */
cJSON *labels_to_json(const struct labels *ls);

/*
 * Applies an RFC 7386 merge patch: patch is a JSON object in which a string sets its key,
 * null removes it (a key that is not there is fine), and keys not named are kept. Every
 * key named is checked; a member of any other type is an error naming the key. 0, or
 * CMDB_EINVAL / CMDB_ENOMEM with the message in err, and then ls is unchanged.
 */
int labels_merge_patch(struct labels *ls, const cJSON *patch, char *err, size_t errlen);

#endif
