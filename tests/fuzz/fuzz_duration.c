/*
 * fuzz_duration: libFuzzer harness for internal/duration: any text, under two pairs of
 * bounds (any length; 1 s to 24 h). Accepted: digits and h, m, s in that order, a value
 * inside the bounds that a plain re-reading of the text agrees with, printed in a form
 * that parses back to it. Refused: a printable message, the output untouched.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "duration/duration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The value of an accepted text, read the simple way; -1 on anything unexpected. */
static int64_t plain_value(const char *s)
{
	int64_t total = 0, n = 0;
	int digits = 0;
	const char *last = "";

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			n = n * 10 + (*s - '0');
			digits++;
			continue;
		}
		if (!digits || !strchr("hms", *s) || strchr(last, *s))
			return -1;
		total += n * (*s == 'h' ? 3600000 : *s == 'm' ? 60000 : 1000);
		/* The units that may still follow. */
		last = *s == 'h' ? "h" : *s == 'm' ? "hm" : "hms";
		n = 0;
		digits = 0;
	}
	return digits ? -1 : total;
}

static void check(const char *text, int64_t min, int64_t max)
{
	char err[DURATION_ERR_MAX], buf[DURATION_TEXT_MAX];
	int64_t ms = -7, back;
	int rc = duration_parse(text, min, max, &ms, err, sizeof(err));

	if (rc) {
		assert(rc == CMDB_EINVAL && ms == -7);
		assert(*err);
		for (const char *c = err; *c; c++)
			assert(*c >= 0x20 && *c <= 0x7e);
		return;
	}
	assert(ms >= min && ms <= max && ms % 1000 == 0);
	assert(plain_value(text) == ms);
	duration_format(ms, buf, sizeof(buf));
	assert(strlen(buf) + 1 < sizeof(buf));
	assert(duration_parse(buf, min, max, &back, err, sizeof(err)) == 0 && back == ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	assert(text);
	memcpy(text, data, size);
	text[size] = '\0';
	check(text, 0, INT64_MAX);
	check(text, 1000, 24 * INT64_C(3600000));
	free(text);
	return 0;
}
