/*
 * tz: an ICU calendar (ucal_*) per open zone, used only for offsets and transitions;
 * calendar fields are computed by civil.c, never by ICU, so no locale is involved.
 */
#include "tz/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

#include "core/core.h"

struct tz {
	UCalendar *cal;
	char name[TZ_NAME_MAX];
};

/* name as it may appear in a message: printable ASCII, '"' and '\' as '?', cut short. */
static void shown(const char *name, char *out, size_t len)
{
	size_t i = 0;

	for (; name[i] && i < 40 && i + 1 < len; i++)
		out[i] = (name[i] < 0x20 || name[i] > 0x7e || name[i] == '"' || name[i] == '\\')
		             ? '?'
		             : name[i];
	out[i] = '\0';
	if (name[i] && i + 4 <= len)
		memcpy(out + i, "...", 4);
}

static int unknown(const char *name, char *err, size_t errlen)
{
	char s[48];

	shown(name, s, sizeof(s));
	if (errlen)
		snprintf(err, errlen,
		         "unknown time zone \"%s\": use an IANA name such as "
		         "Europe/Berlin or UTC",
		         s);
	return CMDB_EINVAL;
}

/*
 * The name as UTF-16 in id (TZ_NAME_MAX units), if it is printable ASCII that fits, and
 * ICU knows it as a system zone.
 */
static int known(const char *name, UChar *id)
{
	UChar canonical[TZ_NAME_MAX + 16];
	UErrorCode st = U_ZERO_ERROR;
	UBool system = 0;
	size_t i = 0;

	for (; name[i]; i++) {
		if (i + 1 >= TZ_NAME_MAX || name[i] < 0x21 || name[i] > 0x7e)
			return 0;
		id[i] = (UChar)name[i];
	}
	id[i] = 0;
	if (i == 0)
		return 0;
	ucal_getCanonicalTimeZoneID(id, -1, canonical, (int32_t)(sizeof(canonical) / 2), &system,
	                            &st);
	return U_SUCCESS(st) && system;
}

int tz_check(const char *name, char *err, size_t errlen)
{
	UChar id[TZ_NAME_MAX];

	return known(name, id) ? 0 : unknown(name, err, errlen);
}

int tz_open(const char *name, struct tz **out, char *err, size_t errlen)
{
	UChar id[TZ_NAME_MAX];
	UErrorCode st = U_ZERO_ERROR;
	struct tz *z;

	if (!known(name, id))
		return unknown(name, err, errlen);
	z = calloc(1, sizeof(*z));
	if (!z)
		return CMDB_ENOMEM;
	str_copy(z->name, name, sizeof(z->name));
	z->cal = ucal_open(id, -1, "", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		if (errlen)
			snprintf(err, errlen, "time zone \"%s\": ICU: %s", z->name,
			         u_errorName(st));
		if (z->cal)
			ucal_close(z->cal);
		free(z);
		return st == U_MEMORY_ALLOCATION_ERROR ? CMDB_ENOMEM : CMDB_ERR;
	}
	*out = z;
	return 0;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	ucal_close(z->cal);
	free(z);
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

int tz_offset(struct tz *z, int64_t at, int64_t *offset_ms)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t raw, dst;

	ucal_setMillis(z->cal, (UDate)at, &st);
	raw = ucal_get(z->cal, UCAL_ZONE_OFFSET, &st);
	dst = ucal_get(z->cal, UCAL_DST_OFFSET, &st);
	if (U_FAILURE(st))
		return CMDB_ERR;
	*offset_ms = (int64_t)raw + dst;
	return 0;
}

static int transition(struct tz *z, int64_t at, UTimeZoneTransitionType type, int64_t *out)
{
	UErrorCode st = U_ZERO_ERROR;
	UDate when = 0;
	UBool found;

	ucal_setMillis(z->cal, (UDate)at, &st);
	found = ucal_getTimeZoneTransitionDate(z->cal, type, &when, &st);
	if (U_FAILURE(st))
		return CMDB_ERR;
	if (!found)
		return 0;
	/* Transitions fall on whole milliseconds, well inside a double's exact range. */
	*out = (int64_t)when;
	return 1;
}

int tz_next_transition(struct tz *z, int64_t at, int64_t *out)
{
	return transition(z, at, UCAL_TZ_TRANSITION_NEXT, out);
}

int tz_prev_transition(struct tz *z, int64_t at, int64_t *out)
{
	return transition(z, at, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, out);
}

const char *tz_data_version(void)
{
	UErrorCode st = U_ZERO_ERROR;
	const char *v = ucal_getTZDataVersion(&st);

	return U_SUCCESS(st) && v ? v : "unknown";
}
