/*
 * store/common: what more than one of the store's headers uses: the sizes of the text
 * fields of its records, and the Idempotency-Key a create carries.
 */
#ifndef CMDB_STORE_COMMON_H
#define CMDB_STORE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "db/db.h"

#define STORE_TIME_LEN     32 /* RFC 3339 UTC with milliseconds, "" when NULL */
#define STORE_ERROR_LEN    1025
#define STORE_HOSTNAME_LEN 254
#define STORE_IP_LEN       46
#define STORE_OWNER_LEN    129
#define STORE_REASON_LEN   301

/* A write with an Idempotency-Key: who sent it, the key, and the body's SHA-256. */
struct store_idem {
	const char *principal;
	const char *key; /* NULL: the request has no key */
	const char *body_sha256;
};

#endif
