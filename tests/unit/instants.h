/*
 * instants: helpers the unit tests of tz, cron, window and schedule share to write
 * instants and specs as text. Include after <cmocka.h>.
 */
#ifndef CMDB_TESTS_INSTANTS_H
#define CMDB_TESTS_INSTANTS_H

#include <stdint.h>

#include "core/core.h"
#include "cron/cron.h"

/* Epoch ms of an RFC 3339 instant; a typo fails the test. */
static inline int64_t at(const char *rfc3339)
{
	int64_t ms;

	if (rfc3339_to_ms(rfc3339, &ms))
		fail_msg("bad instant in a test: %s", rfc3339);
	return ms;
}

/* A spec that must parse. */
static inline struct cron parse(const char *text)
{
	struct cron_error e;
	struct cron c;

	if (cron_parse(text, &c, &e))
		fail_msg("\"%s\" refused: %s", text, e.msg);
	return c;
}

#endif
