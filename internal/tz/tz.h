/*
 * tz: IANA time zones through ICU's C API (the rules come with libicu, not from the
 * system's zoneinfo), reduced to what schedules need: the UTC offset at an instant and the
 * instants where it changes. Also the pure proleptic Gregorian arithmetic between epoch
 * milliseconds and calendar fields (civil.c), which needs no zone.
 */
#ifndef CMDB_TZ_H
#define CMDB_TZ_H

#include <stddef.h>
#include <stdint.h>

#define TZ_NAME_MAX 64  /* bytes of a zone name */
#define TZ_ERR_MAX  128 /* a message always fits a buffer of this size */

/*
 * The instants every function here works with: 1970-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999Z, in milliseconds, as RFC 3339 in core.h.
 */
#define TZ_TIME_MIN INT64_C(0)
#define TZ_TIME_MAX INT64_C(253402300799999)

/*
 * An open zone. Not thread-safe (ICU calendars are not): one per thread, or per call.
 * Opening one after the first is cheap (microseconds); the first loads ICU's data.
 */
struct tz;

/*
 * Opens the zone name: an ID of ICU's time zone database, i.e. an IANA name
 * ("Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", or a link such as
 * "US/Pacific"), matched exactly (case counts). Refused: ICU's custom "GMT+05:00" IDs and
 * its "Etc/Unknown". Returns 0 with *out set (tz_free it); CMDB_EINVAL with `unknown time
 * zone "..."` in err; CMDB_ENOMEM; CMDB_ERR when ICU fails otherwise.
 */
int tz_open(const char *name, struct tz **out, char *err, size_t errlen);

/* Checks name as tz_open does, without keeping anything. */
int tz_check(const char *name, char *err, size_t errlen);

void tz_free(struct tz *z);

/* The name it was opened with. */
const char *tz_name(const struct tz *z);

/*
 * The UTC offset (standard plus daylight saving, in ms: +3600000 for CET) in force at
 * instant at: the wall clock shows at + offset. 0, or CMDB_ERR.
 */
int tz_offset(struct tz *z, int64_t at, int64_t *offset_ms);

/*
 * The first instant after at (strictly) where the zone's rules change, in *out: 1; 0 when
 * there is none (a zone without daylight saving, or past its last rule); CMDB_ERR. A
 * change may leave the total offset as it was (only the standard part or the name moved).
 */
int tz_next_transition(struct tz *z, int64_t at, int64_t *out);

/* The last instant at or before at where the rules change: 1, 0 when none, CMDB_ERR. */
int tz_prev_transition(struct tz *z, int64_t at, int64_t *out);

/* The version of ICU's time zone data ("2022e"), for logs and docs; never NULL. */
const char *tz_data_version(void);

/* Calendar fields of an instant as if its clock were UTC ("wall time"). */
struct tz_civil {
	int year;    /* any, proleptic Gregorian */
	int month;   /* 1-12 */
	int day;     /* 1-31 */
	int hour;    /* 0-23 */
	int minute;  /* 0-59 */
	int second;  /* 0-59 */
	int ms;      /* 0-999 */
	int weekday; /* 0 Sunday .. 6 Saturday */
};

/* Days since 1970-01-01 of a date (month 1-12, day 1-31, not checked against the month). */
int64_t tz_days_from_civil(int64_t year, int month, int day);

/* The date of a day number (days since 1970-01-01), and its weekday. */
void tz_civil_from_days(int64_t days, struct tz_civil *out);

/* The fields of ms (any value; negative is before 1970). */
void tz_civil_from_ms(int64_t ms, struct tz_civil *out);

/* The inverse: milliseconds of the fields (weekday is ignored). */
int64_t tz_ms_from_civil(const struct tz_civil *c);

/* 28 to 31: the days of month (1-12) in year. */
int tz_month_days(int64_t year, int month);

#endif
